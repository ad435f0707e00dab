"""Grade a class on a Dask cluster: one task per submission, the gradebook written by the coordinator.

    python -m instructors.grade_class ASSIGNMENT --cluster tcp://HOST:8786

**What travels.** A task carries everything it grades: the course's
``nbgrader_config.py``, the assignment's ``source/`` files and the student's
``submitted/`` files, as bytes. It returns what grading made: the autograded
notebook, the feedback, the faults and the scores. Workers share no disk with
the instructor's machine and never see the course folder; they need only the
course's installed package (the same environment), and run student code under
the same jail and limits as a local run, because they grade with the course's
own ``nbgrader_config.py``.

**Who writes the gradebook: the coordinator.** Each worker grades into a
private SQLite gradebook in its own scratch folder (nbgrader's converters need
one) and returns the scores; this process writes them into the course's
gradebook (``c.CourseDirectory.db_url``: PostgreSQL on a cluster), one
transaction per submission, after the submission's files are in place. So:

* workers need no database password and no route to the database;
* Dask runs a task again when its worker dies (at least once), and a task that
  ran twice still records once: only results that reach this process are
  written, each into nbgrader's own rows (one grade per cell and submission);
* a run that stops at any point has recorded whole submissions only, and a
  re-run skips those, as the local pool does.

A submission whose task kills its worker again and again (Dask's
``allowed-failures``, 3 by default) is recorded as failed, not retried forever. A
scheduler that goes away stops the run with a message saying what was recorded.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .course import Course, NbgraderError, open_gradebook

#: Seconds the coordinator waits to reach the scheduler, and to get it back once lost.
CONNECT_TIMEOUT_S = 10


class ClusterLost(NbgraderError):
    """The scheduler could not be reached, or went away mid-run."""


@dataclass
class Graded:
    """What one task sends back (:func:`grade_task`)."""
    student: str
    worker: str                       # the Dask worker's address
    error: str                        # why nbgrader could not grade it; empty if it did
    faults: list[str]
    files: dict[str, bytes]           # course-relative path -> contents (autograded/, feedback/)
    grades: list[dict]                # {"notebook", "cell", "auto_score", "needs_manual_grade"}
    penalties: dict[str, float]       # notebook -> late submission penalty
    timestamp: str | None


def _files(folder: Path, under: Path) -> dict[str, bytes]:
    """The plain files below ``folder`` that :class:`~autograder.untrusted.intake.Intake` takes,
    by their paths relative to ``under``.

    Nothing is read through a link, a FIFO or a device, and the sizes are bounded:
    a submission must not carry one of the instructor's files, or an endless one, to
    the worker.
    """
    from autograder.untrusted.intake import Intake

    prefix = Path(folder).relative_to(under)
    intake = Intake()
    found = {str(prefix / relative): data for relative, data in intake.files(str(folder)) if data is not None}
    return dict(sorted(found.items()))


def bundle(course: Course, assignment: str, student: str, feedback: bool = True) -> dict:
    """One task's input: the course config, the assignment's source and the submission, as bytes."""
    return {"assignment": assignment, "student": student, "feedback": feedback,
            "config": (course.root / "nbgrader_config.py").read_bytes(),
            "source": _files(course.root / "source" / assignment, course.root),
            "submitted": _files(course.root / "submitted" / student / assignment, course.root)}


# --- on a worker --------------------------------------------------------------------

_PREPARED: dict[str, Path] = {}   # digest of config + source -> a course with its gradebook made


def _scratch() -> Path:
    try:
        from distributed import get_worker

        base = Path(get_worker().local_directory)
    except (ImportError, ValueError):   # not on a Dask worker: a test, or a debugger
        base = Path(tempfile.gettempdir())
    folder = base / "dropout-grading"
    folder.mkdir(exist_ok=True)
    return folder


def _write(root: Path, files: dict[str, bytes]) -> None:
    inside = Path(root).resolve()
    for relative, data in files.items():
        path = inside / relative
        if Path(relative).is_absolute() or not path.resolve().is_relative_to(inside):
            raise ValueError(f"refusing to write outside {inside}: {relative!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _api(root: Path):
    """nbgrader's API on a scratch course, with its private gradebook and exchange."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    config.Exchange.root = str(root / ".exchange")
    return NbGraderAPI(config=config)


def _prepared(task: dict) -> Path:
    """A scratch course with the assignment in its gradebook, made once per worker and assignment."""
    digest = hashlib.sha256(task["config"] + repr(sorted(task["source"].items())).encode()).hexdigest()[:16]
    if digest not in _PREPARED or not (_PREPARED[digest] / "gradebook.db").is_file():
        root = _scratch() / f"course-{digest}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        (root / "nbgrader_config.py").write_bytes(task["config"])
        _write(root, task["source"])
        result = _api(root).generate_assignment(task["assignment"], force=True)
        if not result["success"]:
            raise NbgraderError(f"generate_assignment failed on the worker: {result.get('error') or result['log']}")
        _PREPARED[digest] = root
    return _PREPARED[digest]


def _start_grading_here() -> None:
    """What a local worker does once (instructors.grade_class._start_worker), here on first use."""
    if os.environ.get("DROPOUT_GRADING_READY"):
        return
    import sys

    # nbgrader runs `alembic` for its gradebook: this environment's bin goes first.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for name in ("CONFIG", "DATA", "RUNTIME"):  # Jupyter's folders: private to this worker
        folder = _scratch() / "jupyter" / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[f"JUPYTER_{name}_DIR"] = str(folder)
    from .grading_process import ready_to_grade

    ready_to_grade(torch_threads=1)   # a worker runs one task at a time (--nthreads 1)
    os.environ["DROPOUT_GRADING_READY"] = "1"


