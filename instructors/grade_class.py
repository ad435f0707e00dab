"""Grade a whole class in parallel: autograde and feedback for every submission, then export.

    python -m instructors.grade_class ASSIGNMENT [--course DIR] [--jobs N] [--force]

Submissions are read from nbgrader's usual place, DIR/submitted/<student>/ASSIGNMENT/.
Each worker process loads nbgrader once and then grades one student after
another through nbgrader's own API (the same Autograde and GenerateFeedback
converters `nbgrader autograde` runs), so a submission costs a kernel start
plus its cells, not a fresh nbgrader start-up too. Every notebook still runs
in its own fresh kernel.

Safe to interrupt and re-run: a student whose grades are all in the gradebook
is skipped (unless --force), so a killed run picks up where it stopped.

A regrade (--force, after a check or a point value changed) first saves the
scores it is about to replace (reports/ASSIGNMENT/regrade-WHEN-before.json),
then writes reports/ASSIGNMENT/regrade-WHEN.csv, each regraded student's old and
new score and the checks that changed, and prints the students whose score
moved, before any feedback is released.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course, NbgraderError, db_url, jail_enabled, open_gradebook
from .grading_process import ready_to_grade
from .statuses import STATUSES, natural_key, record_outcomes

@dataclass
class ClassGrading:
    assignment: str
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)     # already graded in an earlier run
    failed: dict[str, str] = field(default_factory=dict)  # student -> why nbgrader failed
    faults: dict[str, list[str]] = field(default_factory=dict)  # student -> crashes, tampering
    seconds: float = 0.0
    changes: list[str] = field(default_factory=list)     # regraded students whose score moved, in words
    changes_file: Path | None = None                      # every regraded student, old and new (CSV)


#: How an error of generating feedback starts: the submission is graded, its feedback is not.
FEEDBACK_FAILED = "feedback: "

# --- worker processes -------------------------------------------------------------

_API = None
_COURSE = None


def _start_worker(course_root: str, env: dict, torch_threads: int) -> None:
    """Load nbgrader and the course config once per worker process.

    The worker's stderr, which its kernels inherit, goes to a log file, so the
    kernels' start-up notices do not break the progress bar.
    """
    global _API
    logs = Path(course_root) / "logs"
    logs.mkdir(exist_ok=True)
    log = open(logs / f"worker-{os.getpid()}.log", "a")  # noqa: SIM115 - open for the worker's life
    os.dup2(log.fileno(), 2)
    os.environ.update(env)
    os.chdir(course_root)
    ready_to_grade(torch_threads)
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=course_root).load_config()
    config.CourseDirectory.root = course_root
    config.CourseDirectory.db_url = db_url(Path(course_root))
    config.Exchange.root = str(Path(course_root) / ".jupyter-private" / "exchange")
    _API = NbGraderAPI(config=config)
    global _COURSE
    _COURSE = Course(course_root)


def _grade_one(assignment: str, student: str, feedback: bool) -> tuple[str, str]:
    """Autograde one student (and make their feedback); return (student, error or '')."""
    result = _API.autograde(assignment, student, force=True, create=True)
    if not result["success"]:
        return student, _last_lines(result.get("error") or result.get("log", "")), []
    faults = _faults_of(assignment, student)
    if feedback:
        result = _API.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            return student, FEEDBACK_FAILED + _last_lines(result.get("error") or result.get("log", "")), faults
    return student, "", faults


def _faults_of(assignment: str, student: str) -> list[str]:
    from .faults import faults_in

    return faults_in(_COURSE.root / "autograded", assignment).get(student, [])


def _last_lines(text: str, n: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# --- the parent process -----------------------------------------------------------

def submitted_students(course: Course, assignment: str) -> list[str]:
    folder = course.root / "submitted"
    return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())


def submission_problems(course: Course, assignment: str, students: list[str]) -> dict[str, str]:
    """student -> why their submission cannot be graded as handed in.

    Checked before grading, because nbgrader would otherwise score a missing
    notebook zero, overwriting the grade an earlier run recorded, and stop at a
    notebook it cannot read. These students are left out and their grades kept.
    """
    import nbformat

    from autograder.untrusted.intake import NOTEBOOK_LIMIT, Refused, read_path

    source = course.root / "source" / assignment / f"{assignment}.ipynb"
    ids = {c.metadata.get("nbgrader", {}).get("grade_id")
           for c in nbformat.read(source, as_version=4).cells} - {None}
    problems = {}
    for student in students:
        folder = course.root / "submitted" / student / assignment
        path = folder / f"{assignment}.ipynb"
        linked = next((p for p in (folder.parent, folder) if p.is_symlink()), None)
        if linked is not None:  # read nothing through it: it may lead to your own files
            problems[student] = f"{linked} is a symbolic link, not a folder handed in; it was not read"
            continue
        if not path.exists() and not path.is_symlink():
            found = ", ".join(sorted(p.name for p in folder.glob("*.ipynb"))) or "no notebook at all"
            problems[student] = f"no {path.name} in {folder} (found: {found})"
            continue
        try:  # a plain file of bounded size, never a link, a FIFO or a device read through
            nb = nbformat.reads(read_path(str(path), NOTEBOOK_LIMIT).decode("utf-8"), as_version=4)
        except Refused as refused:
            problems[student] = f"{path} is {refused.strerror}; it was not read"
            continue
        except Exception as error:  # noqa: BLE001 - any unreadable file is the same problem
            problems[student] = f"{path} is not a notebook nbformat can read ({type(error).__name__}: {error})"[:300]
            continue
        theirs = {_grade_id_of(c) for c in nb.cells} - {None}
        if theirs and not theirs & ids:
            problems[student] = (f"{path} has none of {assignment}'s nbgrader cells (it has "
                                 f"{', '.join(sorted(theirs)[:3])}, ...): a notebook from another "
                                 f"assignment or course?")
    return problems


def _grade_id_of(cell) -> str | None:
    """A cell's nbgrader grade id, or None: a student's notebook may hold any JSON in its metadata."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def fully_graded(course: Course, assignment: str) -> set[str]:
    """Students whose every autograded cell has a score in the gradebook."""
    done = set()
    with open_gradebook(db_url(course.root)) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            grades = [g for nb in submission.notebooks for g in nb.grades if g.cell.cell_type == "code"]
            if grades and all(g.auto_score is not None for g in grades):
                done.add(submission.student.id)
    return done


