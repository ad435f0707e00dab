"""The runner survives what student code does: hangs, warnings, unfinished work."""
import time
import warnings

import torch

from autograder import check_dropout, runner
from corpus import dropout_rand


def test_unimplemented_dropout_gets_zero_and_is_told_what_to_do():
    def dropout(x, p=0.5, training=True, inplace=False):
        raise NotImplementedError()

    report = check_dropout(dropout=dropout)
    assert report.score == 0
    assert all("replace `raise NotImplementedError()`" in r.message for r in report.failed())


def test_a_hanging_dropout_costs_one_time_limit_not_one_per_check(monkeypatch):
    monkeypatch.setattr(runner, "CHECK_TIME_LIMIT", 0.5)

    def dropout(x, p=0.5, training=True, inplace=False):
        while True:
            time.sleep(0.01)

    start = time.perf_counter()
    report = check_dropout(dropout=dropout)
    elapsed = time.perf_counter() - start
    assert report.score == 0
    assert "did not finish within" in report.failed()[0].message
    assert any("earlier check" in r.message for r in report.failed())
    assert elapsed < 3


def test_a_loop_of_builtin_calls_is_reported_as_a_loop_not_as_tampering(monkeypatch):
    """The time limit's alarm must not land in the watch's profile hook, which runs at every
    builtin call: Python would drop the hook, and the student would be told their code had
    replaced the grader's profiler. Before the fix, 175 of 200 such runs said so."""
    monkeypatch.setattr(runner, "CHECK_TIME_LIMIT", 0.05)

    def dropout(x, p=0.5, training=True, inplace=False):
        while True:
            len([]), abs(-1), min(1, 2)

    for _ in range(20):
        runner._TIMED_OUT.discard(dropout)
        message = check_dropout(dropout=dropout).failed()[0].message
        assert "did not finish within" in message, message


def test_warnings_from_student_code_are_recorded_not_printed(capsys):
    def dropout(x, p=0.5, training=True, inplace=False):
        warnings.warn("student code warns", UserWarning)
        torch.tensor(x)  # torch's own UserWarning about copy-constructing a tensor
        return dropout_rand(x, p, training, inplace)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping the runner would raise here
        report = check_dropout(dropout=dropout, checks=["scaling"])
    assert report.passed
    assert any("student code warns" in w for w in report.results[0].warnings)
    assert capsys.readouterr().err == ""
