"""The main job: a demo class, released, graded in parallel, given feedback and summarised.

    python -m instructors.demo [--workdir demo] [--force] [--jobs N]

It copies the course into WORKDIR and, for each assignment, releases it with
nbgrader, hands in the demo class's submissions (each sample in
instructors/samples/<assignment>/ as many times as its `# copies:` line says:
perfect ones, the common bugs, broken and untouched notebooks), autogrades
them in parallel with feedback, and writes a report of what the class got
wrong. Then it exports the gradebook to CSV and prints a summary: every
sample's score and the graded cells it failed, next to what it was meant to
fail. Logs go to WORKDIR/logs.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

from .analytics import write_report
from .course import Course
from .grade_class import ClassGrading, export, grade_class
from .similarity import similar_pairs
from .statuses import FAILED, counts
from .submissions import Sample, answers_for, fill, samples

ASSIGNMENTS = ("dropout_from_scratch", "dropout_family", "checkpoint_quiz")
#: Every demo assignment is due then; students hand in the day before unless their sample is late.
DUE = datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)


@dataclass
class StudentResult:
    assignment: str
    student: str
    sample: Sample
    score: float              # autograded points
    max_score: float          # autograded points available
    failed: set[str]          # grade ids of autograded cells that scored below full
    faults: list[str]         # what grading found wrong with the run: crash, tampering
    status: str = ""          # from instructors/statuses.py
    detail: str = ""

    @property
    def as_expected(self) -> bool:
        if self.sample.expect_status and self.status != self.sample.expect_status:
            return False
        if self.status == FAILED:
            return self.sample.expect_status == FAILED
        found = any(self.sample.expect_fault in f for f in self.faults) if self.sample.expect_fault \
            else not self.faults
        return self.failed == self.sample.expect_fail and found


@dataclass
class DemoResult:
    course: Course
    students: list[StudentResult]
    grading: dict[str, ClassGrading]
    grades_csv: Path
    reports: dict[str, Path]
    statuses: dict[str, dict[str, int]] = None   # assignment -> status -> students on the roster
    similar: dict[str, list] = None              # assignment -> SimilarPair found (instructors/similarity.py)

    def feedback(self, assignment: str, student: str) -> Path:
        return self.course.root / "feedback" / student / assignment / f"{assignment}.html"

    def of_sample(self, assignment: str, sample: str) -> list[StudentResult]:
        return [s for s in self.students if s.assignment == assignment and s.sample.name == sample]


def _step(title: str) -> float:
    print(f"==> {title}", flush=True)
    return time.perf_counter()


def _done(start: float) -> None:
    print(f"    done in {time.perf_counter() - start:.1f} s", flush=True)


def hand_in(course: Course, assignment: str, class_samples: list[Sample] | None = None) -> dict[str, Sample]:
    """Write the demo class's submissions; return student id -> the sample they handed in."""
    source = course.root / "source" / assignment / f"{assignment}.ipynb"
    roster = {}
    for sample in samples(assignment) if class_samples is None else class_samples:
        notebook = nbformat.writes(fill(course.release_notebook(assignment), answers_for(sample, source),
                                        sample.tamper))
        if sample.corrupt:
            notebook = notebook[:len(notebook) // 2]
        handed_in = DUE + (timedelta(minutes=sample.late_by_minutes) if sample.late_by_minutes else -timedelta(days=1))
        for copy in range(1, sample.copies + 1):
            student = f"{sample.name}-{copy}"
            path = course.submission_path(student, assignment)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(notebook, encoding="utf-8")
            # as nbgrader's collect leaves it, which autograde reads into the gradebook
            (path.parent / "timestamp.txt").write_text(handed_in.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
            roster[student] = sample
    return roster


def set_due_date(course: Course, assignment: str, due: datetime = DUE) -> None:
    from .course import db_url, open_gradebook

    with open_gradebook(db_url(course.root)) as gradebook:
        gradebook.update_or_create_assignment(assignment, duedate=due.replace(tzinfo=None))  # naive UTC


def run_demo(workdir: Path, assignments=ASSIGNMENTS, jobs: int | None = None,
             progress: bool = True) -> DemoResult:
    from .analytics import class_scores, class_standings, grading_faults

    course = Course.copy_of_this_course(workdir)
    students, grading, reports = [], {}, {}
    for assignment in assignments:
        start = _step(f"release {assignment} (nbgrader generate_assignment)")
        course.nbgrader("generate_assignment", assignment, "--force")
        set_due_date(course, assignment)
        _done(start)

        start = _step(f"hand in the demo class's submissions of {assignment}")
        roster = hand_in(course, assignment)
        print(f"    {len(roster)} students, {len(set(map(id, roster.values())))} kinds of submission")
        _done(start)

        start = _step("autograde and feedback, in parallel")
        grading[assignment] = grade_class(course, assignment, jobs=jobs, progress=progress)
        _done(start)

        start = _step("class report")
        reports[assignment] = write_report(course, assignment, course.root / "reports" / assignment)
        print(f"    {reports[assignment]}")
        _done(start)

        scores, max_points = class_scores(course, assignment)
        faults = grading_faults(course, assignment)
        standing = {s.student: s for s in class_standings(course, assignment)}
        for student, sample in roster.items():
            row = scores.loc[student] if student in scores.index else None
            failed = {"(not graded)"} if row is None else {c for c in scores.columns if row[c] < max_points[c]}
            students.append(StudentResult(assignment, student, sample,
                                          score=0.0 if row is None else float(row.sum()),
                                          max_score=float(max_points.sum()), failed=failed,
                                          faults=faults.get(student, []), status=standing[student].status,
                                          detail=standing[student].detail))

    start = _step("export the gradebook (grades.csv with every student's status, canvas.csv)")
    grades_csv = export(course, course.root / "grades.csv")
    _done(start)
    statuses = {a: counts(class_standings(course, a)) for a in assignments}
    similar = {a: similar_pairs(course.root, a) for a in assignments}
    return DemoResult(course, students, grading, grades_csv, reports, statuses, similar)


#: Width of the summary's lines: a terminal's, so nothing wraps mid-word.
SUMMARY_WIDTH = 100


def _wrapped(text: str, indent: int, hang: int = 2) -> list[str]:
    """``text`` in lines of at most SUMMARY_WIDTH characters, broken between words, indented
    (``hang`` more after the first line)."""
    return textwrap.wrap(text, SUMMARY_WIDTH, initial_indent=" " * indent,
                         subsequent_indent=" " * (indent + hang), break_long_words=False, break_on_hyphens=False)


def summary(result: DemoResult) -> str:
    lines = ["Each sample is a kind of submission (instructors/samples/<assignment>/<sample>.py); it is "
             "graded as meant when its students failed exactly the cells its `# expect-fail:` line "
             "names and grading reported exactly the faults it expects.", ""]
    lines = [line for text in lines for line in (_wrapped(text, 0, hang=0) or [""])]
    for assignment, outcome in result.grading.items():
        lines.append(f"{assignment}: {len(outcome.graded)} graded, {len(outcome.failed)} failed to grade, "
                     f"{outcome.seconds:.0f} s")
        counts = result.statuses.get(assignment, {})
        lines += _wrapped("students on the roster: " + ", ".join(f"{n} {status}" for status, n in counts.items()
                                                                if n), 2)
        lines.append(f"  {'sample':<30} {'students':>8}  {'score':<9} {'status':<23} as meant")
        for name in dict.fromkeys(s.sample.name for s in result.students if s.assignment == assignment):
            group = result.of_sample(assignment, name)
            scores = "/".join(sorted({f"{s.score:g}" for s in group})) + f"/{group[0].max_score:g}"
            meant = "yes" if all(s.as_expected for s in group) else "NO"
            status = "/".join(sorted({s.status for s in group}))
            lines.append(f"  {name:<30} {len(group):>8}  {scores if group[0].status != FAILED else '-':<9} "
                         f"{status:<23} {meant}")
            failed = ", ".join(sorted(f.removeprefix("test_") for f in group[0].failed))
            if group[0].status == FAILED:
                lines += _wrapped(f"why: {group[0].detail.replace(str(result.course.root) + '/', '')}", 4)
            elif failed:
                lines += _wrapped(f"failed: {failed}", 4)
            for fault in group[0].faults:
                lines += _wrapped(f"fault: {fault}", 4)
        for pair in result.similar.get(assignment, []):
            same = pair.first.rsplit("-", 1)[0] == pair.second.rsplit("-", 1)[0]
            lines += _wrapped(f"alike: {pair.first} and {pair.second}, {pair.score:.0%} of their rare code "
                              f"({'two copies of one sample' if same else 'a copied pair'})", 2)
        lines.append(f"  report: {result.reports[assignment]}")
        lines.append("")
    lines.append(f"grades: {result.grades_csv} (one row per student and assignment, with the status)")
    lines.append(f"canvas: {result.grades_csv.with_name('canvas.csv')} (Canvas's gradebook import)")
    lines.append(f"feedback: {result.course.root / 'feedback'}/<student>/<assignment>/")
    lines.append(f"logs: {result.course.logs}/ (nbgrader's, the workers' and the kernels' output)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("demo"),
                        help="folder for the demo course (default: ./demo)")
    parser.add_argument("--force", action="store_true", help="delete WORKDIR first if it exists")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: one per core)")
    args = parser.parse_args(argv)
    if args.force and args.workdir.exists():
        shutil.rmtree(args.workdir)
    result = run_demo(args.workdir, jobs=args.jobs)
    print()
    print(summary(result))
    return 0 if all(s.as_expected for s in result.students) else 1


if __name__ == "__main__":
    sys.exit(main())
