"""dropout_family's answers the tests grade: correct ones in several styles, and realistic bugs.

As in ``corpus.py`` for dropout_from_scratch: every bug lists the checks it must fail
and a fragment of the message the student must see, and the set is exact. A bug's
``target`` is the answer it stands for (``dropout2d``, ``Dropout2d``, ``AlphaDropout``,
or a Part 4 class name); Part 4's bugs fail ``fixed_model``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from autograder.fixed_models import AttentionTwin, CNNTwin

ALPHA = 1.7580993408473766


def _validate(p):
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _rank_rules(x, p, training):
    """What torch does before drawing: warn for ranks other than 4, refuse ranks below 2."""
    if x.dim() != 4:
        warnings.warn(f"dropout2d expects 4-D input, got {x.dim()}-D", UserWarning)
    if training and 0 < p < 1 and x.dim() < 2:
        raise RuntimeError("dropout2d needs a channel dimension")


def _channel_shape(x):
    return x.shape[:2] + (1,) * (x.dim() - 2)


# --- correct dropout2d, in different styles -----------------------------------------------

def dropout2d_rand(x, p=0.5, training=True, inplace=False):
    _validate(p)
    _rank_rules(x, p, training)
    if not training or p == 0:
        return x
    if p == 1:
        return x.mul_(0) if inplace else x * 0
    mask = (torch.rand(_channel_shape(x), device=x.device) >= p).to(x.dtype) / (1 - p)
    return x.mul_(mask) if inplace else x * mask


def dropout2d_bernoulli(x, p=0.5, training=True, inplace=False):
    _validate(p)
    _rank_rules(x, p, training)
    if not training:
        return x
    keep = torch.empty(_channel_shape(x), device=x.device).bernoulli_(1 - p).to(x.dtype)
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return x.mul_(keep).mul_(scale) if inplace else x * keep * scale


def dropout2d_flatten(x, p=0.5, training=True, inplace=False):
    """Masks the (N, C, rest) view and reshapes back."""
    _validate(p)
    _rank_rules(x, p, training)
    if not training or p == 0:
        return x
    flat = x.reshape(x.shape[0], x.shape[1], -1) if x.dim() > 2 else x.unsqueeze(-1)
    dropped = torch.rand(flat.shape[:2], device=x.device) < p
    out = torch.where(dropped.unsqueeze(-1), torch.zeros_like(flat), flat / (1 - p) if p < 1 else flat * 0)
    out = out.reshape(x.shape)
    return x.copy_(out) if inplace else out


class Dropout2dReference(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate(p)
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout2d_rand(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


# --- correct AlphaDropout ------------------------------------------------------------------

class AlphaReference(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate(p)
        self.p, self.inplace = p, inplace

    def _values(self, x, keep, p):
        a = ((1 - p) * (1 + p * ALPHA ** 2)) ** -0.5
        return a * (x * keep - ALPHA * (1 - keep)) + ALPHA * a * p

    def forward(self, x):
        p = self.p
        if not self.training or p == 0:
            return x
        if p == 1:
            return x * 0
        keep = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype)
        return self._values(x, keep, p)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class AlphaWhere(AlphaReference):
    """torch.where between the two values, a and b as in the paper's notation."""

    def forward(self, x):
        p = self.p
        if not self.training or p == 0:
            return x
        if p == 1:
            return torch.zeros_like(x)
        a = 1 / ((1 - p) * (1 + p * ALPHA ** 2)) ** 0.5
        b = -a * (-ALPHA) * p
        dropped = torch.rand(x.shape, device=x.device) < p
        return torch.where(dropped, a * -ALPHA + b, a * x + b)


CORRECT = {"dropout2d": [dropout2d_rand, dropout2d_bernoulli, dropout2d_flatten],
           "Dropout2d": [Dropout2dReference], "AlphaDropout": [AlphaReference, AlphaWhere],
           "AttentionBlock": [AttentionTwin], "SmallCNN": [CNNTwin]}


# --- bugs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bug:
    name: str
    target: str
    impl: object
    fails: frozenset
    message: str


BUGS: list[Bug] = []


def bug(target, *fails, message):
    def register(impl):
        BUGS.append(Bug(impl.__name__, target, impl, frozenset(fails), message))
        return impl
    return register


