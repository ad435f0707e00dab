"""Each realistic bug is caught by the checks it declares, and by no other.

The corpus is the method's evidence: every check has a bug that only it
catches (so no check is redundant), and correct implementations in many
styles get full marks (tests/test_checks.py), so no check is too strict.
"""
import pytest

from autograder import check_dropout
from autograder.runner import checks_of

CHECKS = checks_of("function", "module")  # dropout_from_scratch's
from corpus import BUGS, CORRECT_FUNCTIONS, CORRECT_MODULES

#: The watch's verdict falls on every check that saw the route, so a delegating bug
#: fails them all; from_scratch is the check that runs every mode so that none is missed.
SHARED_VERDICT = {"from_scratch"}


def test_the_corpus_is_large_enough():
    assert len(BUGS) >= 60
    assert len(CORRECT_FUNCTIONS) + len(CORRECT_MODULES) >= 12
    assert len({b.name for b in BUGS}) == len(BUGS)


@pytest.mark.parametrize("name", [n for n in CHECKS if n not in SHARED_VERDICT])
def test_every_check_has_a_bug_only_it_catches(name):
    assert any(bug.fails == {name} for bug in BUGS), f"no bug fails {name} alone: is it needed?"


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_bug_fails_exactly_its_checks_with_an_actionable_message(bug, device):
    if bug.kind == "function":
        report = check_dropout(dropout=bug.impl, device=device)
    else:
        report = check_dropout(Dropout=bug.impl, device=device)
    failed = {r.name: r for r in report.failed()}
    assert set(failed) == bug.fails, {n: r.message for n, r in failed.items()}
    messages = " | ".join(r.message for r in failed.values())
    assert bug.message in messages
    for result in failed.values():
        assert result.hint and result.points == 0
