"""Implementations the tests grade: correct ones in several styles, and realistic bugs.

Every bug lists the checks it must fail (``fails``), for each of its targets,
and a fragment of the message the student must see. The set is exact: a bug
that trips a check not listed is a defect of the check, not of the bug.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def _validate(p):
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


# --- correct implementations, in different styles ------------------------------

def dropout_rand(x, p=0.5, training=True, inplace=False):
    """The reference: a uniform draw compared with p, scale folded into the mask."""
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return x.mul_(0) if inplace else x * 0
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) / (1 - p)
    return x.mul_(mask) if inplace else x * mask


def dropout_bernoulli(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    keep = torch.empty_like(x).bernoulli_(1 - p)
    scale = 0.0 if p == 1 else 1 / (1 - p)
    if inplace:
        return x.mul_(keep).mul_(scale)
    return x * keep * scale


def dropout_where(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    if p == 1:
        out = torch.zeros_like(x)
    else:
        out = torch.where(torch.rand_like(x, dtype=torch.float32) < p, torch.zeros_like(x), x / (1 - p))
    return x.copy_(out) if inplace else out


def dropout_masked_fill(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x.clone() if not inplace else x  # an equal copy is as good as x itself
    drop = torch.rand(x.shape, device=x.device) < p
    if inplace:
        return x.masked_fill_(drop, 0).div_(1 - p) if p < 1 else x.zero_()
    return x.masked_fill(drop, 0) / (1 - p) if p < 1 else torch.zeros_like(x)


class _InvertedDropout(torch.autograd.Function):
    """x * mask with its own backward and jvp: every mode of autograd torch's dropout has.

    Its name says Dropout, so torch names its autograd node ``_InvertedDropoutBackward``:
    the watch must judge by the operator dispatched, never by that name."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        ctx.save_for_forward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None

    @staticmethod
    def jvp(ctx, x_tangent, mask_tangent):
        (mask,) = ctx.saved_tensors
        return x_tangent * mask


def dropout_autograd_function(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    keep = torch.rand_like(x, dtype=torch.float32) > p
    mask = keep.to(x.dtype) * (0.0 if p == 1 else 1 / (1 - p))
    out = _InvertedDropout.apply(x, mask)
    return x.copy_(out) if inplace else out


def dropout_scale_first(x, p=0.5, training=True, inplace=False):
    """x * (1/(1-p)) rather than x / (1-p): differs in the last ulp in half precision."""
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) * scale
    return x.mul_(mask) if inplace else x * mask


class DropoutReference(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate(p)
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout_rand(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class DropoutSelfContained(nn.Module):
    """A module that does not reuse a function, and validates p its own way."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, x):
        if not self.training:
            return x
        keep = torch.bernoulli(torch.full_like(x, 1 - self.p, dtype=torch.float32)).to(x.dtype)
        factor = keep / (1 - self.p) if self.p < 1 else keep
        return x.mul_(factor) if self.inplace else x * factor


def dropout_uniform(x, p=0.5, training=True, inplace=False):
    """An in-place uniform draw, compared strictly: rand > p keeps with probability 1-p too."""
    _validate(p)
    if not training:
        return x
    keep = torch.empty_like(x, dtype=torch.float32).uniform_() > p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return x.mul_(keep).mul_(scale) if inplace else x * keep * scale


def dropout_floor(x, p=0.5, training=True, inplace=False):
    """The old TensorFlow trick: floor(1 - p + U) is 1 with probability 1 - p, else 0."""
    _validate(p)
    if not training:
        return x
    keep = torch.floor(1 - p + torch.rand_like(x, dtype=torch.float32)).to(x.dtype)
    out = x * keep / (1 - p) if p < 1 else x * keep
    return x.copy_(out) if inplace else out


def dropout_index_put(x, p=0.5, training=True, inplace=False):
    """Scale everything, then zero the dropped positions by boolean indexing."""
    _validate(p)
    if not training:
        return x
    drop = torch.rand_like(x, dtype=torch.float32) < p
    out = x if inplace else x.clone()
    if p == 1:
        return out.zero_()
    out.div_(1 - p)
    out[drop] = 0
    return out


@torch.jit.script
def _scripted_from_scratch(x: torch.Tensor, p: float, training: bool, inplace: bool) -> torch.Tensor:
    if not training:
        return x
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) * (0.0 if p == 1.0 else 1.0 / (1.0 - p))
    return x.mul_(mask) if inplace else x * mask


def dropout_torchscript(x, p=0.5, training=True, inplace=False):
    """From scratch, compiled with TorchScript: the watch sees its operators, none of them dropout."""
    _validate(p)
    return _scripted_from_scratch(x, float(p), training, inplace)


class DropoutReprOverride(nn.Module):
    """Writes __repr__ itself instead of extra_repr; reads p through a validating property."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = p
        self.inplace = inplace

    @property
    def p(self):
        return self._p

    @p.setter
    def p(self, value):
        _validate(value)
        self._p = value

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p}, inplace={self.inplace})"

    def forward(self, x):
        return dropout_bernoulli(x, self.p, self.training, self.inplace)


