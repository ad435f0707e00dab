"""Run nbgrader's own commands on a course folder, isolated and logged.

Every command gets private Jupyter config, data and runtime folders and a
private exchange root, so grading touches nothing outside ``workdir``;
the venv's ``bin`` goes first on PATH because nbgrader shells out to
``alembic`` for its gradebook. A failed command raises with the tail of
its log, which is kept in ``workdir/logs``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parents[1]


class NbgraderError(RuntimeError):
    pass


class Course:
    """An nbgrader course directory at ``root`` (a copy of this course, or this course)."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        if not (self.root / "nbgrader_config.py").is_file():
            raise FileNotFoundError(f"{self.root} is not an nbgrader course: no nbgrader_config.py")
        self.private = self.root / ".jupyter-private"
        self.logs = self.root / "logs"

    @classmethod
    def copy_of_this_course(cls, workdir: Path) -> "Course":
        """A fresh course in ``workdir`` with this course's config and source/ (nothing else)."""
        workdir = Path(workdir)
        if workdir.exists() and any(workdir.iterdir()):
            raise FileExistsError(f"{workdir} is not empty; choose a new folder or delete it")
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(COURSE_ROOT / "nbgrader_config.py", workdir)
        shutil.copytree(COURSE_ROOT / "source", workdir / "source")
        return cls(workdir)

    def env(self) -> dict:
        env = dict(os.environ)
        for name in ("CONFIG", "DATA", "RUNTIME"):
            folder = self.private / name.lower()
            folder.mkdir(parents=True, exist_ok=True)
            env[f"JUPYTER_{name}_DIR"] = str(folder)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COURSE_ROOT), env.get("PYTHONPATH")]))
        return env

    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``nbgrader ARGS`` in the course folder; raise NbgraderError if it fails."""
        exchange = self.private / "exchange"
        exchange.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}"]
        result = subprocess.run(command, cwd=self.root, env=self.env(), capture_output=True, text=True)
        self.logs.mkdir(exist_ok=True)
        log = self.logs / f"{'_'.join(args[:2]).replace('/', '_')}.log"
        log.write_text(result.stdout + result.stderr)
        if check and result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
            raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {result.returncode}); "
                                f"log: {log}\n{tail}")
        return result

    def release_notebook(self, assignment: str) -> Path:
        return self.root / "release" / assignment / f"{assignment}.ipynb"

    def submission_path(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment / f"{assignment}.ipynb"


#: SQLite waits this long for a lock held by another worker instead of failing at once.
DB_TIMEOUT_S = 120


def db_url(course_root: Path) -> str:
    """The gradebook's address: the one the course's nbgrader_config.py sets, if any.

    A course on several servers keeps its gradebook in PostgreSQL and says so in
    `c.CourseDirectory.db_url` (docs/scaling.md); grading follows it. Otherwise it is
    nbgrader's SQLite file, with a lock timeout long enough for parallel workers.
    """
    config = course_config(course_root)
    if "db_url" in config.CourseDirectory:
        return config.CourseDirectory.db_url
    return f"sqlite:///{Path(course_root) / 'gradebook.db'}?timeout={DB_TIMEOUT_S}"


def open_gradebook(url: str):
    """nbgrader's ``Gradebook`` at ``url``, creating it if it is new.

    A new gradebook asks the ``alembic`` command for its schema version, so this
    interpreter's ``bin`` goes first on PATH: a course venv used without activating it
    (``.venv/bin/python -m instructors.grade_class``) would otherwise fail with
    "No such file or directory: 'alembic'".
    """
    from nbgrader.api import Gradebook

    here = str(Path(sys.executable).parent)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([here, os.environ.get("PATH", "")])
    return Gradebook(url)


def jail_enabled(course_root: Path) -> bool:
    """Whether the course grades with student code jailed (``c.StudentCodeJail.enabled``)."""
    return bool(course_config(course_root).StudentCodeJail.get("enabled", True))


def course_config(course_root: Path):
    """The course's own nbgrader_config.py, as nbgrader loads it."""
    from traitlets.config import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
