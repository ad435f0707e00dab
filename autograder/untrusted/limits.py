"""Resource limits for processes that run student code.

A student's notebook may allocate without end, write a file until the disk
is full or dump a core. Each process that runs student code (the graded
kernel, the sandbox) applies these limits to itself before any student
code runs; a limit hit is that process's failure, never the grader's.

:func:`apply` runs in each such process after it has entered the jail
(:mod:`.jail`): in a forked kernel or sandbox, or in the launcher
(:mod:`.launch`) before it becomes a started kernel. It imports nothing but
the standard library, so launching costs milliseconds.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

#: Address space per process. Torch on the CPU needs about 2 GiB of it; CUDA maps far
#: more, so no address-space limit is set where CUDA is in use.
MEMORY_LIMIT = 8 * 2**30
#: Largest file student code may write.
FILE_SIZE_LIMIT = 64 * 2**20
#: CPU seconds: a backstop behind the grader's wall-clock limits, for a process left behind.
CPU_LIMIT = 900
ENV_MEMORY = "DROPOUT_GRADER_MEMORY_LIMIT"


def memory_limit() -> int | None:
    """Bytes of address space, from the environment (``0`` turns the limit off)."""
    value = os.environ.get(ENV_MEMORY, "").strip()
    if value:
        return int(value) or None
    if os.environ.get("DROPOUT_GRADER_DEVICE", "").startswith("cuda") or _cuda_present():
        return None
    return MEMORY_LIMIT


def _cuda_present() -> bool:
    return os.path.exists("/dev/nvidiactl")


def _set(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard))


def apply(die_with_parent: bool = True) -> None:
    """Limit this process; with ``die_with_parent``, it is killed when its parent dies."""
    memory = memory_limit()
    if memory:
        _set(resource.RLIMIT_AS, memory)
    _set(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)
    _set(resource.RLIMIT_CORE, 0)
    _set(resource.RLIMIT_CPU, CPU_LIMIT)
    if die_with_parent and sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
