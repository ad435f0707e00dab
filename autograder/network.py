"""What only a network shows: Part 3's trained network, measured around the student's layers.

Parts 1 and 2 test a layer on tensors the grader makes up. Part 3 trains Lesson 3's network
with the student's ``Dropout(p)`` in its two slots (:mod:`autograder.overfitting`) and then
measures, on that network's own weights and activations, what the network does because of
each layer:

* **eval**: after ``model.eval()`` the network computes what the same weights compute with
  torch's ``nn.Dropout``: the network deployed is the one trained;
* **average**: in training mode the next layer's outputs, averaged over the masks, are what
  the eval network computes (the eval network *is* the average of the thinned ones);
* **silenced**: each pass silences a share p of the units the layer before made active (sets
  them to exactly zero: a thinned network has fewer units, not noisier ones);
* **noise**: the variance the layer adds at the next layer is torch's, ``p/(1-p)·x²`` per
  kept-or-dropped value, summed through that layer's weights (known exactly from them);
* **samples**: different samples of one batch are thinned independently: per unit, the count
  silenced across the batch varies as a binomial's (one mask value per value, not per batch);
* **passes**: every pass draws a new mask (no two of them alike, and consecutive passes'
  noise uncorrelated);
* **gradient**: the gradient that reaches the layer before is, on average, what the eval
  network would send back, and varies from pass to pass as much as torch's does (the
  backward pass multiplies by the forward's mask, so dropped units learn nothing).

Each measure averages :data:`PASSES` passes through the student's layer. It fails when its
mean is off the target by more than :data:`Z` standard errors, taken from the same passes
through torch's ``nn.Dropout`` on the same activations (never from the student's own, which
a layer could inflate), *and* by more than :data:`MIN_EFFECT` of the target's scale: smaller
differences do not change what this network does, and Part 1 catches them. With a standard
error estimated from 100 passes, 7 of them are a two-sided t tail of 3e-10; the margin is
what protects a correct layer in practice: ``benchmarks/overfitting_tolerances.py`` measures
how far correct layers stray over many seeds (at most 1.2% and 3 standard errors).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .subject import CheckFailed

PASSES = 100
#: Standard errors (torch's) a measure may stray; a t tail with 99 degrees of freedom: 3e-10.
Z = 7.0
#: ... and the share of its scale it may stray by before the network counts as changed.
MIN_EFFECT = 0.05
#: Which layers surround each dropout slot in Lesson 3's network: (before, slot, after).
SLOTS = {"first": (0, 2, 3), "second": (3, 5, 6)}


@dataclass(frozen=True)
class Measure:
    """One property of a slot: per-pass values for the student's layer and for torch's, a target."""
    values: torch.Tensor      # one value per pass, the student's layer
    reference: torch.Tensor   # the same for torch's nn.Dropout, on the same activations
    target: float

    @property
    def mean(self) -> float:
        return self.values.mean().item()

    @property
    def standard_error(self) -> float:
        return (self.reference.std() / len(self.reference) ** 0.5).item()

    def missed(self) -> bool:
        """Off target beyond both margins; a NaN or an infinity is always a miss."""
        off = abs(self.mean - self.target)
        if not math.isfinite(off):
            return True
        return off > Z * self.standard_error and off > MIN_EFFECT * max(abs(self.target), 1.0)


def _eval_difference(model, twin, inputs) -> str:
    """'' if the two networks' eval-mode logits on ``inputs`` agree, else how they differ."""
    with torch.no_grad():
        model.eval()
        twin.eval()
        mine, theirs = model(inputs), twin(inputs)
    if not isinstance(mine, torch.Tensor) or mine.shape != theirs.shape:
        return f"returned {type(mine).__name__} {tuple(getattr(mine, 'shape', ()))} instead of logits " \
               f"of shape {tuple(theirs.shape)}"
    gap = (mine.float() - theirs).abs().max().nan_to_num(float("inf")).item()
    if gap > 1e-5 * max(1.0, theirs.abs().max().item()):
        return f"differ by up to {gap:.3g} in a logit"
    return ""


