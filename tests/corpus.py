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
    mask = (torch.rand_like(x) >= p).to(x.dtype) / (1 - p)
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
        out = torch.where(torch.rand_like(x) < p, torch.zeros_like(x), x / (1 - p))
    return x.copy_(out) if inplace else out


def dropout_masked_fill(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x.clone() if not inplace else x  # an equal copy is as good as x itself
    drop = torch.rand(x.shape, device=x.device) < p
    if inplace:
        return x.masked_fill_(drop, 0).div_(1 - p) if p < 1 else x.zero_()
    return x.masked_fill(drop, 0) / (1 - p) if p < 1 else torch.zeros_like(x)


class _MaskedScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None


def dropout_autograd_function(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    keep = torch.rand_like(x) > p
    mask = keep.to(x.dtype) * (0.0 if p == 1 else 1 / (1 - p))
    out = _MaskedScale.apply(x, mask)
    return x.copy_(out) if inplace else out


def dropout_scale_first(x, p=0.5, training=True, inplace=False):
    """x * (1/(1-p)) rather than x / (1-p): differs in the last ulp in half precision."""
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    mask = (torch.rand_like(x) >= p).to(x.dtype) * scale
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
        keep = torch.bernoulli(torch.full_like(x, 1 - self.p))
        factor = keep / (1 - self.p) if self.p < 1 else keep
        return x.mul_(factor) if self.inplace else x * factor


CORRECT_FUNCTIONS = [dropout_rand, dropout_bernoulli, dropout_where, dropout_masked_fill,
                     dropout_autograd_function, dropout_scale_first]
CORRECT_MODULES = [DropoutReference, DropoutSelfContained]


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
    return _apply(x, torch.rand_like(x) >= p, 1, inplace)


@bug("scaling", message="kept values scaled by 3.333; torch scales them by 1/(1-p) = 1.429")
def scale_by_one_over_p(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    return _apply(x, torch.rand_like(x) >= p, 1 / p, inplace)


@bug("drop_rate", "edge_cases", message="that is 1-p, so values are dropped where they should be kept")
def keep_and_drop_swapped(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    return _apply(x, torch.rand_like(x) < p, 1 / (1 - p), inplace)


@bug("drop_rate", "edge_cases", message="with p=0.1 you zeroed")
def normal_instead_of_uniform(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    return _apply(x, torch.randn_like(x) > p, 1 / (1 - p), inplace)


@bug("eval_mode", message="changed 100% of the values (e.g. 0.786 became")
def drops_in_eval_mode(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    return _apply(x, torch.rand_like(x) >= p, 1 / (1 - p), inplace)


@bug("eval_mode", "scaling", message="torch returns the input unchanged in eval mode")
def non_inverted_dropout(x, p=0.5, training=True, inplace=False):
    """The original 2014 formulation: no scaling in training, scale by 1-p at test time."""
    _validate(p)
    if not training:
        return x * (1 - p)
    return _apply(x, torch.rand_like(x) >= p, 1, inplace)


@bug("independence", message="rows (samples) of one batch share their dropped positions")
def one_mask_for_the_batch(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    keep = torch.rand(x.shape[-1:], device=x.device) >= p
    return _apply(x, keep, 1 / (1 - p), inplace)


@bug("independence", message="columns (features) are dropped together")
def one_mask_per_sample(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    keep = torch.rand(x.shape[:1] + (1,) * (x.dim() - 1), device=x.device) >= p
    return _apply(x, keep, 1 / (1 - p), inplace)


@bug("independence", message="two calls on the same input dropped the same positions")
def seeds_inside(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    torch.manual_seed(0)
    return _apply(x, torch.rand_like(x) >= p, 1 / (1 - p), inplace)


@bug("independence", message="neighbouring values are dropped together")
def half_resolution_mask(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    n = x.numel()
    coarse = torch.rand((n + 1) // 2, device=x.device) >= p
    keep = coarse.repeat_interleave(2)[:n].reshape(x.shape)
    return _apply(x, keep, 1 / (1 - p), inplace)


@bug("independence", message="every position should be dropped at the same rate")
def first_value_always_kept(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    keep = (torch.rand_like(x) >= p).flatten()
    if keep.numel():
        keep[0] = True
    return _apply(x, keep.reshape(x.shape), 1 / (1 - p), inplace)


@bug("edge_cases", message="dropout(x, p=1.0, training=True, inplace=False) gave 256 NaN values")
def nan_at_p_one(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    keep = (torch.rand_like(x) >= p).to(x.dtype)
    return x.mul_(keep).div_(1 - p) if inplace else x * keep / (1 - p)


@bug("edge_cases", message="on a tensor of shape () raised IndexError")
def assumes_a_last_dimension(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    keep = torch.rand(x.reshape(-1, x.shape[-1]).shape, device=x.device) >= p
    return _apply(x, keep.reshape(x.shape), 1 / (1 - p), inplace)


@bug("autograd", message="cut off from the graph")
def detached_output(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x.detach()
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return _apply(x.detach(), torch.rand_like(x) >= p, scale, inplace)


@bug("autograd", message="x.grad is None")
def builds_a_new_leaf(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    values = torch.tensor(x.tolist(), dtype=x.dtype, device=x.device).reshape(x.shape)
    out = _apply(values.requires_grad_(x.requires_grad), torch.rand_like(x) >= p, scale, False)
    return x.copy_(out) if inplace else out


@bug("shape_dtype_device", message="on float16 returned float64")
def float64_mask(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    mask = (torch.rand(x.shape, device=x.device) >= p).double() * scale
    return x.mul_(mask) if inplace else x * mask


@bug("shape_dtype_device", message="non-contiguous x.t() raised RuntimeError")
def views_the_input(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training or p == 0:
        return x
    if p == 1:
        return _apply(x, torch.zeros_like(x), 0, inplace)
    keep = torch.rand_like(x.view(-1)) >= p
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
    return _apply(x, torch.rand_like(x) >= p, 1 / (1 - p), inplace)


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
    return _apply(x, torch.rand_like(x) >= p, scale, inplace=True)


@bug("inplace", message="left x unchanged")
def ignores_inplace(x, p=0.5, training=True, inplace=False):
    _validate(p)
    if not training:
        return x
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return _apply(x, torch.rand_like(x) >= p, scale, inplace=False)


DELEGATING = {"eval_mode", "drop_rate", "scaling", "independence", "edge_cases", "invalid_p",
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

@bug("eval_mode", "train_eval_toggle", kind="module", message="changed 100% of the values (e.g. 0.786 became")
class IgnoresTraining(DropoutReference):
    def forward(self, x):
        return dropout_rand(x, self.p, True, self.inplace)


@bug("module_api", kind="module", message="has parameters or buffers ['p']")
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


@bug("module_api", kind="module", message="is 'IgnoresRepr()'; like torch's it should be 'IgnoresRepr(p=0.3, inplace=False)'")
class IgnoresRepr(DropoutReference):
    def extra_repr(self):
        return ""


@bug("independence", kind="module", message="two calls on the same input dropped the same positions")
class MaskCachedOnTheModule(DropoutReference):
    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        if getattr(self, "_keep", None) is None or self._keep.shape != x.shape:
            self._keep = torch.rand_like(x) >= self.p
        return _apply(x, self._keep, 1 / (1 - self.p), self.inplace)


@bug("eval_mode", "train_eval_toggle", kind="module", message="changed 100% of the values (e.g. 0.786 became")
class OwnFlagInsteadOfTraining(DropoutReference):
    """Keeps its own `active` flag and never looks at self.training."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self.active = True

    def forward(self, x):
        return dropout_rand(x, self.p, self.active, self.inplace)
