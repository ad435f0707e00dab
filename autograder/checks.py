"""dropout_from_scratch's checks: torch's dropout contract, each part of it stated once.

Every check is a function decorated with :func:`~autograder.registry.check`, which
records its name, points, the target it applies to (``function`` for ``dropout``,
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

import torch
from torch import nn

from .registry import (BOUNDS, CHECKS, RUN_SEED, Check, Context, _dtype_name, _percent,  # noqa: F401
                       _raises_like_torch, check, forward_held_to)
from .stats import ProportionTest, binomial_collision, tolerance_for
from .subject import GRAD_MODES, CheckFailed, CheckTimeout, CodeCrashed, ModuleSubject, StudentError, Subject

FUNCTION, MODULE = ("function",), ("module",)


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


# --- drop rate ---------------------------------------------------------------------

#: p at the ends of [0, 1], in every floating dtype: where a rate quantised to a grid
#: is furthest off in relative terms. A uniform draw on a grid of step 1/m (m = 100, 256,
#: or the 2048 and 256 values torch's own draws take in float16 and bfloat16) drops
#: either nothing or at least 1/m below p = 1/m, so the lower edge sits under the finest of
#: those grids; a p clamped short of 1 keeps ten times too much at p = 0.999. Then p drawn
#: at random from the whole interval, new each grading run, in float32: no grid of p
#: values to tune an answer to.
EDGE_PS, EDGE_N = (0.0002, 0.999), 2**20
RANDOM_PS, RANDOM_N = 3, 2**19
#: Where fewer values tell the error (inputs cost time, more so in a sandbox): a p clamped
#: short of 1 is ten times off, a bfloat16 draw drops ten times p at the lower edge, and
#: float64 draws are finer than float32's. float32 and float16 get EDGE_N at the lower edge.
SMALL_N = 2**18
#: In the other dtypes the lower edge, where a coarse draw shows (a draw made in bfloat16
#: gives 1 above 0.996, so it also drops far too much there). Each share is tested within
#: the narrowest band whose false failure is at most RATE_BUDGET: 2 + 3 + 3 = 8 tests.
RATE_BUDGET = 1e-11


def rate_test(p: float, n: int) -> ProportionTest:
    return tolerance_for(p, n, RATE_BUDGET)


BOUNDS["drop_rate"] = ([rate_test(EDGE_PS[0], EDGE_N), rate_test(EDGE_PS[1], SMALL_N), rate_test(EDGE_PS[0], EDGE_N)]
                       + [rate_test(EDGE_PS[0], SMALL_N)] * 2 + [rate_test(0.5, RANDOM_N)] * RANDOM_PS)


def _band(test: ProportionTest) -> str:
    return f"{_percent(test.p - test.t)} to {_percent(test.p + test.t)}"


def _rate_failure(call: str, share: float, p: float, test: ProportionTest) -> str:
    """Why a drop share is wrong, in words ("" when the test accepts it)."""
    if test.accepts(share):
        return ""
    why = ""
    if abs(share - (1 - p)) <= test.t:
        why = ": that is 1-p, so values are dropped where they should be kept"
    elif share == 0:
        why = ": nothing was dropped"
    return (f"{call} zeroed {_percent(share)} of the values; torch zeroes a share p = "
            f"{_percent(p)} (accepted: {_band(test)}){why}")


@check("drop_rate", 2,
       summary="the share of zeros is p, for every p (drawn anew each run) and in every dtype",
       hint="Drop each value independently with probability p: keep it where a uniform draw "
            "in float32 is >= p (torch.rand_like(x, dtype=torch.float32) >= p), whatever x's "
            "dtype; use p exactly as given, never rounded or clamped.")
def check_drop_rate(subject: Subject, ref: Subject, ctx: Context) -> None:
    """Each share within a band derived for its p (false failure <= 1e-11 per share).

    A rate quantised to 1/100 or 1/256 is 0 or many times p at p = 0.0002; a p clamped
    at 0.99 keeps ten times too much at p = 0.999; a draw in float16 drops 1/2048, more
    than twice p, at p = 0.0002. Random p in between catch a rate right only on a grid.
    """
    low, high = EDGE_PS
    cases = [(low, torch.float32, EDGE_N), (high, torch.float32, SMALL_N)]
    cases += [(p, torch.float32, RANDOM_N) for p in sorted(ctx.draw_p() for _ in range(RANDOM_PS))]
    cases += [(low, dtype, EDGE_N if dtype == torch.float16 else SMALL_N)
              for dtype in ctx.dtypes if dtype != torch.float32]
    values = ctx.values(max(n for _, _, n in cases))  # one draw, copied per case: inputs cost time too
    for p, dtype, n in cases:
        test = rate_test(p, n)
        on = "" if dtype == torch.float32 else f" on {_dtype_name(dtype)} values"
        x = values[:n].to(dtype, copy=True)
        failure = _rate_failure(f"with p={p}{on} you", _zero_share(subject(x, p, on=on.removeprefix(" on "))),
                                p, test)
        if failure and dtype in (torch.float16, torch.bfloat16):
            failure += (f". A uniform draw made in {_dtype_name(dtype)} has too few values near 0 and 1 "
                        f"to compare with p: draw it in float32 and cast the mask to x's dtype")
        if failure:
            raise CheckFailed(failure)


# --- scaling ---------------------------------------------------------------------------

#: Calls on one 0-dim tensor at p = 0.3: about 45 keep it, each kept value must be scaled.
SCALAR_SCALE_CALLS = 64


def _torch_scale(ref: Subject, p: float, dtype: torch.dtype, ctx: Context) -> float:
    """The factor torch's dropout gives kept values of ``dtype`` at ``p``, as torch rounds it."""
    x = ctx.values(4096, dtype=dtype)
    return _ratios(ref(x.clone(), p), x).median().item()


