"""One calling convention for every implementation the checks look at.

A check calls ``subject(x, p, training, inplace)`` and gets a tensor, whether
the subject is a student's ``dropout`` function, a student's ``Dropout``
class, or torch's own (the reference the check compares with). Student code
runs inside a :class:`~autograder.watch.KernelWatch`, and any exception it
raises comes back as :class:`StudentError`, carrying a description of the
call, so a check can tell "your code crashed" from "the grader crashed".
"""
from __future__ import annotations

import contextlib
import copy
import warnings
from dataclasses import dataclass
from importlib import import_module

import torch
from torch import nn

from .watch import KernelWatch


class StudentError(Exception):
    """The student's code raised ``error`` during ``call``."""

    def __init__(self, call: str, error: BaseException):
        super().__init__(f"{call} raised {type(error).__name__}: {error}")
        self.call = call
        self.error = error


class CheckTimeout(Exception):
    """The time limit of a check ran out while the student's code was running."""


class CodeCrashed(Exception):
    """The student's code ended the process it ran in (exit, signal, no answer in time)."""


class CheckFailed(AssertionError):
    """A check's verdict: the message is written for the student."""


class Subject:
    """Base for function and module subjects; ``kind`` says how it is called, ``label``
    how a message names it (``dropout``, ``Dropout2d``, ...)."""

    kind = ""
    label = ""

    def __init__(self, impl, watched: bool = True, label: str = ""):
        self.impl = impl
        self.watch = KernelWatch() if watched else None
        self.label = label or self.label

    def call_text(self, p, training=True, inplace=False) -> str:
        raise NotImplementedError

    @property
    def routes(self) -> list[str]:
        """Every route to torch's own dropout that the student's code took so far."""
        return self.watch.routes if self.watch is not None else []

    def run(self, fn, call: str):
        """Run ``fn()``, which executes student code, watched; wrap its errors."""
        guard = self.watch if self.watch is not None else contextlib.nullcontext()
        try:
            with guard:
                return fn()
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001 - any student error is a verdict
            raise StudentError(call, error) from error

    def __call__(self, x, p=0.5, training=True, inplace=False, on="", grad_mode="grad"):
        """Call the implementation; ``on`` describes an unusual input for messages.

        ``grad_mode`` is the autograd mode the call runs under: a key of :data:`GRAD_MODES`.
        """
        call = self.call_text(p, training, inplace) + (f" on {on}" if on else "")
        mode = GRAD_MODES[grad_mode][0]

        def forward():
            with mode():
                return self._forward(x, p, training, inplace)

        out = self.run(forward, call)
        if not isinstance(out, torch.Tensor):
            raise CheckFailed(f"{call} returned {type(out).__name__}, not a tensor "
                              f"(is a `return` missing?)")
        return out

    def _forward(self, x, p, training, inplace):
        raise NotImplementedError

    def probe(self, x, p, training, tangent, v) -> dict:
        """What autograd gives beyond the gradient, as torch's dropout supports it.

        ``jvp``: forward-mode AD with ``tangent`` (torch.autograd.forward_ad), from the call
        whose output is ``primal``; ``ggrad``: double backward, the derivative of (dL/dx · v)
        with respect to the upstream gradient, through ``create_graph=True``, from the call
        whose output is ``out``. Each is None where autograd gave none.
        """
        import torch.autograd.forward_ad as fwAD

        call = self.call_text(p, training)

        def forward_mode():
            with fwAD.dual_level():
                out = self._forward(fwAD.make_dual(x.clone(), tangent.clone()), p, training, False)
                primal, jvp = fwAD.unpack_dual(out)
                return primal.detach(), jvp

        def double_backward():
            leaf = x.clone().requires_grad_()
            upstream = torch.ones_like(x).requires_grad_()
            out = self._forward(leaf * 1, p, training, False)
            (gx,) = torch.autograd.grad((out * upstream).sum(), leaf, create_graph=True)
            if not gx.requires_grad:
                return out.detach(), None
            (gg,) = torch.autograd.grad((gx * v).sum(), upstream, allow_unused=True)
            return out.detach(), gg

        found = {}
        for names, part, what in ((("out", "ggrad"), double_backward, "double backward (create_graph=True)"),
                                  (("primal", "jvp"), forward_mode, "forward-mode AD (torch.autograd.forward_ad)")):
            try:
                found.update(zip(names, self.run(part, f"{what} through {call}")))
            except StudentError as error:  # the verdict is the check's: say what failed, not "crashed"
                if isinstance(error.error, CheckTimeout):
                    raise
                found.update(dict.fromkeys(names), **{f"{names[1]}_error": str(error)[:500]})
        return found

    def warned(self, x, p, training=True) -> tuple[torch.Tensor, list[str]]:
        """The output of one call and the categories of the warnings it gave, in order."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = self(x, p, training)
        return out, list(dict.fromkeys(w.category.__name__ for w in caught))

    def seed(self, seed: int) -> None:
        """``torch.manual_seed(seed)`` where the student's code runs."""
        torch.manual_seed(seed)

    def state(self) -> dict:
        """The global settings of torch where the student's code runs: see :func:`torch_state`."""
        return torch_state()

    def repeat(self, x, p: float, n: int) -> torch.Tensor:
        """``n`` training-mode calls on copies of ``x``, stacked: one round trip in a sandbox.

        Each call is watched on its own: measured, that is faster than one watch around
        all of them (torch's operator profiler slows down as its records pile up)."""
        return torch.stack([self(x.clone(), p) for _ in range(n)])


