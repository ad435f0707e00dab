"""The Part 3 check: the student's Dropout inside the network of the lessons.

The pipeline is the one the lessons trace: 20 features, Dropout(0.3),
Linear(20, 10), ReLU, Linear(10, 3).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from .subject import CheckFailed

LAYERS = "Dropout(0.3) -> Linear(20, 10) -> ReLU -> Linear(10, 3)"


def check_pipeline(model, Dropout) -> None:
    """Raise CheckFailed, with what to fix, unless ``model`` is the lessons' pipeline."""
    if not isinstance(model, nn.Sequential) or len(model) != 4:
        raise CheckFailed(f"model should be nn.Sequential with four layers: {LAYERS}; "
                          f"got {type(model).__name__} with {len(model) if hasattr(model, '__len__') else '?'} layers")
    drop, first, relu, last = model
    if type(drop) is not Dropout:
        raise CheckFailed(f"the first layer is {type(drop).__module__}.{type(drop).__name__}; "
                          f"it should be your own Dropout class")
    if getattr(drop, "p", None) != 0.3:
        raise CheckFailed(f"the first layer drops with p={getattr(drop, 'p', None)}; the pipeline uses p=0.3")
    shapes = [(type(first), getattr(first, "in_features", None), getattr(first, "out_features", None)),
              (type(relu),),
              (type(last), getattr(last, "in_features", None), getattr(last, "out_features", None))]
    if shapes != [(nn.Linear, 20, 10), (nn.ReLU,), (nn.Linear, 10, 3)]:
        raise CheckFailed(f"after Dropout the layers should be Linear(20, 10), ReLU, Linear(10, 3); "
                          f"got {first}, {relu}, {last}")
    device = first.weight.device
    x = torch.randn(64, 20, device=device)
    was_training = model.training
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a warning on stderr would zero the grade cell
            model.eval()
            if not torch.equal(model(x), model(x)):
                raise CheckFailed("in eval mode two predictions of the same batch differ; "
                                  "dropout must be off after model.eval()")
            model.train()
            if torch.equal(model(x), model(x)):
                raise CheckFailed("in train mode two predictions of the same batch are identical; "
                                  "dropout must draw a new mask on every pass after model.train()")
    finally:
        model.train(was_training)
    print("pipeline: passed")
