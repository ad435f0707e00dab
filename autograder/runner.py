"""Run the checks on a student's ``dropout`` and ``Dropout`` and report.

Each check gets a fresh subject (so a mask cached by one check cannot help
another), its own seed (so a re-run gives the same verdict), and a forked
global RNG (so grading leaves the student's random state as it found it).
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
import weakref
import zlib

import torch

from . import device as devices
from . import checks as _from_scratch, dropout_family as _family  # noqa: F401 - each registers its checks
from . import watch
from .registry import CHECKS, Check, Context
from .report import CheckResult, Report
from .cells import target_of
from .subject import (TARGETS, CheckFailed, CheckTimeout, CodeCrashed, StudentError, reference,
                      restore_torch_state, torch_state)


def forked_rng(device: torch.device):
    """torch.random.fork_rng for the generator of ``device``: grading leaves the student's state alone."""
    if device.type == "cuda":
        return torch.random.fork_rng(devices=[device.index or torch.cuda.current_device()])
    if device.type == "mps":
        return torch.random.fork_rng(device_type="mps")
    return torch.random.fork_rng(devices=[])


#: How every verdict that rests on the course's from-scratch rule begins.
DELEGATION = "your code ran torch's own dropout"
#: Seconds one check may take before the student's code is interrupted.
CHECK_TIME_LIMIT = 10.0
#: Implementations that ran out of time once: their remaining checks are skipped, so a
#: hanging dropout costs one time limit, not one per check.
_TIMED_OUT: "weakref.WeakSet" = weakref.WeakSet()


def _expire(signum, frame):
    """The time limit's alarm: stop the student's code, but never inside the grader's watch.

    An exception raised in the watch's profile hook would make Python remove the
    hook, and the watch would then report its profiler as replaced by the student
    (and an exception in its ``__exit__`` would leave the hook installed). There
    the alarm comes back a millisecond later instead, in the student's code.
    """
    if frame is not None and frame.f_code.co_filename == watch.__file__:
        signal.setitimer(signal.ITIMER_REAL, 0.001)
        return
    raise CheckTimeout


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread on Unix; elsewhere no limit)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refuse_delegation(routes: list[str], where: str = "inside your model") -> None:
    """Part 3's share of the from-scratch rule: a layer that runs torch's dropout fails there too."""
    if routes:
        raise CheckFailed(f"{DELEGATION} ({', '.join(list(dict.fromkeys(routes))[:3])}) {where}; "
                          f"Part 3 counts only your own Dropout")


def watch_one_call(Dropout, p: float) -> list[str]:
    """The routes to torch's dropout of one training-mode call of ``Dropout(p)``, in this process."""
    with watch.KernelWatch() as seen:
        try:
            Dropout(p).train()(torch.ones(64))
        except Exception:  # noqa: BLE001 - a layer that fails: the check itself says how
            pass
    return seen.routes


def _local_subject(target: str, impl, seed: int):
    return TARGETS[target].subject(impl)


def _explain(error: BaseException) -> str:
    if isinstance(error, StudentError) and isinstance(error.error, NotImplementedError):
        return (f"not implemented yet: {error.call} raised NotImplementedError; replace "
                f"`raise NotImplementedError()` in your solution cell with your code")
    if isinstance(error, StudentError) and isinstance(error.error, CheckTimeout):
        return f"{error.call} did not finish within {CHECK_TIME_LIMIT:.0f} s (an endless loop?)"
    if isinstance(error, StudentError) and isinstance(error.error, CodeCrashed):
        return f"{error.call}: {error.error}"
    if isinstance(error, (CheckFailed, StudentError)):
        return str(error)
    if isinstance(error, CheckTimeout):
        return f"the check did not finish within {CHECK_TIME_LIMIT:.0f} s"
    return f"the check could not use your result: {type(error).__name__}: {error}"