class DropoutAutogradFunction(nn.Module):
    """A module over a custom autograd.Function, with its own backward."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout_autograd_function(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class DropoutWhereModule(nn.Module):
    """torch.where on a mask from torch.rand(x.shape): a contiguous output (a note, no points)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate(p)
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, x):
        if not self.training:
            return x
        if self.p == 1:
            return x.zero_() if self.inplace else torch.zeros_like(x)
        keep = torch.rand(x.shape, device=x.device) >= self.p
        out = torch.where(keep, x / (1 - self.p), 0)
        return x.copy_(out) if self.inplace else out


CORRECT_FUNCTIONS = [dropout_rand, dropout_bernoulli, dropout_where, dropout_masked_fill,
                     dropout_autograd_function, dropout_scale_first, dropout_uniform, dropout_floor,
                     dropout_index_put, dropout_torchscript]
CORRECT_MODULES = [DropoutReference, DropoutSelfContained, DropoutReprOverride,
                   DropoutAutogradFunction, DropoutWhereModule]


# --- bugs ------------------------------------------------------------------------

@dataclass(frozen=True)
class Bug:
    impl: object
    kind: str            # "function" or "module"
    fails: frozenset     # exactly the checks it must fail
    message: str         # a fragment of the student-facing message of the first of them

    @property
    def name(self):
        return self.impl.__name__


BUGS: list[Bug] = []


def _apply(x, keep, scale, inplace):
    """x times keep*scale in x's dtype, in place when asked: what each bug below gets right."""
    mask = keep.to(x.dtype) * scale
    return x.mul_(mask) if inplace else x * mask


def _ends(x, p, training, inplace):
    """What every bug below gets right: eval mode and p = 0 return x, p = 1 zeros."""
    if not training or p == 0:
        return x
    return _apply(x, torch.zeros_like(x), 0, inplace)


def bug(*fails, message, kind="function"):
    def register(impl):
        BUGS.append(Bug(impl, kind, frozenset(fails), message))
        return impl
    return register


@bug("scaling", message="kept values scaled by 1.000; torch scales them by 1/(1-p) = 1.429 for p=0.3")
def no_scaling(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1, inplace)


@bug("scaling", message="kept values scaled by 3.333; torch scales them by 1/(1-p) = 1.429")
def scale_by_one_over_p(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1 / p, inplace)