#: The autograd modes a call may run under: (context manager, how a message names it).
GRAD_MODES = {"grad": (contextlib.nullcontext, ""), "no_grad": (torch.no_grad, "under torch.no_grad()"),
              "inference_mode": (torch.inference_mode, "under torch.inference_mode()")}


def torch_state() -> dict:
    """torch's process-wide settings a dropout has no business changing, by name."""
    return {"torch.is_grad_enabled()": torch.is_grad_enabled(),
            "torch.is_inference_mode_enabled()": torch.is_inference_mode_enabled(),
            "torch.get_default_dtype()": str(torch.get_default_dtype()),
            "torch.get_default_device()": str(torch.get_default_device()),
            "torch.are_deterministic_algorithms_enabled()": torch.are_deterministic_algorithms_enabled(),
            "torch.is_anomaly_enabled()": torch.is_anomaly_enabled(),
            "torch.get_num_threads()": torch.get_num_threads(),
            "torch.get_float32_matmul_precision()": torch.get_float32_matmul_precision()}


def restore_torch_state(state: dict) -> None:
    """Put back what :func:`torch_state` read and the student's code changed; nothing else.

    Only what differs is set: ``torch.set_default_device`` installs a mode that every
    later torch call then passes through.
    """
    now = torch_state()
    setters = {
        "torch.is_grad_enabled()": torch.set_grad_enabled,
        "torch.get_default_dtype()": lambda v: torch.set_default_dtype(getattr(torch, v.removeprefix("torch."))),
        "torch.get_default_device()": torch.set_default_device,
        "torch.are_deterministic_algorithms_enabled()": torch.use_deterministic_algorithms,
        "torch.is_anomaly_enabled()": torch.set_anomaly_enabled,
        "torch.get_num_threads()": torch.set_num_threads,
        "torch.get_float32_matmul_precision()": torch.set_float32_matmul_precision,
    }
    for name, setter in setters.items():
        if now[name] != state[name]:
            setter(state[name])


def _arguments(args=(), kwargs=None) -> list[str]:
    return [repr(a) for a in args] + [f"{k}={v!r}" for k, v in (kwargs or {}).items()]


def invoke_text(args=(), kwargs=None, label: str = "dropout") -> str:
    """How a call of the function reads in a message: ``dropout(x, 0.2, inplace=True)``."""
    return f"{label}({', '.join(['x', *_arguments(args, kwargs)])})"


def make_text(args=(), kwargs=None, label: str = "Dropout") -> str:
    """How constructing the module reads in a message: ``Dropout(p=0.2)``."""
    return f"{label}({', '.join(_arguments(args, kwargs))})"


class FunctionSubject(Subject):
    """A function with torch's signature ``dropout(x, p, training, inplace)``."""

    kind = "function"
    label = "dropout"

    def call_text(self, p, training=True, inplace=False) -> str:
        return f"{self.label}(x, p={p}, training={training}, inplace={inplace})"

    def _forward(self, x, p, training, inplace):
        return self.impl(x, p, training, inplace)

    def invoke(self, x, args=(), kwargs=None) -> torch.Tensor:
        """Call with exactly these arguments after x: how defaults and keywords are checked."""
        call = invoke_text(args, kwargs, self.label)
        out = self.run(lambda: self.impl(x, *args, **(kwargs or {})), call)
        if not isinstance(out, torch.Tensor):
            raise CheckFailed(f"{call} returned {type(out).__name__}, not a tensor")
        return out