def _channel_bug(mask_shape=_channel_shape, scale=lambda p: 1 / (1 - p), rank_rules=_rank_rules,
                 keep=lambda u, p: u >= p, eval_off=True, p_of=lambda p: p, validate=_validate):
    """A dropout2d that is right except where an argument says otherwise."""

    def dropout2d(x, p=0.5, training=True, inplace=False):
        validate(p) if training else _validate(p)
        rank_rules(x, p, training)
        if (eval_off and not training) or p == 0:
            return x
        if p == 1:
            return x.mul_(0) if inplace else x * 0
        mask = keep(torch.rand(mask_shape(x), device=x.device), p_of(p)).to(x.dtype) * scale(p)
        return x.mul_(mask) if inplace else x * mask
    return dropout2d


def _named(fn, name):
    fn.__name__ = name
    return fn


bug("dropout2d", "channel_defaults", "channel_whole", "channel_rate", "channel_independence", "channel_ranks",
    message="channels were partly zeroed")(_named(_channel_bug(mask_shape=lambda x: x.shape), "element_wise_mask"))
bug("dropout2d", "channel_defaults", "channel_rate", "channel_independence", "channel_ranks",
    message="one mask for the batch")(
    _named(_channel_bug(mask_shape=lambda x: (1, x.shape[1]) + (1,) * (x.dim() - 2)), "one_mask_for_the_batch"))
bug("dropout2d", "channel_defaults", "channel_rate", "channel_independence", "channel_ranks",
    message="all its channels dropped or kept together")(
    _named(_channel_bug(mask_shape=lambda x: (x.shape[0],) + (1,) * (x.dim() - 1)), "whole_samples_dropped"))
bug("dropout2d", "channel_whole", message="torch scales them by 1/(1-p)")(
    _named(_channel_bug(scale=lambda p: 1.0), "no_scaling"))
bug("dropout2d", "channel_defaults", "channel_rate", message="that is 1-p")(
    _named(_channel_bug(keep=lambda u, p: u < p), "keep_and_drop_swapped"))
bug("dropout2d", "channel_rate", message="of the channels; torch zeroes a share p")(
    _named(_channel_bug(p_of=lambda p: round(p, 1)), "p_rounded_to_a_tenth"))
bug("dropout2d", "channel_ranks", message="gave no UserWarning")(
    _named(_channel_bug(rank_rules=lambda x, p, t: None if x.dim() >= 2 or not t or p in (0, 1)
                        else (_ for _ in ()).throw(RuntimeError("no channels"))), "never_warns"))
bug("dropout2d", "channel_ranks", message="torch gives no warning for the 4-D input")(
    _named(_channel_bug(rank_rules=lambda x, p, t: (warnings.warn("dropout2d", UserWarning), _rank_rules(x, p, t))),
           "warns_for_every_rank"))
bug("dropout2d", "channel_ranks", message="torch raises RuntimeError")(
    _named(_channel_bug(rank_rules=lambda x, p, t: warnings.warn("not 4-D", UserWarning) if x.dim() != 4 else None,
                        mask_shape=lambda x: x.shape if x.dim() < 2 else _channel_shape(x)), "drops_values_of_a_1d_input"))
bug("dropout2d", "channel_defaults", "channel_ranks", message="in evaluation mode torch returns x as it is")(
    _named(_channel_bug(eval_off=False), "drops_in_eval_mode"))
bug("dropout2d", "channel_invalid_p", message="torch raises ValueError")(
    _named(_channel_bug(validate=lambda p: None), "checks_p_only_in_training"))


@bug("dropout2d", "channel_defaults", message="is the default p 0.5?")
def default_p_is_a_fifth(x, p=0.2, training=True, inplace=False):
    return dropout2d_rand(x, p, training, inplace)


@bug("dropout2d", "channel_whole", message="returned NaN")
def nan_at_p_one(x, p=0.5, training=True, inplace=False):
    _validate(p)
    _rank_rules(x, p, training)
    if not training:
        return x
    mask = (torch.rand(_channel_shape(x), device=x.device) >= p).to(x.dtype) / (1 - p) if p < 1 else \
        torch.full(_channel_shape(x), float("nan"), device=x.device, dtype=x.dtype)
    return x.mul_(mask) if inplace else x * mask


@bug("dropout2d", "channel_independence", message="two calls on the same input")
def mask_cached_per_shape(x, p=0.5, training=True, inplace=False, _cache={}):
    _validate(p)
    _rank_rules(x, p, training)
    if not training or p in (0, 1):
        return dropout2d_rand(x, p, training, inplace)
    key = (tuple(x.shape), p, x.dtype)
    if key not in _cache:
        _cache[key] = (torch.rand(_channel_shape(x), device=x.device) >= p).to(x.dtype) / (1 - p)
    mask = _cache[key]
    return x.mul_(mask) if inplace else x * mask


