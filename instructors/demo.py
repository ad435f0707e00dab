"""The main job: a demo class, released, autograded, given feedback and summarised.

    python -m instructors.demo [--workdir demo] [--force]

It copies the course into WORKDIR, releases the assignments with nbgrader,
hands in one submission per sample in instructors/samples/<assignment>/ (a
perfect one, the common bugs, an untouched notebook), autogrades them,
generates feedback, exports the grades to CSV and prints a summary: each
student's score and the graded cells they failed, next to what the sample
was meant to fail. Every step is an nbgrader command; logs go to WORKDIR/logs.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import Course
from .submissions import answers_for, fill, samples

ASSIGNMENTS = ("dropout_from_scratch", "checkpoint_quiz")


@dataclass
class StudentResult:
    assignment: str
    student: str
    about: str
    score: float              # autograded points
    max_score: float          # autograded points available
    failed: set[str]          # grade ids of autograded cells that scored below full
    expected: set[str]

    @property
    def as_expected(self) -> bool:
        return self.failed == self.expected


@dataclass
class DemoResult:
    course: Course
    students: list[StudentResult]
    grades_csv: Path
    feedback: dict[tuple[str, str], Path]     # (assignment, student) -> feedback HTML

    def student(self, assignment: str, name: str) -> StudentResult:
        return next(s for s in self.students if (s.assignment, s.student) == (assignment, name))


def _step(title: str):
    print(f"==> {title}", flush=True)
    return time.perf_counter()


def _done(start: float):
    print(f"    done in {time.perf_counter() - start:.1f} s", flush=True)


def read_gradebook(course: Course, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """student -> autograded cell grade id -> (score, max score), from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            cells = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.auto_score is not None and grade.cell.name.startswith("test_"):
                        cells[grade.cell.name] = (grade.score, grade.max_score)
            found[submission.student.id] = cells
    return found


def run_demo(workdir: Path, assignments=ASSIGNMENTS) -> DemoResult:
    course = Course.copy_of_this_course(workdir)
    students, feedback = [], {}
    for assignment in assignments:
        source = course.root / "source" / assignment / f"{assignment}.ipynb"
        start = _step(f"release {assignment} (nbgrader generate_assignment)")
        course.nbgrader("generate_assignment", assignment, "--force")
        _done(start)

        class_samples = samples(assignment)
        start = _step(f"hand in {len(class_samples)} sample submissions of {assignment}")
        for sample in class_samples:
            path = course.submission_path(sample.name, assignment)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(fill(course.release_notebook(assignment), answers_for(sample, source)), path)
            print(f"    {sample.name}: {sample.about}")
        _done(start)

        start = _step(f"autograde {assignment} (nbgrader autograde)")
        course.nbgrader("autograde", assignment, "--force")
        _done(start)

        start = _step(f"feedback on {assignment} (nbgrader generate_feedback)")
        course.nbgrader("generate_feedback", assignment, "--force")
        _done(start)

        cells = read_gradebook(course, assignment)
        for sample in class_samples:
            scores = cells.get(sample.name, {})
            students.append(StudentResult(
                assignment, sample.name, sample.about,
                score=sum(s for s, _ in scores.values()), max_score=sum(m for _, m in scores.values()),
                failed={cell for cell, (s, m) in scores.items() if s < m}, expected=sample.expect_fail))
            feedback[assignment, sample.name] = (course.root / "feedback" / sample.name / assignment
                                                 / f"{assignment}.html")

    start = _step("export the gradebook (nbgrader export)")
    grades_csv = course.root / "grades.csv"
    course.nbgrader("export", f"--CsvExportPlugin.to={grades_csv}")
    _done(start)
    return DemoResult(course, students, grades_csv, feedback)


def summary(result: DemoResult) -> str:
    width = max(len(s.student) for s in result.students)
    lines = []
    for assignment in dict.fromkeys(s.assignment for s in result.students):
        lines += [f"{assignment}", f"  {'student':<{width}}  autograded  as meant  failed cells"]
        for s in (s for s in result.students if s.assignment == assignment):
            failed = ", ".join(sorted(f.removeprefix("test_") for f in s.failed)) or "-"
            if len(failed) > 70:
                failed = f"{len(s.failed)} cells"
            lines.append(f"  {s.student:<{width}}  {s.score:>4g}/{s.max_score:<4g}   "
                         f"{'yes' if s.as_expected else 'NO':<8} {failed}")
        lines.append("")
    lines.append(f"grades: {result.grades_csv}")
    lines.append(f"feedback: {result.course.root / 'feedback'}/<student>/<assignment>/")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("demo"),
                        help="folder for the demo course (default: ./demo)")
    parser.add_argument("--force", action="store_true", help="delete WORKDIR first if it exists")
    args = parser.parse_args(argv)
    if args.force and args.workdir.exists():
        shutil.rmtree(args.workdir)
    result = run_demo(args.workdir)
    print()
    print(summary(result))
    return 0 if all(s.as_expected for s in result.students) else 1


if __name__ == "__main__":
    sys.exit(main())
