"""Grades already recorded survive: a grading run killed half-way, and bad input from the instructor."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from instructors.analytics import class_scores
from instructors.course import Course, NbgraderError, db_url
from instructors.demo import hand_in
from instructors.grade_class import export, fully_graded, grade_class, main
from instructors.submissions import SAMPLES, Sample, answers_for, fill, load_sample

NAME = "dropout_from_scratch"


def _course(tmp_path: Path, students: int) -> tuple[Course, list[str]]:
    course = Course.copy_of_this_course(tmp_path / "course")
    course.nbgrader("generate_assignment", NAME, "--force")
    roster = hand_in(course, NAME, [Sample("reference", "the reference answers", {}, copies=students)])
    return course, sorted(roster)


def _kernels_of(course: Course) -> list[int]:
    """Processes still running a kernel whose connection file lies in this course."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(course.private) in (proc / "cmdline").read_text():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_run_killed_half_way_loses_nothing_and_a_rerun_finishes_the_class(tmp_path):
    course, students = _course(tmp_path, 8)
    run = subprocess.Popen([sys.executable, "-m", "instructors.grade_class", NAME, "--course", str(course.root),
                            "--jobs", "2", "--no-feedback"], env=course.env(), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(fully_graded(course, NAME)) < 2 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.5)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    before = fully_graded(course, NAME)
    assert 2 <= len(before) < len(students), "the run should be killed half-way"
    time.sleep(2)  # kernels die with their worker (PR_SET_PDEATHSIG), not at the next reboot
    assert _kernels_of(course) == []

    rerun = grade_class(course, NAME, jobs=2, feedback=False, progress=False)
    assert rerun.failed == {}
    assert set(rerun.skipped) == before and set(rerun.graded) == set(students) - before
    scores, _ = class_scores(course, NAME)
    assert scores.sum(axis=1).to_dict() == {s: 27.0 for s in students}


def test_bad_input_gets_a_clear_error_and_keeps_every_recorded_grade(tmp_path):
    course, students = _course(tmp_path, 2)
    assert grade_class(course, NAME, jobs=2, feedback=False, progress=False).failed == {}

    with pytest.raises(NbgraderError, match="the course has: checkpoint_quiz, dropout_family, dropout_from_scratch"):
        grade_class(course, "dropout_from_scratc", progress=False)
    with pytest.raises(NbgraderError, match="no submission of 'dropout_from_scratch' from mallory"):
        grade_class(course, NAME, progress=False, only=["mallory"])
    assert main([NAME + "x", "--course", str(course.root)]) == 2

    submitted = course.root / "submitted"
    # an earlier graded student whose notebook is now misnamed, a garbled file, another course's notebook
    gone = course.submission_path(students[0], NAME)
    gone.rename(gone.with_name("Untitled.ipynb"))
    garbled = course.submission_path("garbled", NAME)
    garbled.parent.mkdir(parents=True)
    garbled.write_text('{"cells": [')
    course.nbgrader("generate_assignment", "checkpoint_quiz", "--force")
    other = course.submission_path("other_course", NAME)
    other.parent.mkdir(parents=True)
    nbformat.write(nbformat.read(course.release_notebook("checkpoint_quiz"), as_version=4), other)

    outcome = grade_class(course, NAME, jobs=2, force=True, feedback=False, progress=False)
    assert set(outcome.failed) == {students[0], "garbled", "other_course"}
    assert "found: Untitled.ipynb" in outcome.failed[students[0]]
    assert "is not a notebook nbformat can read" in outcome.failed["garbled"]
    assert "a notebook from another assignment or course?" in outcome.failed["other_course"]
    assert outcome.graded == [students[1]]
    scores, _ = class_scores(course, NAME)
    assert scores.sum(axis=1).to_dict() == {s: 27.0 for s in students}  # the earlier grade is kept
    assert (submitted / students[0] / NAME / "Untitled.ipynb").exists()  # nothing handed in is touched

    # Every student on the roster is in the export with a status: the failed ones with why,
    # the earlier grade kept and flagged, a student who never handed in apart from a 0.
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course.root)) as gradebook:
        gradebook.update_or_create_student("absent", first_name="Ada", last_name="Absent, Jr.")
    grades = export(course, course.root / "grades.csv")
    rows = _rows(grades, NAME)
    assert set(rows) == {*students, "garbled", "other_course", "absent"}
    kept = rows[students[0]]
    assert kept["status"] == "failed to grade" and kept["score"] == "27"
    assert "found: Untitled.ipynb" in kept["detail"] and "earlier submission's grade (27 of 33) is kept" in kept["detail"]
    assert rows["garbled"]["status"] == "failed to grade" and rows["garbled"]["score"] == ""
    assert "not a notebook nbformat can read" in rows["garbled"]["detail"]
    assert rows["absent"]["status"] == "not submitted" and rows["absent"]["score"] == ""
    assert rows[students[1]]["status"] == "manual grading pending"
    assert rows[students[1]]["pending_manual_points"] == "6" and "6 points to grade by hand" in rows[students[1]]["detail"]
    assert rows[students[1]]["timestamp"].endswith("Z")

    # Canvas's import, read back: the identity columns, a Points Possible row, one row per student.
    with open(grades.with_name("canvas.csv"), newline="") as f:
        canvas = list(csv.reader(f))
    header, possible, people = canvas[0], canvas[1], canvas[2:]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and NAME in header
    assert possible[0] == "Points Possible" and float(possible[header.index(NAME)]) == 33
    by_login = {row[3]: dict(zip(header, row)) for row in people}
    assert set(by_login) == set(rows)
    assert by_login["absent"]["Student"] == "Absent, Jr., Ada" and by_login["absent"][NAME] == ""
    assert by_login[students[1]][NAME] == "27"

    # A notebook under the right name again (now without scaling) grades, clears the failure, and the
    # regrade reports what changed, having saved the grades it replaced before replacing them.
    source = course.root / "source" / NAME / f"{NAME}.ipynb"
    nbformat.write(fill(course.release_notebook(NAME), answers_for(load_sample(SAMPLES / NAME / "no_scaling.py"),
                                                                   source)), gone)
    again = grade_class(course, NAME, jobs=1, force=True, feedback=False, progress=False, only=[students[0]])
    assert again.graded == [students[0]]
    assert _rows(export(course, course.root / "grades.csv"), NAME)[students[0]]["status"] == "manual grading pending"
    assert again.changes == [f"  {students[0]}: 27 -> 22 (function_scaling 2 -> 0; module_forward 1 -> 0; "
                             f"overfitting 2 -> 0)"]
    with open(again.changes_file, newline="") as f:
        assert list(csv.reader(f))[1][:3] == [students[0], "27", "22"]
    saved = json.loads(again.changes_file.with_name(f"{again.changes_file.stem}-before.json").read_text())
    assert sum(saved[students[0]].values()) == 27


def _rows(grades: Path, assignment: str) -> dict[str, dict]:
    with open(grades, newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == assignment}
