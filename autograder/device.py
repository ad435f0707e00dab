"""Which device the grader runs on, and which dtypes that device can take.

Students are graded where the course runs: CUDA if the machine has it, then
Apple's MPS, then the CPU. An instructor can pin the choice with the
environment variable ``DROPOUT_GRADER_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``,
``mps``), for instance to grade on the CPU of a GPU server.
"""
from __future__ import annotations

import functools
import os

import torch

ENV_VAR = "DROPOUT_GRADER_DEVICE"
#: How many CPU threads torch may use in one kernel; unset, :func:`share_cpu` picks one.
THREADS_VAR = "DROPOUT_COURSE_THREADS"

#: Every floating dtype the checks try; :func:`supported_dtypes` narrows it per device.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """Every device kind this machine can run torch on, CPU first."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    return found


def grading_device() -> torch.device:
    """The device grading runs on: the override if set, else CUDA, MPS, CPU.

    A bad override is an instructor's typo, so it raises with the fix rather
    than silently grading somewhere else.
    """
    wanted = os.environ.get(ENV_VAR, "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(f"{ENV_VAR}={wanted!r} is not a device torch knows ({err}); "
                             f"use cpu, cuda, cuda:N or mps") from None
        if device.type not in available_devices():
            raise ValueError(f"{ENV_VAR}={wanted!r} but this machine has no {device.type}; "
                             f"available: {', '.join(available_devices())}")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(device: torch.device | None = None) -> str:
    """One line for logs and notebooks: where grading runs and why."""
    device = device or grading_device()
    name = str(device)
    if device.type == "cuda":
        name += f" ({torch.cuda.get_device_name(device)})"
    how = f"set by {ENV_VAR}" if os.environ.get(ENV_VAR) else f"auto: CUDA > MPS > CPU; {ENV_VAR} overrides"
    return f"grading on {name}, torch {torch.__version__} ({how})"


@functools.lru_cache(maxsize=None)
def supported_dtypes(device: str) -> tuple[torch.dtype, ...]:
    """The float dtypes in which torch's own dropout runs on ``device``.

    Asking torch itself (rather than keeping a table) keeps this right on
    new hardware: MPS has no float64, older GPUs may lack bfloat16.
    """
    ok = []
    for dtype in FLOAT_DTYPES:
        try:
            x = torch.ones(8, device=device, dtype=dtype)
            torch.nn.functional.dropout(x, 0.5, training=True)
            torch.rand(8, device=device, dtype=dtype)
        except (RuntimeError, TypeError):
            continue
        ok.append(dtype)
    return tuple(ok)


def share_cpu() -> int:
    """Give torch one CPU thread in this kernel (or what the machine's owner set); the count.

    torch starts one thread per core, which pays off for big matrices. The course's models
    are small, so a lesson runs about as fast on one thread alone, and on a shared machine
    (a JupyterHub, a class being graded) every kernel's extra threads fight over the same
    cores: four kernels of Lesson 3 on two cores took many times longer than one thread
    each (``benchmarks/lessons.py --concurrent 4`` measures both). An instructor chooses
    another count with ``DROPOUT_COURSE_THREADS``, or ``OMP_NUM_THREADS`` as torch reads it.
    """
    wanted = os.environ.get(THREADS_VAR) or os.environ.get("OMP_NUM_THREADS") or "1"
    try:
        threads = int(wanted)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"{THREADS_VAR} (or OMP_NUM_THREADS) is {wanted!r}; "
                         f"it should be a whole number of threads, 1 or more")
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
