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

import torch
from torch import nn

from .watch import KernelWatch


class StudentError(Exception):
    """The student's code raised ``error`` during ``call``."""

    def __init__(self, call: str, error: BaseException):
        super().__init__(f"{call} raised {type(error).__name__}: {error}")
        self.call = call
        self.error = error


class CodeCrashed(Exception):
    """The student's code ended the process it ran in (exit, signal, no answer in time)."""


class CheckFailed(AssertionError):
    """A check's verdict: the message is written for the student."""


class Subject:
    """Base for function and module subjects; ``kind`` names the target."""

    kind = ""

    def __init__(self, impl, watched: bool = True):
        self.impl = impl
        self.watch = KernelWatch() if watched else None

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

    def __call__(self, x, p=0.5, training=True, inplace=False, on=""):
        """Call the implementation; ``on`` describes an unusual input for messages."""
        call = self.call_text(p, training, inplace) + (f" on {on}" if on else "")
        out = self.run(lambda: self._forward(x, p, training, inplace), call)
        if not isinstance(out, torch.Tensor):
            raise CheckFailed(f"{call} returned {type(out).__name__}, not a tensor "
                              f"(is a `return` missing?)")
        return out

    def _forward(self, x, p, training, inplace):
        raise NotImplementedError


class FunctionSubject(Subject):
    """A function with torch's signature ``dropout(x, p, training, inplace)``."""

    kind = "function"

    def call_text(self, p, training=True, inplace=False) -> str:
        return f"dropout(x, p={p}, training={training}, inplace={inplace})"

    def _forward(self, x, p, training, inplace):
        return self.impl(x, p, training, inplace)


class ModuleSubject(Subject):
    """A module class with torch's ``Dropout(p, inplace)``; forward follows ``.training``.

    Instances are kept per ``(p, inplace)``, so repeated calls reach the same
    module, as they would inside a model: a mask cached on the instance shows.
    """

    kind = "module"

    def __init__(self, impl, watched: bool = True):
        super().__init__(impl, watched)
        self._instances = {}

    def call_text(self, p, training=True, inplace=False) -> str:
        mode = "train" if training else "eval"
        return f"Dropout(p={p}, inplace={inplace}) in {mode} mode"

    def make(self, p=0.5, inplace=False) -> nn.Module:
        """A fresh instance, constructed under the watch."""
        return self.run(lambda: self.impl(p, inplace), f"Dropout(p={p}, inplace={inplace})")

    def describe(self, p=0.5, inplace=False) -> dict:
        """What torch's module API shows of a fresh instance: type, state, repr."""
        mine = self.make(p, inplace)
        info = {"type": type(mine).__name__, "is_module": isinstance(mine, nn.Module)}
        if info["is_module"]:
            info["parameters"] = self.run(lambda: [n for n, _ in mine.named_parameters()],
                                          "named_parameters()")
            info["buffers"] = self.run(lambda: [n for n, _ in mine.named_buffers()], "named_buffers()")
            info["state_dict"] = self.run(lambda: [str(k) for k in mine.state_dict()], "state_dict()")
            info["repr"] = self.run(lambda: str(repr(mine)), "repr()")
        return info

    def _forward(self, x, p, training, inplace):
        key = (p, inplace)
        if key not in self._instances:
            self._instances[key] = self.impl(p, inplace)
        module = self._instances[key]
        module.train(training)
        return module(x)


def reference(kind: str) -> Subject:
    """Torch's own implementation of ``kind``, unwatched: what checks compare with."""
    if kind == "function":
        return FunctionSubject(torch.nn.functional.dropout, watched=False)
    return ModuleSubject(torch.nn.Dropout, watched=False)
