"""The main job end to end, through nbgrader's own commands: release, autograde, feedback, export.

One run grades every sample submission in instructors/samples/ (the reference
solutions, common bugs, a solution that makes torch warn, untouched notebooks,
quiz answers right and wrong) on the grading device, and the tests below read
what it left behind.
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
    points.update({f"test_q{i}": 1 for i in range(1, 11)})
    return sum(points[g] for g in grade_ids)


def test_each_student_loses_exactly_the_points_of_the_checks_their_bug_breaks(demo):
    assert {s.assignment for s in demo.students} == {"dropout_from_scratch", "checkpoint_quiz"}
    for student in demo.students:
        assert student.failed == student.expected, (student.assignment, student.student)
        assert student.score == student.max_score - _points(student.expected), student.student


def test_the_reference_and_the_warning_solution_get_full_marks(demo):
    for name in ("reference", "correct_but_triggers_a_torch_warning"):
        result = demo.student("dropout_from_scratch", name)
        assert result.score == result.max_score == 30
    assert demo.student("checkpoint_quiz", "reference").score == 10


def test_untouched_notebooks_score_zero_and_feedback_says_what_to_do(demo):
    assert demo.student("dropout_from_scratch", "untouched").score == 0
    text = _text(demo.feedback["dropout_from_scratch", "untouched"])
    assert "not implemented yet" in text and "replace `raise NotImplementedError()`" in text
    assert demo.student("checkpoint_quiz", "untouched").score == 0
    assert "q1 has no answer yet" in _text(demo.feedback["checkpoint_quiz", "untouched"])


def test_feedback_shows_the_student_facing_message_of_each_failed_check(demo):
    text = _text(demo.feedback["dropout_from_scratch", "no_scaling"])
    assert "kept values scaled by 1.000; torch scales them by 1/(1-p) = 1.429 for p=0.3" in text
    assert "hint: Inverted dropout scales the survivors" in text
    calls_torch = _text(demo.feedback["dropout_from_scratch", "calls_torch_dropout"])
    assert "your code ran torch's own dropout" in calls_torch


def test_quiz_feedback_explains_the_right_answer_and_credits_each_question(demo):
    result = demo.student("checkpoint_quiz", "mixed_up_modes")
    assert result.score == 6
    text = _text(demo.feedback["checkpoint_quiz", "mixed_up_modes"])
    assert "q9: 0.85 is not right; the answer is 0.894737. Precision = TP / (TP + FP)" in text
    assert "q3: B is not right; the answer is A." in text


def test_export_has_every_submission_with_its_score(demo):
    with open(demo.grades_csv) as f:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}
    for student in demo.students:
        assert float(rows[student.assignment, student.student]["score"]) == student.score


def test_summary_marks_every_sample_as_meant(demo):
    text = summary(demo)
    assert "NO" not in text.split()
    assert all(s.student in text for s in demo.students)


def _text(path):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", path.read_text())))
