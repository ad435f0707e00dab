"""The from-scratch watch sees torch's dropout by every route, and nothing else."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.watch import KernelWatch

X = torch.rand(6, 4)

ROUTES = {
    "functional": lambda: F.dropout(X, 0.3),
    "module": lambda: nn.Dropout(0.3)(X),
    "torch.dropout": lambda: torch.dropout(X, 0.3, True),
    "torch.dropout_": lambda: torch.dropout_(X.clone(), 0.3, True),
    "_VF": lambda: torch._VF.dropout(X, 0.3, True),
    "native_dropout": lambda: torch.native_dropout(X, 0.3, True),
    "aten op": lambda: torch.ops.aten.native_dropout(X, 0.3, True),
    "aten overload": lambda: torch.ops.aten.dropout.default(X, 0.3, True),
    "feature_dropout": lambda: F.dropout2d(X.view(1, 6, 4, 1), 0.3),
    "alpha_dropout": lambda: F.alpha_dropout(X, 0.3, True),
    "modes disabled": lambda: _disabled(),
    "name built at run time": lambda: getattr(F, "drop" + "out")(X, 0.3),
    "torch's Python reference": lambda: _reference(),
}


def _reference():
    import torch._refs.nn.functional as refs
    return refs.dropout(X, 0.3, True)


def _disabled():
    with torch._C.DisableTorchFunction():
        return torch._C._VariableFunctions.dropout(X, 0.3, True)


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_to_torch_dropout_is_seen(route):
    with KernelWatch() as watch:
        ROUTES[route]()
    assert watch.routes, f"{route} went unnoticed"


def test_code_written_from_scratch_is_not_flagged():
    with KernelWatch() as watch:
        x = X.clone().requires_grad_()
        y = x * (torch.rand_like(x) >= 0.3) / 0.7
        y.sum().backward()
        torch.empty_like(X).bernoulli_(0.7)
    assert watch.routes == []


def test_torch_dropout_outside_the_watch_is_not_counted():
    watch = KernelWatch()
    with watch:
        pass
    F.dropout(X, 0.3)
    assert watch.routes == []


def test_replacing_the_profiler_is_reported_and_the_old_one_restored():
    import sys
    before = sys.getprofile()
    with KernelWatch() as watch:
        sys.setprofile(None)
    assert any("setprofile" in r for r in watch.routes)
    assert sys.getprofile() is before


@torch.jit.script
def _scripted(x: torch.Tensor, p: float):
    return F.dropout(x, p, True, False)


def test_dropout_inside_torchscript_is_seen():
    with KernelWatch() as watch:
        _scripted(X, 0.3)
    assert any("operator aten::dropout" in r for r in watch.routes), watch.routes


def test_stopping_the_operator_profiler_is_reported():
    from torch._C._autograd import _disable_profiler_legacy
    with KernelWatch() as watch:
        _disable_profiler_legacy()
    assert any("stopped" in r or "switched off" in r for r in watch.routes), watch.routes


def test_switching_record_function_off_is_reported_and_undone_next_time():
    with KernelWatch() as watch:
        torch.autograd._enable_record_function(False)
    assert any("switched off" in r for r in watch.routes), watch.routes
    with KernelWatch() as again:
        _scripted(X, 0.3)
    assert any("aten::dropout" in r for r in again.routes), again.routes


def test_a_students_function_named_dropout_is_not_torchs():
    """Judged by the operator dispatched: the node name the student chose is not an operator."""
    from corpus import _InvertedDropout  # torch names its node _InvertedDropoutBackward

    x = torch.rand(64, requires_grad=True)
    with KernelWatch() as watch:
        out = _InvertedDropout.apply(x * 1, (torch.rand(64) >= 0.5).float() * 2)
        out.sum().backward()
    assert watch.routes == []


def test_a_torch_function_named_after_dropout_outside_its_dropout_code_is_not_flagged():
    """Only torch's files that implement dropout count: an exporter's helper called on import does not."""
    def _unsupported_dropout():
        return None
    _unsupported_dropout.__code__ = _unsupported_dropout.__code__.replace(
        co_filename=torch.__file__.replace("__init__.py", "onnx/symbolic_opset9.py"))
    with KernelWatch() as watch:
        _unsupported_dropout()
    assert watch.routes == []