def grade_task(task: dict) -> Graded:
    """Autograde (and give feedback on) one submission in a scratch course; return what it made.

    Runs on a Dask worker. Never raises for what nbgrader reports as a failure:
    that comes back as ``error``.
    """
    from .faults import faults_in

    _start_grading_here()
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = socket.gethostname()
    assignment, student = task["assignment"], task["student"]
    template = _prepared(task)
    root = Path(tempfile.mkdtemp(prefix=f"{student}-", dir=_scratch()))
    try:
        for name in ("nbgrader_config.py", "gradebook.db", "source", "release"):
            src = template / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
        _write(root, task["submitted"])
        api = _api(root)
        result = api.autograde(assignment, student, force=True, create=True)
        if not result["success"]:
            return Graded(student, worker, (result.get("error") or result.get("log", ""))[-2000:], [], {}, [], {}, None)
        error = ""
        if task["feedback"]:
            result = api.generate_feedback(assignment, student, force=True)
            if not result["success"]:
                error = "feedback: " + (result.get("error") or result.get("log", ""))[-2000:]
        grades, penalties = [], {}
        with open_gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
            submission = gradebook.find_submission(assignment, student)
            timestamp = submission.timestamp.isoformat() if submission.timestamp else None
            for notebook in submission.notebooks:
                penalties[notebook.name] = notebook.late_submission_penalty
                grades += [{"notebook": notebook.name, "cell": g.name, "auto_score": g.auto_score,
                            "needs_manual_grade": g.needs_manual_grade} for g in notebook.grades]
        files = {}
        for kind in ("autograded", "feedback"):
            folder = root / kind / student / assignment
            if folder.is_dir():
                files.update(_files(folder, root))
        faults = faults_in(root / "autograded", assignment).get(student, [])
        return Graded(student, worker, error, faults, files, grades, penalties, timestamp)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- the coordinator ------------------------------------------------------------------

def record(course: Course, db_url: str, assignment: str, graded: Graded) -> None:
    """Write one graded submission into the course: its files first, then its grades in one transaction.

    The grades are nbgrader's own rows, found or created by nbgrader's API, so a
    submission recorded twice still has one grade per cell; a manual score an
    instructor gave is kept.
    """
    from datetime import datetime

    for kind in ("autograded", "feedback"):
        shutil.rmtree(course.root / kind / graded.student / assignment, ignore_errors=True)
    _write(course.root, graded.files)
    scores = {(g["notebook"], g["cell"]): g for g in graded.grades}
    with open_gradebook(db_url) as gradebook, warnings.catch_warnings():
        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings
        # ("... not in session"); `nbgrader autograde` prints the same ones.
        warnings.simplefilter("ignore", category=Warning)
        timestamp = datetime.fromisoformat(graded.timestamp) if graded.timestamp else None
        submission = gradebook.update_or_create_submission(assignment, graded.student, timestamp=timestamp)
        for notebook in submission.notebooks:
            notebook.late_submission_penalty = graded.penalties.get(notebook.name)
            for grade in notebook.grades:
                found = scores.get((notebook.name, grade.name))
                if found is not None:
                    grade.auto_score = found["auto_score"]
                    grade.needs_manual_grade = found["needs_manual_grade"]
        gradebook.db.commit()


def grade_on_cluster(course: Course, assignment: str, students: list[str], address: str, db_url: str,
                     feedback: bool, on_result) -> None:
    """Grade ``students`` on the Dask scheduler at ``address``.

    ``on_result(student, error, faults, worker)`` is called as each one is recorded
    (or fails). Raises :class:`ClusterLost` if the scheduler cannot be reached or goes
    away; whatever was recorded by then stays recorded.
    """
    try:
        from distributed import Client, wait
        from distributed.scheduler import KilledWorker
    except ImportError as missing:
        raise NbgraderError("--cluster needs Dask's distributed package: pip install distributed") from missing
    from concurrent.futures import CancelledError

    try:  # what waiting raises once the scheduler is gone (distributed 2024.8 and later)
        from distributed.client import FuturesCancelledError
    except ImportError:
        FuturesCancelledError = CancelledError

    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterLost(f"cannot reach the Dask scheduler at {address} ({error}); nothing was graded") from None
    recorded = 0

    def lost() -> ClusterLost:
        return ClusterLost(f"lost the Dask scheduler at {address}: {recorded} submissions were graded and "
                           f"recorded, {len(pending)} were not; run the same command again to grade the rest")

    try:
        pending = {client.submit(grade_task, bundle(course, assignment, s, feedback), pure=False,
                                 key=f"grade-{assignment}-{s}-{time.time_ns()}"): s for s in students}
        while pending:
            try:
                with client.as_current():
                    done, _ = wait(list(pending), timeout=2, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            except (FuturesCancelledError, CancelledError):
                raise lost() from None
            if client.status in ("closing", "closed"):
                raise lost()
            for future in done:
                student = pending[future]
                try:
                    graded = future.result()
                except CancelledError:       # the scheduler forgot it: it went away
                    raise lost() from None
                except KilledWorker as killed:
                    del pending[future]
                    on_result(student, f"crashed the Dask worker grading it on every try ({killed}); "
                                       f"not retried", [], "")
                    continue
                except Exception as crash:  # noqa: BLE001 - one submission must not stop the class
                    del pending[future]
                    on_result(student, f"worker raised {type(crash).__name__}: {crash}", [], "")
                    continue
                if graded.grades:
                    record(course, db_url, assignment, graded)
                    recorded += 1
                del pending[future]
                on_result(student, graded.error, graded.faults, graded.worker)
    finally:
        client.close(timeout=5)