def _prepare_gradebook(course: Course, assignment: str, students: list[str]) -> None:
    """Create every student before the workers start, so they only add grades."""
    from nbgrader.api import MissingEntry

    with open_gradebook(db_url(course.root)) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise NbgraderError(f"assignment {assignment!r} is not in the gradebook of {course.root}: "
                                f"run `nbgrader generate_assignment {assignment}` there first") from None
        for student in students:
            gradebook.update_or_create_student(student)


def grade_class(course: Course, assignment: str, jobs: int | None = None, force: bool = False,
                feedback: bool = True, progress: bool = True, only: list[str] | None = None,
                cluster: str | None = None) -> ClassGrading:
    """Autograde (and give feedback on) every submission of ``assignment`` in parallel.

    ``only`` limits grading to those students. Submissions that cannot be graded
    as handed in (see :func:`submission_problems`) are reported in ``failed``
    and left untouched in the gradebook. With ``cluster`` (a Dask scheduler's
    address) the submissions are graded there (:mod:`instructors.cluster`);
    otherwise by ``jobs`` processes on this machine.
    """
    from tqdm import tqdm

    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs={jobs}: give 1 or more submissions at once, or None for one per core")
    start = time.perf_counter()
    known = sorted(p.name for p in (course.root / "source").iterdir() if p.is_dir())
    if assignment not in known:
        raise NbgraderError(f"no assignment {assignment!r} in {course.root / 'source'}; "
                            f"the course has: {', '.join(known) or 'none'}")
    students = submitted_students(course, assignment)
    if only:
        unknown = sorted(set(only) - set(students))
        if unknown:
            raise NbgraderError(f"no submission of {assignment!r} from {', '.join(unknown)} in "
                                f"{course.root / 'submitted'}; students who handed it in: "
                                f"{', '.join(students[:10]) or 'none'}{' ...' if len(students) > 10 else ''}")
        students = sorted(only)
    if not students:
        raise FileNotFoundError(f"no submissions of {assignment!r} in {course.root / 'submitted'}")
    if jail_enabled(course.root):
        from autograder.untrusted.jail import require

        require()  # JailUnavailable, before anything is graded, where jails cannot work here
    outcome = ClassGrading(assignment)
    outcome.failed = submission_problems(course, assignment, students)
    _prepare_gradebook(course, assignment, students)  # all of them: no one who handed in is off the roster
    record_outcomes(course.root, assignment, outcome.failed, [])  # kept even if this run is interrupted
    students = [s for s in students if s not in outcome.failed]
    done = set() if force else fully_graded(course, assignment)
    outcome.skipped = [s for s in students if s in done]
    todo = [s for s in students if s not in done]
    # A regrade: the grades it replaces, on disk before any is replaced, for the change report.
    before = autograded_scores(course, assignment, todo)
    when = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    if before:
        folder = course.root / "reports" / assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"regrade-{when}-before.json").write_text(json.dumps(before, indent=1, sort_keys=True))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    bar = tqdm(total=len(todo), unit="submission", desc=f"grading {assignment}", disable=not progress,
               dynamic_ncols=True)
    course.logs.mkdir(exist_ok=True)
    where = open(course.logs / "grade_class.log", "a")  # noqa: SIM115 - closed below

    def graded(student: str, error: str, faults: list[str], worker: str) -> None:
        if faults:
            outcome.faults[student] = faults
        if error:
            outcome.failed[student] = error
        if not error or error.startswith(FEEDBACK_FAILED):  # graded; only its feedback is missing
            outcome.graded.append(student)
        record_outcomes(course.root, assignment, {} if student in outcome.graded else {student: error},
                        [student] if student in outcome.graded else [])
        where.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {assignment}/{student} "
                    f"{'failed' if error else 'graded'} on {worker or 'an unknown worker'}\n")
        where.flush()
        bar.set_postfix(failed=len(outcome.failed), faults=len(outcome.faults))
        bar.update()

    try:
        if cluster:
            from .cluster import grade_on_cluster

            grade_on_cluster(course, assignment, todo, cluster, db_url(course.root), feedback, graded)
        else:
            _grade_here(course, assignment, todo, jobs, feedback, graded)
    finally:
        bar.close()
        where.close()
    # Whatever a worker reported, the gradebook has the last word.
    missing = set(todo) - fully_graded(course, assignment) - set(outcome.failed)
    for student in sorted(missing):
        outcome.failed[student] = "no grades in the gradebook after grading"
        if student in outcome.graded:
            outcome.graded.remove(student)
    if before:
        outcome.changes_file, outcome.changes = write_changes(course, assignment, before, todo, when)
    record_outcomes(course.root, assignment, {s: e for s, e in outcome.failed.items()
                                              if not e.startswith(FEEDBACK_FAILED)}, outcome.graded)
    outcome.seconds = time.perf_counter() - start
    return outcome


