"""The main job end to end, through nbgrader's own commands: release, autograde, feedback, export.

One run grades every sample submission in instructors/samples/ (the reference
solution, common bugs, a solution that makes torch warn, an untouched notebook)
on the grading device, and the tests below read what it left behind.
"""
import csv
import html
import re

import pytest

from autograder import CHECKS
from instructors.demo import run_demo, summary


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "course")


def _points(grade_ids):
    points = {f"test_{t}_{n}": c.points for n, c in CHECKS.items() for t in c.targets}
    points["test_pipeline"] = 2
    return sum(points[g] for g in grade_ids)


def test_each_student_loses_exactly_the_points_of_the_checks_their_bug_breaks(demo):
    for student in demo.students:
        assert student.failed == student.expected, student.student
        assert student.score == student.max_score - _points(student.expected), student.student


def test_the_reference_and_the_warning_solution_get_full_marks(demo):
    by_name = {s.student: s for s in demo.students}
    for name in ("reference", "correct_but_triggers_a_torch_warning"):
        assert by_name[name].score == by_name[name].max_score == 30


def test_untouched_notebook_scores_zero_and_feedback_says_what_to_do(demo):
    untouched = next(s for s in demo.students if s.student == "untouched")
    assert untouched.score == 0
    text = _text(demo.feedback["untouched"])
    assert "not implemented yet" in text and "replace `raise NotImplementedError()`" in text


def test_feedback_shows_the_student_facing_message_of_each_failed_check(demo):
    text = _text(demo.feedback["no_scaling"])
    assert "kept values scaled by 1.000; torch scales them by 1/(1-p) = 1.429 for p=0.3" in text
    assert "hint: Inverted dropout scales the survivors" in text
    assert "your code ran torch's own dropout" in _text(demo.feedback["calls_torch_dropout"])


def test_export_has_every_student_with_their_score(demo):
    with open(demo.grades_csv) as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == {s.student for s in demo.students}
    for student in demo.students:
        assert float(rows[student.student]["score"]) == student.score


def test_summary_marks_every_sample_as_meant(demo):
    text = summary(demo)
    assert "NO" not in text.split()
    assert all(s.student in text for s in demo.students)


def _text(path):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", path.read_text())))