@bug("drop_rate", "edge_cases", message="that is 1-p, so values are dropped where they should be kept")
def keep_and_drop_swapped(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    return _apply(x, torch.rand_like(x, dtype=torch.float32) < p, 1 / (1 - p), inplace)


@bug("drop_rate", message="that is 1-p, so values are dropped where they should be kept")
def keep_and_drop_swapped_between_the_ends(x, p=0.5, training=True, inplace=False):
    """Gets p=0 and p=1 right by hand, and compares the wrong way in between."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) < p, 1 / (1 - p), inplace)


@bug("drop_rate", "edge_cases", message="you zeroed")
def normal_instead_of_uniform(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    return _apply(x, torch.randn_like(x) > p, 1 / (1 - p), inplace)


@bug("eval_mode", message="changed 100% of the values (e.g.")
def drops_in_eval_mode(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1 / (1 - p), inplace)


@bug("eval_mode", "scaling", message="torch returns the input unchanged in eval mode")
def non_inverted_dropout(x, p=0.5, training=True, inplace=False):
    """The original 2014 formulation: no scaling in training, scale by 1-p at test time."""
    _validate(p)
    if not training:
        return x * (1 - p)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1, inplace)


@bug("independence", message="rows (samples) of one batch share their dropped positions")
def one_mask_for_the_batch(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    keep = torch.rand(x.shape[-1:], device=x.device) >= p
    return _apply(x, keep, 1 / (1 - p), inplace)


@bug("independence", message="columns (features) are dropped together")
def one_mask_per_sample(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    keep = torch.rand(x.shape[:1] + (1,) * (x.dim() - 1), device=x.device) >= p
    return _apply(x, keep, 1 / (1 - p), inplace)


@bug("independence", "edge_cases", message="two calls on the same input dropped the same positions")
def seeds_inside(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    torch.manual_seed(0)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1 / (1 - p), inplace)


@bug("independence", message="neighbouring values are dropped together")
def half_resolution_mask(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    n = x.numel()
    coarse = torch.rand((n + 1) // 2, device=x.device) >= p
    keep = coarse.repeat_interleave(2)[:n].reshape(x.shape)
    return _apply(x, keep, 1 / (1 - p), inplace)


@bug("independence", "edge_cases", message="every position should be dropped at the same rate")
def first_value_always_kept(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    keep = (torch.rand_like(x, dtype=torch.float32) >= p).flatten()
    if keep.numel():
        keep[0] = True
    return _apply(x, keep.reshape(x.shape), 1 / (1 - p), inplace)


@bug("edge_cases", message="dropout(x, p=1.0, training=True, inplace=False) gave 256 NaN values")
def nan_at_p_one(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    keep = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype)
    return x.mul_(keep).div_(1 - p) if inplace else x * keep / (1 - p)


@bug("edge_cases", message="on a tensor of shape (0,) raised RuntimeError")
def assumes_a_last_dimension(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    keep = torch.rand(x.reshape(-1, x.shape[-1]).shape, device=x.device) >= p
    return _apply(x, keep.reshape(x.shape), 1 / (1 - p), inplace)


@bug("autograd", message="cut off from the graph")
def detached_output(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x.detach()
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return _apply(x.detach(), torch.rand_like(x, dtype=torch.float32) >= p, scale, inplace)


@bug("autograd", message="x.grad is None")
def builds_a_new_leaf(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    values = torch.tensor(x.tolist(), dtype=x.dtype, device=x.device).reshape(x.shape)
    out = _apply(values.requires_grad_(x.requires_grad), torch.rand_like(x, dtype=torch.float32) >= p, scale, False)
    return x.copy_(out) if inplace else out


@bug("shape_dtype_device", message="on float16 returned float64")
def float64_mask(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    mask = (torch.rand(x.shape, device=x.device) >= p).double() * scale
    return x.mul_(mask) if inplace else x * mask


@bug("shape_dtype_device", message="on a permuted view (dimensions reversed) of shape (6, 5) raised RuntimeError")
def views_the_input(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    keep = torch.rand_like(x.view(-1), dtype=torch.float32) >= p
    return _apply(x, keep.view(x.shape), 1 / (1 - p), inplace)


@bug("invalid_p", message="raised AssertionError; torch raises ValueError")
def asserts_on_p(x, p=0.5, training=True, inplace=False):
    assert 0 <= p <= 1, "p must be a probability"
    return dropout_rand(x, p, training, inplace)


@bug("invalid_p", message="returned normally; torch raises ValueError")
def never_checks_p(x, p=0.5, training=True, inplace=False):
    if not training or p <= 0:
        return x
    if p >= 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1 / (1 - p), inplace)


@bug("invalid_p", message="dropout(x, p=-0.1, training=False, inplace=False) returned normally")
def checks_p_only_when_training(x, p=0.5, training=True, inplace=False):
    if not training:
        return x
    return dropout_rand(x, p, training, inplace)


@bug("inplace", message="changed the input")
def mutates_the_input(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, scale, inplace=True)


@bug("inplace", message="left x unchanged")
def ignores_inplace(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, scale, inplace=False)


DELEGATING = {"side_effects", "defaults", "eval_mode", "drop_rate", "scaling", "independence", "edge_cases", "invalid_p",
              "shape_dtype_device", "autograd", "inplace", "from_scratch"}


@bug(*DELEGATING, message="your code ran torch's own dropout")
def calls_torch(x, p=0.5, training=True, inplace=False):
    return F.dropout(x, p, training, inplace)


@bug(*DELEGATING - {"invalid_p"}, message="your code ran torch's own dropout")
def calls_torch_under_a_disguise(x, p=0.5, training=True, inplace=False):
    _validate(p)
    with torch._C.DisableTorchFunction():
        return getattr(torch._VF, "drop" + "out" + "_" * inplace)(x, p, training)


# --- module bugs ----------------------------------------------------------------

@bug("forward", "train_eval_toggle", kind="module", message="eval_mode: Dropout(p=0.3, inplace=False) in eval mode changed 100% of the values")
class IgnoresTraining(DropoutReference):
    def forward(self, x):
        return dropout_rand(x, self.p, True, self.inplace)


@bug("module_state", kind="module", message="has parameters or buffers ['p']")
class PAsParameter(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate(p)
        self.p = nn.Parameter(torch.tensor(p, dtype=torch.float64), requires_grad=False)
        self.inplace = inplace

    def forward(self, x):
        return dropout_rand(x, float(self.p), self.training, self.inplace)

    def extra_repr(self):
        return f"p={float(self.p)}, inplace={self.inplace}"


@bug("module_repr", kind="module", message="is 'IgnoresRepr()'; like torch's it should be 'IgnoresRepr(p=0.3, inplace=False)'")
class IgnoresRepr(DropoutReference):
    def extra_repr(self):
        return ""


@bug("forward", kind="module", message="independence: two calls on the same input dropped the same positions")
class MaskCachedOnTheModule(DropoutReference):
    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        if getattr(self, "_keep", None) is None or self._keep.shape != x.shape:
            self._keep = torch.rand_like(x, dtype=torch.float32) >= self.p
        return _apply(x, self._keep, 1 / (1 - self.p), self.inplace)


@bug("forward", "train_eval_toggle", kind="module", message="eval_mode: Dropout(p=0.3, inplace=False) in eval mode changed 100%")
class OwnFlagInsteadOfTraining(DropoutReference):
    """Keeps its own `active` flag and never looks at self.training."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self.active = True

    def forward(self, x):
        return dropout_rand(x, self.p, self.active, self.inplace)


# --- more function bugs, one row of docs/contract.md each ------------------------------

def _fine(x, p, training, inplace):
    """The correct path, for the bugs below that differ from it in one place only."""
    return dropout_rand(x, p, training, inplace)


@bug("defaults", message="dropout(x) with no arguments dropped 30% of the values; torch's default p is 0.5")
def default_p_is_0_3(x, p=0.3, training=True, inplace=False):
    return _fine(x, p, training, inplace)


@bug("defaults", message="dropout(x) with no arguments dropped nothing; torch's defaults are training=True and p=0.5")
def default_is_eval_mode(x, p=0.5, training=False, inplace=False):
    return _fine(x, p, training, inplace)


@bug("defaults", message="dropout(x) with no arguments changed x; torch's default is inplace=False")
def default_is_inplace(x, p=0.5, training=True, inplace=True):
    return _fine(x, p, training, inplace)


@bug("defaults", message="torch's keyword names are p, training and inplace")
def renamed_arguments(x, rate=0.5, train=True, inplace=False):
    return _fine(x, rate, train, inplace)


@bug("eval_mode", message="dropout(x, p=0.3, training=False, inplace=True) changed")
def drops_in_eval_mode_when_inplace(x, p=0.5, training=True, inplace=False):
    """Tests the flags in the wrong order: in eval mode with inplace=True it still drops."""
    _validate(p)
    if not training and not inplace:
        return x
    return _fine(x, p, True, inplace)


@bug("edge_cases", "independence", message="on a 0-dim tensor dropped it in 0 of 128 calls")
def drops_an_exact_share(x, p=0.5, training=True, inplace=False):
    """Drops exactly int(p*n) positions: right on average, never for a single value."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    n = x.numel()
    keep = torch.ones(n, dtype=torch.bool, device=x.device)
    keep[torch.randperm(n, device=x.device)[:int(p * n)]] = False
    return _apply(x, keep.reshape(x.shape), 1 / (1 - p), inplace)


@bug("scaling", message="kept values scaled by 0.700; torch scales them by 1/(1-p) = 1.429")
def scales_by_keep_probability(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1 - p, inplace)


@bug("scaling", message="kept values scaled by 1.4")
def scales_by_the_share_kept(x, p=0.5, training=True, inplace=False):
    """Divides by the share actually kept in this call rather than by 1-p."""
    _validate(p)
    if not training:
        return x
    keep = torch.rand_like(x, dtype=torch.float32) >= p
    scale = keep.numel() / keep.sum().clamp(min=1).item() if keep.numel() else 1.0
    return _apply(x, keep, scale, inplace)


@bug("independence", message="values along dimension 2 are dropped together")
def one_mask_per_channel(x, p=0.5, training=True, inplace=False):
    """Spatial (Dropout2d-style) dropout: beyond rank 2, whole feature maps share a draw."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    shape = x.shape[:2] + (1,) * (x.dim() - 2) if x.dim() > 2 else x.shape
    keep = torch.rand(shape, device=x.device) >= p
    return _apply(x, keep.expand(x.shape), 1 / (1 - p), inplace)


@bug("independence", message="values along dimension 1 are dropped together")
def one_mask_for_every_time_step(x, p=0.5, training=True, inplace=False):
    """Variational (RNN-style) dropout: beyond rank 2, dimension 1 shares the mask."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    shape = x.shape[:1] + (1,) + x.shape[2:] if x.dim() > 2 else x.shape
    keep = torch.rand(shape, device=x.device) >= p
    return _apply(x, keep.expand(x.shape), 1 / (1 - p), inplace)


@bug("independence", "edge_cases", message="two calls on the same input dropped the same positions")
def a_fresh_generator_with_a_fixed_seed(x, p=0.5, training=True, inplace=False):
    """Reproducible on purpose: its own generator, seeded the same on every call."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    gen = torch.Generator(device=x.device).manual_seed(1234)
    keep = torch.rand(x.shape, generator=gen, device=x.device) >= p
    return _apply(x, keep, 1 / (1 - p), inplace)


_MASKS = {}


@bug("independence", "edge_cases", message="two calls on the same input dropped the same positions")
def caches_the_mask_per_shape(x, p=0.5, training=True, inplace=False):
    """Saves a draw per shape and p, "for speed"."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    key = (tuple(x.shape), p, x.device)
    if key not in _MASKS:
        _MASKS[key] = torch.rand(x.shape, device=x.device) >= p
    return _apply(x, _MASKS[key], 1 / (1 - p), inplace)


@bug("edge_cases", message="dropout(x, p=1.0, training=True, inplace=False) gave 256 values that differ")
def returns_x_for_p_one(x, p=0.5, training=True, inplace=False):
    """Treats both ends of [0, 1] as "nothing to do"."""
    _validate(p)
    if not training or p in (0, 1):
        return x
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1 / (1 - p), inplace)


@bug("edge_cases", message="on a 0-dim tensor dropped it in 0 of 128 calls")
def leaves_scalars_alone(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if x.dim() == 0:
        return x
    return _fine(x, p, training, inplace)


@bug("edge_cases", message="on a tensor of shape () raised TypeError")
def mask_from_star_size(x, p=0.5, training=True, inplace=False):
    """torch.rand(*x.size()) is torch.rand() for a 0-dim tensor, which needs a size."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    return _apply(x, torch.rand(*x.size(), device=x.device) >= p, 1 / (1 - p), inplace)


@bug("edge_cases", "eval_mode", message="torch accepts p = 0 and p = 1")
def rejects_p_one(x, p=0.5, training=True, inplace=False):
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), got {p}")
    return _fine(x, p, training, inplace)


