"""Graded kernels forked from the zygote instead of started from scratch.

A fresh kernel spends one to two seconds importing torch and matplotlib before
the first cell of a notebook runs; a kernel forked from :mod:`.zygote`,
which has imported them once, starts in a fraction of that
(``benchmarks/kernel_start.py``). It is still a process of its own for each
submission, made from a zygote that never ran student code, in the same jail
(:mod:`.jail`) and under the same limits (:mod:`.limits`) as a kernel started
from scratch.

jupyter_client manages a kernel through a *provisioner*; :class:`ForkingProvisioner`
is its local one with a single change: where the command is this interpreter's
own ``ipykernel_launcher``, the zygote forks the kernel rather than ``Popen``
running the command. Any other kernel command starts as usual. The forked
kernel is the zygote's child, not ours, so :class:`ForkedKernel` asks the zygote
whether it has ended and leaves the reaping to it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from jupyter_client.provisioning import LocalProvisioner

from . import jail, launch, limits
from .zygote import Zygote, ZygoteGone

# --- in the forked child ---------------------------------------------------------


def _reseed() -> None:
    """Give the child random streams of its own, as a fresh interpreter has.

    Python, numpy and torch seed their generators from the OS when imported, so
    every fork of the zygote would otherwise draw the same numbers. (torch's CUDA
    generators start only when CUDA does, in the child.)
    """
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].default_generator.seed()


def _plots_as_in_a_fresh_kernel() -> None:
    """Use the matplotlib backend the kernel's environment asks for.

    matplotlib read ``MPLBACKEND`` when the zygote imported it (Agg, for the
    sandboxes). A fresh kernel reads it at the student's first import, after
    ipykernel has made the inline backend the default. Setting the name, not
    loading the backend, leaves pyplot to load it at the first figure, as there:
    the inline backend hooks itself into the kernel's shell only if that exists.
    """
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None and os.environ.get("MPLBACKEND"):
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]


def become_kernel(request: dict, fds: list[int], ready: int | None = None) -> None:
    """In a child forked by the zygote: jail, limit, take the kernel's stdio, serve, exit."""
    os.setsid()  # its own process group, as jupyter_client starts kernels
    if request.get("jail"):
        # The jail's environment and stdio: its output reaches the grader's only through
        # the keeper (defused, limited, never to a terminal).
        jail.enter(request["jail"], ready=ready, outputs=(fds[1], fds[2]))
    else:
        # The kernel's environment first: the limits read it, as for a started kernel.
        os.environ.clear()
        os.environ.update(request["env"])
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
    limits.apply(die_with_parent=True)
    code = 1
    try:
        os.chdir(request["cwd"])
        from importlib.util import find_spec

        sys.argv = [find_spec("ipykernel_launcher").origin, *request["args"]]
        _reseed()
        if sys.path and sys.path[0] == "":
            del sys.path[0]  # as ipykernel_launcher does; the kernel's shell puts it back
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        # Read from the environment when the zygote imported ipykernel; this kernel's is later.
        # In a jail the grader is outside its PID namespace (and JPY_PARENT_PID is not
        # passed): 1 tells ipykernel not to watch for it. The jail dies with it anyway.
        app.parent_handle = 1 if request.get("jail") else int(os.environ.get("JPY_PARENT_PID") or 0)
        app.initialize()
        _plots_as_in_a_fresh_kernel()
        app.start()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    except BaseException:  # noqa: BLE001 - reported on the kernel's stderr, like any crash
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - a closed or replaced stream
                pass
    os._exit(code)


# --- in the grader --------------------------------------------------------------


def supported() -> bool:
    """Forking an interpreter that has imported torch is safe on Linux; elsewhere, not."""
    return sys.platform.startswith("linux")


def kernel_arguments(cmd: list[str]) -> list[str] | None:
    """The kernel's arguments if ``cmd`` starts this interpreter's ipykernel, else None.

    ``cmd`` may be wrapped by :func:`.launch.wrapped`: the forked child enters
    the same jail and applies the same limits itself. The arguments
    (``-f CONNECTION_FILE`` and options such as nbclient's ``--HistoryManager.hist_file=:memory:``) go to the kernel's own
    parser in the child, as they would from the command line. The interpreter must
    be this very one (not one it links to), or the kernel would run with another
    environment's packages, and take no options of its own.
    """
    cmd = launch.unwrapped(cmd)
    if (len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]
            and os.path.abspath(cmd[0]) == os.path.abspath(sys.executable)):
        return cmd[3:]
    return None


class ForkedKernel:
    """A forked kernel behind the part of ``subprocess.Popen`` that jupyter_client uses."""

    stdin = stdout = stderr = None

    def __init__(self, zygote: Zygote, pid: int):
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                status = self.zygote.poll(self.pid)
            except ZygoteGone:  # it took its children with it (PDEATHSIG)
                status = signal.SIGKILL
            if status is not None:
                self.returncode = os.waitstatus_to_exitcode(status) if status >= 0 else status
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # never signal a pid that may since belong to another process
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _fd(stream, default: int, opened: list[int]) -> int | None:
    """The descriptor a Popen stdio argument stands for; None where forking cannot give it."""
    if stream is None:
        return default
    if stream == subprocess.DEVNULL:
        opened.append(os.open(os.devnull, os.O_RDWR))
        return opened[-1]
    if isinstance(stream, int):
        return stream if stream >= 0 else None  # PIPE: only Popen makes those
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class ForkingProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, forking this interpreter's own kernels."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        args = kernel_arguments(cmd)
        if args is None:
            return await super().launch_kernel(cmd, **kwargs)
        opened: list[int] = []
        try:
            # stdin as launch_kernel gives it: nothing to read.
            stdio = (_fd(subprocess.DEVNULL, 0, opened), _fd(kwargs.get("stdout"), 1, opened),
                     _fd(kwargs.get("stderr"), 2, opened))
            if None in stdio:
                return await super().launch_kernel(cmd, **kwargs)
            spec = launch.jail_of(cmd)
            # A jail brings its own environment, already cut: the zygote never sees this one.
            env = {} if spec else dict(kwargs.get("env") or os.environ, JPY_PARENT_PID=str(os.getpid()))
            cwd = str(kwargs.get("cwd") or os.getcwd())
            zygote = Zygote.shared()
            pid = zygote.fork_kernel(stdio, spec, cwd=cwd, env=env, args=args)
        except ZygoteGone as gone:  # slower, but the submission is still graded
            self.log.warning("%s; starting the kernel from scratch", gone)
            return await super().launch_kernel(cmd, **kwargs)
        finally:
            for fd in opened:
                os.close(fd)
        self.process = ForkedKernel(zygote, pid)
        self.pid = self.pgid = pid
        self.cwd = cwd
        return self.connection_info
