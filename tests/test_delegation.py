"""Delegation to torch's dropout is caught on every route, where student code cannot undo it.

Each submission below reaches torch's dropout by another route and is
graded in the sandbox (autograder.remote.verify_notebook), the verdict that
counts. Judged by consequence: the check fails naming the operator, the
dispatcher's record reached the grader's end of the pipe, and torch's
kernel computed nothing (the student's code got an error, not a mask).
The in-process watch (autograder.watch) is tested in tests/test_watch.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from autograder.remote import Request, verify_notebook
from autograder.untrusted import sandbox as sandbox_module
from autograder.untrusted.torch_dropout_off import dropout_operators, read_records

SETUP = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
VALIDATE = ("    if p < 0 or p > 1:\n"
            "        raise ValueError(f'dropout probability has to be between 0 and 1, but got {p}')\n")
FROM_SCRATCH = ("def _mine(x, p, training, inplace):\n" + VALIDATE +
                "    if not training:\n        return x\n"
                "    mask = (torch.rand_like(x) >= p).to(x.dtype) * (0.0 if p == 1 else 1 / (1 - p))\n"
                "    return x.mul_(mask) if inplace else x * mask\n")
REQUESTS = [Request("from_scratch", "function", "dropout"), Request("scaling", "function", "dropout")]

#: name -> the cell that defines ``dropout`` by that route. Each falls back to a from-scratch
#: answer when torch's dropout fails, so that only the witness, not an error, can fail it.
ROUTES = {
    "direct": """
        def dropout(x, p=0.5, training=True, inplace=False):
            try:
                return F.dropout(x, p, training, inplace)
            except RuntimeError:
                return _mine(x, p, training, inplace)
    """,
    "another thread": """
        import threading

        def dropout(x, p=0.5, training=True, inplace=False):
            box = []
            def work():
                try:
                    box.append(F.dropout(x, p, training, inplace))
                except RuntimeError:
                    pass
            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
            return box[0] if box else _mine(x, p, training, inplace)
    """,
    "a forked child": """
        import os

        def dropout(x, p=0.5, training=True, inplace=False):
            if not training or p in (0, 1):
                return _mine(x, p, training, inplace)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    keep = (F.dropout(torch.ones(x.shape), p) != 0).numpy().tobytes()
                    os.write(write, keep)
                finally:
                    os._exit(0)
            os.close(write)
            got = b""
            while chunk := os.read(read, 1 << 16):
                got += chunk
            os.close(read)
            os.waitpid(pid, 0)
            if len(got) != x.numel():
                return _mine(x, p, training, inplace)
            import numpy
            keep = torch.from_numpy(numpy.frombuffer(got, dtype=bool).copy()).reshape(x.shape)
            out = x * keep.to(x.dtype) / (1 - p)
            return x.copy_(out) if inplace else out
    """,
    "a C call": """
        _native = torch._C._VariableFunctions.native_dropout

        def dropout(x, p=0.5, training=True, inplace=False):
            try:
                out, _ = _native(x, p, training)
            except RuntimeError:
                return _mine(x, p, training, inplace)
            return x.copy_(out) if inplace else out
    """,
    "the operator registry": """
        def dropout(x, p=0.5, training=True, inplace=False):
            try:
                return torch.ops.aten.dropout.default(x, p, training)
            except RuntimeError:
                return _mine(x, p, training, inplace)
    """,
    "TorchScript": """
        @torch.jit.script
        def _scripted(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
            return torch.dropout(x, p, training)

        def dropout(x, p=0.5, training=True, inplace=False):
            try:
                return _scripted(x, float(p), training)
            except RuntimeError:
                return _mine(x, p, training, inplace)
    """,
    "attention": """
        def dropout(x, p=0.5, training=True, inplace=False):
            if not training or x.dim() == 0 or x.numel() == 0:
                return _mine(x, p, training, inplace)
            flat = x.reshape(-1, 1, 1)  # one query, one key per value: attention is the value itself
            try:
                out = F.scaled_dot_product_attention(torch.ones_like(flat), torch.ones_like(flat), flat,
                                                     dropout_p=p).reshape(x.shape)
            except RuntimeError:
                return _mine(x, p, training, inplace)
            return x.copy_(out) if inplace else out
    """,
    "import time": """
        try:  # masks drawn by torch before any check runs, replayed later
            _POOL = [F.dropout(torch.ones(4096), 0.5) != 0 for _ in range(8)]
        except RuntimeError:
            _POOL = None

        def dropout(x, p=0.5, training=True, inplace=False):
            return _mine(x, p, training, inplace)
    """,
    "a blinded watch": """
        import sys
        import autograder.watch as _watch
        import autograder.subject as _subject
        _watch.KernelWatch.__enter__ = lambda self: self
        _watch.KernelWatch.__exit__ = lambda self, *exc: False
        _subject.Subject.routes = property(lambda self: [])
        sys.setprofile(None)
        torch.autograd._disable_profiler_legacy = lambda *a: []

        def dropout(x, p=0.5, training=True, inplace=False):
            try:
                return F.dropout(x, p, training, inplace)
            except RuntimeError:
                return _mine(x, p, training, inplace)
    """,
    "the switch undone": """
        import gc
        import sys
        import autograder.subject as _subject
        import autograder.watch as _watch

        def _make(line, message):  # a kernel that computes nothing: swapped into the grader's
            def refuse(*args, **kwargs):
                return (line, message) and None
            return refuse

        for obj in gc.get_objects():  # whatever the grader could have registered with
            try:
                if isinstance(obj, torch.library.Library):
                    obj._destroy()
                elif callable(obj) and getattr(obj, "__name__", "") == "refuse":
                    obj.__code__ = _make(1, 2).__code__
            except Exception:
                pass
        for fd in range(3, 64):  # any pipe the records could go to
            try:
                if "pipe" in os.readlink(f"/proc/self/fd/{fd}"):
                    os.close(fd)
            except OSError:
                pass
        _watch.KernelWatch.__enter__ = lambda self: self  # and the watch, blinded
        _watch.KernelWatch.__exit__ = lambda self, *exc: False
        _subject.Subject.routes = property(lambda self: [])

        def dropout(x, p=0.5, training=True, inplace=False):
            try:
                out = F.dropout(x, p, training, inplace)
            except Exception:
                out = None
            if isinstance(out, torch.Tensor):
                return torch.full_like(x, 42.0)  # torch's kernel computed something: say so
            return _mine(x, p, training, inplace)
    """,
}


def grade(route: str):
    cell = "import os\n" + FROM_SCRATCH + textwrap.dedent(ROUTES[route])
    return verify_notebook([SETUP, cell], REQUESTS, device="cpu")


@pytest.mark.parametrize("route", [r for r in ROUTES if r != "the switch undone"])
def test_every_route_to_torchs_dropout_fails_from_scratch_naming_the_operator(route):
    verification = grade(route)
    result = {r.check: res for r, res in verification.results.items()}
    assert not result["from_scratch"].passed, result["from_scratch"]
    message = result["from_scratch"].message
    assert "torch's own dropout (operator aten::" in message or "torch's own dropout (torch.nn.functional." in message
    if route == "import time":
        assert "while your notebook's cells loaded" in result["from_scratch"].message
        assert not result["scaling"].passed  # the whole submission delegated, not one call
    assert not verification.load_failures


def test_undoing_the_switch_computes_nothing_with_torchs_kernel():
    """The code replaces what it can find, closes the record pipe and blinds the watch.

    With no witness left, the consequence that matters is what torch's kernel computed:
    nothing. Every call of F.dropout still came back empty, so the answer graded is the
    code's own fallback (had torch answered once, scaling would have seen the 42s).
    """
    verification = grade("the switch undone")
    assert not verification.load_failures
    result = {r.check: res for r, res in verification.results.items()}
    assert result["scaling"].passed, result["scaling"].message


# --- the switch itself, in a process of its own --------------------------------------

SWITCHED_OFF = """
import sys, torch
import torch.nn.functional as F
from autograder.untrusted.torch_dropout_off import switch_off
switch_off(int(sys.argv[1]))
x = torch.randn(64, 8, 4)
attempts = [lambda: F.dropout(x, 0.5), lambda: F.dropout(x, 0.5, inplace=True),
            lambda: F.alpha_dropout(x, 0.5, True), lambda: F.feature_alpha_dropout(x, 0.5, True),
            lambda: F.dropout1d(x, 0.5), lambda: torch.native_dropout(x, 0.5, True),
            lambda: torch.nn.LSTM(4, 4, 2, dropout=0.5)(x)]
refused = 0
for mode in (torch.enable_grad, torch.no_grad, torch.inference_mode):
    for attempt in attempts:
        with mode():
            try:
                attempt()
            except RuntimeError as error:
                refused += "switched off" in str(error)
sys.exit(0 if refused == 3 * len(attempts) else 2)
"""


def test_the_switch_covers_every_dropout_operator_in_every_grad_mode():
    """In a process of its own (a fork of this one could inherit a busy thread pool)."""
    read, write = os.pipe()
    done = subprocess.run([sys.executable, "-c", SWITCHED_OFF, str(write)], pass_fds=[write],
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    os.close(write)
    calls = read_records(read, bytearray())
    os.close(read)
    assert done.returncode == 0
    names = {c.removeprefix("operator ") for c in calls}
    functional = {f"torch.nn.functional.{f}" for f in ("dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d")}
    assert functional | {"aten::native_dropout", "aten::dropout"} <= names, names  # the LSTM: C++ to aten::dropout
    assert all(n in dropout_operators() or n in functional for n in names)


def test_the_grader_reads_no_more_than_its_limit_from_the_record_pipe():
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        while True:
            os.write(write, b"x" * 65536)
    except BlockingIOError:
        pass
    seen = bytearray()
    read_records(read, seen)
    assert len(seen) <= sandbox_module.torch_dropout_off.RECORD_LIMIT
    os.close(read)
    os.close(write)


def test_torch_in_the_grader_is_untouched_by_the_sandboxes():
    grade("direct")
    assert torch.nn.functional.dropout(torch.ones(1000), 0.5).eq(0).any()