@bug("invalid_p", message="raised TypeError; torch raises ValueError")
def raises_type_error_for_p(x, p=0.5, training=True, inplace=False):
    if not 0 <= p <= 1:
        raise TypeError(f"p must be a probability, got {p}")
    return _fine(x, p, training, inplace)


@bug("invalid_p", message="dropout(x, p=-0.1, training=True, inplace=False) returned normally")
def checks_only_the_upper_bound(x, p=0.5, training=True, inplace=False):
    if p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p <= 0:
        return x
    return _fine(x, p, training, inplace)


@bug("shape_dtype_device", message="on a permuted view (dimensions reversed) of shape (6, 5) is not zero-or-scaled")
def writes_in_memory_order(x, p=0.5, training=True, inplace=False):
    """Fills an empty_like(x) through .view(-1): memory order, taken for logical order."""
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    out = torch.empty_like(x)
    flat = x.reshape(-1)
    out.as_strided((out.numel(),), (1,)).copy_(flat * (torch.rand_like(flat, dtype=torch.float32) >= p) * scale)
    return x.copy_(out) if inplace else out


@bug("autograd", message="x.grad is wrong at 2048 of 2048 positions (2048 are NaN)")
def where_divides_by_zero(x, p=0.5, training=True, inplace=False):
    """torch.where(keep, x / (1 - p), 0): at p=1 the branch it discards is x/0 = inf."""
    _validate(p)
    if not training:
        return x
    out = torch.where(torch.rand_like(x, dtype=torch.float32) >= p, x / (1 - p), torch.zeros_like(x))
    return x.copy_(out) if inplace else out


