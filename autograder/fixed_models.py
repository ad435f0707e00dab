"""Part 4 of dropout_family: fix the mode traps in two models; graded on behaviour, not text.

The notebook hands students an attention block and a small CNN whose dropout ignores
``model.eval()``: ``F.scaled_dot_product_attention(..., dropout_p=p)``, ``F.dropout(x, p)``
and ``F.dropout2d(x, p)`` all default to dropping (their ``training`` is True). A fixed
model, built with the student's class and compared with a correct twin carrying the
same weights (:data:`TWINS`), must:

* in eval mode, give the same output twice, and the twin's output (every dropout off);
* in training mode, vary from pass to pass with the twin's amount and kind of noise
  (:func:`_noise`, over :data:`PASSES` passes), within a factor :data:`NOISE_FACTOR` of
  the twin's: a dropout removed, added or given another p moves it. Over 50 seeds, two
  correct runs' log ratios had a standard deviation of at most 0.0184 (the largest was
  0.047), so the factor's log (0.182) is 9.9 of them or more
  (``benchmarks/fixed_model_tolerances.py``);
* and still follow the mode after switching back (eval, train, eval).

The model is built with a p drawn per grading run (:func:`grading_p`), and every pass
runs with autograd on, as in ordinary use: a forward that keys its dropout on the p
the grader uses or on ``torch.no_grad`` meets neither. Part 4 runs on the CPU, where
its comparisons are exact to float32 and no TF32 or fused attention kernel differs
between the student's model and the twin.

Torch's own dropout is allowed here: this part is about calling it right. The same
:func:`judge` runs in the student's kernel (:func:`check_fixed_model`) and, during
autograding, against the class in a sandbox where torch's dropout stays on
(:func:`autograder.remote.verify_notebook`).
"""
from __future__ import annotations

import random
import zlib

import torch
import torch.nn.functional as F
from torch import nn

from .registry import RUN_SEED
from .subject import CheckFailed, CheckTimeout, CodeCrashed

#: Passes in training mode whose spread is compared with the twin's.
PASSES = 200
#: A fixed model's noise (both measures of :func:`_noise`) lies within this factor of the twin's.
NOISE_FACTOR = 1.2


def grading_p() -> float:
    """The p both models are built with in this grading run: drawn in [0.2, 0.45], never a default."""
    return round(random.Random(RUN_SEED ^ zlib.crc32(b"fixed_model")).uniform(0.2, 0.45), 2)


class AttentionTwin(nn.Module):
    """The attention block with each dropout following ``self.training``: what a fix must do."""

    def __init__(self, dim=16, heads=2, p=0.1):
        super().__init__()
        self.heads, self.p = heads, p
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.p if self.training else 0.0
        attended = F.scaled_dot_product_attention(q, k, v, dropout_p=p).transpose(1, 2).reshape(n, t, d)
        x = x + F.dropout(self.out(attended), self.p, training=self.training)
        return x + F.dropout(self.ff(self.norm2(x)), self.p, training=self.training)


class CNNTwin(nn.Module):
    """The small CNN with channel dropout after each convolution and dropout before the head."""

    def __init__(self, classes=10, p=0.2):
        super().__init__()
        self.p = p
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16 * 2 * 2, classes)

    def forward(self, x):
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv1(x)), 2), self.p, training=self.training)
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv2(h)), 2), self.p, training=self.training)
        return self.head(F.dropout(h.flatten(1), self.p, training=self.training))


#: The classes Part 4 grades, by the name the notebook gives them: their twin and an input.
TWINS = {"AttentionBlock": (AttentionTwin, (64, 6, 16)), "SmallCNN": (CNNTwin, (64, 1, 8, 8))}


class LocalModel:
    """The student's class in this process, driven as the sandbox drives it remotely."""

    def __init__(self, cls):
        self.cls = cls

    def make(self, **kwargs):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.model = self.cls(**kwargs)
        return {n: t.detach().clone() for n, t in self.model.state_dict().items()}

    def train(self, mode: bool) -> None:
        self.model.train(mode)

    def passes(self, x, n: int) -> torch.Tensor:
        """``n`` passes on copies of ``x``, with autograd on as in ordinary use; outputs detached."""
        return torch.stack([self.model(x.clone()).detach() for _ in range(n)])


def _noise(outs: torch.Tensor) -> dict[str, float]:
    """How training-mode outputs vary across passes (dim 0): two views of the noise.

    ``spread``: the variance of each output element, averaged; ``shared``: the variance of
    each sample's mean output, averaged, which grows when dropout zeroes units that many
    outputs share (a whole channel, an attention weight) rather than independent ones.
    """
    outs = outs.double()
    return {"spread": outs.var(dim=0).mean().item(),
            "shared": outs.flatten(2).mean(-1).var(dim=0).mean().item()}