def run_check(check: Check, target: str, impl, device: torch.device | None = None,
              make_subject=None) -> CheckResult:
    """Run one check on one implementation; never raises for anything the student did.

    Warnings raised while it runs are recorded, not printed: nbgrader scores a
    cell that writes to stderr zero, and torch warns readily. ``make_subject(target,
    impl, seed)`` builds the subject; by default the student's code runs here,
    watched (:mod:`autograder.remote` passes one that runs it in a sandbox).
    """
    if target not in check.targets:
        raise ValueError(f"check {check.name!r} applies to {', '.join(check.targets)}, not {target}")
    device = device or devices.grading_device()
    seed = zlib.crc32(check.name.encode())
    subject = None
    ctx = Context(device, devices.supported_dtypes(str(device)), seed)
    message, hint, notes = "", check.hint, ()
    start = time.perf_counter()
    settings = torch_state()  # what the student's code may change here: put back after the check
    with forked_rng(device), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.manual_seed(seed)
        try:
            if impl in _TIMED_OUT:
                raise CheckFailed("skipped: your code ran out of time in an earlier check")
            with _time_limit(CHECK_TIME_LIMIT):
                subject = (make_subject or _local_subject)(target, impl, seed)
                notes = tuple(check.run(subject, reference(target), ctx) or ())
        except Exception as error:  # noqa: BLE001 - every failure becomes a message
            message = _explain(error)
            hint = getattr(error, "hint", "") or check.hint
            if isinstance(error, CheckTimeout) or isinstance(getattr(error, "error", None), CheckTimeout):
                _TIMED_OUT.add(impl)
        finally:
            restore_torch_state(settings)
    routes = subject.routes if subject is not None else []
    if routes:
        message = (f"{DELEGATION} ({', '.join(routes[:3])}); "
                   f"this check only counts a dropout written from scratch")
    passed = not message
    return CheckResult(target, check.name, passed, check.points if passed else 0, check.points,
                       message, "" if passed else hint, time.perf_counter() - start,
                       tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)),
                       notes)


def checks_of(*targets: str) -> dict[str, Check]:
    """The registered checks that apply to any of ``targets``: one assignment's checks, by its answers."""
    return {name: check for name, check in CHECKS.items() if set(check.targets) & set(targets)}


def check_answers(answers: dict, *, checks=None, device=None) -> Report:
    """Run every check (or those named in ``checks``) on each answer: ``{target: impl}``."""
    unknown = set(checks or ()) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) {sorted(unknown)}; known: {', '.join(CHECKS)}")
    device = torch.device(device) if device is not None else devices.grading_device()
    report = Report(device=devices.describe(device))
    for target, impl in answers.items():
        for check in CHECKS.values():
            if target in check.targets and (checks is None or check.name in checks):
                report.results.append(run_check(check, target, impl, device))
    return report


def _answers(given: dict) -> dict:
    """``{target: impl}`` from keywords named as the notebook names its answers."""
    labels = [t.label for t in TARGETS.values()]
    unknown = set(given) - set(labels)
    if unknown:
        raise TypeError(f"unknown answer(s) {sorted(unknown)}; the checks take {', '.join(labels)}")
    answers = {target_of(label): impl for label, impl in given.items() if impl is not None}
    if not answers:
        raise TypeError(f"name an answer to check: {', '.join(f'{k}=<yours>' for k in labels)}")
    return answers


def check_dropout(dropout=None, Dropout=None, *, checks=None, device=None, **family) -> Report:
    """Check a ``dropout`` function and/or a ``Dropout`` class against torch's.

    ``checks`` limits the run to those check names (all by default). The second
    assignment's answers come by their names too: ``dropout2d=``, ``Dropout2d=``,
    ``AlphaDropout=``.
    """
    if dropout is None and Dropout is None and not any(v is not None for v in family.values()):
        raise TypeError("check_dropout needs dropout=<your function> and/or Dropout=<your class>")
    return check_answers(_answers({"dropout": dropout, "Dropout": Dropout, **family}),
                         checks=checks, device=device)


def assert_check(name: str, **answers) -> None:
    """For an nbgrader grade cell: raise with the student-facing message if ``name`` fails.

    ``assert_check("drop_rate", dropout=dropout)``; the answer is named as in the notebook.
    """
    __tracebackhide__ = True  # IPython and pytest leave this frame out of the traceback
    report = check_answers(_answers(answers), checks=[name])
    failed = report.failed()
    if failed:
        lines = [f"{r.target} check {r.name!r} failed: {r.message}\nhint: {r.hint}" for r in failed]
        raise CheckFailed("\n".join(lines))
    print(f"{name}: passed ({report.score}/{report.max_score})")


def quick_check(**answers) -> None:
    """For students while they work: print every check, what failed and a hint."""
    print(check_answers(_answers(answers)).table())
