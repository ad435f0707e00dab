"""Notice when a student's code runs torch's own dropout, by any route.

Reading the source would miss ``getattr(F, "drop" + "out")``, a helper in
another cell, or ``torch.ops.aten.native_dropout``. So the watch observes
what executes, at two levels, while (and only while) student code runs:

* a ``TorchFunctionMode`` sees every torch API call, including
  ``F.dropout``, ``nn.Dropout``, ``torch.dropout``, ``torch._VF.dropout``,
  ``torch.native_dropout`` and ``torch.ops.aten.*dropout*``;
* ``sys.setprofile`` sees every call of a C builtin by name, so switching
  torch's modes off with ``torch._C.DisableTorchFunction`` does not hide one.

Any torch function or builtin whose name contains "dropout" counts. Known
gap: a TorchScript function runs inside the JIT, which neither level sees.
(A ``TorchDispatchMode`` would see kernels, but its first use imports over
800 modules, seconds per grading kernel, for that one route.)
"""
from __future__ import annotations

import sys

import torch
from torch.overrides import TorchFunctionMode

def _is_dropout(name: str) -> bool:
    return "dropout" in name.lower()


class _FunctionLevel(TorchFunctionMode):
    def __init__(self, hits: list[str]):
        super().__init__()
        self.hits = hits

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or str(func)
        if _is_dropout(name):
            self.hits.append(f"torch function {name}")
        return func(*args, **(kwargs or {}))


class KernelWatch:
    """Context manager that records every route to torch's dropout in ``hits``.

    Re-entrant: entering it again while it is active does nothing, so a
    module that calls the student's function is watched once.
    """

    def __init__(self):
        self.hits: list[str] = []
        self._depth = 0
        self._saved_profile = None
        self._modes = ()

    def _profile(self, frame, event, arg):
        if event == "c_call":
            name = getattr(arg, "__name__", "")
            if _is_dropout(name):
                self.hits.append(f"builtin {name}")
        if self._saved_profile is not None:
            return self._saved_profile(frame, event, arg)

    def __enter__(self):
        self._depth += 1
        if self._depth == 1:
            self._saved_profile = sys.getprofile()
            self._modes = (_FunctionLevel(self.hits),)
            for mode in self._modes:
                mode.__enter__()
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            tampered = sys.getprofile() != self._profile
            sys.setprofile(self._saved_profile)
            for mode in reversed(self._modes):
                mode.__exit__(None, None, None)
            if tampered:
                self.hits.append("the profiler the grader watches with was replaced (sys.setprofile)")
        return False

    @property
    def routes(self) -> list[str]:
        """The distinct routes seen, in the order first seen."""
        return list(dict.fromkeys(self.hits))