def autograded_scores(course: Course, assignment: str, students) -> dict[str, dict[str, float]]:
    """student -> autograded cell -> score, as the gradebook has them now (students with none left out)."""
    found = {}
    with open_gradebook(db_url(course.root)) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            if submission.student.id in students:
                cells = {g.name: g.score for nb in submission.notebooks for g in nb.grades
                         if g.cell.cell_type == "code" and g.auto_score is not None}
                if cells:
                    found[submission.student.id] = cells
    return found


def write_changes(course: Course, assignment: str, before: dict, students, when: str) -> tuple[Path, list[str]]:
    """Compare the gradebook now with ``before`` (from :func:`autograded_scores`); write and return the changes.

    One row per regraded student: the old and new autograded score and every check whose score
    moved, "function_scaling 2 -> 0". Written before feedback is released, for the instructor to read.
    """
    import csv

    after = autograded_scores(course, assignment, students)
    folder = course.root / "reports" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"regrade-{when}.csv"
    lines = []
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "old score", "new score", "checks changed"])
        for student in sorted(before, key=natural_key):
            old, new = before[student], after.get(student, {})
            moved = [f"{c.removeprefix('test_')} {old.get(c, 0):g} -> {new.get(c, 0):g}"
                     for c in sorted(set(old) | set(new)) if old.get(c) != new.get(c)]
            writer.writerow([student, f"{sum(old.values()):g}", f"{sum(new.values()):g}" if new else "",
                             "; ".join(moved)])
            if moved:
                lines.append(f"  {student}: {sum(old.values()):g} -> {sum(new.values()):g} ({'; '.join(moved)})")
    return path, lines


