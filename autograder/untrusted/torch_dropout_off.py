"""Torch's own dropout, switched off in the sandbox before any student code loads.

The course's rule is that an answer never runs torch's dropout. A watch that
lives in the student's process (:mod:`autograder.watch`) can be removed by
that process: a thread it does not trace, a forked child, ``sys.setprofile``
undone, the profiler stopped. So in the sandbox the rule is not watched, it
is enforced where every route ends, torch's operator dispatcher:

* every operator of torch's dropout family (``aten::dropout``,
  ``aten::native_dropout``, ``aten::feature_dropout``, ``alpha_dropout``, their
  in-place and backward forms, ``quantized::dropout``: every registered
  operator whose name says dropout) gets a kernel of ours on every dispatch
  key it can be reached through, the composite ones included. ``F.dropout``,
  ``nn.Dropout``, ``torch.dropout``, ``torch._VF``, ``torch.ops.aten``,
  TorchScript, attention and RNN layers with a dropout argument all reach
  torch's dropout through the dispatcher, from any thread and in any child
  the sandbox forks, so all of them reach our kernel instead;
* ``torch.nn.functional``'s dropout functions, which check ``p`` in Python first,
  are replaced by the same refusal;
* our kernel writes the operator's name to a pipe whose other end only the
  grader reads, then raises. The name is written before student code gets
  control back, so nothing the code does afterwards takes the record back;
  and closing the pipe only stops the record, never the refusal, so torch's
  dropout cannot compute anything in the sandbox whatever the code does;
* the registrations are held by a handle that no Python object refers to
  (the garbage collector does not track it), so student code cannot find it
  to drop it, and dropping the registrations is the only way back to torch's
  kernels.

What remains out of reach of this module: C++ code called through ``ctypes``
with hand-built tensors, which bypasses the dispatcher (the jail still bounds
what it can do); torch's Python reference implementations (``torch._refs``,
``torch._decomp``), which are source code like any other and build dropout
from ``rand_like``; and a fresh copy of ``torch.nn.functional`` made with
``importlib.reload``, whose dropouts still reach the dispatcher, so only its
check of ``p`` would answer.
"""
from __future__ import annotations

import ctypes
import os
import warnings

#: Where a dispatcher call can end up: composite kernels, autograd, every backend.
DISPATCH_KEYS = ("CompositeImplicitAutograd", "CompositeExplicitAutograd", "Autograd", "CPU", "CUDA",
                 "MPS", "XPU", "Meta", "QuantizedCPU", "QuantizedCUDA", "NestedTensorCPU",
                 "NestedTensorCUDA", "SparseCPU", "SparseCUDA")
#: The message student code gets from a call of torch's dropout in the sandbox.
REFUSAL = ("torch's dropout ({op}) is switched off while your answers are graded: the "
           "assignment's rule is that your code never calls it (F.dropout, nn.Dropout, "
           "torch.dropout and the layers that use them). Remove the call from your solution cells.")
#: Longest record the grader reads from one sandbox, in bytes: names of operators, one per line.
RECORD_LIMIT = 64 * 1024


def dropout_operators() -> list[str]:
    """Every operator torch registers whose name says dropout, as ``namespace::name[.overload]``.

    ``_flash_attention_forward_no_dropout_inplace`` names dropout only to say it has none.
    """
    import torch

    return sorted(n for n in torch._C._dispatch_get_all_op_names()
                  if "dropout" in n.lower() and "no_dropout" not in n.lower())


def _refusing_kernel(op: str, records: int):
    message = REFUSAL.format(op=op)
    line = (op + "\n").encode()

    def refuse(*args, **kwargs):
        try:
            os.write(records, line)
        except OSError:  # the pipe closed by the code under test: the refusal stands regardless
            pass
        raise RuntimeError(message)

    return refuse


def switch_off(records: int) -> list[str]:
    """Replace torch's dropout kernels in this process; each call writes its operator to ``records``.

    Returns the operators switched off. Call it once, before any student code runs:
    the registrations last as long as the process and its forked children.
    """
    import torch

    operators = dropout_operators()
    for key in DISPATCH_KEYS:
        for namespace in sorted({op.split("::")[0] for op in operators}):
            handle = torch._C._dispatch_library("IMPL", namespace, key, __file__, 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Overriding a previously registered kernel"
                for op in operators:
                    if op.startswith(namespace + "::"):
                        handle.impl(op.split("::", 1)[1], key, _refusing_kernel(op, records))
            # Kept alive by one reference that no Python object holds: unreachable, so
            # nothing can drop it, and with it the registrations.
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(handle))
            del handle
    # torch.nn.functional's dropouts check p in Python before they reach the dispatcher:
    # refused there too, so that not even torch's validation answers for the student.
    functional = torch.nn.functional
    for name in dir(functional):
        if "dropout" in name and callable(getattr(functional, name)):
            setattr(functional, name, _refusing_function(f"torch.nn.functional.{name}", records))
    return operators


def _refusing_function(name: str, records: int):
    """A stand-in for one of torch.nn.functional's dropouts, with their signature.

    ``torch.jit.ignore``, so that TorchScript compiles a function that calls it and
    the call, when it runs, reaches the refusal (a compile error would instead hide
    the route behind "your notebook defines no dropout").
    """
    import torch

    refuse = _refusing_kernel(name, records)

    def refused(input, p=0.5, training=True, inplace=False):
        return refuse(input, p, training, inplace)

    # Real types, not this module's string annotations: TorchScript reads them.
    refused.__annotations__ = {"input": torch.Tensor, "p": float, "training": bool, "inplace": bool,
                               "return": torch.Tensor}
    return torch.jit.ignore(refused)


def read_records(fd: int, seen: bytearray) -> list[str]:
    """The operators recorded on the pipe ``fd`` so far (non-blocking), one per call, in order.

    ``seen`` keeps what was read before, at most :data:`RECORD_LIMIT` bytes: the sandbox
    holds the other end, so it may write anything, and the grader reads no more than that.
    A closed pipe (``fd`` < 0) gives what was read before it closed.
    """
    if fd >= 0:
        os.set_blocking(fd, False)
    while fd >= 0 and len(seen) < RECORD_LIMIT:
        try:
            chunk = os.read(fd, RECORD_LIMIT - len(seen))
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        seen.extend(chunk)
    names = bytes(seen).decode("ascii", errors="replace").split("\n")
    return [(n[:100] if n.startswith("torch.") else f"operator {n[:100]}") for n in names[:-1] if n.strip()]
