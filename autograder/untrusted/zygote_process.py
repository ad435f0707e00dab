"""The zygote's own life: import everything once, then fork a child per request.

Started by :class:`.zygote.Zygote` (the grader's handle, which documents the
requests); it forks sandboxes (:mod:`.sandbox`) and kernels
(:mod:`.forked_kernel`), which import only the handle. Nothing here runs
student code: only the children do, after they are cut loose.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket

#: Largest request in bytes (a kernel's environment travels in it).
MAX_REQUEST = 1 << 20


def _receive(control: socket.socket) -> tuple[dict | None, list[int]]:
    """One request and its descriptors, or ``(None, [])`` once the grader hangs up."""
    data, fds, _, _ = socket.recv_fds(control, 65536, 3)
    if not data:
        return None, fds
    while not data.endswith(b"\n"):
        if len(data) > MAX_REQUEST:
            raise ValueError("request too large")
        more = control.recv(65536)
        if not more:
            return None, fds
        data += more
    return json.loads(data), fds


def _reap(pid: int, block: bool) -> int | None:
    """The child's wait status once it has ended (-1 if it is not ours), else None."""
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return -1
    return status if done else None


def _wait_ready(ready: int, timeout: float = 60.0) -> str:
    """What a jailing child says on its ready pipe: ``ok``, or why it failed."""
    said = b""
    while not said.endswith(b"\n") and select.select([ready], [], [], timeout)[0]:
        chunk = os.read(ready, 4096)
        if not chunk:
            break
        said += chunk
    os.close(ready)
    return said.decode(errors="replace").strip() or "the jail's process ended before it was ready"


def _fork_child(op: str, request: dict, fds: list[int], control: socket.socket) -> dict:
    from . import forked_kernel, sandbox

    spec = request.get("jail")
    ready_r, ready_w = os.pipe() if spec else (-1, -1)
    pid = os.fork()
    if pid == 0:
        try:
            control.close()
            if spec:
                os.close(ready_r)
            if op == "sandbox":
                sandbox.become_sandbox(socket.socket(fileno=fds[0]), fds[1], spec, ready_w if spec else None,
                                       bool(request.get("torch_dropout")))
            else:
                forked_kernel.become_kernel(request, fds, ready_w if spec else None)
        finally:
            os._exit(1)  # only after a failure: a child must never go on as a zygote
    for fd in fds:
        os.close(fd)
    if not spec:
        return {"pid": pid}
    os.close(ready_w)
    said = _wait_ready(ready_r)
    if said == "ok":
        return {"pid": pid}
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid, block=True)
    return {"error": said}


def serve(control_fd: int) -> None:
    """The zygote's life: import everything once, then fork children on request."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot  # noqa: F401 - the notebooks plot
    import numpy  # noqa: F401
    import torch  # noqa: F401
    from IPython.core.interactiveshell import InteractiveShell  # noqa: F401
    from ipykernel.kernelapp import IPKernelApp  # noqa: F401

    import autograder

    for name in autograder.__all__:   # loaded on first use: load what notebooks import, before any fork
        getattr(autograder, name)
    from .. import pipeline  # noqa: F401
    from . import forked_kernel, sandbox  # noqa: F401, F811

    import torch.autograd.forward_ad as forward_ad

    with forward_ad.dual_level():  # its first use costs a second (the autograd check runs it)
        forward_ad.make_dual(torch.ones(1), torch.ones(1)) * 1

    control = socket.socket(fileno=control_fd)
    while True:
        try:
            request, fds = _receive(control)
        except (OSError, ValueError):
            return
        if request is None:
            return  # the grader is gone; our children die with us (PDEATHSIG)
        op = request.get("op")
        if op in ("sandbox", "kernel"):
            reply = _fork_child(op, request, fds, control)
        elif op in ("poll", "wait"):
            reply = {"status": _reap(int(request["pid"]), block=op == "wait")}
        else:
            reply = {"error": f"unknown request {op!r}"}
        control.sendall(json.dumps(reply).encode() + b"\n")
