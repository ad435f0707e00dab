"""Correct implementations get full marks; the checks agree with torch itself."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder import check_dropout
from autograder.runner import checks_of

CHECKS = checks_of("function", "module")  # dropout_from_scratch's
from autograder.registry import Context
from autograder.device import supported_dtypes
from autograder.subject import FunctionSubject, ModuleSubject, reference
from corpus import CORRECT_FUNCTIONS, CORRECT_MODULES


def _failures(report):
    return {f"{r.target}.{r.name}": r.message for r in report.failed()}


@pytest.mark.parametrize("impl", CORRECT_FUNCTIONS, ids=lambda f: f.__name__)
def test_correct_functions_get_full_marks(impl, device):
    report = check_dropout(dropout=impl, device=device)
    assert _failures(report) == {}
    assert report.score == report.max_score


@pytest.mark.parametrize("impl", CORRECT_MODULES, ids=lambda c: c.__name__)
def test_correct_modules_get_full_marks(impl, device):
    report = check_dropout(Dropout=impl, device=device)
    assert _failures(report) == {}


@pytest.mark.parametrize("name", [n for n in CHECKS if n != "from_scratch"])
@pytest.mark.parametrize("kind, impl", [("function", F.dropout), ("module", nn.Dropout)])
def test_torch_itself_passes_every_behaviour_check(name, kind, impl, device):
    """Run unwatched, torch's own dropout is the answer key: a check it fails is wrong."""
    check = CHECKS[name]
    if kind not in check.targets:
        pytest.skip(f"{name} does not apply to a {kind}")
    subject = (FunctionSubject if kind == "function" else ModuleSubject)(impl, watched=False)
    ctx = Context(device, supported_dtypes(str(device)), seed=1)
    check.run(subject, reference(kind), ctx)


def test_a_rerun_gives_the_same_verdicts_and_messages():
    from corpus import one_mask_for_the_batch
    first = check_dropout(dropout=one_mask_for_the_batch).rows()
    second = check_dropout(dropout=one_mask_for_the_batch).rows()
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in first]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in second]


def test_grading_leaves_the_students_random_state_alone():
    from corpus import dropout_rand
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_dropout(dropout=dropout_rand, checks=["drop_rate"])
    assert torch.equal(torch.rand(3), expected)


def test_every_check_has_points_a_summary_and_a_hint():
    for check in CHECKS.values():
        assert check.points > 0 and check.summary and check.hint, check.name
        assert set(check.targets) <= {"function", "module"}


def test_a_layout_that_differs_from_torchs_is_a_note_that_costs_nothing():
    """torch keeps channels_last and permuted strides; a contiguous answer is still correct."""
    from corpus import DropoutWhereModule, dropout_masked_fill, dropout_rand
    for report in (check_dropout(dropout=dropout_masked_fill), check_dropout(Dropout=DropoutWhereModule)):
        notes = [n for r in report.results for n in r.notes]
        assert report.score == report.max_score and notes, report.table()
        assert "costs no points" in notes[0] and "strides" in notes[0]
        assert "note: " in report.table()
    assert not [n for r in check_dropout(dropout=dropout_rand).results for n in r.notes]


def test_the_module_forward_check_names_every_part_that_fails_and_hints_at_the_first():
    from corpus import MaskCachedOnTheModule
    result = check_dropout(Dropout=MaskCachedOnTheModule, checks=["forward"]).results[0]
    assert result.message.startswith("2 of 11 forward checks differ")
    assert "\nindependence: " in result.message and "\nedge_cases: " in result.message
    assert result.hint == CHECKS["independence"].hint
