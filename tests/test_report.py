"""The API students and grade cells use: reports, tables, assertions, quick checks."""
import pytest

from autograder import CheckFailed, assert_check, check_dropout, quick_check
from autograder.runner import checks_of
from corpus import DropoutReference, dropout_rand, no_scaling

CHECKS = checks_of("function", "module")  # dropout_from_scratch's


def test_report_has_one_row_per_check_and_target():
    report = check_dropout(dropout=dropout_rand, Dropout=DropoutReference)
    frame = report.to_frame()
    expected = sum(len(c.targets) for c in CHECKS.values())
    assert len(frame) == expected
    assert {"target", "name", "passed", "points", "max_points", "message"} <= set(frame.columns)
    assert frame["points"].sum() == report.score == report.max_score


def test_a_failed_check_scores_zero_and_explains_itself():
    report = check_dropout(dropout=no_scaling)
    scaling = report.result("function", "scaling")
    assert not scaling.passed and scaling.points == 0
    assert "1/(1-p) = 1.429" in scaling.message
    assert report.score == report.max_score - CHECKS["scaling"].points


def test_assert_check_raises_the_student_facing_message():
    with pytest.raises(CheckFailed, match=r"scaling.*kept values scaled by 1\.000"):
        assert_check("scaling", dropout=no_scaling)


def test_assert_check_passes_quietly_for_a_correct_dropout(capsys):
    assert_check("scaling", dropout=dropout_rand)
    assert "scaling: passed" in capsys.readouterr().out


def test_quick_check_prints_a_table_with_hints(capsys):
    quick_check(dropout=no_scaling)
    out = capsys.readouterr().out
    assert "FAIL  function  scaling" in out and "hint:" in out and "PASS  function  eval_mode" in out


def test_bad_requests_get_clear_errors():
    with pytest.raises(TypeError, match="needs dropout="):
        check_dropout()
    with pytest.raises(ValueError, match="unknown check"):
        check_dropout(dropout=dropout_rand, checks=["scalling"])