@bug("autograd", message="inplace=True), x.grad is wrong")
def inplace_through_data(x, p=0.5, training=True, inplace=False):
    """x.data.mul_ in place, to dodge autograd's complaint: autograd never sees the mask."""
    _validate(p)
    if not training:
        return x
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) * (0.0 if p == 1 else 1 / (1 - p))
    if inplace:
        x.data.mul_(mask)
        return x
    return x * mask


@bug("autograd", message="cut off from the graph")
def numpy_round_trip(x, p=0.5, training=True, inplace=False):
    import numpy as np

    _validate(p)
    if not training:
        return x
    keep = (torch.rand_like(x, dtype=torch.float32) >= p).cpu().numpy()
    scale = 0.0 if p == 1 else 1 / (1 - p)
    values = x.detach().double().cpu().numpy()  # NumPy has no bfloat16
    out = torch.from_numpy(np.asarray(values * keep * scale)).to(x.device, x.dtype)
    return x.copy_(out) if inplace else out


class _ForgetsTheMask(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mask):
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        return grad, None


@bug("autograd", message="x.grad is wrong")
def backward_forgets_the_mask(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) * (0.0 if p == 1 else 1 / (1 - p))
    out = _ForgetsTheMask.apply(x, mask)
    return x.copy_(out) if inplace else out


