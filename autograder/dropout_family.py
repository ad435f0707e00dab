"""The checks of the second assignment, dropout_family: channel dropout and alpha dropout.

Students write ``dropout2d`` and ``Dropout2d`` (torch's ``F.dropout2d`` and
``nn.Dropout2d``) and ``AlphaDropout`` (``nn.AlphaDropout``); each check here
states one part of torch's contract, as ``docs/contract_family.md`` lists it (rows
C1-C10 and A1-A5), and is registered in the same registry, run by the same runner
and sandbox, as dropout_from_scratch's (:mod:`autograder.checks`). Statistical checks use
:class:`~autograder.stats.ProportionTest` bands derived for the p they test, each
with a false-failure bound of at most :data:`BUDGET` (``tests/test_stats.py``
sums them per check against :data:`~autograder.stats.MAX_FALSE_FAILURE`).

Torch's contract for channel dropout, read from ``torch.nn.functional.dropout2d``
and ATen's ``_dropout_impl``: an input of shape (N, C, H, W) gets one draw per
(sample, channel), so a whole feature map is zeroed or kept and scaled by
1/(1-p); a 3-D input is read as (N, C, L) with a UserWarning; 2-D and 5-D
inputs warn and are masked per (N, C) position all the same; 0-D and 1-D
inputs warn and, in training with 0 < p < 1, raise RuntimeError. Alpha dropout
(Klambauer et al., 2017, as ATen computes it) sends a dropped value to
-alpha*a*(1-p) and a kept x to a*x + alpha*a*p, with alpha = 1.7580993408473766
and a = 1/sqrt((alpha**2 * p + 1)(1 - p)), so SELU's zero mean and unit variance
survive; p = 1 gives zeros.
"""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from .registry import BOUNDS, CHECKS, Context, _dtype_name, _percent, _raises_like_torch, check, forward_held_to
from .stats import ProportionTest, tolerance_for
from .subject import (CheckFailed, CheckTimeout, CodeCrashed, StudentError, Subject, invoke_text, make_text,
                      register_target)

CHANNEL_FN = (register_target("function", "dropout2d", "torch.nn.functional:dropout2d"),)
CHANNEL_MODULE = (register_target("module", "Dropout2d", "torch.nn:Dropout2d"),)
ALPHA = (register_target("module", "AlphaDropout", "torch.nn:AlphaDropout"),)
#: False-failure bound of each statistical test in this module.
BUDGET = 1e-11
#: SELU's alpha times its lambda: where alpha dropout sends a dropped value before the affine fix.
ALPHA_PRIME = 1.7580993408473766


def _band(test: ProportionTest) -> str:
    return f"{_percent(test.p - test.t)} to {_percent(test.p + test.t)}"


def channels_of(out: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dropped, whole) per (sample, channel) of a 3-D or higher input.

    ``dropped``: every value of the channel is zero; ``whole``: the channel is all zero or
    all nonzero, as torch's one draw per channel makes it.
    """
    zero = (out == 0).flatten(2) if out.dim() > 2 else (out == 0).unsqueeze(-1)
    return zero.all(-1), zero.all(-1) | (~zero).all(-1)


def _whole_channels(subject: Subject, x: torch.Tensor, p: float, what: str) -> torch.Tensor:
    """The student's output on ``x``; fails unless every channel is dropped whole or kept scaled."""
    call = subject.call_text(p) + f" on {what}"
    out = subject(x.clone(), p, on=what)
    if out.shape != x.shape:
        raise CheckFailed(f"{call} returned shape {tuple(out.shape)}; dropout2d keeps the shape")
    dropped, whole = channels_of(out, x)
    if not whole.all():
        share = 1 - whole.float().mean().item()
        raise CheckFailed(f"{call}: {share:.0%} of the channels were partly zeroed; torch draws once per "
                          f"(sample, channel) and zeroes or keeps the whole feature map")
    kept = out != 0
    ratio = out[kept].double() / x[kept].double()
    scale = 1 / (1 - p)
    if ratio.numel() and not torch.allclose(ratio, torch.full_like(ratio, scale),
                                            rtol=4 * torch.finfo(x.dtype).eps, atol=0):
        found = ratio.median().item()
        raise CheckFailed(f"{call}: kept values were scaled by {found:.4f}; torch scales them by "
                          f"1/(1-p) = {scale:.4f} for p={p}")
    return dropped


