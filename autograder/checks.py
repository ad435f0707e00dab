"""The checks: what a correct dropout must do, each stated once.

Every check is a function decorated with :func:`check`, which records its
name, points, the targets it applies to (``function`` for ``dropout``,
``module`` for ``Dropout``) and a hint a student can act on. A check calls
the student's subject and torch's reference on the same inputs and raises
:class:`CheckFailed` with a message that says what differed. Statistical
checks use :class:`~autograder.stats.ProportionTest` constants defined next
to them, whose false-failure bounds ``tests/test_stats.py`` verifies.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .stats import ProportionTest
from .subject import CheckFailed, ModuleSubject, StudentError, Subject

BOTH = ("function", "module")


@dataclass(frozen=True)
class Check:
    name: str
    points: int
    targets: tuple[str, ...]
    summary: str
    hint: str
    run: Callable


CHECKS: dict[str, Check] = {}


def check(name: str, points: int, summary: str, hint: str, targets=BOTH):
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
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)

    def values(self, *shape, dtype=torch.float32) -> torch.Tensor:
        """Nonzero values of both signs, |v| in [0.5, 1.5): a zero out means dropped."""
        magnitude = torch.rand(shape, generator=self.gen, device=self.device) + 0.5
        sign = torch.randint(0, 2, shape, generator=self.gen, device=self.device) * 2 - 1
        return (magnitude * sign).to(dtype)


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


# --- eval mode ---------------------------------------------------------------

@check("eval_mode", 1,
       summary="training=False (or .eval()) returns the input unchanged, for any p",
       hint="In eval mode dropout is the identity: return x as it is, whatever p is.")
def check_eval_mode(subject: Subject, ref: Subject, ctx: Context) -> None:
    for p in (0.0, 0.3, 1.0):
        x = ctx.values(64, 16)
        out = subject(x.clone(), p, training=False)
        expected = ref(x.clone(), p, training=False)
        call = subject.call_text(p, training=False)
        _same_shape(out, x, call)
        differ = out != expected
        if differ.any():
            share = differ.float().mean().item()
            i = differ.flatten().nonzero()[0, 0].item()
            raise CheckFailed(f"{call} changed {share:.0%} of the values (e.g. "
                              f"{x.flatten()[i].item():.3f} became {out.flatten()[i].item():.3f}); "
                              f"torch returns the input unchanged in eval mode")


# --- drop rate ---------------------------------------------------------------

#: One call per p on 2**19 values; a share within ±0.005 of p passes.
DROP_RATE_TESTS = {p: ProportionTest(p=p, n=2**19, t=0.005) for p in (0.1, 0.5, 0.9)}


@check("drop_rate", 2,
       summary="the share of zeros is p, for a small, middle and large p",
       hint="Drop each value independently with probability p: keep it where "
            "torch.rand_like(x) >= p (or bernoulli with 1-p).")
def check_drop_rate(subject: Subject, ref: Subject, ctx: Context) -> None:
    """False failure <= 1e-9 per p (see DROP_RATE_TESTS); a rate off by 0.01 is missed
    with probability < 1e-11 (tests/test_stats.py)."""
    for p, test in DROP_RATE_TESTS.items():
        x = ctx.values(test.n)
        out = subject(x, p)
        share = (out == 0).float().mean().item()
        if test.accepts(share):
            continue
        why = ""
        if abs(share - (1 - p)) <= test.t:
            why = ": that is 1-p, so values are dropped where they should be kept"
        elif share == 0:
            why = ": nothing was dropped"
        raise CheckFailed(f"with p={p} you zeroed {share:.1%} of the values; torch zeroes "
                          f"a share p = {p:.0%} (accepted: {test.band()}){why}")


# --- scaling -----------------------------------------------------------------

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


# --- independence ------------------------------------------------------------

#: Two independent masks that each drop a share r agree (both drop or both keep) at
#: a share r²+(1-r)² of positions. The checks pair disjoint positions, so the
#: agreements are independent trials, and centre on the *observed* drop share r, so
#: that a wrong rate (the drop_rate check's business) does not fail this check too.
INDEPENDENCE_P = 0.5
ROWS, COLS = 128, 256
AGREEMENT_T = 0.05
POSITION_CALLS, POSITION_SHAPE = 256, (8, 64)
POSITION_T = 0.25

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
}


def _agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a == b).float().mean().item()


@check("independence", 2,
       summary="a fresh, independent mask per call, per row, per column and per value",
       hint="Draw a new random number for every element on every call (torch.rand_like(x)); "
            "no seeding inside the function, no mask kept between calls, no broadcasting "
            "a smaller mask over the batch.")
def check_independence(subject: Subject, ref: Subject, ctx: Context) -> None:
    """False failure below 1e-9: the sum of INDEPENDENCE_BOUNDS."""
    p = INDEPENDENCE_P
    x = ctx.values(ROWS, COLS)
    first = subject(x.clone(), p)
    _same_shape(first, x, subject.call_text(p))
    first = first == 0
    second = subject(x.clone(), p) == 0
    rate = first.float().mean().item()
    expected = rate ** 2 + (1 - rate) ** 2
    tests = [
        (_agreement(first, second), "two calls on the same input dropped the same positions"),
        (_agreement(first[:, :COLS // 2], first[:, COLS // 2:]),
         "columns (features) are dropped together, whole samples at a time"),
        (_agreement(first[:, 0::2], first[:, 1::2]), "neighbouring values are dropped together"),
        (_agreement(first[0::2], first[1::2]),
         "rows (samples) of one batch share their dropped positions"),
    ]
    off = sorted((t for t in tests if abs(t[0] - expected) > AGREEMENT_T),
                 key=lambda t: -abs(t[0] - expected))  # the clearest symptom first
    if off:
        found = "; ".join(f"{what} ({share:.1%} of paired positions agree)" for share, what in off)
        raise CheckFailed(f"{found}. Independent masks dropping {rate:.0%} agree on being "
                          f"dropped or kept at r²+(1-r)² = {expected:.1%} of positions "
                          f"(accepted: ±{AGREEMENT_T:.0%})")
    small = ctx.values(*POSITION_SHAPE)
    dropped = torch.zeros(POSITION_SHAPE, device=ctx.device)
    for _ in range(POSITION_CALLS):
        dropped += subject(small.clone(), p) == 0
    share = dropped / POSITION_CALLS
    overall = share.mean().item()
    bad = (share - overall).abs() > POSITION_T
    if bad.any():
        where = tuple(bad.nonzero()[0].tolist())
        raise CheckFailed(f"over {POSITION_CALLS} calls the value at position {where} was "
                          f"dropped {share[where].item():.0%} of the time ({int(bad.sum())} of "
                          f"{bad.numel()} positions are off); every position should be dropped "
                          f"at the same rate ({overall:.0%} here, p = {p:.0%} in torch)")


# --- edge cases --------------------------------------------------------------

@check("edge_cases", 1,
       summary="p=0 returns the input, p=1 returns zeros (not NaN), empty and 0-dim tensors work",
       hint="With p=1 every value is dropped: 0/(1-p) is 0/0 = NaN, so handle p=1 "
            "(e.g. return x * 0). Use x's own shape for the mask, whatever it is.")
def check_edge_cases(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(32, 8)
    for p, what in ((0.0, "the input unchanged"), (1.0, "all zeros")):
        call = subject.call_text(p)
        out = subject(x.clone(), p)
        _same_shape(out, x, call)
        expected = ref(x.clone(), p)
        if torch.equal(out, expected):
            continue
        nans = out.isnan().sum().item()
        found = f"{nans} NaN values" if nans else f"{(out != expected).sum().item()} values that differ"
        raise CheckFailed(f"{call} gave {found}; torch gives {what}")
    for shape in ((0, 4), ()):
        x = ctx.values(*shape)
        on = f"a tensor of shape {tuple(shape)}"
        out = subject(x.clone(), 0.5, on=on)
        _same_shape(out, x, f"{subject.call_text(0.5)} on {on}")


# --- invalid p ---------------------------------------------------------------

@check("invalid_p", 1,
       summary="p outside [0, 1] raises the exception torch raises, in train and eval mode",
       hint="Check p before anything else, also when training is False: "
            "raise ValueError(f'dropout probability has to be between 0 and 1, but got {p}').")
def check_invalid_p(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(16)
    for p in (-0.1, 1.5):
        for training in (True, False):
            try:
                ref(x.clone(), p, training)
            except StudentError as err:
                expected = type(err.error)
            else:
                continue  # torch accepts it, so must the student
            call = subject.call_text(p, training)
            try:
                subject(x.clone(), p, training)
            except StudentError as err:
                if isinstance(err.error, expected):
                    continue
                if isinstance(err.error, NotImplementedError):
                    raise
                raise CheckFailed(f"{call} raised {type(err.error).__name__}; torch raises "
                                  f"{expected.__name__}") from None
            raise CheckFailed(f"{call} returned normally; torch raises {expected.__name__} "
                              f"for p outside [0, 1]")


# --- shape, dtype, device ----------------------------------------------------

@check("shape_dtype_device", 1,
       summary="shape, dtype and device are preserved, also for non-contiguous inputs",
       hint="Build the mask with the input's own shape, dtype and device "
            "(torch.rand_like(x) does all three) and never .view() a tensor you did not make.")
def check_shape_dtype_device(subject: Subject, ref: Subject, ctx: Context) -> None:
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
    base = ctx.values(16, 24)
    for x, how in ((base.t(), "x.t()"), (base[:, ::3], "x[:, ::3]")):
        on = f"the non-contiguous {how}"
        call = f"{subject.call_text(p)} on {on}"
        out = subject(x, p, on=on)
        _same_shape(out, x, call)
        ratios = _ratios(out, x)
        if ratios.numel() and not torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-5):
            raise CheckFailed(f"{call} is not zero-or-scaled element by element (kept values "
                              f"scaled between {ratios.min().item():.3f} and "
                              f"{ratios.max().item():.3f}): the mask does not line up with x")


# --- autograd ----------------------------------------------------------------

@check("autograd", 1,
       summary="the gradient reaches the input and equals mask/(1-p) times the upstream gradient",
       hint="Build the output from x with differentiable tensor operations; no .detach(), "
            ".data, .numpy() or torch.no_grad() on the way.")
def check_autograd(subject: Subject, ref: Subject, ctx: Context) -> None:
    for p, training in ((0.4, True), (0.4, False)):
        leaf = ctx.values(64, 32).requires_grad_()
        x = leaf * 1  # not a leaf, so in-place student code stays legal
        pristine = leaf.detach().clone()
        call = subject.call_text(p, training)
        out = subject(x, p, training)
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
            raise CheckFailed(f"after backward through {call}, x.grad is wrong at "
                              f"{wrong.sum().item()} of {wrong.numel()} positions; it should be "
                              f"the upstream gradient times the forward's factor "
                              f"(mask/(1-p): {1 / (1 - p):.3f} kept, 0 dropped"
                              f"{'' if training else '; 1 everywhere in eval mode'})")


# --- inplace -----------------------------------------------------------------

@check("inplace", 1,
       summary="inplace=True overwrites and returns the input; inplace=False never touches it",
       hint="With inplace=False build a new tensor (x * mask); with inplace=True use "
            "x.mul_(...) and return x.")
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
    out = subject(x, p, inplace=True)
    if torch.equal(x, before):
        raise CheckFailed(f"{call} left x unchanged; torch overwrites x with the result")
    if out.data_ptr() != x.data_ptr() or not torch.equal(out, x):
        raise CheckFailed(f"{call} returned a new tensor; torch returns x itself, "
                          f"overwritten with the result")


# --- from scratch ------------------------------------------------------------

@check("from_scratch", 1,
       summary="torch's own dropout is never called, by any route",
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


# --- module only -------------------------------------------------------------

@check("train_eval_toggle", 1, targets=("module",),
       summary="inside nn.Sequential, model.train() turns dropout on and model.eval() off",
       hint="Read self.training in forward (nn.Module's train()/eval() set it on every "
            "submodule); do not override train() or eval().")
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


@check("module_api", 1, targets=("module",),
       summary="no parameters or buffers (torch's state_dict), and torch's repr",
       hint="Store p and inplace as plain attributes (not nn.Parameter or buffers) and "
            "define extra_repr() returning f'p={self.p}, inplace={self.inplace}'.")
def check_module_api(subject: ModuleSubject, ref: Subject, ctx: Context) -> None:
    for p, inplace in ((0.3, False), (0.5, True)):
        mine = subject.describe(p, inplace)
        theirs = nn.Dropout(p, inplace)
        if not mine["is_module"]:
            raise CheckFailed(f"Dropout(p={p}) is a {mine['type']}, not an nn.Module")
        names = mine["parameters"] + mine["buffers"]
        if names:
            raise CheckFailed(f"Dropout(p={p}) has parameters or buffers {names}; torch's has "
                              f"none, so its state_dict is empty")
        if mine["state_dict"] != list(theirs.state_dict()):
            raise CheckFailed(f"Dropout(p={p}).state_dict() has keys {mine['state_dict']}; "
                              f"torch's is empty")
        wanted = f"{mine['type']}({theirs.extra_repr()})"
        if mine["repr"] != wanted:
            raise CheckFailed(f"repr(Dropout(p={p}, inplace={inplace})) is {mine['repr']!r}; "
                              f"like torch's it should be {wanted!r}")