@bug("dropout2d", "channel_inplace", message="returned another tensor")
def overwrites_x_but_returns_a_copy(x, p=0.5, training=True, inplace=False):
    out = dropout2d_rand(x, p, training, inplace)
    return out.clone() if inplace and training else out


@bug("dropout2d", "channel_inplace", message="did not overwrite x")
def inplace_ignored(x, p=0.5, training=True, inplace=False):
    return dropout2d_rand(x, p, training, False)


@bug("dropout2d", "channel_whole", "channel_inplace", message="float32")
def mask_kept_in_float32(x, p=0.5, training=True, inplace=False):
    _validate(p)
    _rank_rules(x, p, training)
    if not training or p in (0, 1):
        return dropout2d_rand(x, p, training, inplace)
    mask = (torch.rand(_channel_shape(x), device=x.device) >= p).float() / (1 - p)
    return x.mul_(mask) if inplace else x * mask


@bug("dropout2d", "channel_autograd", message="without a gradient path")
def built_from_detached_x(x, p=0.5, training=True, inplace=False):
    return dropout2d_rand(x.detach(), p, training, inplace) if training and not inplace else \
        dropout2d_rand(x, p, training, inplace)


_FROM_TORCH = {"channel_defaults", "channel_whole", "channel_rate", "channel_independence", "channel_ranks",
               "channel_autograd", "channel_inplace", "channel_invalid_p", "channel_from_scratch"}


@bug("dropout2d", *_FROM_TORCH, message="your code ran torch's own dropout")
def calls_torch_dropout2d(x, p=0.5, training=True, inplace=False):
    return F.dropout2d(x, p, training, inplace)


@bug("Dropout2d", "channel_module_forward", message="did not overwrite x")
class ForwardForgetsInplace(Dropout2dReference):
    def forward(self, x):
        return dropout2d_rand(x, self.p, self.training)


@bug("Dropout2d", "channel_module_forward", "channel_module", message="in eval mode")
class ModuleIgnoresTraining(Dropout2dReference):
    def forward(self, x):
        return dropout2d_rand(x, self.p, True, self.inplace)