def _grade_here(course: Course, assignment: str, todo: list[str], jobs: int, feedback: bool, graded) -> None:
    """Grade ``todo`` with ``jobs`` worker processes on this machine."""
    cores = os.cpu_count() or 1
    # Fresh interpreters, not forks: a fork of a process that has run torch inherits a
    # broken OpenMP thread pool, and the workers run torch to judge the checks.
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                             initargs=(str(course.root), course.env(), max(1, cores // jobs))) as pool:
        futures = {pool.submit(_grade_one, assignment, s, feedback): s for s in todo}
        for future in as_completed(futures):
            try:
                student, error, faults = future.result()
            except Exception as crash:  # noqa: BLE001 - a dead worker must not stop the class
                student, error, faults = futures[future], f"worker crashed: {type(crash).__name__}: {crash}", []
            graded(student, error, faults, "a local worker process")


def export(course: Course, to: Path) -> Path:
    """``grades.csv`` at ``to`` and ``canvas.csv`` beside it, for every student on the roster.

    The same file ``nbgrader export`` writes in this course (see instructors/exports.py),
    without a second nbgrader start-up.
    """
    from .exports import write_canvas, write_grades

    with open_gradebook(db_url(course.root)) as gradebook:
        write_canvas(gradebook, course.root, Path(to).with_name("canvas.csv"))
        return write_grades(gradebook, course.root, Path(to))


def status_table(course: Course, assignment: str, names: int = 6) -> str:
    """How many students have each status, naming the first few of every status but the usual ones."""
    from .statuses import GRADED, PENDING, standings

    with open_gradebook(db_url(course.root)) as gradebook:
        rows = standings(course.root, assignment, gradebook)
    lines = [f"{assignment}: {len(rows)} students on the roster"]
    for status in STATUSES:
        who = [r.student for r in rows if r.status == status]
        named = "" if status in (GRADED, PENDING) or not who else \
            ", ".join(who[:names]) + (f" and {len(who) - names} more" if len(who) > names else "")
        lines.append(f"  {status:<24}{len(who):>4}  {named}".rstrip())
    return "\n".join(lines)


def _at_least_one(text: str) -> int:
    """``--jobs``: a whole number of at least 1, said plainly otherwise (0 and -3 are not "auto")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} submissions at once cannot grade anything: give 1 or more, "
                                         f"or leave --jobs out for one per core")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Autograde every submission of an assignment in parallel, with feedback, "
                    "a CSV export and a report of what the class got wrong.")
    parser.add_argument("assignment", help="assignment name, as in source/ and submitted/<student>/")
    parser.add_argument("--course", type=Path, default=Path.cwd(),
                        help="the nbgrader course folder (default: the current folder)")
    parser.add_argument("--jobs", type=_at_least_one, default=None,
                        help=f"submissions graded at once, 1 or more (default: one per core, {os.cpu_count()} here)")
    parser.add_argument("--force", action="store_true",
                        help="regrade students already fully graded in the gradebook")
    parser.add_argument("--no-feedback", action="store_true", help="skip generating feedback")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="grade on the Dask scheduler at ADDRESS (tcp://HOST:8786) instead of "
                             "on this machine; see docs/scaling.md")
    parser.add_argument("--student", action="append", metavar="ID",
                        help="grade only this student (repeatable; default: everyone who handed in)")
    args = parser.parse_args(argv)
    # Refusals come before the heavy imports (nbgrader, pandas, matplotlib): in well under a second.
    from autograder.untrusted.jail import JailUnavailable

    try:
        course = Course(args.course)
        outcome = grade_class(course, args.assignment, args.jobs, args.force, not args.no_feedback,
                              only=args.student, cluster=args.cluster)
    except (NbgraderError, FileNotFoundError, JailUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"graded {len(outcome.graded)}, skipped {len(outcome.skipped)} already graded, "
          f"failed {len(outcome.failed)} in {outcome.seconds:.1f} s")
    for student, why in sorted(outcome.failed.items()):
        print(f"  FAILED {student}: {why.splitlines()[-1] if why else ''}")
    for student, faults in sorted(outcome.faults.items()):
        print(f"  FAULT  {student}: {' | '.join(faults)}")
    if outcome.changes_file:
        print(f"regraded {len(outcome.changes)} students whose score changed (every regraded student, old and "
              f"new: {outcome.changes_file}); release no feedback before reading it:")
        print("\n".join(outcome.changes) or "  no score changed")
    from .analytics import write_report

    grades = export(course, course.root / "grades.csv")
    report = write_report(course, args.assignment, course.root / "reports" / args.assignment)
    print(status_table(course, args.assignment))
    print(f"grades: {grades} (Canvas: {grades.with_name('canvas.csv')})\nreport: {report}")
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