class _ForgetsTheScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, keep, scale):
        ctx.save_for_backward(keep)
        return x * keep * scale

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        return grad * keep, None, None


@bug("autograd", message="x.grad is wrong")
def backward_forgets_the_scale(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    keep = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype)
    out = _ForgetsTheScale.apply(x, keep, 0.0 if p == 1 else 1 / (1 - p))
    return x.copy_(out) if inplace else out


@bug("inplace", message="on the non-contiguous view x[:, ::2] left x unchanged")
def inplace_on_a_contiguous_copy(x, p=0.5, training=True, inplace=False):
    """x.contiguous() is x itself only when x is contiguous already."""
    _validate(p)
    if not training:
        return x
    y = x.contiguous() if inplace else x
    return _apply(y, torch.rand_like(y, dtype=torch.float32) >= p, 0.0 if p == 1 else 1 / (1 - p), inplace)


@torch.jit.script
def _scripted_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return F.dropout(x, p, training, False)


@bug(*DELEGATING, message="operator aten::dropout")
def calls_torch_through_torchscript(x, p=0.5, training=True, inplace=False):
    """TorchScript runs inside the JIT: only the operator level of the watch sees it."""
    out = _scripted_dropout(x, p, training)
    return x.copy_(out) if inplace else out


# --- more module bugs -----------------------------------------------------------------

@bug("construction", kind="module", message="Dropout(p=-0.1) was constructed without an error")
class ValidatesOnlyInForward(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, x):
        return dropout_rand(x, self.p, self.training, self.inplace)


@bug("construction", "forward", kind="module", message="Dropout(p=-0.1) was constructed without an error")
class NeverValidates(DropoutReference):
    def __init__(self, p=0.5, inplace=False):
        nn.Module.__init__(self)
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return never_checks_p(x, self.p, self.training, self.inplace)


@bug("construction", kind="module", message="Dropout().p is 0.3; torch's is 0.5")
class DefaultPIs0_3(DropoutReference):
    def __init__(self, p=0.3, inplace=False):
        super().__init__(p, inplace)


@bug("construction", "module_state", kind="module", message="Dropout() has no attribute 'p'")
class RenamedAttributes(nn.Module):
    """Keeps rate and in_place: it works, but layer.p is not there to read or change."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate(p)
        self.rate, self.in_place = p, inplace

    def extra_repr(self):
        return f"p={self.rate}, inplace={self.in_place}"

    def forward(self, x):
        return dropout_rand(x, self.rate, self.training, self.in_place)


@bug("construction", kind="module", message="a new Dropout starts in training mode")
class StartsInEvalMode(DropoutReference):
    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self.eval()


@bug("construction", "forward", kind="module", message="Dropout(p=0.0) raised ValueError; torch accepts")
class RejectsPZero(DropoutReference):
    def __init__(self, p=0.5, inplace=False):
        if not 0 < p <= 1:
            raise ValueError(f"p must be in (0, 1], got {p}")
        super().__init__(p, inplace)


@bug("construction", "forward", kind="module", message="Dropout(p=-0.1) raised TypeError; torch raises ValueError")
class TypeErrorForBadP(DropoutReference):
    def __init__(self, p=0.5, inplace=False):
        if not 0 <= p <= 1:
            raise TypeError(f"p must be a probability, got {p}")
        super().__init__(p, inplace)


@bug("module_state", kind="module", message="kept values were scaled by 2.000, where Dropout(0.2) scales them by 1.250")
class ScaleComputedInInit(DropoutReference):
    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self.scale = 0.0 if p == 1 else 1 / (1 - p)

    def forward(self, x):
        if not self.training:
            return x
        return _apply(x, torch.rand_like(x, dtype=torch.float32) >= self.p, self.scale, self.inplace)


@bug("module_state", kind="module", message="after layer.p = 0.2, Dropout(0.5) dropped 50% of the values")
class FunctionBoundInInit(DropoutReference):
    def __init__(self, p=0.5, inplace=False):
        import functools

        super().__init__(p, inplace)
        self._drop = functools.partial(dropout_rand, p=p, inplace=inplace)

    def forward(self, x):
        return self._drop(x, training=self.training)


@bug("forward", kind="module", message="inplace: Dropout(p=0.5, inplace=True) in train mode left x unchanged")
class ForgetsInplace(DropoutReference):
    def forward(self, x):
        return dropout_rand(x, self.p, self.training)


@bug("module_state", kind="module", message="after layer.inplace = True, forward left x unchanged")
class MultiplierChosenInInit(DropoutReference):
    """Picks torch.Tensor.mul_ or torch.mul once, in __init__, from the inplace it was given."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self._multiply = torch.Tensor.mul_ if inplace else torch.mul

    def forward(self, x):
        if not self.training:
            return x
        mask = (torch.rand_like(x, dtype=torch.float32) >= self.p).to(x.dtype) * (0.0 if self.p == 1 else 1 / (1 - self.p))
        return self._multiply(x, mask)