@bug("Dropout2d", "channel_module", message="was constructed without an error")
class ValidatesPInForward(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout2d_rand(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


@bug("Dropout2d", "channel_module", message="like torch's it should be")
class NoExtraRepr(Dropout2dReference):
    def extra_repr(self):
        return ""


@bug("Dropout2d", "channel_module", message="after layer.p = 0.0")
class ScaleFixedAtConstruction(Dropout2dReference):
    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self.keep_share = 1 - p

    def forward(self, x):
        if not self.training or self.keep_share == 1:
            return x
        if self.keep_share == 0:
            return x * 0
        _rank_rules(x, 1 - self.keep_share, True)
        mask = (torch.rand(_channel_shape(x), device=x.device) < self.keep_share).to(x.dtype) / self.keep_share
        return x.mul_(mask) if self.inplace else x * mask


@bug("AlphaDropout", "alpha_values", "alpha_rate", "alpha_autograd", message="torch gives either a*x + alpha*a*p")
class PlainDropoutInstead(AlphaReference):
    def _values(self, x, keep, p):
        return x * keep / (1 - p)


@bug("AlphaDropout", "alpha_values", "alpha_rate", message="(dropped)")
class DroppedToZero(AlphaReference):
    def _values(self, x, keep, p):
        a = ((1 - p) * (1 + p * ALPHA ** 2)) ** -0.5
        return a * x * keep + ALPHA * a * p * keep


@bug("AlphaDropout", "alpha_values", "alpha_rate", "alpha_autograd", message="with a = ")
class ScaleWithoutTheAlphaTerm(AlphaReference):
    def _values(self, x, keep, p):
        a = (1 - p) ** -0.5
        return a * (x * keep - ALPHA * (1 - keep)) + ALPHA * a * p


@bug("AlphaDropout", "alpha_values", message="torch returns zeros for p=1")
class NanAtPOne(AlphaReference):
    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = (torch.rand_like(x, dtype=torch.float32) >= self.p).to(x.dtype)
        return self._values(x, keep, self.p) if self.p < 1 else x * float("nan")


@bug("AlphaDropout", "alpha_eval", message="in evaluation mode torch returns it unchanged")
class PEqualsOneBeforeTheMode(AlphaReference):
    def forward(self, x):
        if self.p == 1:
            return x * 0
        return super().forward(x)


@bug("AlphaDropout", "alpha_rate", message="the masks of")
class OneMaskPerFeatureForTheBatch(AlphaReference):
    def forward(self, x):
        p = self.p
        if not self.training or p in (0, 1):
            return super().forward(x)
        keep = (torch.rand(x.shape[-1], device=x.device) >= p).to(x.dtype) if x.dim() > 1 else \
            (torch.rand_like(x) >= p).to(x.dtype)
        keep = keep.expand_as(x) if x.dim() > 1 else keep
        # the first half of the features copies the second: shared along the feature dimension too
        if x.dim() > 1:
            half = x.shape[-1] // 2
            keep = torch.cat([keep[..., half:2 * half], keep[..., half:]], dim=-1)
        return self._values(x, keep, p)


@bug("AlphaDropout", "alpha_autograd", message="without a gradient path")
class ComputedWithoutGradient(AlphaReference):
    def forward(self, x):
        with torch.no_grad():
            return super().forward(x)


@bug("AlphaDropout", "alpha_module", message="like torch's it should be")
class AlphaWithoutRepr(AlphaReference):
    def extra_repr(self):
        return f"p={self.p}"


# --- Part 4: models that still ignore the mode, or lost a dropout ---------------------------

def _attention(sdpa_p, out_p, ff_p):
    """An attention block whose dropouts take these p's: functions of (block, training)."""

    class AttentionBlock(AttentionTwin):
        def forward(self, x):
            n, t, d = x.shape
            q, k, v = self.qkv(self.norm1(x)).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            attended = F.scaled_dot_product_attention(q, k, v, dropout_p=sdpa_p(self, self.training))
            attended = attended.transpose(1, 2).reshape(n, t, d)
            x = x + F.dropout(self.out(attended), out_p(self, self.training), training=True)
            return x + F.dropout(self.ff(self.norm2(x)), ff_p(self, self.training), training=True)
    return AttentionBlock


RIGHT = lambda m, training: m.p if training else 0.0  # noqa: E731 - one line per rule reads best here
ALWAYS = lambda m, training: m.p  # noqa: E731
NEVER = lambda m, training: 0.0  # noqa: E731

bug("AttentionBlock", "fixed_model", message="a dropout still drops in eval mode")(
    _named(_attention(ALWAYS, RIGHT, RIGHT), "attention_dropout_p_left_on"))
bug("AttentionBlock", "fixed_model", message="a dropout still drops in eval mode")(
    _named(_attention(RIGHT, ALWAYS, RIGHT), "residual_dropout_without_training"))
bug("AttentionBlock", "fixed_model", message="a dropout is missing or its p smaller")(
    _named(_attention(NEVER, RIGHT, RIGHT), "attention_dropout_removed"))
bug("AttentionBlock", "fixed_model", message="a dropout is missing or its p smaller")(
    _named(_attention(RIGHT, lambda m, t: 0.1 if t else 0.0, lambda m, t: 0.1 if t else 0.0), "p_hard_coded_to_a_tenth"))
bug("AttentionBlock", "fixed_model", message="were all identical")(
    _named(_attention(NEVER, NEVER, NEVER), "every_dropout_removed"))


@bug("SmallCNN", "fixed_model", message="a dropout still drops in eval mode")
class CNNKeysOnGradMode(CNNTwin):
    """Drops whenever autograd is on: right under torch.no_grad(), wrong in ordinary use."""

    def forward(self, x):
        on = self.training or torch.is_grad_enabled()
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv1(x)), 2), self.p, training=on)
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv2(h)), 2), self.p, training=on)
        return self.head(F.dropout(h.flatten(1), self.p, training=on))


@bug("SmallCNN", "fixed_model", message="a dropout still drops in eval mode")
class CNNHeadStillDrops(CNNTwin):
    def forward(self, x):
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv1(x)), 2), self.p, training=self.training)
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv2(h)), 2), self.p, training=self.training)
        return self.head(F.dropout(h.flatten(1), self.p))


@bug("SmallCNN", "fixed_model", message="vary")
class CNNDropoutDoubled(CNNTwin):
    def forward(self, x):
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv1(x)), 2), self.p, training=self.training)
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv2(h)), 2), self.p, training=self.training)
        h = F.dropout(h.flatten(1), self.p, training=self.training)
        return self.head(F.dropout(h, self.p, training=self.training))


@bug("SmallCNN", "fixed_model", message="layers changed")
class CNNWithAnExtraLayer(CNNTwin):
    def __init__(self, classes=10, p=0.2):
        super().__init__(classes, p)
        self.extra = nn.Linear(classes, classes)

    def forward(self, x):
        return self.extra(super().forward(x))


@bug("SmallCNN", "fixed_model", message="not implemented yet")
class CNNNotWrittenYet(CNNTwin):
    def forward(self, x):
        raise NotImplementedError()