# --- the function --------------------------------------------------------------------------

DEFAULT_TESTS = {p: tolerance_for(p, 128 * 128, BUDGET) for p in (0.5, 0.2)}
BOUNDS["channel_defaults"] = list(DEFAULT_TESTS.values())


@check("channel_defaults", 1, targets=CHANNEL_FN,
       summary="torch's defaults (p=0.5, training=True, inplace=False) and keyword names; "
               "training=False returns the input unchanged",
       hint="def dropout2d(x, p=0.5, training=True, inplace=False): and return x as it is "
            "when training is False.")
def check_channel_defaults(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(128, 128, 2, 2)
    for args, kwargs, p in (((), {}, 0.5), ((0.2,), {}, 0.2), ((), {"p": 0.2, "training": True}, 0.2)):
        call = invoke_text(args, kwargs, subject.label)
        out = subject.invoke(x.clone(), args, kwargs)
        share = channels_of(out, x)[0].float().mean().item()
        test = DEFAULT_TESTS[p]
        if not test.accepts(share):
            raise CheckFailed(f"{call} dropped {share:.1%} of the channels; torch drops a share p = {p} "
                              f"(accepted: {_band(test)})" + (": is the default p 0.5?" if not args and not kwargs else ""))
    for p in (0.5, ctx.draw_p()):
        for inplace in (False, True):
            before = x.clone()
            out = subject.invoke(x, (), {"p": p, "training": False, "inplace": inplace})
            if not torch.equal(out, before) or not torch.equal(x, before):
                raise CheckFailed(f"{subject.label}(x, p={p}, training=False, inplace={inplace}) changed "
                                  f"the values; in evaluation mode torch returns x as it is")


def _random_ps(ctx: Context, n: int) -> list[float]:
    return sorted(ctx.draw_p(0.02, 0.98) for _ in range(n))


@check("channel_whole", 2, targets=CHANNEL_FN,
       summary="a whole channel (feature map) is zeroed or kept and scaled by 1/(1-p), for 4-D "
               "(N, C, H, W) and 3-D (N, C, L) input, any p; p=1 gives zeros, p=0 the input",
       hint="Draw one keep/drop value per (sample, channel): a mask of shape (N, C, 1, 1) "
            "(x.shape[:2] + (1,) * (x.dim() - 2)), broadcast over the feature map, times 1/(1-p).")
def check_channel_whole(subject: Subject, ref: Subject, ctx: Context) -> None:
    for p in (0.5, *_random_ps(ctx, 2)):
        for dtype in (torch.float32, *[d for d in ctx.dtypes if d == torch.float64]):
            _whole_channels(subject, ctx.values(16, 32, 5, 7, dtype=dtype), p,
                            f"a (16, 32, 5, 7) {_dtype_name(dtype)} input")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning for 3-D input: channel_ranks grades it
        _whole_channels(subject, ctx.values(16, 32, 9), 0.3, "a (16, 32, 9) input")
    x = ctx.values(4, 8, 3, 3)
    out = subject(x.clone(), 1.0)
    if not torch.equal(out, torch.zeros_like(x)):
        raise CheckFailed(f"{subject.call_text(1.0)} returned "
                          f"{'NaN' if out.isnan().any() else 'nonzero values'}; torch returns zeros for p=1")
    if not torch.equal(subject(x.clone(), 0.0), x):
        raise CheckFailed(f"{subject.call_text(0.0)} changed the values; with p=0 torch keeps every channel "
                          f"as it is (scale 1/(1-0) = 1)")


#: Channels per call in the rate check: 2**16 (sample, channel) pairs.
RATE_SHAPE = (256, 256, 2, 2)
RATE_PS = 3
BOUNDS["channel_rate"] = [tolerance_for(0.01, 2**16, BUDGET)] + [tolerance_for(0.5, 2**16, BUDGET)] * RATE_PS


@check("channel_rate", 2, targets=CHANNEL_FN,
       summary="the share of zeroed channels is p, for every p (drawn anew each run)",
       hint="Keep a channel where one uniform draw is >= p (torch.rand(N, C, 1, 1) >= p): "
            "p exactly as given, one draw per (sample, channel).")
def check_channel_rate(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(*RATE_SHAPE)
    for p in (0.01, *_random_ps(ctx, RATE_PS)):
        share = channels_of(subject(x.clone(), p), x)[0].float().mean().item()
        test = tolerance_for(p, 2**16, BUDGET)
        if not test.accepts(share):
            why = ": that is 1-p, so channels are dropped where they should be kept" \
                if abs(share - (1 - p)) <= test.t else ""
            raise CheckFailed(f"with p={p} you zeroed {_percent(share)} of the channels; torch zeroes a "
                              f"share p = {_percent(p)} (accepted: {_band(test)}){why}")


#: Independence at p = 0.5: two masks agree on a (sample, channel) with probability 1/2.
INDEPENDENCE_N = 4096
INDEPENDENCE_TEST = tolerance_for(0.5, INDEPENDENCE_N, BUDGET)
PAIRINGS = 5
BOUNDS["channel_independence"] = [INDEPENDENCE_TEST] * PAIRINGS


@check("channel_independence", 2, targets=CHANNEL_FN,
       summary="channels are dropped independently of each other, across the batch, and anew on every call",
       hint="One independent draw per (sample, channel) and per call: no mask shared by the samples "
            "of a batch (shape (1, C, 1, 1)) or the channels of a sample (shape (N, 1, 1, 1)), none kept between calls.")
def check_channel_independence(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(128, 64, 2, 2)
    first = channels_of(subject(x.clone(), 0.5), x)[0]
    second = channels_of(subject(x.clone(), 0.5), x)[0]
    n, c = first.shape
    for dim, what in ((0, "every sample got the same channels dropped (one mask for the batch)"),
                      (1, "each sample had all its channels dropped or kept together")):
        alike = (first.all(dim) | (~first).all(dim)).float().mean().item()
        if alike > 0.5:  # independent draws: a share of 2 * 0.5**64 per row or column at most
            raise CheckFailed(f"with p=0.5 {what}; torch draws each (sample, channel) on its own")
    pairings = (
        ("the first and second half of the batch (the same channel in other samples)", first[: n // 2], first[n // 2:]),
        ("neighbouring samples", first[0:-1:2], first[1::2]),
        ("the first and second half of the channels (other channels of the same sample)", first[:, : c // 2], first[:, c // 2:]),
        ("neighbouring channels", first[:, 0:-1:2], first[:, 1::2]),
        ("two calls on the same input", first, second),
    )
    for what, a, b in pairings:
        a, b = a.flatten()[:INDEPENDENCE_N], b.flatten()[:INDEPENDENCE_N]
        agree = (a == b).float().mean().item()
        if not INDEPENDENCE_TEST.accepts(agree):
            raise CheckFailed(f"with p=0.5 the masks of {what} agree on {agree:.0%} of the channels; "
                              f"independent draws agree on half of them (accepted: {_band(INDEPENDENCE_TEST)})")


#: One input per rank that dropout2d accepts: at least 512 (sample, channel) pairs each.
RANK_SHAPES = ((64, 32), (32, 16, 6), (32, 16, 3, 3), (16, 32, 2, 3, 2))
#: The share dropped at p = 0.5 on each, held to a coarse band (the rate is channel_rate's business).
RANK_SHARE_TEST = ProportionTest(p=0.5, n=512, t=0.2)
BOUNDS["channel_ranks"] = [RANK_SHARE_TEST] * len(RANK_SHAPES)


def _warned(subject: Subject, x, p, training) -> tuple[torch.Tensor | None, list[str], BaseException | None]:
    """(output or None, warning categories, the student's exception or None) of one call."""
    try:
        out, seen = subject.warned(x.clone(), p, training)
        return out, seen, None
    except StudentError as error:
        if isinstance(error.error, (NotImplementedError, CheckTimeout, CodeCrashed)):
            raise
        return None, [], error.error


@check("channel_ranks", 2, targets=CHANNEL_FN,
       summary="other ranks as torch: 3-D read as (N, C, L) and 2-D, 5-D masked per (N, C), each with a "
               "UserWarning; 0-D and 1-D raise RuntimeError in training; 4-D never warns",
       hint="warnings.warn(...) (a UserWarning) when x.dim() is not 4; build the mask of shape "
            "x.shape[:2] + (1,) * (x.dim() - 2); raise RuntimeError for x.dim() < 2 when training with 0 < p < 1.")
def check_channel_ranks(subject: Subject, ref: Subject, ctx: Context) -> None:
    for shape in RANK_SHAPES:
        x = ctx.values(*shape)
        what = f"a {x.dim()}-D input {shape}"
        out, seen, error = _warned(subject, x, 0.5, True)
        if error is not None:
            raise CheckFailed(f"{subject.call_text(0.5)} on {what} raised {type(error).__name__}: "
                              f"{str(error)[:200]}; torch accepts it")
        wants = x.dim() != 4
        if wants and "UserWarning" not in seen:
            raise CheckFailed(f"{subject.call_text(0.5)} on {what} gave no UserWarning; torch warns that "
                              f"dropout2d expects 4-D (N, C, H, W) input"
                              + (" and reads a 3-D one as (N, C, L)" if x.dim() == 3 else ""))
        if not wants and seen:
            raise CheckFailed(f"{subject.call_text(0.5)} on {what} warned ({', '.join(seen)}); torch gives "
                              f"no warning for the 4-D input dropout2d is made for")
        if out.shape != x.shape:
            raise CheckFailed(f"{subject.call_text(0.5)} on {what} returned shape {tuple(out.shape)}")
        dropped, whole = channels_of(out, x)
        if not whole.all():
            raise CheckFailed(f"{subject.call_text(0.5)} on {what} zeroed parts of a (sample, channel); "
                              f"torch masks it whole (mask shape x.shape[:2] + (1,) * (x.dim() - 2))")
        for dim, what_shared in ((1, "every channel of a sample together"), (0, "a channel in every sample together")):
            alike = (dropped.all(dim) | (~dropped).all(dim)).float().mean().item()
            if alike > 0.5:  # independent draws: a share of 2 * 0.5**16 per row or column at most
                raise CheckFailed(f"{subject.call_text(0.5)} on {what} dropped {what_shared}; torch draws "
                                  f"each (sample, channel) on its own, for this rank too")
        share = dropped.float().mean().item()
        if not RANK_SHARE_TEST.accepts(share):
            raise CheckFailed(f"{subject.call_text(0.5)} on {what} zeroed {share:.0%} of the (sample, "
                              f"channel) pairs; torch zeroes half")
    for shape in ((), (12,)):
        x = ctx.values(*shape)
        what = f"a {x.dim()}-D input"
        out, seen, error = _warned(subject, x, 0.5, True)
        if error is None or not isinstance(error, RuntimeError):
            raise CheckFailed(f"{subject.call_text(0.5)} on {what} "
                              f"{'returned' if error is None else 'raised ' + type(error).__name__}; torch "
                              f"raises RuntimeError (feature dropout needs at least 2 dimensions)")
        out, seen, error = _warned(subject, x, 0.5, False)
        if error is not None or out is None or not torch.equal(out, x):
            raise CheckFailed(f"{subject.call_text(0.5, False)} on {what} did not return the input; in "
                              f"evaluation mode torch returns it (with a warning) whatever its rank")


@check("channel_autograd", 1, targets=CHANNEL_FN,
       summary="the gradient is the mask/(1-p) of the same call times the upstream gradient",
       hint="Multiply x by a mask tensor (x * mask / (1 - p)) so that autograd carries the "
            "gradient; do not detach or build the output from x.data.")
def check_channel_autograd(subject: Subject, ref: Subject, ctx: Context) -> None:
    for p in (0.4, ctx.draw_p(0.05, 0.95)):
        x = ctx.values(8, 16, 3, 3, dtype=torch.float64).requires_grad_()
        out = subject(x, p)
        if not out.requires_grad:
            raise CheckFailed(f"{subject.call_text(p)} returned a tensor without a gradient path to x; "
                              f"torch's output carries the mask's gradient")
        upstream = ctx.values(8, 16, 3, 3, dtype=torch.float64)
        (grad,) = torch.autograd.grad((out * upstream).sum(), x, allow_unused=True)
        wanted = upstream * (out.detach() / x.detach())
        if grad is None or not torch.allclose(grad, wanted, rtol=1e-9, atol=1e-12):
            raise CheckFailed(f"the gradient through {subject.call_text(p)} is not the mask/(1-p) of that "
                              f"call times the upstream gradient, as torch's is")


@check("channel_inplace", 1, targets=CHANNEL_FN,
       summary="inplace=True overwrites and returns x, inplace=False never touches it; shape, dtype and "
               "device kept in every dtype",
       hint="With inplace=True return x.mul_(mask) (the same tensor); otherwise return x * mask, a new one.")
def check_channel_inplace(subject: Subject, ref: Subject, ctx: Context) -> None:
    for dtype in ctx.dtypes:
        x = ctx.values(8, 16, 3, 3, dtype=dtype)
        before = x.clone()
        out = subject(x, 0.5, True, False, on=f"{_dtype_name(dtype)} values")
        if not torch.equal(x, before):
            raise CheckFailed(f"{subject.call_text(0.5)} changed x; with inplace=False torch leaves it alone")
        if out.dtype != dtype or out.shape != x.shape or out.device != x.device:
            raise CheckFailed(f"{subject.call_text(0.5)} on {_dtype_name(dtype)} values returned "
                              f"{_dtype_name(out.dtype)} of shape {tuple(out.shape)} on {out.device}; torch "
                              f"keeps dtype, shape and device")
        out = subject(x, 0.5, True, True, on=f"{_dtype_name(dtype)} values")
        if not torch.equal(x, out) or torch.equal(x, before):
            raise CheckFailed(f"{subject.call_text(0.5, inplace=True)} did not overwrite x with its "
                              f"output; torch's in-place dropout2d does")
        if out is not x:
            raise CheckFailed(f"{subject.call_text(0.5, inplace=True)} overwrote x but returned another "
                              f"tensor; torch's in-place dropout2d returns x itself (return x.mul_(mask))")


@check("channel_invalid_p", 1, targets=CHANNEL_FN,
       summary="p outside [0, 1] raises ValueError, in train and eval mode",
       hint="Check p first, also when training is False: raise ValueError(f'dropout probability "
            "has to be between 0 and 1, but got {p}').")
def check_channel_invalid_p(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(4, 8, 3, 3)
    for p in (-0.1, 1.5):
        for training in (True, False):
            _raises_like_torch(lambda: subject(x.clone(), p, training), subject.call_text(p, training),
                               ValueError, "returned normally", "for p outside [0, 1]")


@check("channel_from_scratch", 1, targets=CHANNEL_FN,
       summary="torch's own dropout (dropout2d, feature_dropout, ...) is never called, by any route "
               "its dispatcher or the grader's watch sees",
       hint="Build the mask with torch.rand or torch.bernoulli and multiply; F.dropout2d, nn.Dropout2d "
            "and every other torch dropout are off limits.")
def check_channel_from_scratch(subject: Subject, ref: Subject, ctx: Context) -> None:
    """Runs the student's code in every mode; the runner's watch gives the verdict."""
    ran = False
    for p in (0.0, 0.3, 1.0):
        for training in (True, False):
            for inplace in (False, True):
                try:
                    subject(ctx.values(4, 4, 2, 2), p, training, inplace)
                    ran = True
                except (StudentError, CheckFailed) as error:
                    if isinstance(getattr(error, "error", None), (NotImplementedError, CheckTimeout, CodeCrashed)):
                        raise
    if not ran:
        raise CheckFailed(f"{subject.label} raised on every call, so nothing showed that it is written from scratch")


# --- the modules ---------------------------------------------------------------------------

def _module_api(torch_class: type, x_shape: tuple[int, ...]):
    """Construction, attributes, state, repr and modes of a dropout layer, as torch's ``torch_class``."""
    name = torch_class.__name__

    def run(subject: Subject, ref: Subject, ctx: Context) -> None:
        info = subject.describe()
        if not info["is_module"]:
            raise CheckFailed(f"{name}() is a {info['type']}, not an nn.Module")
        for args, kwargs, p, inplace in (((), {}, 0.5, False), ((0.2,), {}, 0.2, False),
                                         ((), {"p": 0.3, "inplace": True}, 0.3, True)):
            text = make_text(args, kwargs, name)
            info = subject.describe(*args, **kwargs)
            for attribute, wanted in (("p", p), ("inplace", inplace), ("training", True)):
                if info.get(attribute) != wanted:
                    raise CheckFailed(f"{text}.{attribute} is {info.get(attribute)!r}; torch's is {wanted!r}"
                                      + (" (a new layer starts in training mode)" if attribute == "training" else ""))
            if info["parameters"] or info["buffers"] or info["state_dict"]:
                raise CheckFailed(f"{text} has parameters, buffers or state {info['state_dict']}; torch's "
                                  f"{name} has none")
            wanted_repr = f"{info['type']}({torch_class(p, inplace).extra_repr()})"
            if info["repr"] != wanted_repr:
                raise CheckFailed(f"repr({text}) is {info['repr']!r}; like torch's it should be {wanted_repr!r}")
        for p in (-0.1, 1.5):
            _raises_like_torch(lambda: subject.make(p), f"{name}(p={p})", ValueError,
                               "was constructed without an error", "as soon as the layer is made")
        layer = subject.make(0.5)
        x = ctx.values(*x_shape)
        for mode in ("eval", "train", "eval"):
            returned = subject.run(getattr(layer, mode), f"layer.{mode}()")
            if returned is not layer:
                raise CheckFailed(f"layer.{mode}() did not return the layer; do not override {mode}()")
            out = subject.run(lambda: layer(x.clone()), f"{name}(0.5) in {mode} mode")
            if mode == "eval" and not torch.equal(out, x):
                raise CheckFailed(f"after layer.eval(), {name}(0.5) changed its input; in eval mode torch's "
                                  f"layer returns it unchanged")
            if mode == "train" and torch.equal(out, x):
                raise CheckFailed(f"after layer.train(), {name}(0.5) returned its input unchanged; in "
                                  f"training mode it drops")
        subject.run(layer.train, "layer.train()")
        subject.set(layer, "p", 0.0)
        out = subject.run(lambda: layer(x.clone()), f"{name}(0.5) after layer.p = 0.0")
        if not torch.equal(out, x):
            raise CheckFailed(f"after layer.p = 0.0, {name}(0.5) in training mode changed its input; torch's "
                              f"forward reads self.p on every call, and p = 0 keeps everything")

    return run


# --- alpha dropout -------------------------------------------------------------------------

def alpha_values(p: float) -> tuple[float, float, float]:
    """(a, shift of a kept value, value of a dropped one) of alpha dropout at ``p``, as ATen computes them."""
    a = 1 / math.sqrt((ALPHA_PRIME ** 2 * p + 1) * (1 - p))
    return a, ALPHA_PRIME * a * p, -ALPHA_PRIME * a * (1 - p)


def _alpha_kept(subject: Subject, x: torch.Tensor, p: float) -> torch.Tensor:
    """Which values alpha dropout kept; fails unless each output is torch's kept or dropped value."""
    call = subject.call_text(p)
    out = subject(x.clone(), p)
    if out.shape != x.shape:
        raise CheckFailed(f"{call} returned shape {tuple(out.shape)}; alpha dropout keeps the shape")
    a, shift, dropped_value = alpha_values(p)
    tolerance = 1e-5 if x.dtype == torch.float32 else 1e-12
    xd, od = x.double(), out.double()
    kept = torch.isclose(od, a * xd + shift, rtol=tolerance, atol=tolerance)
    dropped = torch.isclose(od, torch.full_like(od, dropped_value), rtol=tolerance, atol=tolerance)
    if not (kept | dropped).all():
        i = (~(kept | dropped)).nonzero()[0]
        found, value = od[tuple(i)].item(), xd[tuple(i)].item()
        raise CheckFailed(f"{call} turned {value:.4f} into {found:.4f}; torch gives either a*x + alpha*a*p = "
                          f"{a * value + shift:.4f} (kept) or -alpha*a*(1-p) = {dropped_value:.4f} (dropped), "
                          f"with a = {a:.4f} and alpha = {ALPHA_PRIME:.4f}: the values that keep SELU's mean 0 and variance 1")
    return ~kept


@check("alpha_eval", 1, targets=ALPHA,
       summary="in eval mode the input comes back unchanged, for any p",
       hint="if not self.training: return x")
def check_alpha_eval(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(64, 32)
    for p in (0.5, ctx.draw_p(), 1.0):
        out = subject(x.clone(), p, training=False)
        if not torch.equal(out, x):
            raise CheckFailed(f"{subject.call_text(p, False)} changed its input; in evaluation mode torch "
                              f"returns it unchanged")


@check("alpha_values", 3, targets=ALPHA,
       summary="a dropped value becomes -alpha*a*(1-p), a kept x becomes a*x + alpha*a*p, "
               "a = ((1-p)(1 + alpha^2 p))^(-1/2), which keeps mean 0 and variance 1; p=0 keeps x, "
               "p=1 gives zeros",
       hint="alpha = 1.7580993408473766; a = 1/sqrt((alpha**2 * p + 1) * (1 - p)); "
            "out = a * (x * keep + (-alpha) * (1 - keep)) + alpha * a * p with keep = rand >= p.")
def check_alpha_values(subject: Subject, ref: Subject, ctx: Context) -> None:
    for p in (0.5, 0.05, *_random_ps(ctx, 2)):
        for dtype in (torch.float32, *[d for d in ctx.dtypes if d == torch.float64]):
            _alpha_kept(subject, ctx.values(128, 64, dtype=dtype), p)
    x = ctx.values(64, 32)
    if not torch.equal(subject(x.clone(), 0.0), x):
        raise CheckFailed(f"{subject.call_text(0.0)} changed its input; with p=0 torch returns x")
    out = subject(x.clone(), 1.0)
    if not torch.equal(out, torch.zeros_like(x)):
        raise CheckFailed(f"{subject.call_text(1.0)} returned {'NaN' if out.isnan().any() else 'nonzero values'}; "
                          f"torch returns zeros for p=1 (a is infinite there)")


ALPHA_RATE_N = 2**16
BOUNDS["alpha_rate"] = [tolerance_for(0.5, ALPHA_RATE_N, BUDGET)] * (RATE_PS + 4)


@check("alpha_rate", 1, targets=ALPHA,
       summary="each value is dropped independently with probability p, anew on every call",
       hint="One uniform draw per value and per call (torch.rand_like(x) >= p keeps it); no mask "
            "shared along a dimension or kept between calls.")
def check_alpha_rate(subject: Subject, ref: Subject, ctx: Context) -> None:
    x = ctx.values(256, 256)
    first, second = _alpha_kept(subject, x, 0.5), _alpha_kept(subject, x, 0.5)
    for what, a, b in (("two calls", first, second), ("the two halves of the batch", first[:128], first[128:]),
                       ("the two halves of the features", first[:, :128], first[:, 128:])):
        agree = (a == b).float().mean().item()
        test = tolerance_for(0.5, a.numel(), BUDGET)
        if not test.accepts(agree):
            raise CheckFailed(f"with p=0.5 the masks of {what} agree on {agree:.0%} of the values; independent "
                              f"draws agree on half (accepted: {_band(test)})")
    for p in (0.1, *_random_ps(ctx, RATE_PS)):
        share = _alpha_kept(subject, x, p).float().mean().item()
        test = tolerance_for(p, ALPHA_RATE_N, BUDGET)
        if not test.accepts(share):
            raise CheckFailed(f"with p={p} your AlphaDropout dropped {_percent(share)} of the values; torch "
                              f"drops a share p (accepted: {_band(test)})")


@check("alpha_autograd", 1, targets=ALPHA,
       summary="the gradient is a on the kept values and 0 on the dropped ones",
       hint="Build the output from x with tensor operations (a * x * keep + ...) so autograd carries it.")
def check_alpha_autograd(subject: Subject, ref: Subject, ctx: Context) -> None:
    p = ctx.draw_p(0.05, 0.95)
    x = ctx.values(64, 32, dtype=torch.float64).requires_grad_()
    out = subject(x, p)
    if not out.requires_grad:
        raise CheckFailed(f"{subject.call_text(p)} returned a tensor without a gradient path to x")
    a, shift, _ = alpha_values(p)
    kept = torch.isclose(out.detach(), a * x.detach() + shift, rtol=1e-9, atol=1e-12)
    upstream = ctx.values(64, 32, dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * upstream).sum(), x, allow_unused=True)
    if grad is None or not torch.allclose(grad, upstream * a * kept, rtol=1e-9, atol=1e-12):
        raise CheckFailed(f"the gradient through {subject.call_text(p)} is not a = {a:.4f} on kept values "
                          f"and 0 on dropped ones, times the upstream gradient")


# --- registered last: the module checks that reuse the ones above ---------------------------

CHANNEL_FORWARD = [n for n, c in CHECKS.items() if c.targets == CHANNEL_FN and n != "channel_defaults"]
check("channel_module_forward", 1, targets=CHANNEL_MODULE,
      summary="forward passes every check of dropout2d (in train and eval mode)",
      hint="Let forward call your dropout2d with self.p, self.training and self.inplace.")(
    forward_held_to(CHANNEL_FORWARD, "nn.Dropout2d"))
check("channel_module", 2, targets=CHANNEL_MODULE,
      summary="Dropout2d(p=0.5, inplace=False): attributes, ValueError at construction, no state, torch's "
              "repr, follows train()/eval(), reads self.p on every call",
      hint="Store self.p and self.inplace after checking p in __init__; read them and self.training in "
           "forward; define extra_repr as f'p={self.p}, inplace={self.inplace}'.")(
    _module_api(nn.Dropout2d, (8, 16, 3, 3)))
check("alpha_module", 2, targets=ALPHA,
      summary="AlphaDropout(p=0.5, inplace=False): attributes, ValueError at construction, no state, "
              "torch's repr, follows train()/eval(), reads self.p on every call",
      hint="Store self.p and self.inplace after checking p in __init__; read them and self.training in "
           "forward; define extra_repr as f'p={self.p}, inplace={self.inplace}'.")(
    _module_api(nn.AlphaDropout, (64, 32)))
BOUNDS["channel_module_forward"] = [t for n in CHANNEL_FORWARD for t in BOUNDS.get(n, [])]