def _passes(layer, h: torch.Tensor, weight: torch.Tensor, direction: torch.Tensor, passes: int):
    """``passes`` training-mode calls of ``layer`` on ``h``: the noise each adds after ``weight``,
    the gradient each sends back for ``direction``, and each call's mask of exact zeros."""
    layer.train()
    noises, gradients, masks = [], [], []
    for _ in range(passes):
        leaf = h.clone().requires_grad_(True)
        out = layer(leaf * 1)   # as in the network: the layer's input is never a leaf
        if not isinstance(out, torch.Tensor) or out.shape != h.shape:
            raise CheckFailed(f"in the network your Dropout returned "
                              f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__} "
                              f"for an input of shape {tuple(h.shape)}")
        if out.requires_grad:   # an output cut from the graph sends nothing back
            (out.float() @ weight.T * direction).sum().backward()
        with torch.no_grad():
            noises.append((out.detach().float() - h) @ weight.T)
            gradients.append(leaf.grad if leaf.grad is not None else torch.zeros_like(h))
            masks.append(out.detach() == 0)
    return (torch.stack(noises).nan_to_num(float("inf")), torch.stack(gradients).nan_to_num(float("inf")),
            torch.stack(masks))


def _statistics(e, g, masks, h, weight, direction, p) -> dict[str, torch.Tensor]:
    """Per-pass values of every measure, from one layer's passes (see the module's docstring)."""
    passes = len(e)
    active = h != 0
    signal = h @ weight.T
    expected_noise = p / (1 - p) * ((h * h) @ (weight * weight).T).sum()
    expected_gradient = direction @ weight
    gradient_energy = (expected_gradient * expected_gradient).sum()
    unbiased = passes / (passes - 1)    # a centred sum of squares is short by one pass in T
    spread = e - e.mean(dim=0)          # each pass's noise around the layer's own average
    own = (spread * spread).sum(dim=(1, 2))
    active_per_unit = active.sum(dim=0)
    silenced_per_unit = (masks & active).sum(dim=1).float()
    g_spread = g - g.mean(dim=0)
    return {
        "average": 1 + (e * signal).sum(dim=(1, 2)) / (signal * signal).sum(),
        "silenced": (masks & active).sum(dim=(1, 2)) / active.sum(),
        "noise": own * unbiased / expected_noise,
        # Independent samples: per unit, the count silenced across the batch is binomial, with
        # variance p(1-p) per active value; masks shared between samples make it larger.
        "samples": ((silenced_per_unit - p * active_per_unit) ** 2).sum(dim=1)
                   / (p * (1 - p) * active_per_unit).sum(),
        # Centring makes two passes' noise correlate by -1/(T-1): that is the target.
        "passes": (spread[1:] * spread[:-1]).sum(dim=(1, 2)) / (own[1:] * own[:-1]).sqrt(),
        "gradient": (g * expected_gradient).sum(dim=(1, 2)) / gradient_energy,
        "gradient noise": (g_spread * g_spread).sum(dim=(1, 2)) * unbiased / (p / (1 - p) * gradient_energy),
    }


#: What each measure is for torch's layer; "silenced" is p itself, added per slot.
TARGETS = {"average": 1.0, "noise": 1.0, "samples": 1.0, "passes": -1 / (PASSES - 1),
           "gradient": 1.0, "gradient noise": 1.0}


def measure(model, twin, inputs, val_inputs, passes: int = PASSES) -> dict:
    """Measure ``model`` (Lesson 3's network with the student's layers) against ``twin``.

    ``twin`` holds the same Linear layers around torch's ``nn.Dropout``; ``inputs`` are the
    training samples, ``val_inputs`` the validation ones. Each dropout slot is called on the
    activations the network gives it, and judged through the layer after it.
    """
    p = float(twin[2].p)
    found = {"eval": _eval_difference(model, twin, val_inputs), "p": p, "slots": {}}
    targets = {**TARGETS, "silenced": p}
    with torch.no_grad():
        h = inputs
        for name, (before, slot, after) in SLOTS.items():
            h = torch.relu(model[before](h))   # what the slot receives from the eval network
            weight = model[after].weight.detach()
            direction = torch.randn((len(h), weight.shape[0]), generator=torch.Generator().manual_seed(0)).to(h)
            with torch.enable_grad():
                mine = _passes(model[slot], h, weight, direction, passes)
                theirs = _passes(twin[slot], h, weight, direction, passes)
            a, b = _statistics(*mine, h, weight, direction, p), _statistics(*theirs, h, weight, direction, p)
            masks = mine[2].flatten(1)
            repeated = len(masks) - len(torch.unique(masks, dim=0))
            found["slots"][name] = {
                "repeated": repeated,
                **{key: Measure(a[key].float().cpu(), b[key].float().cpu(), targets[key]) for key in a},
            }
    return found


