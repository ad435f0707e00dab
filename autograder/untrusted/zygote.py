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

This module is the grader's side (:class:`Zygote`); the zygote's own life is
:mod:`.zygote_process`, which the sandbox and kernel modules never import.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from . import jail

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
            [sys.executable, "-c", f"from autograder.untrusted.zygote_process import serve; serve({child.fileno()})"],
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

    def fork_sandbox(self, sock: socket.socket, records: int, jail_spec: dict | None = None,
                     torch_dropout: bool = False) -> int:
        """A sandbox on ``sock``, jailed as ``jail_spec`` says (None: not jailed).

        ``records`` is the write end of the pipe on which the sandbox's torch names every
        call of its dropout (:mod:`.torch_dropout_off`); with ``torch_dropout`` it stays on."""
        return self._forked(self.request("sandbox", (sock.fileno(), records), jail=jail_spec,
                                         torch_dropout=torch_dropout))

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
