"""Autograding a wrong answer costs about what a right one does.

    .venv/bin/python benchmarks/wrong_answers.py [--references 4]

Hands in every sample of instructors/samples/dropout_from_scratch/ once (right,
wrong, broken, untouched), with copies of the reference between them, and
autogrades the class with one worker, so that the notebooks are graded one
after another on the same machine in one run. A notebook's time is the gap
between its autograded file and the one graded before it (a warm-up
submission, graded first, takes the worker's start-up). Prints each sample's
seconds and its ratio to the median reference. Goal: every sample at most 2x
(once, a layer that returned noise took 80 s where a right one took 8 s: the
notebook's own comparison plot drew one bar per distinct output value).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instructors.course import Course  # noqa: E402
from instructors.grade_class import grade_class  # noqa: E402
from instructors.submissions import answers_for, fill, samples  # noqa: E402

ASSIGNMENT = "dropout_from_scratch"


def hand_in(course: Course, references: int) -> dict[str, str]:
    """Student id -> sample name; ids sort in the order they are graded."""
    source = course.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    release = course.release_notebook(ASSIGNMENT)
    by_name = {s.name: s for s in samples(ASSIGNMENT)}
    order = ["reference"]  # the warm-up: it pays the worker's start-up
    others = [n for n in by_name if n != "reference"]
    step = max(1, len(others) // references)
    for i, name in enumerate(others):
        if i % step == 0:
            order.append("reference")
        order.append(name)
    roster = {}
    for index, name in enumerate(order):
        sample = by_name[name]
        student = f"s{index:03d}-{name}"
        path = course.submission_path(student, ASSIGNMENT)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(fill(release, answers_for(sample, source), sample.tamper), path)
        roster[student] = name
    return roster


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=4, help="reference copies among the samples")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        course = Course.copy_of_this_course(Path(tmp) / "course")
        course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
        roster = hand_in(course, args.references)
        outcome = grade_class(course, ASSIGNMENT, jobs=1, feedback=False, progress=False)
        if outcome.failed:
            print(f"not graded: {outcome.failed}")
        done = sorted((p.stat().st_mtime, p.parts[-3]) for p in
                      (course.root / "autograded").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    seconds = {student: t - done[i - 1][0] for i, (t, student) in enumerate(done) if i}
    reference = statistics.median(s for student, s in seconds.items() if roster[student] == "reference")
    print(f"{len(seconds)} notebooks autograded one after another (the warm-up left out); "
          f"a reference notebook takes {reference:.2f} s (median)")
    worst = 0.0
    for student, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        if roster[student] == "reference":
            continue
        worst = max(worst, s / reference)
        print(f"  {roster[student]:<40} {s:6.2f} s  {s / reference:5.2f}x the reference")
    print(f"slowest sample {worst:.2f}x the reference (goal <= 2x: {'met' if worst <= 2 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
