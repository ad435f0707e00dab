"""Part 3's network check: a student's ``Dropout`` in Lesson 3's network, trained and measured.

The network and data are Lesson 3's: 300 training samples with exactly 20% of their
labels moved to another class, 1000 clean validation samples, two hidden layers of 64
units. Trained for a fixed budget from a fixed seed, it overfits without dropout (100%
training accuracy, validation about 22 points lower) and does not with ``nn.Dropout(0.8)``
(it fits about the 80% right labels, and validation accuracy ends above training).

The grade comes from what the network does, never from the code. The run with the
student's layer in the two dropout slots is measured twice over:

* what only a network shows (:mod:`autograder.network`): the eval network is the one
  trained and the average of the thinned ones, the noise is torch's in size and
  independence, and the gradient reaching the first layer is torch's on average;
* the outcome: it must shrink the accuracy gap by at least :data:`MIN_GAP_CLOSED`
  against no dropout, and land within :data:`TOLERANCE` of torch's ``nn.Dropout`` in
  the same run.

The margins come from repeated runs (``benchmarks/overfitting_tolerances.py``): a correct
layer never comes near them.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from . import network
from .subject import CheckFailed

P, STEPS, SEED = 0.8, 100, 0
WRONG_SHARE = 0.2
#: A layer must close at least this much of the no-dropout accuracy gap (train - validation).
MIN_GAP_CLOSED = 0.10
#: ... and reach a validation accuracy within this of torch's nn.Dropout(P) in the same run.
TOLERANCE = 0.05


@functools.lru_cache(maxsize=4)
def data(device: str = "cpu"):
    """(X_train, y_train, X_val, y_val): Lesson 3's split, labels corrupted the same way."""
    from sklearn.datasets import make_classification

    features, labels = make_classification(n_samples=1300, n_features=20, n_informative=10,
                                           n_redundant=0, n_classes=3, n_clusters_per_class=1,
                                           class_sep=2.0, random_state=0)
    X = torch.tensor(features, dtype=torch.float32)
    y = torch.tensor(labels)
    X_train, y_train, X_val, y_val = X[:300], y[:300].clone(), X[300:], y[300:]
    noise = torch.Generator().manual_seed(0)
    wrong = torch.randperm(300, generator=noise)[:int(WRONG_SHARE * 300)]
    y_train[wrong] = (y_train[wrong] + torch.randint(1, 3, (len(wrong),), generator=noise)) % 3
    mean, std = X_train.mean(dim=0), X_train.std(dim=0)
    X_train, X_val = (X_train - mean) / std, (X_val - mean) / std
    return tuple(t.to(device) for t in (X_train, y_train, X_val, y_val))


def _accuracy(model, inputs, targets) -> float:
    model.eval()
    with torch.no_grad():
        return (model(inputs).argmax(dim=1) == targets).float().mean().item()


def train(make_dropout, device="cpu", steps: int = STEPS, seed: int = SEED) -> dict:
    """Train Lesson 3's network with ``make_dropout()`` in both dropout slots.

    Returns the final accuracies (``train``, ``val``, ``gap``) and the trained ``model``.
    """
    X_train, y_train, X_val, y_val = data(str(device))
    torch.manual_seed(seed)
    first, second = nn.Linear(20, 64), nn.Linear(64, 64)
    last = nn.Linear(64, 3)
    model = nn.Sequential(first, nn.ReLU(), make_dropout(), second, nn.ReLU(), make_dropout(), last).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        model.train()
        loss = loss_fn(model(X_train), y_train)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    train_acc, val_acc = _accuracy(model, X_train, y_train), _accuracy(model, X_val, y_val)
    return {"train": train_acc, "val": val_acc, "gap": train_acc - val_acc, "model": model}


def measure_network(run: dict, device="cpu") -> dict:
    """:func:`autograder.network.measure` on a run of :func:`train`, against torch's twin."""
    model = run["model"]
    X_train, _, X_val, _ = data(str(device))
    twin = nn.Sequential(model[0], nn.ReLU(), nn.Dropout(P), model[3], nn.ReLU(), nn.Dropout(P), model[6])
    return network.measure(model, twin, X_train, X_val)


@functools.lru_cache(maxsize=4)
def baseline(device: str = "cpu") -> dict:
    """The same run without dropout and with torch's nn.Dropout(P): what a layer is judged by."""
    return {"none": train(nn.Identity, device), "torch": train(lambda: nn.Dropout(P), device)}


def judge(mine: dict, base: dict, found: dict) -> None:
    """Raise CheckFailed, with the numbers, unless the network with the student's layer
    behaves as torch's (``found``, from :func:`measure_network`) and ``mine`` closes the
    gap as torch's does."""
    network.judge(found)
    none, theirs = base["none"], base["torch"]
    seen = (f"with your Dropout({P}) the network reached {mine['train']:.0%} training and "
            f"{mine['val']:.0%} validation accuracy (gap {mine['gap']:+.0%}); without dropout the gap "
            f"is {none['gap']:+.0%}, with torch's nn.Dropout({P}) {theirs['gap']:+.0%} "
            f"(validation {theirs['val']:.0%})")
    if none["gap"] - mine["gap"] < MIN_GAP_CLOSED:
        raise CheckFailed(f"{seen}. Your layer should close the gap by at least "
                          f"{MIN_GAP_CLOSED:.0%}, as torch's does")
    if abs(mine["val"] - theirs["val"]) > TOLERANCE:
        raise CheckFailed(f"{seen}. Your validation accuracy should be within {TOLERANCE:.0%} of "
                          f"torch's in the same run")


def check_overfitting(Dropout, device=None) -> None:
    """For the grade cell: train with the student's Dropout(P) in the notebook's kernel."""
    from .device import grading_device
    from .runner import forked_rng

    from .runner import refuse_delegation, watch_one_call

    device = str(device or grading_device())
    with forked_rng(torch.device(device)):  # leave the student's random state as it was
        mine = train(lambda: Dropout(P), device)
        found = measure_network(mine, device)
        base = baseline(device)
        refuse_delegation(watch_one_call(Dropout, P))  # after training: the run is as it always was
    judge(mine, base, found)
    print(f"overfitting: passed (the network behaves as with torch's nn.Dropout({P}); accuracy gap "
          f"{mine['gap']:+.0%} with your Dropout, {base['none']['gap']:+.0%} without dropout)")
