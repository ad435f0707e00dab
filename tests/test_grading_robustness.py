"""Grades already recorded survive: a grading run killed half-way, and bad input from the instructor."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from instructors.analytics import class_scores
from instructors.course import Course, NbgraderError
from instructors.demo import hand_in
from instructors.grade_class import fully_graded, grade_class, main
from instructors.submissions import Sample

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