def judge(found: dict) -> None:
    """Raise CheckFailed, saying what the network did, at the first property it misses."""
    p = found["p"]
    scale = 1 / (1 - p)
    if found["eval"]:
        raise CheckFailed(
            f"after model.eval() your network's predictions {found['eval']} from the same weights with "
            f"torch's nn.Dropout({p}): the network you deploy is not the one you trained; dropout must "
            f"return its input unchanged in eval mode")
    for name, m in found["slots"].items():
        at = f"the layer after your {name} Dropout"
        noise = m["noise"]
        if math.isfinite(noise.mean) and noise.mean < 1e-6:
            silent = m["silenced"].mean < 1e-6 and abs(m["average"].mean - 1) < 1e-6
            raise CheckFailed(
                f"in training mode your {name} Dropout gave the network the same output in all "
                f"{len(noise.values)} passes: " + ("it dropped nothing; in training mode it must zero each "
                                                   "value with probability p" if silent else
                                                   "it must draw a new mask on every pass"))
        if m["repeated"] or m["passes"].missed():
            raise CheckFailed(
                f"your {name} Dropout repeated its mask across forward passes ({m['repeated']} of "
                f"{len(noise.values)} passes drew a mask already drawn; the noise of consecutive passes "
                f"correlates {m['passes'].mean:.2f}, torch's 0.00): the network trains the same thinned "
                f"network again; draw a new mask on every pass")
        if m["silenced"].missed():
            raise CheckFailed(
                f"in training mode each pass of your {name} Dropout silenced {m['silenced'].mean:.0%} of the "
                f"active units it received (set them to exactly 0); torch's nn.Dropout({p}) silences "
                f"{p:.0%}: a thinned network has fewer units, not noisier ones")
        if m["samples"].missed():
            raise CheckFailed(
                f"your {name} Dropout does not thin the samples of a batch independently: per unit, the "
                f"number of samples it silences varies {m['samples'].mean:.2f} times as much as "
                f"independent draws give (torch's: 1.00); draw one mask value per value of the batch")
        if m["average"].missed():
            raise CheckFailed(
                f"in training mode the outputs of {at}, averaged over {len(noise.values)} passes, are "
                f"{m['average'].mean:.2f} times what the eval network computes (torch's: 1.00): the eval "
                f"network is not the average of the thinned networks your layer trained, so every "
                f"prediction shifts at model.eval(); kept values must be scaled by 1/(1-p) = {scale:.3f}")
        if noise.missed():
            raise CheckFailed(
                f"the noise your {name} Dropout adds at the next layer has {noise.mean:.2f} times the variance "
                f"torch's nn.Dropout({p}) adds (p/(1-p) = {p / (1 - p):.2f} times each value squared, "
                f"for values dropped independently): the thinned networks are not torch's")
        gradient, gradient_noise = m["gradient"], m["gradient noise"]
        if gradient.missed():
            cut = gradient.mean == 0 and gradient_noise.mean == 0
            raise CheckFailed(
                f"no gradient reached the layer before your {name} Dropout: the output was cut from its "
                f"input (.detach(), .data, NumPy or no_grad inside the layer), so that layer never learns"
                if cut else
                f"the gradient that reaches the layer before your {name} Dropout is, on average, "
                f"{gradient.mean:.2f} times torch's (1.00): backward must multiply by the forward pass's "
                f"mask and 1/(1-p) = {scale:.3f}, so the layers before it learn as they would with torch's")
        if gradient_noise.missed():
            raise CheckFailed(
                f"the gradient that reaches the layer before your {name} Dropout varies "
                f"{gradient_noise.mean:.2f} times as much from pass to pass as torch's: backward must "
                f"multiply by the same mask as the forward pass, so that a dropped unit passes no "
                f"gradient back")
