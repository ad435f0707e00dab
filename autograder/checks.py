"""The checks: torch's dropout contract, each part of it stated once.

Every check is a function decorated with :func:`check`, which records its
name, points, the target it applies to (``function`` for ``dropout``,
``module`` for ``Dropout``) and a hint a student can act on. A check calls
the student's subject and torch's reference on the same inputs and raises
:class:`CheckFailed` with a message that says what differed; it may return
notes, advice that costs no points (memory layout). Statistical checks use
:class:`~autograder.stats.ProportionTest` constants, listed per check in
:data:`BOUNDS`, whose false-failure bounds ``tests/test_stats.py`` verifies.

``docs/contract.md`` maps every behaviour of ``F.dropout`` and
``nn.Dropout`` to the check (and case) that covers it. The module's checks
pay for what a module adds (construction, ``self.training``, state,
``repr``); its forward pass is held to the function's checks all at once
by :func:`check_forward`.
"""
from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .stats import ProportionTest
from .subject import CheckFailed, CheckTimeout, CodeCrashed, ModuleSubject, StudentError, Subject

FUNCTION, MODULE = ("function",), ("module",)


@dataclass(frozen=True)
class Check:
    name: str
    points: int
    targets: tuple[str, ...]
    summary: str
    hint: str
    run: Callable


CHECKS: dict[str, Check] = {}
#: The statistical tests behind each check: their false failures add up per check.
BOUNDS: dict[str, list[ProportionTest]] = {}


def check(name: str, points: int, summary: str, hint: str, targets=FUNCTION):
    """Register a check under ``name``; order of definition is report order."""

    def register(fn):
        CHECKS[name] = Check(name, points, tuple(targets), summary, hint, fn)
        return fn

    return register


class Context:
    """Where and how a check makes its inputs: device, dtypes, a private generator.

    Inputs come from the check's own generator, never torch's global one, so
    a student's ``torch.manual_seed`` cannot change what the grader feeds in.
    """

    def __init__(self, device: torch.device, dtypes, seed: int):
        self.device = device
        self.dtypes = tuple(dtypes)
        self.seed = seed
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)

    def values(self, *shape, dtype=torch.float32) -> torch.Tensor:
        """Nonzero values of both signs, |v| in [0.5, 1.5): a zero out means dropped."""
        u = torch.rand(shape, generator=self.gen, device=self.device) * 2 - 1  # one draw: sign and size
        return torch.where(u >= 0, u + 0.5, u - 0.5).to(dtype)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _same_shape(out: torch.Tensor, x: torch.Tensor, call: str) -> None:
    if out.shape != x.shape:
        raise CheckFailed(f"{call} returned shape {tuple(out.shape)} for an input of shape "
                          f"{tuple(x.shape)}; dropout keeps the shape")