def judge(name: str, driver) -> None:
    """Raise :class:`CheckFailed` with what differs from a correctly fixed ``name``; ``driver``
    builds and runs the student's class (:class:`LocalModel`, or its sandboxed twin)."""
    twin_class, shape = TWINS[name]
    p = grading_p()
    weights = driver.make(p=p)
    twin = twin_class(p=p)
    wanted = {n: tuple(t.shape) for n, t in twin.state_dict().items()}
    found = {n: tuple(t.shape) if isinstance(t, torch.Tensor) else None for n, t in weights.items()}
    if found != wanted:
        raise CheckFailed(f"{name}'s layers changed: its state_dict has {sorted(found)[:6]}, the model handed out "
                          f"has {sorted(wanted)[:6]}; fix only how dropout is called, keep the layers")
    twin.load_state_dict(weights)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        twin.eval()
        eval_twin = twin(x)
        twin.train()
        twin_noise = _noise(torch.stack([twin(x) for _ in range(PASSES)]))
    if any(v == 0 for v in twin_noise.values()):
        raise RuntimeError(f"the twin of {name} showed no noise at p={p}: the grader's inputs are wrong")
    for step, mode in enumerate((False, True, False)):
        driver.train(mode)
        if not mode:
            outs = driver.passes(x, 2)
            if outs.shape[1:] != eval_twin.shape:
                raise CheckFailed(f"{name} returned shape {tuple(outs.shape[1:])}; the model handed out "
                                  f"returns {tuple(eval_twin.shape)}")
            when = "after model.eval()" if step == 0 else "after model.train() and then model.eval() again"
            if not torch.equal(outs[0], outs[1]):
                raise CheckFailed(f"{when}, two passes of {name} on the same input differ: a dropout still "
                                  f"drops in eval mode. F.dropout and F.dropout2d take training=self.training; "
                                  f"scaled_dot_product_attention takes dropout_p=self.p if self.training else 0.0")
            if not torch.allclose(outs[0], eval_twin, rtol=1e-4, atol=1e-5):
                raise CheckFailed(f"{when}, {name} does not compute what the same layers compute with every "
                                  f"dropout off (largest difference {(outs[0] - eval_twin).abs().max().item():.3g}); "
                                  f"in eval mode dropout must be the identity")
            continue
        outs = driver.passes(x, PASSES)
        if outs.shape[1:] != eval_twin.shape:
            raise CheckFailed(f"{name} returned shape {tuple(outs.shape[1:])} in training mode")
        if torch.equal(outs[0], outs[-1]) and torch.equal(outs.amin(0), outs.amax(0)):
            raise CheckFailed(f"after model.train(), {PASSES} passes of {name} on the same input were all "
                              f"identical: its dropout was removed instead of switched by the mode")
        found = _noise(outs)
        for key, what in (("spread", "vary"), ("shared", "vary together (sample means)")):
            ratio = found[key] / twin_noise[key]
            if not 1 / NOISE_FACTOR <= ratio <= NOISE_FACTOR:
                raise CheckFailed(
                    f"in training mode {name}'s outputs {what} {ratio:.2f} times as much as with its dropouts "
                    f"called right (accepted: {1 / NOISE_FACTOR:.2f} to {NOISE_FACTOR:.2f}): "
                    f"{'a dropout is missing or its p smaller' if ratio < 1 else 'a dropout is added or its p larger'}, "
                    f"keep every dropout the model had, with self.p")


def explain(name: str, error: BaseException) -> str:
    """What a student's model raising ``error`` while it was graded means for them."""
    if isinstance(error, NotImplementedError):
        return (f"not implemented yet: {name}.forward raised NotImplementedError; write the fixed "
                f"forward in its solution cell")
    if isinstance(error, CheckTimeout):
        return f"your {name} did not finish its passes in time (an endless loop?)"
    if isinstance(error, CodeCrashed):
        return f"running your {name} ended the process it ran in: {error}"
    return f"running your {name} raised {type(error).__name__}: {str(error)[:300]}"


def check_fixed_model(Model) -> None:
    """For a grade cell: raise with the student-facing message unless ``Model`` is fixed."""
    __tracebackhide__ = True
    name = getattr(Model, "__name__", "")
    if name not in TWINS:
        raise CheckFailed(f"check_fixed_model takes {' or '.join(TWINS)}, not {name or Model!r}")
    try:
        judge(name, LocalModel(Model))
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001 - the student's model raised: say so in their terms
        raise CheckFailed(explain(name, error)) from None
    print(f"{name}: fixed (eval deterministic and dropout-free, training noise as torch's)")
