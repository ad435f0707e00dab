"""Notice when a student's code runs torch's own dropout, by any route.

Reading the source would miss ``getattr(F, "drop" + "out")``, a helper in
another cell, or ``torch.ops.aten.native_dropout``. So the watch observes
what executes, at three levels, while (and only while) student code runs:

* a ``TorchFunctionMode`` sees every torch API call, including
  ``F.dropout``, ``nn.Dropout``, ``torch.dropout``, ``torch._VF.dropout``,
  ``torch.native_dropout`` and ``torch.ops.aten.*dropout*``;
* ``sys.setprofile`` sees every call of a C builtin by name, so switching
  torch's modes off with ``torch._C.DisableTorchFunction`` does not hide one;
* torch's own operator profiler (the legacy CPU profiler: no Kineto, no
  import) records every ATen operator that runs, from Python or from inside
  TorchScript (``torch.jit.script``), which neither level above sees.

* the same ``sys.setprofile`` hook sees calls of Python functions defined in
  torch's own package whose name says dropout: torch's Python references
  (``torch._refs.nn.functional.dropout``, ``torch._decomp``'s
  ``native_dropout``), which build dropout from ``rand_like``.

A torch function or builtin whose name contains "dropout" counts; an
operator counts when it *is* one of torch's dropout operators, as the
dispatcher registers them (:func:`autograder.untrusted.torch_dropout_off.dropout_operators`),
never by a name student code chooses: the autograd node of a student's own
``autograd.Function`` subclass is named after that class. Stopping the
grader's profiler, or switching off the operator records it reads, is
reported as tampering. (A ``TorchDispatchMode`` would also see operators,
but its first use imports over 800 modules, seconds per grading kernel.)

This watch lives in the process that runs the student's code, so that code
can remove it. It gives the verdict where students check their own work;
the verdict that counts is given in the sandbox, where torch's dropout is
switched off at the dispatcher before the code loads (:mod:`autograder.untrusted.torch_dropout_off`).
"""
from __future__ import annotations

import os
import sys

import torch
from torch._C._autograd import _disable_profiler_legacy, _enable_profiler_legacy, _profiler_enabled
from torch._C._profiler import ProfilerConfig, ProfilerState, _ExperimentalConfig
from torch.overrides import TorchFunctionMode

#: Builtins student code has no reason to call while it is watched: they blind the operator level.
_BLINDING = ("_disable_profiler", "_enable_record_function", "_set_record_function_enabled")


def _is_dropout(name: str) -> bool:
    return "dropout" in name.lower()


_OPERATORS: frozenset[str] = frozenset()


def _dropout_operators() -> frozenset[str]:
    """Torch's dropout operators as the profiler names them (``aten::dropout``: no overload)."""
    global _OPERATORS
    if not _OPERATORS:
        from .untrusted.torch_dropout_off import dropout_operators

        _OPERATORS = frozenset(name.split(".")[0] for name in dropout_operators())
    return _OPERATORS


#: Where torch's own Python code lives, and its files that implement dropout in Python
#: (a function named after dropout elsewhere in torch, an ONNX exporter's, is not one).
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_DROPOUT_SOURCES = frozenset(_TORCH_DIR + path for path in (
    "nn/functional.py", "_refs/nn/functional/__init__.py", "_decomp/decompositions.py",
    "_decomp/decompositions_for_jvp.py", "_decomp/decompositions_for_rng.py"))


class _FunctionLevel(TorchFunctionMode):
    def __init__(self, hits: list[str]):
        super().__init__()
        self.hits = hits

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or str(func)
        if _is_dropout(name):
            self.hits.append(f"torch function {name}")
        return func(*args, **(kwargs or {}))


class _OperatorLevel:
    """Every ATen operator run meanwhile, read from torch's legacy CPU profiler."""

    _CONFIG = None

    def __init__(self, hits: list[str]):
        self.hits = hits
        self.active = False

    def __enter__(self):
        if _profiler_enabled():  # someone else's profiler: ours cannot run beside it
            self.hits.append("a profiler was already running, so the grader could not watch "
                             "the operators your code ran")
            return self
        if _OperatorLevel._CONFIG is None:
            _OperatorLevel._CONFIG = ProfilerConfig(ProfilerState.CPU, False, False, False, False,
                                                    False, _ExperimentalConfig())
        torch.autograd._enable_record_function(True)
        _enable_profiler_legacy(_OperatorLevel._CONFIG)
        self.active = True
        return self

    def __exit__(self, *exc):
        if not self.active:
            return False
        self.active = False
        try:
            threads = _disable_profiler_legacy()
        except RuntimeError:  # stopped by the code it watched
            self.hits.append("the grader's operator profiler was stopped")
            return False
        operators = _dropout_operators()
        for name in {event.name() for events in threads for event in events}:
            if name in operators:  # by the operator dispatched: never a name the student chose
                self.hits.append(f"operator {name}")
        return False


class KernelWatch:
    """Context manager that records every route to torch's dropout in ``hits``.

    Re-entrant: entering it again while it is active does nothing, so a
    module that calls the student's function is watched once.
    """

    def __init__(self):
        self.hits: list[str] = []
        self._depth = 0
        self._saved_profile = None
        self._levels = ()

    def _profile(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            if _is_dropout(code.co_name) and code.co_filename in _DROPOUT_SOURCES:
                self.hits.append(f"torch's Python {code.co_name} ({code.co_filename[len(_TORCH_DIR):]})")
        elif event == "c_call":
            name = getattr(arg, "__name__", "")
            if _is_dropout(name):
                self.hits.append(f"builtin {name}")
            elif name.startswith(_BLINDING):
                self.hits.append(f"the grader's operator profiler was switched off ({name})")
        if self._saved_profile is not None:
            return self._saved_profile(frame, event, arg)

    def __enter__(self):
        self._depth += 1
        if self._depth == 1:
            self._saved_profile = sys.getprofile()
            _dropout_operators()  # read from the dispatcher before any student code runs
            self._levels = (_FunctionLevel(self.hits), _OperatorLevel(self.hits))
            for level in self._levels:
                level.__enter__()
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            tampered = sys.getprofile() != self._profile
            sys.setprofile(self._saved_profile)
            for level in reversed(self._levels):
                level.__exit__(None, None, None)
            if tampered:
                self.hits.append("the profiler the grader watches with was replaced (sys.setprofile)")
        return False

    @property
    def routes(self) -> list[str]:
        """The distinct routes seen, in the order first seen."""
        return list(dict.fromkeys(self.hits))