def _ratios(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """out / x at the kept (nonzero) positions, in float64."""
    kept = out != 0
    return out[kept].double() / x[kept].double()


def _relative_tolerance(dtype: torch.dtype) -> float:
    """A few units in the last place: room for x/(1-p) versus x*(1/(1-p)), no more."""
    return 3 * torch.finfo(dtype).eps


def _zero_share(out: torch.Tensor) -> float:
    return (out == 0).float().mean().item() if out.numel() else 0.0


def _rate_failure(call: str, share: float, p: float, test: ProportionTest) -> str:
    """Why a drop share is wrong, in words ("" when the test accepts it)."""
    if test.accepts(share):
        return ""
    why = ""
    if abs(share - (1 - p)) <= test.t:
        why = ": that is 1-p, so values are dropped where they should be kept"
    elif share == 0:
        why = ": nothing was dropped"
    return (f"{call} zeroed {share:.1%} of the values; torch zeroes a share p = {p:.0%} "
            f"(accepted: {test.band()}){why}")


# --- defaults and keywords ------------------------------------------------------------

#: dropout(x) on 2**16 values must drop half of them; dropout(x, 0.2) a fifth.
DEFAULT_TESTS = {p: ProportionTest(p=p, n=2**16, t=0.02) for p in (0.5, 0.2)}
BOUNDS["defaults"] = list(DEFAULT_TESTS.values())


@check("defaults", 1,
       summary="torch's defaults (p=0.5, training=True, inplace=False) and keyword names",
       hint="Keep torch's signature exactly: def dropout(x, p=0.5, training=True, inplace=False), "
            "with p second, so dropout(x), dropout(x, 0.2) and keywords all work as in torch.")
def check_defaults(subject: Subject, ref: Subject, ctx: Context) -> None:
    """Each implicit or keyword call is judged against the student's own explicit call.

    A wrong drop rate or a broken inplace fails its own check; this one fails only
    where leaving an argument out, or naming it, changes what the code does.
    """
    def dropped(args=(), kwargs=None, explicit=None):
        """Share of zeros from the call, and from the same call with every argument given."""
        share = _zero_share(subject.invoke(ctx.values(2**16), args, kwargs))
        return share, _zero_share(subject(ctx.values(2**16), *explicit))

    x = ctx.values(64)
    before = x.clone()
    out = subject.invoke(x)
    _same_shape(out, x, "dropout(x)")
    if not torch.equal(x, before):
        y = ctx.values(64)
        kept = y.clone()
        subject(y, 0.5, True, False)
        if torch.equal(y, kept):
            raise CheckFailed("dropout(x) with no arguments changed x; torch's default is "
                              "inplace=False, so x is left untouched")
    share, explicit = dropped(explicit=(0.5, True, False))
    test = DEFAULT_TESTS[0.5]
    if not test.accepts(share) and test.accepts(explicit):
        why = ("dropped nothing; torch's defaults are training=True and p=0.5, so it drops half "
               "of the values" if share == 0 else f"dropped {share:.0%} of the values; torch's default p is 0.5")
        raise CheckFailed(f"dropout(x) with no arguments {why} (accepted: {test.band()})")
    share, explicit = dropped((0.2,), explicit=(0.2, True, False))
    test = DEFAULT_TESTS[0.2]
    if not test.accepts(share) and test.accepts(explicit):
        raise CheckFailed(f"dropout(x, 0.2) dropped {share:.0%} of the values; in torch the "
                          f"second argument is p, so it drops 20% (accepted: {test.band()})")
    x = ctx.values(64)
    try:
        out = subject.invoke(x.clone(), (), {"p": 0.2, "training": False})
    except StudentError as err:
        if not isinstance(err.error, TypeError):
            raise
        raise CheckFailed(f"{err}; torch's keyword names are p, training and inplace") from None
    if not torch.equal(out, x) and torch.equal(subject(x.clone(), 0.2, False, False), x):
        raise CheckFailed("dropout(x, p=0.2, training=False) changed the values; with torch's "
                          "keywords that is eval mode, which returns x unchanged")
    before = x.clone()
    subject.invoke(x, (), {"inplace": True, "p": 0.5})
    if torch.equal(x, before):
        subject(x, 0.5, True, True)
        if not torch.equal(x, before):
            raise CheckFailed("dropout(x, inplace=True, p=0.5) left x unchanged; with torch's "
                              "keywords that overwrites x")


# --- eval mode -------------------------------------------------------------------------

@check("eval_mode", 1,
       summary="training=False returns the input unchanged, for any p, also with inplace=True",
       hint="In eval mode dropout is the identity: return x as it is, whatever p is.")
def check_eval_mode(subject: Subject, ref: Subject, ctx: Context) -> None:
    for p, inplace in ((0.0, False), (0.3, False), (1.0, False), (0.3, True)):
        x = ctx.values(64, 16)
        out = subject(x.clone(), p, training=False, inplace=inplace)
        expected = ref(x.clone(), p, training=False, inplace=inplace)
        call = subject.call_text(p, training=False, inplace=inplace)
        _same_shape(out, x, call)
        differ = out != expected
        if differ.any():
            share = differ.float().mean().item()
            i = differ.flatten().nonzero()[0, 0].item()
            raise CheckFailed(f"{call} changed {share:.0%} of the values (e.g. "
                              f"{x.flatten()[i].item():.3f} became {out.flatten()[i].item():.3f}); "
                              f"torch returns the input unchanged in eval mode")


# --- drop rate -------------------------------------------------------------------------

#: One call per p on 2**19 values; a share within ±0.005 of p passes.
DROP_RATE_TESTS = {p: ProportionTest(p=p, n=2**19, t=0.005) for p in (0.1, 0.5, 0.9)}
BOUNDS["drop_rate"] = list(DROP_RATE_TESTS.values())


@check("drop_rate", 2,
       summary="the share of zeros is p, for a small, middle and large p",
       hint="Drop each value independently with probability p: keep it where "
            "torch.rand_like(x) >= p (or bernoulli with 1-p).")
def check_drop_rate(subject: Subject, ref: Subject, ctx: Context) -> None:
    """A rate off by 0.01 is missed with probability < 1e-11 (tests/test_stats.py)."""
    for p, test in DROP_RATE_TESTS.items():
        x = ctx.values(test.n)
        failure = _rate_failure(f"with p={p} you", _zero_share(subject(x, p)), p, test)
        if failure:
            raise CheckFailed(failure)


# --- scaling ---------------------------------------------------------------------------

@check("scaling", 2,
       summary="every kept value equals x/(1-p), in every dtype",
       hint="Inverted dropout scales the survivors by 1/(1-p) during training, so the "
            "expected value of each output equals its input.")
def check_scaling(subject: Subject, ref: Subject, ctx: Context) -> None:
    """Compares each kept value with torch's scale on the same input, to a few ulps."""
    for dtype in (torch.float32, *[d for d in ctx.dtypes if d != torch.float32]):
        for p in (0.3, 0.8):
            x = ctx.values(4096, dtype=dtype)
            out = subject(x.clone(), p)
            call = subject.call_text(p)
            _same_shape(out, x, call)
            torch_scale = _ratios(ref(x.clone(), p), x).median().item()
            ratios = _ratios(out, x)
            if ratios.numel() == 0:
                continue  # nothing kept: the drop-rate check reports it
            error = ((ratios - torch_scale).abs() / torch_scale).nan_to_num(float("inf"))
            if error.max().item() <= _relative_tolerance(dtype):
                continue
            low, high = ratios.aminmax()
            seen = (f"{low.item():.3f}" if torch.isclose(low, high, rtol=1e-6)
                    else f"between {low.item():.3f} and {high.item():.3f}")
            where = "" if dtype == torch.float32 else f" in {_dtype_name(dtype)}"
            close = f"{low.item():.3f}" == f"{high.item():.3f}" == f"{torch_scale:.3f}"
            why = (f" (off by {error.max().item():.1e} relative, allowed "
                   f"{_relative_tolerance(dtype):.0e}: compute the scale in x's dtype)" if close else "")
            raise CheckFailed(f"kept values scaled by {seen}{where}; torch scales them by "
                              f"1/(1-p) = {torch_scale:.3f} for p={p}{why}")


# --- independence ----------------------------------------------------------------------

#: Two independent masks that each drop a share r agree (both drop or both keep) at
#: a share r²+(1-r)² of positions. The checks pair disjoint positions, so the
#: agreements are independent trials, and centre on the *observed* drop share r, so
#: that a wrong rate (the drop_rate check's business) does not fail this check too.
INDEPENDENCE_P = 0.5
ROWS, COLS = 128, 256
AGREEMENT_T = 0.05
POSITION_CALLS, POSITION_SHAPE = 256, (8, 64)
POSITION_T = 0.25
#: One tensor of 2**14 values per rank: along each of its dimensions, slices with even
#: and odd indices must be dropped independently of each other.
RANK_SHAPES = ((16384,), (128, 128), (32, 32, 16), (16, 8, 8, 16), (8, 8, 4, 8, 8))

#: The bounds behind the check for a correct dropout (p = 0.5). The observed share
#: r stays within 0.5 ± 0.03 (first bound), which moves r²+(1-r)² by at most 2·0.03²,
#: so an agreement test fails only if its share strays from 0.5 by more than
#: AGREEMENT_T - 0.0018. Likewise the share over all position calls stays within
#: 0.5 ± 0.01, so a position fails only beyond POSITION_T - 0.01. Their sum is the
#: check's false-failure probability (tests/test_stats.py keeps it below 1e-9).
_SLACK = 2 * 0.03 ** 2
INDEPENDENCE_BOUNDS = {
    "drop share": ProportionTest(p=INDEPENDENCE_P, n=ROWS * COLS, t=0.03),
    "calls": ProportionTest(p=0.5, n=ROWS * COLS, t=AGREEMENT_T - _SLACK),
    "rows": ProportionTest(p=0.5, n=ROWS // 2 * COLS, t=AGREEMENT_T - _SLACK),
    "columns": ProportionTest(p=0.5, n=ROWS * COLS // 2, t=AGREEMENT_T - _SLACK),
    "neighbours": ProportionTest(p=0.5, n=ROWS * COLS // 2, t=AGREEMENT_T - _SLACK),
    "position share": ProportionTest(p=INDEPENDENCE_P, n=POSITION_CALLS * 512, t=0.01),
    "positions": ProportionTest(p=INDEPENDENCE_P, n=POSITION_CALLS, t=POSITION_T - 0.01,
                                repeats=POSITION_SHAPE[0] * POSITION_SHAPE[1]),
    "rank drop shares": ProportionTest(p=INDEPENDENCE_P, n=2**14, t=0.03, repeats=len(RANK_SHAPES)),
    "dimensions": ProportionTest(p=0.5, n=2**13, t=AGREEMENT_T - _SLACK,
                                 repeats=sum(len(s) for s in RANK_SHAPES)),
}
BOUNDS["independence"] = list(INDEPENDENCE_BOUNDS.values())


def _halves(t: torch.Tensor, dim: int):
    """The slices of ``t`` with even and with odd index along ``dim``: disjoint pairs."""
    index = torch.arange(0, t.shape[dim] // 2 * 2, 2, device=t.device)
    return t.index_select(dim, index), t.index_select(dim, index + 1)


def _agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a == b).float().mean().item()


def _agreement_failure(tests, rate: float, t: float = AGREEMENT_T) -> str:
    expected = rate ** 2 + (1 - rate) ** 2
    off = sorted((test for test in tests if abs(test[0] - expected) > t),
                 key=lambda test: -abs(test[0] - expected))  # the clearest symptom first
    if not off:
        return ""
    found = "; ".join(f"{what} ({share:.1%} of paired positions agree)" for share, what in off)
    return (f"{found}. Independent masks dropping {rate:.0%} agree on being dropped or kept "
            f"at r²+(1-r)² = {expected:.1%} of positions (accepted: ±{t:.0%})")


@check("independence", 2,
       summary="a fresh, independent mask per call, per position and along every dimension",
       hint="Draw a new random number for every element on every call (torch.rand_like(x)); "
            "no seeding inside the function, no mask kept between calls, no broadcasting "
            "a smaller mask over any dimension.")
def check_independence(subject: Subject, ref: Subject, ctx: Context) -> None:
    """False failure below 1e-9: the sum of INDEPENDENCE_BOUNDS."""
    p = INDEPENDENCE_P
    x = ctx.values(ROWS, COLS)
    first = subject(x.clone(), p)
    _same_shape(first, x, subject.call_text(p))
    first = first == 0
    second = subject(x.clone(), p) == 0
    failure = _agreement_failure([
        (_agreement(first, second), "two calls on the same input dropped the same positions"),
        (_agreement(first[:, :COLS // 2], first[:, COLS // 2:]),
         "columns (features) are dropped together, whole samples at a time"),
        (_agreement(first[:, 0::2], first[:, 1::2]), "neighbouring values are dropped together"),
        (_agreement(first[0::2], first[1::2]),
         "rows (samples) of one batch share their dropped positions"),
    ], first.float().mean().item())
    if failure:
        raise CheckFailed(failure)
    for shape in RANK_SHAPES:
        x = ctx.values(*shape)
        out = subject(x.clone(), p, on=f"a tensor of shape {shape}")
        _same_shape(out, x, f"{subject.call_text(p)} on a tensor of shape {shape}")
        dropped = out == 0
        tests = [(_agreement(*_halves(dropped, d)),
                  f"on a tensor of shape {shape}, values along dimension {d} are dropped together")
                 for d in range(len(shape))]
        failure = _agreement_failure(tests, dropped.float().mean().item())
        if failure:
            raise CheckFailed(failure + ": the mask must be drawn for every element, with x's full shape")
    small = ctx.values(*POSITION_SHAPE)
    share = (subject.repeat(small, p, POSITION_CALLS) == 0).float().mean(dim=0)
    overall = share.mean().item()
    bad = (share - overall).abs() > POSITION_T
    if bad.any():
        where = tuple(bad.nonzero()[0].tolist())
        raise CheckFailed(f"over {POSITION_CALLS} calls the value at position {where} was "
                          f"dropped {share[where].item():.0%} of the time ({int(bad.sum())} of "
                          f"{bad.numel()} positions are off); every position should be dropped "
                          f"at the same rate ({overall:.0%} here, p = {p:.0%} in torch)")


# --- edge cases ------------------------------------------------------------------------

SCALAR_CALLS = 128
#: A 0-dim tensor is dropped with probability p too: its share of zeros over 128 calls
#: (each a call of the student's code, so as few as the 1e-9 bound allows).
SCALAR_TEST = ProportionTest(p=0.5, n=SCALAR_CALLS, t=0.3)
BOUNDS["edge_cases"] = [SCALAR_TEST]


@check("edge_cases", 1,
       summary="p=0 returns the input, p=1 zeros (not NaN); empty and 0-dim tensors work",
       hint="With p=1 every value is dropped: 0/(1-p) is 0/0 = NaN, so handle p=1 "
            "(e.g. return x * 0). Use x's own shape for the mask, whatever it is, "
            "and treat a 0-dim tensor as one value like any other.")
def check_edge_cases(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(32, 8)
    for p, what in ((0.0, "the input unchanged"), (1.0, "all zeros")):
        call = subject.call_text(p)
        try:
            out = subject(x.clone(), p)
        except StudentError as err:
            if isinstance(err.error, NotImplementedError):
                raise
            raise CheckFailed(f"{err}; torch accepts p = 0 and p = 1 and gives {what}") from None
        _same_shape(out, x, call)
        expected = ref(x.clone(), p)
        if torch.equal(out, expected):
            continue
        nans = out.isnan().sum().item()
        found = f"{nans} NaN values" if nans else f"{(out != expected).sum().item()} values that differ"
        raise CheckFailed(f"{call} gave {found}; torch gives {what}")
    for shape in ((0,), (0, 4), (2, 0, 3), ()):
        x = ctx.values(*shape)
        on = f"a tensor of shape {tuple(shape)}"
        out = subject(x.clone(), 0.5, on=on)
        _same_shape(out, x, f"{subject.call_text(0.5)} on {on}")
    scalar = ctx.values()
    dropped = int((subject.repeat(scalar, 0.5, SCALAR_CALLS) == 0).sum())
    if not SCALAR_TEST.accepts(dropped / SCALAR_CALLS):
        raise CheckFailed(f"{subject.call_text(0.5)} on a 0-dim tensor dropped it in {dropped} of "
                          f"{SCALAR_CALLS} calls; torch drops a 0-dim tensor with probability p, "
                          f"like any single value (accepted: {SCALAR_TEST.band()})")


# --- invalid p -------------------------------------------------------------------------

def _expected_error(ref: Subject, x, p, training):
    """The exception class torch raises for this call, or None if it accepts it."""
    try:
        ref(x.clone(), p, training)
    except StudentError as err:
        return type(err.error)
    return None


def _raises_like_torch(attempt, call: str, expected: type, otherwise: str, when: str) -> None:
    """Run the student's ``attempt``: it must raise ``expected``, as torch does ``when``."""
    try:
        attempt()
    except StudentError as err:
        if isinstance(err.error, expected):
            return
        if isinstance(err.error, NotImplementedError):
            raise
        raise CheckFailed(f"{call} raised {type(err.error).__name__}; torch raises "
                          f"{expected.__name__}") from None
    raise CheckFailed(f"{call} {otherwise}; torch raises {expected.__name__} {when}")


@check("invalid_p", 1,
       summary="p outside [0, 1] raises the exception torch raises, in train and eval mode",
       hint="Check p before anything else, also when training is False: "
            "raise ValueError(f'dropout probability has to be between 0 and 1, but got {p}').")
def check_invalid_p(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(16)
    for p in (-0.1, 1.5):
        for training in (True, False):
            expected = _expected_error(ref, x, p, training)
            if expected is None:
                continue  # torch accepts it, so must the student
            _raises_like_torch(lambda: subject(x.clone(), p, training), subject.call_text(p, training),
                               expected, "returned normally", "for p outside [0, 1]")


# --- shape, dtype, device, layouts -----------------------------------------------------

def _layouts(x: torch.Tensor):
    """x in each memory layout a caller can hand dropout: (tensor, description)."""
    yield x, "contiguous"
    if x.dim() >= 1:
        yield x[..., ::2], "a strided view x[..., ::2]"
    if x.dim() >= 2:
        yield x.permute(*reversed(range(x.dim()))), "a permuted view (dimensions reversed)"
    if x.dim() == 4:
        yield x.contiguous(memory_format=torch.channels_last), "channels_last"
    if x.dim() == 5:
        yield x.contiguous(memory_format=torch.channels_last_3d), "channels_last_3d"


#: Ranks 1 to 5 (a 0-dim tensor has one layout; edge_cases takes it).
LAYOUT_SHAPES = ((6,), (5, 6), (3, 4, 6), (2, 3, 4, 6), (2, 3, 2, 3, 4))


@check("shape_dtype_device", 1,
       summary="shape, dtype and device kept, element by element, for ranks 1-5 in every layout",
       hint="Build the mask with the input's own shape, dtype and device "
            "(torch.rand_like(x) does all three) and never .view() a tensor you did not make.")
def check_shape_dtype_device(subject: Subject, ref: Subject, ctx: Context) -> list[str]:
    """Values, dtype, shape and device are the contract; the output's layout only earns a note."""
    p = 0.3
    for dtype in ctx.dtypes:
        for training in (True, False):
            x = ctx.values(3, 4, 5, dtype=dtype)
            call = subject.call_text(p, training) + f" on {_dtype_name(dtype)}"
            out = subject(x.clone(), p, training, on=_dtype_name(dtype))
            _same_shape(out, x, call)
            if out.dtype != x.dtype:
                raise CheckFailed(f"{call} returned {_dtype_name(out.dtype)}; torch keeps the "
                                  f"input's dtype")
            if out.device != x.device:
                raise CheckFailed(f"{call} returned a tensor on {out.device} for an input on "
                                  f"{x.device}; torch keeps the device")
    notes = []
    for shape in LAYOUT_SHAPES:
        for x, how in _layouts(ctx.values(*shape)):
            on = f"{how} of shape {tuple(x.shape)}"
            call = f"{subject.call_text(p)} on {on}"
            out = subject(x, p, on=on)
            _same_shape(out, x, call)
            if out.dtype != x.dtype or out.device != x.device:
                raise CheckFailed(f"{call} returned {_dtype_name(out.dtype)} on {out.device}; "
                                  f"torch keeps the input's dtype and device")
            ratios = _ratios(out, x)
            if ratios.numel() and not torch.allclose(ratios, ratios.median().expand_as(ratios), rtol=1e-5):
                raise CheckFailed(f"{call} is not zero-or-scaled element by element (kept values "
                                  f"scaled between {ratios.min().item():.3f} and "
                                  f"{ratios.max().item():.3f}): the mask does not line up with x")
            theirs = ref(x, p).stride() if out.dim() >= 2 and not notes else out.stride()
            if out.stride() != theirs:
                notes.append(f"on {on} your output has strides {out.stride()}, torch's "
                             f"{theirs}: torch keeps the input's memory format "
                             f"(torch.rand_like(x) and torch.empty_like(x) keep it). This costs "
                             f"no points; it only matters for speed")
    return notes


# --- autograd --------------------------------------------------------------------------

@check("autograd", 1,
       summary="the gradient is mask/(1-p) times the upstream gradient (0 at p=1, never NaN)",
       hint="Build the output from x with differentiable tensor operations; no .detach(), "
            ".data, .numpy() or torch.no_grad() on the way, and no division by 1-p that "
            "torch.where then discards (its gradient is 0 * inf = NaN at p=1): multiply x by a mask.")
def check_autograd(subject: Subject, ref: Subject, ctx: Context) -> None:
    for p, training, inplace in ((0.4, True, False), (0.4, False, False), (1.0, True, False),
                                 (0.4, True, True)):
        leaf = ctx.values(64, 32).requires_grad_()
        x = leaf * 1  # not a leaf, so in-place student code stays legal
        pristine = leaf.detach().clone()
        call = subject.call_text(p, training, inplace)
        if p == 1:  # only the gradient is this check's business: edge_cases judges the forward
            try:
                out = subject(x, p, training, inplace)
            except StudentError as error:
                if isinstance(error.error, (CheckTimeout, CodeCrashed)):
                    raise
                continue
            if out.shape != x.shape or out.any() or not out.requires_grad:
                continue  # wrong, or zeros made afresh: no graph, so no gradient to get wrong
        else:
            out = subject(x, p, training, inplace)
        _same_shape(out, x, call)
        if not out.requires_grad:
            raise CheckFailed(f"{call} returned a tensor cut off from the graph "
                              f"(requires_grad=False); no gradient can reach x")
        upstream = ctx.values(64, 32).to(out.dtype)
        # (out * upstream).sum() rather than out.backward(upstream): same gradient, and
        # torch's handling of an explicit grad tensor imports sympy (0.6 s) on first use.
        subject.run(lambda: (out * upstream).sum().backward(), f"backward through {call}")
        if leaf.grad is None:
            raise CheckFailed(f"after backward through {call}, x.grad is None")
        expected = (upstream * (out.detach() / pristine)).to(leaf.grad.dtype)
        if not torch.allclose(leaf.grad, expected, rtol=1e-5, atol=1e-6):
            wrong = ~torch.isclose(leaf.grad, expected, rtol=1e-5, atol=1e-6)
            nans = int(leaf.grad.isnan().sum())
            factor = "0 everywhere, since everything is dropped" if p == 1 else (
                f"mask/(1-p): {1 / (1 - p):.3f} kept, 0 dropped"
                f"{'' if training else '; 1 everywhere in eval mode'}")
            raise CheckFailed(f"after backward through {call}, x.grad is wrong at "
                              f"{wrong.sum().item()} of {wrong.numel()} positions"
                              f"{f' ({nans} are NaN)' if nans else ''}; it should be the upstream "
                              f"gradient times the forward's factor ({factor})")


# --- inplace ---------------------------------------------------------------------------

@check("inplace", 1,
       summary="inplace=True overwrites and returns x, also a view; inplace=False never touches x",
       hint="With inplace=False build a new tensor (x * mask); with inplace=True use "
            "x.mul_(...) on x itself (not on a copy such as x.contiguous()) and return x.")
def check_inplace(subject: Subject, ref: Subject, ctx: Context) -> None:
    p = 0.5
    x = ctx.values(32, 32)
    before = x.clone()
    call = subject.call_text(p, inplace=False)
    subject(x, p, inplace=False)
    if not torch.equal(x, before):
        share = (x != before).float().mean().item()
        raise CheckFailed(f"{call} changed the input: {share:.0%} of x now differs; with "
                          f"inplace=False torch leaves x untouched (avoid mul_, *= and x[...] =)")
    call = subject.call_text(p, inplace=True)
    for x, on in ((x, ""), (ctx.values(32, 64)[:, ::2], " on the non-contiguous view x[:, ::2]")):
        before = x.clone()
        out = subject(x, p, inplace=True, on=on.removeprefix(" on "))
        if torch.equal(x, before):
            raise CheckFailed(f"{call}{on} left x unchanged; torch overwrites x with the result")
        if out.data_ptr() != x.data_ptr() or out.stride() != x.stride() or not torch.equal(out, x):
            raise CheckFailed(f"{call}{on} returned a new tensor; torch returns x itself, "
                              f"overwritten with the result")


# --- from scratch ----------------------------------------------------------------------

@check("from_scratch", 1,
       summary="torch's own dropout is never called, by any route (TorchScript included)",
       hint="Implement dropout with basic tensor operations (rand_like, comparison, "
            "multiplication); F.dropout, nn.Dropout, torch.dropout and friends are off limits.")
def check_from_scratch(subject: Subject, ref: Subject, ctx: Context) -> None:
    """Runs the student's code in every mode; the runner's watch gives the verdict.

    Crashes and wrong results are other checks' business, so they are ignored here,
    unless nothing ran at all: code that never ran has not been shown to be from scratch.
    """
    calls = [(p, training, inplace) for p in (0.0, 0.3, 1.0) for training in (True, False)
             for inplace in (False, True)]
    errors = []
    for p, training, inplace in calls:
        try:
            subject(ctx.values(8, 8), p, training, inplace)
        except (StudentError, CheckFailed) as error:
            errors.append(error)
    if len(errors) == len(calls):
        raise errors[0]
    with contextlib.suppress(StudentError, CheckFailed):
        out = subject(ctx.values(8, 8).requires_grad_() * 1, 0.3)
        if out.requires_grad:
            subject.run(lambda: out.sum().backward(), "backward")


#: The checks of a forward pass: the function's own, and the module's forward all at once.
FORWARD = [name for name in CHECKS if name != "defaults"]


# --- the module ------------------------------------------------------------------------

class FailedParts(CheckFailed):
    """Several behaviours failed at once; ``hint`` is the first one's."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


BOUNDS["forward"] = [test for name in FORWARD for test in BOUNDS.get(name, [])]


@check("forward", 1, targets=MODULE,
       summary="forward passes every check of Part 1 (in train and eval mode)",
       hint="Let forward call your Part 1 function with self.p, self.training and self.inplace.")
def check_forward(subject: ModuleSubject, ref: Subject, ctx: Context) -> None:
    """The function's checks, run on the module's forward: one verdict, every failure named."""
    failures, hint, notes = [], "", []
    for name in FORWARD:
        part = CHECKS[name]
        try:
            notes += part.run(subject, ref, Context(ctx.device, ctx.dtypes, zlib.crc32(name.encode()))) or []
        except StudentError as error:
            if isinstance(error.error, (NotImplementedError, CheckTimeout, CodeCrashed)):
                raise  # nothing else will run either: say so once
            failures.append(f"{name}: {error}")
        except CheckFailed as failed:
            failures.append(f"{name}: {failed}")
        else:
            continue
        hint = hint or part.hint
    if failures:
        raise FailedParts(f"{len(failures)} of {len(FORWARD)} forward checks differ from torch's "
                          f"nn.Dropout:\n" + "\n".join(failures), hint)
    return notes


#: Dropout() must drop half of 2**16 values in training mode, like torch's default p=0.5.
MODULE_DEFAULT_TEST = ProportionTest(p=0.5, n=2**16, t=0.02)
BOUNDS["construction"] = [MODULE_DEFAULT_TEST]


def _attributes(info: dict, text: str, p, inplace) -> None:
    for name, wanted in (("p", p), ("inplace", inplace)):
        value = info.get(name)
        if value == "<missing>":
            raise CheckFailed(f"{text} has no attribute {name!r}; torch's Dropout keeps p and "
                              f"inplace as attributes (self.p, self.inplace)")
        if value != wanted or type(value) is not type(wanted) and isinstance(wanted, bool):
            raise CheckFailed(f"{text}.{name} is {value!r}; torch's is {wanted!r}")


@check("construction", 2, targets=MODULE,
       summary="Dropout() has torch's defaults and attributes; an invalid p fails at construction",
       hint="def __init__(self, p=0.5, inplace=False): call super().__init__(), check "
            "0 <= p <= 1 right there (ValueError), and store self.p and self.inplace.")
def check_construction(subject: ModuleSubject, ref: Subject, ctx: Context) -> None:
    info = subject.describe()
    if not info["is_module"]:
        raise CheckFailed(f"Dropout() is a {info['type']}, not an nn.Module")
    _attributes(info, "Dropout()", 0.5, False)
    if info["training"] is not True:
        raise CheckFailed(f"Dropout().training is {info['training']!r}; like every torch layer a "
                          f"new Dropout starts in training mode (nn.Module sets training=True)")
    x = ctx.values(2**16)
    share = _zero_share(subject.run(lambda: subject.make()(x.clone()), "Dropout()(x)"))
    if not MODULE_DEFAULT_TEST.accepts(share):
        raise CheckFailed(f"Dropout()(x) in training mode dropped {share:.0%} of the values; "
                          f"torch's default p is 0.5 (accepted: {MODULE_DEFAULT_TEST.band()})")
    _attributes(subject.describe(0.2), "Dropout(0.2)", 0.2, False)
    _attributes(subject.describe(p=0.2, inplace=True), "Dropout(p=0.2, inplace=True)", 0.2, True)
    for p in (0.0, 1.0):
        try:
            subject.make(p)
        except StudentError as err:
            if isinstance(err.error, NotImplementedError):
                raise
            raise CheckFailed(f"Dropout(p={p}) raised {type(err.error).__name__}; torch accepts "
                              f"every p in [0, 1], both ends included") from None
    for p in (-0.1, 1.5):
        try:
            nn.Dropout(p)
        except Exception as err:  # noqa: BLE001 - whatever torch raises is the answer
            expected = type(err)
        else:
            continue
        _raises_like_torch(lambda: subject.make(p), f"Dropout(p={p})", expected,
                           "was constructed without an error",
                           "as soon as the layer is made, before any forward")


@check("train_eval_toggle", 2, targets=MODULE,
       summary="inside nn.Sequential, model.train() turns dropout on and model.eval() off",
       hint="Read self.training in forward (nn.Module's train()/eval() set it on every "
            "submodule, and return the module); do not override train() or eval().")
def check_train_eval_toggle(subject: ModuleSubject, ref: Subject, ctx: Context) -> None:
    torch.manual_seed(0)
    first, second = nn.Linear(20, 10).to(ctx.device), nn.Linear(10, 3).to(ctx.device)
    drop = subject.make(0.3)
    model = nn.Sequential(drop, first, nn.ReLU(), second)
    twin = nn.Sequential(nn.Dropout(0.3), first, nn.ReLU(), second).eval()
    x = ctx.values(256, 20)
    seen = []
    drop.register_forward_hook(lambda module, args, out: seen.append(out))
    with torch.no_grad():
        for mode in ("eval", "train", "eval"):
            subject.run(getattr(model, mode), f"model.{mode}()")
            if drop.training != (mode == "train"):
                raise CheckFailed(f"after model.{mode}() your Dropout has training="
                                  f"{drop.training}; nn.Module's {mode}() should reach it")
            outs = [subject.run(lambda: model(x), f"model(x) after model.{mode}()") for _ in range(2)]
            if mode == "eval":
                if not torch.equal(outs[0], outs[1]):
                    raise CheckFailed("after model.eval() two predictions of the same input "
                                      "differ; in eval mode dropout must be off")
                if not torch.allclose(outs[0], twin(x), rtol=1e-5, atol=1e-6):
                    raise CheckFailed("after model.eval() the model's output differs from the "
                                      "same model with torch's Dropout; in eval mode your "
                                      "forward must return its input")
            elif not (seen[-1] == 0).any():
                raise CheckFailed("after model.train() your Dropout dropped nothing; in train "
                                  "mode it must drop at rate p")
    for mode in ("train", "eval"):
        if subject.run(getattr(drop, mode), f"layer.{mode}()") is not drop:
            raise CheckFailed(f"layer.{mode}() did not return the layer; torch's returns it, so "
                              f"that Dropout(0.3).{mode}()(x) works (do not override {mode}())")


#: After layer.p = 0.2, a forward on 2**16 values must drop a fifth of them.
CHANGED_P_TEST = ProportionTest(p=0.2, n=2**16, t=0.02)
BOUNDS["module_state"] = [CHANGED_P_TEST]


@check("module_state", 2, targets=MODULE,
       summary="no parameters or buffers, an empty state_dict, and p or inplace changed later count",
       hint="Store p and inplace as plain attributes (not nn.Parameter or buffers) and read "
            "self.p and self.inplace in forward, every call: nothing computed from p in __init__.")
def check_module_state(subject: ModuleSubject, ref: Subject, ctx: Context) -> None:
    for p, inplace in ((0.3, False), (0.5, True)):
        mine = subject.describe(p, inplace)
        text = f"Dropout(p={p}, inplace={inplace})"
        if not mine["is_module"]:
            raise CheckFailed(f"{text} is a {mine['type']}, not an nn.Module")
        names = mine["parameters"] + mine["buffers"]
        if names:
            raise CheckFailed(f"{text} has parameters or buffers {names}; torch's has "
                              f"none, so its state_dict is empty")
        if mine["state_dict"] != list(nn.Dropout(p, inplace).state_dict()):
            raise CheckFailed(f"{text}.state_dict() has keys {mine['state_dict']}; torch's is empty")
        if mine["loads_empty_state"]:
            raise CheckFailed(f"{text}.load_state_dict({{}}) raised {mine['loads_empty_state']}; "
                              f"torch's loads the (empty) state of any Dropout")
    # Judged against a layer built with p=0.2 from the start: a wrong rate or scale is
    # the forward check's business; here only "the change was ignored" fails.
    x = ctx.values(2**16)
    fresh = subject.make(0.2)
    subject.run(fresh.train, "layer.train()")  # a layer that starts in eval mode: construction's business
    built = subject.run(lambda: fresh(x.clone()), "Dropout(0.2) on x")
    layer = subject.make(0.5)
    subject.run(layer.train, "layer.train()")
    subject.set(layer, "p", 0.2)
    out = subject.run(lambda: layer(x.clone()), "Dropout(0.5) after layer.p = 0.2, on x")
    share = _zero_share(out)
    if not CHANGED_P_TEST.accepts(share) and CHANGED_P_TEST.accepts(_zero_share(built)):
        raise CheckFailed(f"after layer.p = 0.2, Dropout(0.5) dropped {share:.0%} of the values; "
                          f"torch's forward reads self.p on every call, so it drops 20% "
                          f"(accepted: {CHANGED_P_TEST.band()})")
    scale, wanted = _ratios(out, x), _ratios(built, x)
    if scale.numel() and wanted.numel() and not torch.isclose(scale.median(), wanted.median(), rtol=1e-5):
        raise CheckFailed(f"after layer.p = 0.2, kept values were scaled by {scale.median().item():.3f}, "
                          f"where Dropout(0.2) scales them by {wanted.median().item():.3f}; torch "
                          f"scales by 1/(1-p) = 1.250 with the new p")
    layer = subject.make(0.5)
    subject.run(layer.train, "layer.train()")
    subject.set(layer, "inplace", True)
    before = x.clone()
    subject.run(lambda: layer(x), "Dropout(0.5) after layer.inplace = True, on x")
    if torch.equal(x, before) and not _leaves_x_alone(subject, ctx):
        raise CheckFailed("after layer.inplace = True, forward left x unchanged; torch's forward "
                          "reads self.inplace on every call and overwrites x")


def _leaves_x_alone(subject: ModuleSubject, ctx: Context) -> bool:
    """Whether Dropout(0.5, inplace=True) itself leaves x unchanged: the forward check's business."""
    layer = subject.make(0.5, True)
    subject.run(layer.train, "layer.train()")
    x = ctx.values(64)
    before = x.clone()
    subject.run(lambda: layer(x), "Dropout(0.5, inplace=True) on x")
    return torch.equal(x, before)


@check("module_repr", 1, targets=MODULE,
       summary="repr(Dropout(0.3)) reads like torch's: Dropout(p=0.3, inplace=False)",
       hint="Define extra_repr() returning f'p={self.p}, inplace={self.inplace}'.")
def check_module_repr(subject: ModuleSubject, ref: Subject, ctx: Context) -> None:
    for p, inplace in ((0.3, False), (0.5, True)):
        mine = subject.describe(p, inplace)
        if not mine["is_module"]:
            raise CheckFailed(f"Dropout(p={p}) is a {mine['type']}, not an nn.Module")
        wanted = f"{mine['type']}({nn.Dropout(p, inplace).extra_repr()})"
        if mine["repr"] != wanted:
            raise CheckFailed(f"repr(Dropout(p={p}, inplace={inplace})) is {mine['repr']!r}; "
                              f"like torch's it should be {wanted!r}")
