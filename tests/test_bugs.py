"""Each realistic bug is caught by the check named for it, and by no other."""
import pytest

from autograder import check_dropout
from corpus import BUGS


def test_the_corpus_is_large_enough():
    assert len(BUGS) >= 20


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
