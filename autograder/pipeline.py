"""The Part 3 check: the student's Dropout inside the network of the lessons.

The pipeline is the one the lessons trace: 20 features, Dropout(0.3),
Linear(20, 10), ReLU, Linear(10, 3).

Split in two so the verdict can be reached outside the student's process:
:func:`describe_pipeline` runs where the model lives and reports its layers
and four predictions; :func:`judge_pipeline` decides from that report.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from .subject import CheckFailed

LAYERS = "Dropout(0.3) -> Linear(20, 10) -> ReLU -> Linear(10, 3)"
# Taken when this module is imported, before any student code runs: a notebook that
# rebinds nn.Linear cannot make its own class pass for torch's.
_SEQUENTIAL, _LINEAR, _RELU = nn.Sequential, nn.Linear, nn.ReLU


def _layer(module) -> dict:
    kind = type(module)
    name = {_LINEAR: "Linear", _RELU: "ReLU"}.get(kind, f"{kind.__module__}.{kind.__name__}")
    return {"type": name, "in": getattr(module, "in_features", None),
            "out": getattr(module, "out_features", None), "text": str(module)[:200]}


def describe_pipeline(model, Dropout, x: torch.Tensor) -> dict:
    """The model's layers, and two predictions of ``x`` in eval mode and two in train mode."""
    sequential = isinstance(model, _SEQUENTIAL)
    info = {"sequential": sequential, "type": type(model).__name__,
            "length": len(model) if sequential else None}
    if info["length"] != 4:
        return info
    drop, *rest = list(model)
    info["first"] = {"type": f"{type(drop).__module__}.{type(drop).__name__}",
                     "is_student_class": type(drop) is Dropout, "p": getattr(drop, "p", None)}
    info["rest"] = [_layer(m) for m in rest]
    was_training = model.training
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a warning on stderr would zero the grade cell
            x = x.to(rest[0].weight.device) if isinstance(rest[0], _LINEAR) else x
            model.eval()
            info["eval"] = [model(x), model(x)]
            model.train()
            info["train"] = [model(x), model(x)]
    finally:
        model.train(was_training)
    return info


def judge_pipeline(info: dict) -> None:
    """Raise CheckFailed, with what to fix, unless ``info`` describes the lessons' pipeline."""
    if not info["sequential"] or info["length"] != 4:
        raise CheckFailed(f"model should be nn.Sequential with four layers: {LAYERS}; "
                          f"got {info['type']} with {info['length'] or '?'} layers")
    first = info["first"]
    if not first["is_student_class"]:
        raise CheckFailed(f"the first layer is {first['type']}; it should be your own Dropout class")
    if first["p"] != 0.3:
        raise CheckFailed(f"the first layer drops with p={first['p']}; the pipeline uses p=0.3")
    shapes = [(m["type"], m["in"], m["out"]) for m in info["rest"]]
    if shapes != [("Linear", 20, 10), ("ReLU", None, None), ("Linear", 10, 3)]:
        got = ", ".join(m["text"] for m in info["rest"])
        raise CheckFailed(f"after Dropout the layers should be Linear(20, 10), ReLU, "
                          f"Linear(10, 3); got {got}")
    if not torch.equal(*info["eval"]):
        raise CheckFailed("in eval mode two predictions of the same batch differ; "
                          "dropout must be off after model.eval()")
    if torch.equal(*info["train"]):
        raise CheckFailed("in train mode two predictions of the same batch are identical; "
                          "dropout must draw a new mask on every pass after model.train()")


def check_pipeline(model, Dropout) -> None:
    """Raise CheckFailed, with what to fix, unless ``model`` is the lessons' pipeline."""
    from .runner import forked_rng, refuse_delegation, watch_one_call

    info = describe_pipeline(model, Dropout, torch.randn(64, 20))
    with forked_rng(torch.device("cpu")):  # the probe leaves the student's random state as it was
        refuse_delegation(watch_one_call(Dropout, 0.3))
    judge_pipeline(info)
    print("pipeline: passed")
