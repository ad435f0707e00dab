"""The checks registry: what every assignment's checks are made of, and where they are kept.

A check is a function decorated with :func:`check`, which records its name, points,
the targets it applies to (:data:`autograder.subject.TARGETS`: ``function``,
``module``, ``Dropout2d``, ...), a summary and a hint a student can act on. It gets
the student's subject, torch's reference and a :class:`Context` (device, dtypes, a
private generator, draws per run) and raises
:class:`~autograder.subject.CheckFailed` with what differed. Statistical checks list
their tests in :data:`BOUNDS`, whose false-failure bounds ``tests/test_stats.py``
holds under one in a billion per check.

Each assignment's checks live in a module of their own that registers them here
(:mod:`autograder.checks` for dropout_from_scratch, :mod:`autograder.dropout_family`);
:mod:`autograder.runner` imports them all, so grade cells reach every check by name.
"""
from __future__ import annotations

import os
import random
import zlib
from dataclasses import dataclass
from typing import Callable

import torch

from .stats import ProportionTest
from .subject import CheckFailed, CheckTimeout, CodeCrashed, StudentError

@dataclass(frozen=True)
class Check:
    name: str
    points: int
    targets: tuple[str, ...]
    summary: str
    hint: str
    run: Callable


CHECKS: dict[str, Check] = {}
#: The statistical tests behind each check: their false failures add up per check.
BOUNDS: dict[str, list[ProportionTest]] = {}


def check(name: str, points: int, summary: str, hint: str, targets=("function",)):
    """Register a check under ``name``; order of definition is report order."""

    def register(fn):
        CHECKS[name] = Check(name, points, tuple(targets), summary, hint, fn)
        return fn

    return register


def _run_seed() -> int:
    """The seed of this grading run's random choices (p values, shapes): new per process.

    ``AUTOGRADER_SEED`` fixes it, to reproduce a verdict; messages that depend on a
    drawn value name the value, so a student can try it without the seed.
    """
    fixed = os.environ.get("AUTOGRADER_SEED", "")
    return int(fixed) if fixed.isdigit() else random.SystemRandom().randrange(2**32)


RUN_SEED = _run_seed()


#: Keeps a check's inputs on another random stream than the masks a subject draws.
INPUT_STREAM = 0x5DEECE66D


class Context:
    """Where and how a check makes its inputs: device, dtypes, a private generator.

    Inputs come from the check's own generator, never torch's global one, so
    a student's ``torch.manual_seed`` cannot change what the grader feeds in.
    Choices that must not be a fixed grid (p values, shapes) come from ``draws``,
    seeded per grading run (:data:`RUN_SEED`): an answer tuned to the values a check
    tries meets other values next time.
    """

    def __init__(self, device: torch.device, dtypes, seed: int):
        self.device = device
        self.dtypes = tuple(dtypes)
        self.seed = seed
        self.gen = torch.Generator(device=device)
        # Not ``seed`` itself: the runner seeds torch's global generator with it, and a mask
        # drawn from the same stream as the input's values would depend on those values.
        self.gen.manual_seed(seed ^ INPUT_STREAM)
        self.draws = random.Random(seed ^ RUN_SEED)

    def draw_p(self, low: float = 0.01, high: float = 0.99) -> float:
        """A p from the whole interval, off the grid of hundredths the fixed values sit on,
        rounded to 4 places so that a message can name it exactly."""
        while True:
            p = round(self.draws.uniform(low, high), 4)
            if round(p, 2) != p:
                return p

    def values(self, *shape, dtype=torch.float32) -> torch.Tensor:
        """Nonzero values of both signs, |v| in [0.5, 1.5): a zero out means dropped."""
        u = torch.rand(shape, generator=self.gen, device=self.device) * 2 - 1  # one draw: sign and size
        return torch.where(u >= 0, u + 0.5, u - 0.5).to(dtype)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _percent(share: float) -> str:
    """A share in per cent, with the decimals that tell 0.1% from 0.3% and 99.9% from 99%."""
    return f"{share:.3%}" if min(share, 1 - share) < 0.01 else f"{share:.2%}"


def _raises_like_torch(attempt, call: str, expected: type, otherwise: str, when: str) -> None:
    """Run the student's ``attempt``: it must raise ``expected``, as torch does ``when``."""
    try:
        attempt()
    except StudentError as err:
        if isinstance(err.error, expected):
            return
        if isinstance(err.error, (NotImplementedError, CheckTimeout, CodeCrashed)):
            raise  # nothing was shown about the exception: the runner says what happened
        raise CheckFailed(f"{call} raised {type(err.error).__name__}; torch raises "
                          f"{expected.__name__}") from None
    raise CheckFailed(f"{call} {otherwise}; torch raises {expected.__name__} {when}")


class FailedParts(CheckFailed):
    """Several behaviours failed at once; ``hint`` is the first one's."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def forward_held_to(parts: list[str], layer: str) -> Callable:
    """A module check that runs a function's checks ``parts`` on the module's forward.

    One verdict with every failing part named, each part seeded as when it runs alone;
    a part that cannot run at all (not implemented, out of time, crashed) ends it at once.
    ``layer`` is torch's module the message compares with.
    """
    def run(subject, ref, ctx: Context) -> list[str]:
        failures, hint, notes = [], "", []
        for name in parts:
            part = CHECKS[name]
            try:
                notes += part.run(subject, ref, Context(ctx.device, ctx.dtypes, zlib.crc32(name.encode()))) or []
            except StudentError as error:
                if isinstance(error.error, (NotImplementedError, CheckTimeout, CodeCrashed)):
                    raise  # nothing else will run either: say so once
                failures.append(f"{name}: {error}")
            except CheckFailed as failed:
                failures.append(f"{name}: {failed}")
            else:
                continue
            hint = hint or part.hint
        if failures:
            raise FailedParts(f"{len(failures)} of {len(parts)} forward checks differ from torch's "
                              f"{layer}:\n" + "\n".join(failures), hint)
        return notes

    return run
