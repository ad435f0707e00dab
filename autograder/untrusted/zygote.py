"""A process that imports torch once and forks a fresh process for each piece of student code.

Every submission runs in two processes of its own: the kernel that nbgrader
executes the notebook in, and the sandbox that verifies its checks
(:mod:`.sandbox`). Each would otherwise spend seconds importing torch,
IPython and matplotlib before the first student line runs. The **zygote**,
started once per grading process, pays those imports once and then only forks:
a child begins with everything imported, in milliseconds, and is still a
process of its own that no other submission has touched, because the zygote
never runs student code.

Requests are JSON lines on a Unix socket, with file descriptors attached (the
sandbox's socket, the kernel's stdio); replies are JSON lines:

* ``{"op": "sandbox", "jail": J}`` + a socket and a pipe: fork a sandbox on the socket,
  naming each call of torch's dropout on the pipe; reply ``{"pid": N}``;
* ``{"op": "kernel", "jail": J, ...}`` + stdin, stdout, stderr: fork an IPython kernel
  (:mod:`.forked_kernel`); reply ``{"pid": N}``;
* ``{"op": "poll", "pid": N}``: ``{"status": S}`` once the child has ended (the
  zygote reaps it, being its parent), ``{"status": null}`` while it runs;
* ``{"op": "wait", "pid": N}``: like poll, but waits for the end.

With a jail ``J`` (:func:`.jail.spec`), the child enters it before anything
else and the reply comes once the jail stands, or says ``{"error": why}``;
``N`` is then the jail's keeper, whose end is the jail's end. The zygote itself
is started with an environment already cut to what a jail allows, so nothing
secret of the grader's is in the memory its children inherit.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from . import jail

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
                sandbox.become_sandbox(socket.socket(fileno=fds[0]), fds[1], spec, ready_w if spec else None)
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


def _serve(control_fd: int) -> None:
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


class ZygoteGone(RuntimeError):
    """The zygote process died; the next :meth:`Zygote.shared` starts another."""


class Zygote:
    """The grader's handle on its zygote; started on first use, one per process.

    Thread-safe: nbgrader's formgrader may grade from more than one thread.
    """

    _instance: "Zygote | None" = None
    _starting = threading.Lock()

    def __init__(self):
        parent, child = socket.socketpair()
        env = dict(jail.allowed(os.environ), HOME=os.environ.get("HOME", "/"), PYTHONPATH=os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from autograder.untrusted.zygote import _serve; _serve({child.fileno()})"],
            pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL)
        child.close()
        self.control = parent
        self.reader = parent.makefile("rb")
        self.talking = threading.Lock()  # one request and its answer at a time

    @classmethod
    def shared(cls) -> "Zygote":
        with cls._starting:
            if cls._instance is None or cls._instance.process.poll() is not None:
                cls._instance = cls()
            return cls._instance

    def request(self, op: str, fds: tuple[int, ...] = (), **fields) -> dict:
        message = json.dumps({"op": op, **fields}).encode() + b"\n"
        with self.talking:
            try:
                socket.send_fds(self.control, [message], list(fds))
                line = self.reader.readline()
            except OSError:
                line = b""
        if not line:
            raise ZygoteGone("the grader's zygote process died; see the grading log")
        return json.loads(line)

    def _forked(self, reply: dict) -> int:
        if "error" in reply:
            raise jail.JailError(reply["error"])
        return reply["pid"]

    def fork_sandbox(self, sock: socket.socket, records: int, jail_spec: dict | None = None) -> int:
        """A sandbox on ``sock``, jailed as ``jail_spec`` says (None: not jailed).

        ``records`` is the write end of the pipe on which the sandbox's torch names every
        call of its dropout (:mod:`.torch_dropout_off`)."""
        return self._forked(self.request("sandbox", (sock.fileno(), records), jail=jail_spec))

    def fork_kernel(self, stdio: tuple[int, int, int], jail_spec: dict | None = None, **launch) -> int:
        """A kernel on these stdio descriptors, jailed as ``jail_spec`` says (None: not jailed)."""
        return self._forked(self.request("kernel", stdio, jail=jail_spec, **launch))

    def poll(self, pid: int) -> int | None:
        return self.request("poll", pid=pid)["status"]

    def wait(self, pid: int) -> int:
        return self.request("wait", pid=pid)["status"]

    def close(self) -> None:
        self.control.close()
        self.process.wait(timeout=10)