class ModuleSubject(Subject):
    """A module class with torch's ``Dropout(p, inplace)``; forward follows ``.training``.

    Instances are kept per ``(p, inplace)``, so repeated calls reach the same
    module, as they would inside a model: a mask cached on the instance shows.
    """

    kind = "module"
    label = "Dropout"

    def __init__(self, impl, watched: bool = True, label: str = ""):
        super().__init__(impl, watched, label)
        self._instances = {}

    def call_text(self, p, training=True, inplace=False) -> str:
        mode = "train" if training else "eval"
        return f"{self.label}(p={p}, inplace={inplace}) in {mode} mode"

    def make(self, *args, **kwargs) -> nn.Module:
        """A fresh instance, ``Dropout(*args, **kwargs)``, constructed under the watch."""
        return self.run(lambda: self.impl(*args, **kwargs), make_text(args, kwargs, self.label))

    def set(self, module: nn.Module, name: str, value) -> None:
        """``module.<name> = value``, as a user changes ``p`` of a layer in a built model."""
        self.run(lambda: setattr(module, name, value), f"setting .{name} = {value!r}")

    def describe(self, *args, **kwargs) -> dict:
        """What torch's module API shows of a fresh instance: type, attributes, state, repr."""
        mine = self.make(*args, **kwargs)
        info = {"type": type(mine).__name__, "is_module": isinstance(mine, nn.Module)}
        for name in ("p", "inplace", "training"):
            value = self.run(lambda: getattr(mine, name, "<missing>"), f".{name}")
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = value.item()  # a p kept as a tensor: module_state names that
            info[name] = value if isinstance(value, (bool, int, float, str)) else repr(value)[:200]
        if info["is_module"]:
            info["parameters"] = self.run(lambda: [n for n, _ in mine.named_parameters()],
                                          "named_parameters()")
            info["buffers"] = self.run(lambda: [n for n, _ in mine.named_buffers()], "named_buffers()")
            info["state_dict"] = self.run(lambda: [str(k) for k in mine.state_dict()], "state_dict()")
            info["repr"] = self.run(lambda: str(repr(mine)), "repr()")
            info["loads_empty_state"] = self.run(lambda: _loads_empty_state(mine), "load_state_dict({})")
        return info

    def copies(self, *args) -> str:
        """"" if a deep copy of ``Dropout(*args)`` is a layer of its own, else what went wrong."""
        mine = self.make(*args)
        return self.run(lambda: _copy_behaviour(mine), "copy.deepcopy(layer)")

    def _forward(self, x, p, training, inplace):
        key = (p, inplace)
        if key not in self._instances:
            self._instances[key] = self.impl(p, inplace)
        module = self._instances[key]
        module.train(training)
        return module(x)


def _loads_empty_state(module: nn.Module) -> str:
    """"" if ``load_state_dict`` takes torch's Dropout's (empty) state, else why not."""
    try:
        module.load_state_dict({})
    except Exception as error:  # noqa: BLE001 - the student's module decides what it raises
        return f"{type(error).__name__}: {str(error)[:200]}"
    return ""


def _copy_behaviour(module: nn.Module) -> str:
    """"" if a deep copy is a layer of its own and ``.to(float64)`` works, else what went wrong.

    A model is copied (``copy.deepcopy``, EMA weights, checkpoints) and converted
    (``model.double()``) as a whole: a copy whose forward still reads the original's
    ``self`` (a lambda or bound method kept in ``__init__``) ignores its own mode and p.
    A forward that raises or is wrong in eval mode on the original is other checks' business.
    """
    try:
        twin = copy.deepcopy(module)
    except Exception as error:  # noqa: BLE001 - the student's module decides what it raises
        return f"copy.deepcopy(layer) raised {type(error).__name__}: {str(error)[:200]}"
    ones = torch.ones(256)
    try:
        module.eval()
        if not torch.equal(module(ones.clone()), ones):
            return ""
        module.train()
        twin.eval()
        if not torch.equal(twin(ones.clone()), ones):
            return ("after twin = copy.deepcopy(layer) and twin.eval(), twin(x) still dropped values "
                    "while the original stays in training mode: the copy's forward uses the original "
                    "(a lambda or bound method stored in __init__ keeps the old self)")
        if twin.to(torch.float64) is not twin or twin(ones.double()).dtype != torch.float64:
            return "layer.to(torch.float64) did not return the layer, or its forward then changed the dtype"
    except Exception:  # noqa: BLE001 - a forward that raises: construction and forward say so
        return ""
    return ""


@dataclass(frozen=True)
class Target:
    """What a check can be run on: a student's function or class, and torch's counterpart.

    ``label`` is the name the student's answer has in the notebook, the keyword that
    :func:`~autograder.runner.assert_check` takes it by, and how messages name it.
    """
    kind: str       # "function" or "module": the calling convention
    label: str
    torch: str      # torch's implementation, the reference: "module.path:name"

    def subject(self, impl, watched: bool = True) -> Subject:
        return SUBJECTS[self.kind](impl, watched, self.label)

    def reference(self) -> Subject:
        module, name = self.torch.split(":")
        return self.subject(getattr(import_module(module), name), watched=False)


SUBJECTS = {"function": FunctionSubject, "module": ModuleSubject}
#: Every target a check may name, by the name checks use: dropout_from_scratch's two here
#: (named before there was a second assignment), the others registered by their assignment's
#: module with :func:`register_target`, named as the notebook names the answer.
TARGETS = {
    "function": Target("function", "dropout", "torch.nn.functional:dropout"),
    "module": Target("module", "Dropout", "torch.nn:Dropout"),
}


def register_target(kind: str, label: str, torch_name: str) -> str:
    """Add the answer ``label`` (graded against ``torch_name``) as a target; returns its name."""
    TARGETS[label] = Target(kind, label, torch_name)
    return label


def reference(target: str) -> Subject:
    """Torch's own implementation of ``target``, unwatched: what checks compare with."""
    return TARGETS[target].reference()