@bug("module_state", kind="module", message="has parameters or buffers ['p']")
class PAsBuffer(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate(p)
        self.register_buffer("p", torch.tensor(p, dtype=torch.float64))
        self.inplace = inplace

    def extra_repr(self):
        return f"p={float(self.p)}, inplace={self.inplace}"

    def forward(self, x):
        return dropout_rand(x, float(self.p), self.training, self.inplace)


@bug("module_state", kind="module", message="state_dict() has keys ['_extra_state']")
class SavesPInItsState(DropoutReference):
    """Puts p into the checkpoint through get_extra_state: torch's state_dict stays empty."""

    def get_extra_state(self):
        return {"p": self.p}

    def set_extra_state(self, state):
        self.p = state["p"]


@bug("train_eval_toggle", kind="module", message="layer.train() did not return the layer")
class TrainReturnsNothing(DropoutReference):
    def train(self, mode=True):
        self.training = mode


@bug("module_repr", kind="module", message="should be 'ReprWithoutInplace(p=0.3, inplace=False)'")
class ReprWithoutInplace(DropoutReference):
    def extra_repr(self):
        return f"p={self.p}"


@bug("module_repr", kind="module", message="is 'Dropout(0.3)'")
class HandWrittenRepr(DropoutReference):
    def __repr__(self):
        return f"Dropout({self.p})"


# --- the rate for every p, in every dtype (drop_rate) ------------------------------------

@bug("drop_rate", message="A uniform draw made in")
def draws_in_the_inputs_dtype(x, p=0.5, training=True, inplace=False):
    """rand_like(x) in bfloat16 or float16: too coarse near 0 and 1 to compare with p."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    return _apply(x, torch.rand_like(x) >= p, 1 / (1 - p), inplace)


@bug("drop_rate", message="with p=0.0002 you zeroed 0.000% of the values")
def rate_rounded_to_a_percent(x, p=0.5, training=True, inplace=False):
    """Rounds p for the comparison ("two decimals are plenty"), scales by the true p."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= round(p, 2), 1 / (1 - p), inplace)


@bug("drop_rate", message="with p=0.0002 you zeroed 0.3")
def noise_in_steps_of_1_256(x, p=0.5, training=True, inplace=False):
    """Random bytes instead of uniform floats: the rate moves in steps of 1/256."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    noise = torch.randint(0, 256, x.shape, device=x.device)
    return _apply(x, noise >= p * 256, 1 / (1 - p), inplace)


@bug("drop_rate", message="with p=0.999 you zeroed 9")
def p_clamped_below_one(x, p=0.5, training=True, inplace=False):
    """Clamps p "to keep 1/(1-p) finite" for the mask, and scales by the true p."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= min(p, 0.99), 1 / (1 - p), inplace)


# --- independent Bernoulli draws (independence) ------------------------------------------

@bug("independence", message="the number of values dropped per call ranged only from 256 to 256")
def drops_an_exact_share_of_each_tensor(x, p=0.5, training=True, inplace=False):
    """Exactly round(p*n) values dropped: the right mean with no variance (one value: a coin flip)."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    n = x.numel()
    if n <= 1:
        return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, 1 / (1 - p), inplace)
    keep = torch.ones(n, dtype=torch.bool, device=x.device)
    keep[torch.randperm(n, device=x.device)[:round(p * n)]] = False
    return _apply(x, keep.reshape(x.shape), 1 / (1 - p), inplace)


_POOLS: dict = {}


@bug("independence", "edge_cases", message="the mask repeats itself")
def reuses_a_pool_of_noise(x, p=0.5, training=True, inplace=False):
    """One pool of uniforms per input size, drawn once and rotated by a random offset per call
    "to save random numbers": every call's mask is a shifted copy of the first (a 0-dim
    tensor's pool of one value is dropped always or never)."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    pool = _POOLS.setdefault((x.numel(), x.device), torch.rand(x.numel(), device=x.device))
    shift = int(torch.randint(0, max(x.numel(), 1), ()))
    return _apply(x, (pool.roll(shift) >= p).reshape(x.shape), 1 / (1 - p), inplace)


# --- every shape and dtype gets every property (scaling, inplace) ------------------------

@bug("scaling", message="kept values on a 0-dim tensor scaled by 1.000")
def forgets_the_scale_on_scalars(x, p=0.5, training=True, inplace=False):
    """A 0-dim tensor taken for a plain number: dropped at rate p, never scaled."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    keep = torch.rand_like(x, dtype=torch.float32) >= p
    return _apply(x, keep, 1 if x.dim() == 0 else 1 / (1 - p), inplace)


@bug("scaling", message="torch scales them by 1/(1-p)")
def scale_from_p_rounded_to_a_tenth(x, p=0.5, training=True, inplace=False):
    """Right on a grid of tenths (p = 0.3, 0.8), wrong in between."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    scale = 1 / (1 - round(p, 1)) if round(p, 1) < 1 else 1 / (1 - p)
    return _apply(x, torch.rand_like(x, dtype=torch.float32) >= p, scale, inplace)


@bug("inplace", message="left x unchanged; torch overwrites x with the result, in every dtype")
def inplace_only_in_float32(x, p=0.5, training=True, inplace=False):
    """Honours inplace=True only for float32 inputs, the dtype it was tried on."""
    return _fine(x, p, training, inplace and x.dtype == torch.float32)


@bug("inplace", message="under torch.no_grad() changed the input")
def mutates_without_grad(x, p=0.5, training=True, inplace=False):
    """With autograd off there is no graph to break, so it writes into x "to save memory"."""
    return _fine(x, p, training, inplace or not torch.is_grad_enabled())


# --- autograd as torch has it (autograd) -------------------------------------------------

class _MaskOnly(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None


@bug("autograd", message="forward-mode AD")
def function_without_jvp(x, p=0.5, training=True, inplace=False):
    """A custom autograd.Function with a backward and no jvp: reverse mode only."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) / (1 - p)
    out = _MaskOnly.apply(x, mask)
    return x.copy_(out) if inplace else out


class _OnceDifferentiable(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        ctx.save_for_forward(mask)
        return x * mask

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None

    @staticmethod
    def jvp(ctx, x_tangent, mask_tangent):
        (mask,) = ctx.saved_tensors
        return x_tangent * mask


@bug("autograd", message="double backward")
def backward_not_differentiable(x, p=0.5, training=True, inplace=False):
    """A backward marked once_differentiable: no gradient penalty can go through it."""
    _validate(p)
    if not training or p in (0, 1):
        return _ends(x, p, training, inplace)
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) / (1 - p)
    out = _OnceDifferentiable.apply(x, mask)
    return x.copy_(out) if inplace else out


# --- no side effects but the generator (side_effects) -------------------------------------

@bug("side_effects", message="dropped different positions")
def dropout_numpy_mask(x, p=0.5, training=True, inplace=False):
    """The mask from NumPy's generator, moved to x's device: torch's seed plays no part."""
    import numpy as np

    _validate(p)
    if not training:
        return x
    keep = torch.from_numpy(np.asarray(np.random.random_sample(tuple(x.shape)) >= p)).to(x.device)
    mask = keep.to(x.dtype) * (0.0 if p == 1 else 1 / (1 - p))
    return x.mul_(mask) if inplace else x * mask


@bug("side_effects", message="torch.get_num_threads() was")
def sets_threads_for_speed(x, p=0.5, training=True, inplace=False):
    """Moves torch's thread count on every call "to balance the load": for the rest of the
    program, too (1 to 4, never the count it found, so the change shows on any machine)."""
    torch.set_num_threads(torch.get_num_threads() % 4 + 1)
    return _fine(x, p, training, inplace)


# --- the whole nn.Module contract (module_state, module_repr) ------------------------------

@bug("module_state", kind="module", message="the copy's forward uses the original")
class ForwardBoundToTheOriginal(DropoutReference):
    """Keeps a lambda over self: a deep copy's forward still reads the original's mode and p."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self._drop = lambda x: dropout_rand(x, self.p, self.training, self.inplace)

    def forward(self, x):
        return self._drop(x)


@bug("module_repr", kind="module", message="like torch's it should be 'ReprOfAFloat(p=0, inplace=False)'")
class ReprOfAFloat(DropoutReference):
    """Prints p as a float: torch prints the p it was given, Dropout(0) as p=0."""

    def extra_repr(self):
        return f"p={float(self.p)}, inplace={self.inplace}"