@check("scaling", 2,
       summary="every kept value equals x/(1-p), for any p, in every dtype, 0-dim tensors included",
       hint="Inverted dropout scales the survivors by 1/(1-p) during training, so the "
            "expected value of each output equals its input.")
def check_scaling(subject: Subject, ref: Subject, ctx: Context) -> None:
    """Compares each kept value with torch's scale on the same input, to a few ulps."""
    for dtype in (torch.float32, *[d for d in ctx.dtypes if d != torch.float32]):
        for p, shape in ((0.3, (4096,)), (0.8, (4096,)), (ctx.draw_p(0.05, 0.95), (4096,)), (0.3, ())):
            if shape == ():  # a 0-dim tensor is a value like any other: its kept calls, scaled
                x = ctx.values(dtype=dtype)
                try:
                    out, x = subject.repeat(x, p, SCALAR_SCALE_CALLS), x.expand(SCALAR_SCALE_CALLS)
                except (StudentError, CheckFailed) as error:
                    if isinstance(getattr(error, "error", None), (NotImplementedError, CheckTimeout, CodeCrashed)):
                        raise
                    continue  # a 0-dim tensor that breaks the code: edge_cases says so
                if not (out == 0).any():
                    continue  # never dropped: not dropout on a 0-dim tensor at all, edge_cases says so
                call = f"{subject.call_text(p)} on a 0-dim tensor"
            else:
                x = ctx.values(*shape, dtype=dtype)
                out = subject(x.clone(), p)
                call = subject.call_text(p)
            _same_shape(out, x, call)
            torch_scale = _torch_scale(ref, p, dtype, ctx)
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
            scalar = " on a 0-dim tensor" if shape == () else ""
            raise CheckFailed(f"kept values{scalar} scaled by {seen}{where}; torch scales them by "
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
#: Repetition at any lag: a mask compared with another call's mask, and its first half
#: with its second half, at every circular shift. Pairs at one shift use each value once,
#: so they are independent trials; a union bound over the shifts gives the band.
#: Inside a call: the two halves of the mask at every shift (a pool reused with any period up
#: to LAG_N / 2), and every distance d below 2**SPLIT_BITS through one split of the first
#: 2**SPLIT_BITS positions: by bit k, the lowest set bit of d, into those with bit k clear
#: and those with it set. Positions i and i + d then sit in different parts at one fixed
#: circular shift, (d >> (k+1)) << k, so a correlation at distance d shows as one shift
#: where the parts agree too often.
LAG_N = 2**17
SPLIT_BITS = 14
LAG_BUDGET = 1e-10
INDEPENDENCE_BOUNDS["lags across calls"] = tolerance_for(0.5, LAG_N, LAG_BUDGET, repeats=LAG_N)
INDEPENDENCE_BOUNDS["lags inside a call"] = tolerance_for(0.5, LAG_N // 2, LAG_BUDGET, repeats=LAG_N // 2)
INDEPENDENCE_BOUNDS["distances inside a call"] = tolerance_for(
    0.5, 2**SPLIT_BITS // 2, LAG_BUDGET, repeats=2**SPLIT_BITS // 2 * SPLIT_BITS)
#: The count of dropped values varies from call to call like a binomial: in disjoint pairs
#: of the position calls, both counts are equal only as often as two binomials collide
#: (2.5% for 512 values at p = 0.5); an exact share makes them always equal.
COUNT_PAIRS = POSITION_CALLS // 2
COUNT_BUDGET = 1e-10
BOUNDS["independence"] = [*INDEPENDENCE_BOUNDS.values(),
                          tolerance_for(binomial_collision(512, 0.5), COUNT_PAIRS, COUNT_BUDGET)]


def _halves(t: torch.Tensor, dim: int):
    """The slices of ``t`` with even and with odd index along ``dim``: disjoint pairs."""
    index = torch.arange(0, t.shape[dim] // 2 * 2, 2, device=t.device)
    return t.index_select(dim, index), t.index_select(dim, index + 1)


def _agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a == b).float().mean().item()


def _lag_agreements(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Share of positions where ``a`` and ``b[(i + lag) mod n]`` agree, for every lag at once.

    Agreements = n - sum(a) - sum(b) + 2 * (a circularly correlated with b), the
    correlation by FFT, in float64 (exact for counts this small).
    """
    a, b = a.flatten().double(), b.flatten().double()
    n = a.numel()
    correlation = torch.fft.irfft(torch.fft.rfft(a).conj() * torch.fft.rfft(b), n=n)
    return (n - a.sum() - b.sum() + 2 * correlation.round()) / n


def _lag_failure(a: torch.Tensor, b: torch.Tensor, test: ProportionTest, what: str) -> str:
    ra, rb = a.double().mean().item(), b.double().mean().item()
    expected = ra * rb + (1 - ra) * (1 - rb)
    shares = _lag_agreements(a, b)
    off = (shares - expected).abs()
    lag = int(off.argmax())
    if off[lag].item() <= test.t + _SLACK:
        return ""
    return (f"{what}, shifted by {lag} positions, agree on being dropped or kept at "
            f"{shares[lag].item():.1%} of positions, where independent draws agree at "
            f"{expected:.1%} (accepted: ±{test.t + _SLACK:.1%}): the mask repeats itself. "
            f"Draw a new random number for every element of every call; never reuse a pool of noise")


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
    x = ctx.values(LAG_N)
    first = subject(x.clone(), p, on=f"{LAG_N} values") == 0
    second = subject(x.clone(), p, on=f"{LAG_N} values") == 0
    failure = (_lag_failure(first, second, INDEPENDENCE_BOUNDS["lags across calls"],
                            f"the masks of two calls on {LAG_N} values")
               or _lag_failure(first[:LAG_N // 2], first[LAG_N // 2:], INDEPENDENCE_BOUNDS["lags inside a call"],
                               f"the two halves of one mask of {LAG_N} values"))
    for bit in range(SPLIT_BITS):
        split = first[:2**SPLIT_BITS].view(-1, 2, 2**bit)
        failure = failure or _lag_failure(
            split[:, 0].flatten(), split[:, 1].flatten(), INDEPENDENCE_BOUNDS["distances inside a call"],
            f"in one mask, the values at positions with bit {bit} of their index clear and set")
    if failure:
        raise CheckFailed(failure)
    small = ctx.values(*POSITION_SHAPE)
    calls = subject.repeat(small, p, POSITION_CALLS) == 0
    counts = calls.flatten(1).sum(dim=1).tolist()
    rate = sum(counts) / (len(counts) * small.numel())
    test = tolerance_for(binomial_collision(small.numel(), min(max(rate, 1e-6), 1 - 1e-6)),
                         COUNT_PAIRS, COUNT_BUDGET)
    equal = sum(a == b for a, b in zip(counts[0::2], counts[1::2])) / COUNT_PAIRS
    if equal > test.p + test.t:
        raise CheckFailed(f"over {POSITION_CALLS} calls on {small.numel()} values the number of values "
                          f"dropped per call ranged only from {min(counts)} to {max(counts)}: in "
                          f"{equal:.0%} of pairs of calls both dropped exactly as many, where "
                          f"independent draws do so {test.p:.1%} of the time (accepted: up to "
                          f"{test.p + test.t:.1%}). Drop each value on its own draw, never an exact "
                          f"share of them")
    share = calls.float().mean(dim=0)
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


#: Ranks 1 to 5 (a 0-dim tensor has one layout; edge_cases takes it), then shapes drawn
#: anew each run (rank 1 to 5, sizes 1 to 7), size-1 dimensions included.
LAYOUT_SHAPES = ((6,), (5, 6), (3, 4, 6), (2, 3, 4, 6), (2, 3, 2, 3, 4))
DRAWN_SHAPES = 3


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
    drawn = [tuple(ctx.draws.randint(1, 7) for _ in range(ctx.draws.randint(1, 5))) for _ in range(DRAWN_SHAPES)]
    for shape in (*LAYOUT_SHAPES, *drawn):
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
       summary="the gradient is mask/(1-p) times the upstream gradient (0 at p=1, never NaN); "
               "forward-mode AD and double backward work as in torch",
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
    for p, training in ((0.4, True), (0.4, False)):
        _check_higher_order(subject, ctx, p, training)


def _check_higher_order(subject: Subject, ctx: Context, p: float, training: bool) -> None:
    """Forward-mode AD and double backward, both the forward's factor times what goes in.

    Torch's dropout supports both (``torch.func.jvp``, ``torch.autograd.forward_ad``, gradient
    penalties through ``create_graph=True``). Judged against the student's own mask (out / x).
    """
    x, tangent, v = ctx.values(64, 32), ctx.values(64, 32), ctx.values(64, 32)
    call = subject.call_text(p, training)
    found = subject.probe(x, p, training, tangent, v)
    for name, forward, given, how, fix in (
            ("jvp", "primal", tangent, "forward-mode AD (torch.autograd.forward_ad or torch.func.jvp)",
             "an autograd.Function needs a jvp staticmethod for it"),
            ("ggrad", "out", v, "double backward (a gradient of the gradient, create_graph=True)",
             "an autograd.Function's backward must itself be differentiable: build it from tensor "
             "operations, without @once_differentiable or torch.no_grad")):
        out, got = found.get(forward), found.get(name)
        if found.get(f"{name}_error"):
            raise CheckFailed(f"{found[f'{name}_error']}; torch's dropout supports {how}: {fix}")
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return  # a wrong forward: other checks say so
        expected = given.double() * (out.double() / x.double())
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"{how} through {call} gave no derivative; torch's dropout has one: {fix}")
        if got.shape != x.shape or not torch.allclose(got.double(), expected, rtol=1e-5, atol=1e-6):
            raise CheckFailed(f"{how} through {call} gave a wrong derivative; it should be the input's "
                              f"derivative times the forward's factor (mask/(1-p)): {fix}")


# --- inplace ---------------------------------------------------------------------------

@check("inplace", 1,
       summary="inplace=True overwrites and returns x, also a view; inplace=False never touches x; "
               "in every dtype, also under no_grad and inference_mode",
       hint="With inplace=False build a new tensor (x * mask); with inplace=True use "
            "x.mul_(...) on x itself (not on a copy such as x.contiguous()) and return x.")
def check_inplace(subject: Subject, ref: Subject, ctx: Context) -> None:
    """In every dtype, and with autograd on, off (no_grad) and off for good (inference_mode)."""
    p = 0.5
    for dtype in (torch.float32, *[d for d in ctx.dtypes if d != torch.float32]):
        for mode, (_, under) in GRAD_MODES.items():
            on = " ".join(filter(None, ["" if dtype == torch.float32 else _dtype_name(dtype), under]))
            at = f" on {on}" if on else ""
            x = ctx.values(32, 32, dtype=dtype)
            before = x.clone()
            call = subject.call_text(p, inplace=False)
            subject(x, p, inplace=False, on=on, grad_mode=mode)
            if not torch.equal(x, before):
                share = (x != before).float().mean().item()
                raise CheckFailed(f"{call}{at} changed the input: {share:.0%} of x now differs; with "
                                  f"inplace=False torch leaves x untouched, in every dtype and grad "
                                  f"mode (avoid mul_, *= and x[...] =)")
            call = subject.call_text(p, inplace=True)
            views = ((x, at),) if mode != "grad" or dtype != torch.float32 else (
                (x, at), (ctx.values(32, 64)[:, ::2], " on the non-contiguous view x[:, ::2]"))
            for x, where in views:
                before = x.clone()
                out = subject(x, p, inplace=True, on=where.removeprefix(" on "), grad_mode=mode)
                if torch.equal(x, before):
                    raise CheckFailed(f"{call}{where} left x unchanged; torch overwrites x with the "
                                      f"result, in every dtype and grad mode")
                if out.data_ptr() != x.data_ptr() or out.stride() != x.stride() or not torch.equal(out, x):
                    raise CheckFailed(f"{call}{where} returned a new tensor; torch returns x itself, "
                                      f"overwritten with the result")


# --- side effects ----------------------------------------------------------------------

#: The seed set twice by the reproducibility test: any value would do.
SEED = 1234


@check("side_effects", 1,
       summary="no side effects but drawing from torch's generator: torch.manual_seed reproduces "
               "the mask; grad mode, default dtype, determinism and threads stay as they were",
       hint="Draw the mask from torch's default generator (torch.rand_like, bernoulli_), not NumPy "
            "or Python's random, so that torch.manual_seed makes runs reproducible; change no global "
            "setting of torch (set_grad_enabled, set_default_dtype, set_num_threads, ...).")
def check_side_effects(subject: Subject, ref: Subject, ctx: Context) -> None:
    """Torch's dropout reads torch's default generator and changes nothing else a user can see.

    Reproducibility is the contract users rely on: ``torch.manual_seed(s)`` before a training
    run makes it repeat exactly, masks included. (That different seeds give different masks,
    and every call a fresh one, is the independence check's business.)
    """
    before = subject.state()
    for training, inplace in ((True, False), (False, False), (True, True), (False, True)):
        call = subject.call_text(0.5, training, inplace)
        subject(ctx.values(256), 0.5, training, inplace)
        after = subject.state()
        changed = [f"{name} was {before[name]!r:.40}, now {after.get(name)!r:.40}" for name in before
                   if after.get(name) != before[name]]
        if changed:
            raise CheckFailed(f"after {call}, {'; '.join(changed)}: torch's dropout changes no "
                              f"setting of torch, only the random generator's state")
    x = ctx.values(4096)
    masks = []
    for _ in range(2):
        subject.seed(SEED)
        masks.append(subject(x.clone(), 0.5) == 0)
    if not torch.equal(*masks):
        share = (masks[0] != masks[1]).float().mean().item()
        raise CheckFailed(f"after torch.manual_seed({SEED}) twice, two calls of "
                          f"{subject.call_text(0.5)} dropped different positions ({share:.0%} differ); "
                          f"torch draws the mask from torch's default generator, so the same seed gives "
                          f"the same mask and a training run can be repeated")


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

BOUNDS["forward"] = [test for name in FORWARD for test in BOUNDS.get(name, [])]


@check("forward", 1, targets=MODULE,
       summary="forward passes every check of Part 1 (in train and eval mode)",
       hint="Let forward call your Part 1 function with self.p, self.training and self.inplace.")
def check_forward(subject: ModuleSubject, ref: Subject, ctx: Context) -> list[str]:
    """The function's checks, run on the module's forward: one verdict, every failure named."""
    return _FORWARD(subject, ref, ctx)


_FORWARD = forward_held_to(FORWARD, "nn.Dropout")


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
       summary="no parameters or buffers, an empty state_dict, p or inplace changed later count, "
               "and a deep copy or .to() is a layer of its own",
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
        copied = subject.copies(p, inplace)
        if copied:
            raise CheckFailed(f"{text}: {copied}; a copy of torch's Dropout is a layer of its own")
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
       summary="repr(Dropout(p)) reads like torch's for any p: Dropout(p=0.3, inplace=False), Dropout(p=0, ...)",
       hint="Define extra_repr() returning f'p={self.p}, inplace={self.inplace}'.")
def check_module_repr(subject: ModuleSubject, ref: Subject, ctx: Context) -> None:
    """For any p: one drawn per run, and ints (torch accepts Dropout(0) and prints p=0)."""
    for p, inplace in ((0.3, False), (0.5, True), (ctx.draw_p(), False), (0, False), (1, True)):
        try:
            mine = subject.describe(p, inplace)
        except StudentError as err:
            if isinstance(p, int) and not isinstance(err.error, (NotImplementedError, CheckTimeout, CodeCrashed)):
                continue  # Dropout(0) or Dropout(1) refused: construction says so
            raise
        if isinstance(p, int) and type(mine["p"]) is not int:
            continue  # the layer keeps p in another form (a float, a tensor): module_state's and construction's business
        if not mine["is_module"]:
            raise CheckFailed(f"Dropout(p={p}) is a {mine['type']}, not an nn.Module")
        wanted = f"{mine['type']}({nn.Dropout(p, inplace).extra_repr()})"
        if mine["repr"] != wanted:
            raise CheckFailed(f"repr(Dropout(p={p}, inplace={inplace})) is {mine['repr']!r}; "
                              f"like torch's it should be {wanted!r}")
