"""dropout_family, its checks and its corpus: right answers in every style get full marks, each
realistic bug loses exactly the points of the checks it declares, with a message that names it."""
import re
from pathlib import Path

import nbformat
import pytest
import torch

from autograder import CHECKS, check_answers
from autograder.cells import grader_calls, is_test, target_of
from autograder.remote import Request, verify_notebook
from autograder.runner import DELEGATION
from autograder.fixed_models import LocalModel, check_fixed_model, judge
from autograder.subject import CheckFailed, TARGETS
from family_corpus import BUGS, CORRECT
from instructors.course import course_config
from instructors.submissions import reference_answers

FAMILY = {name: check for name, check in CHECKS.items() if set(check.targets) <= {"dropout2d", "Dropout2d", "AlphaDropout"}}
#: The watch's verdict falls on every check that saw the route; from_scratch runs every mode so none is missed.
SHARED_VERDICT = {"channel_from_scratch"}


def _as(target, impl):
    """A Part 4 class under the name the notebook gives it: what check_fixed_model reads."""
    return type(target, (impl,), {}) if isinstance(impl, type) else impl


def test_every_answer_name_is_a_target_and_every_target_has_checks():
    assert all(target_of(t.label) == name for name, t in TARGETS.items())
    assert {t for c in FAMILY.values() for t in c.targets} == {"dropout2d", "Dropout2d", "AlphaDropout"}


@pytest.mark.parametrize("target,impl", [(t, i) for t in ("dropout2d", "Dropout2d", "AlphaDropout") for i in CORRECT[t]],
                         ids=lambda v: getattr(v, "__name__", v))
def test_correct_answers_in_every_style_get_full_marks(target, impl, device):
    report = check_answers({target: impl}, device=device)
    assert report.results and report.score == report.max_score, [(r.name, r.message) for r in report.failed()]


@pytest.mark.parametrize("name", [n for n in FAMILY if n not in SHARED_VERDICT])
def test_every_check_has_a_bug_only_it_catches(name):
    assert any(bug.fails == {name} for bug in BUGS), f"no bug fails {name} alone: is it needed?"


@pytest.mark.parametrize("bug", [b for b in BUGS if b.target in ("dropout2d", "Dropout2d", "AlphaDropout")],
                         ids=lambda b: b.name)
def test_bug_fails_exactly_its_checks_with_an_actionable_message(bug, device):
    report = check_answers({bug.target: bug.impl}, device=device)
    failed = {r.name: r for r in report.failed()}
    assert set(failed) == bug.fails, {n: r.message for n, r in failed.items()}
    assert bug.message in " | ".join(r.message for r in failed.values())
    assert all(r.hint and r.points == 0 for r in failed.values())


@pytest.mark.parametrize("target", ["AttentionBlock", "SmallCNN"])
def test_a_model_fixed_as_intended_passes_part_4(target, capsys):
    check_fixed_model(_as(target, CORRECT[target][0]))
    assert "fixed" in capsys.readouterr().out


@pytest.mark.parametrize("bug", [b for b in BUGS if b.fails == {"fixed_model"}], ids=lambda b: b.name)
def test_a_model_with_a_trap_left_fails_part_4_saying_which(bug):
    with pytest.raises(CheckFailed, match=bug.message):
        check_fixed_model(_as(bug.target, bug.impl))


def test_part_4_leaves_the_students_random_state_as_it_was():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    judge("SmallCNN", LocalModel(CORRECT["SmallCNN"][0]))
    assert not torch.equal(torch.rand(3), expected)  # the passes drew from it: that is the student's kernel
    torch.manual_seed(5)
    LocalModel(CORRECT["SmallCNN"][0]).make(p=0.3)
    assert torch.equal(torch.rand(3), expected)      # building the model with its fixed seed did not


# --- through the sandbox, as autograding runs it ---------------------------------------------

SOURCE = Path(__file__).resolve().parents[1] / "source" / "dropout_family" / "dropout_family.ipynb"
#: The cells autograding's sandbox skips, as the course's nbgrader_config.py names them.
SHOWN_ONLY = set(course_config(SOURCE.parents[2]).VerifyChecks.skip_cells)


def _notebook(**replaced):
    """The source notebook's code cells as the sandbox runs them, some replaced by grade id; its requests."""
    nb = nbformat.read(SOURCE, as_version=4)
    cells = [replaced.get(c.metadata.nbgrader["grade_id"], c.source) for c in nb.cells
             if c.cell_type == "code" and not is_test(c) and c.metadata.nbgrader["grade_id"] not in SHOWN_ONLY]
    requests = [Request(*call) for c in nb.cells if is_test(c) for call in grader_calls(c.source)]
    return cells, requests


def test_the_reference_notebook_passes_every_check_in_the_sandbox():
    cells, requests = _notebook()
    verification = verify_notebook(cells, requests)
    assert {r.check for r in requests} >= {*FAMILY, "fixed_model"}
    assert all(r.passed for r in verification.results.values()), \
        {k.check: r.message for k, r in verification.results.items() if not r.passed}
    assert verification.crashes == [] and verification.load_failures == []


def test_torchs_dropout_stays_off_for_the_written_parts_while_part_4_calls_it():
    """Part 4's sandbox lets torch's dropout run; the from-scratch parts still see every call refused."""
    cells, requests = _notebook(
        dropout2d_function="def dropout2d(x, p=0.5, training=True, inplace=False):\n"
                           "    return F.dropout2d(x, p, training, inplace)",
        fixed_models="class AttentionBlock(HandedOutAttentionBlock):\n    pass\n\n"
                     "class SmallCNN(HandedOutSmallCNN):\n    def forward(self, x):\n"
                     "        h = F.dropout2d(F.max_pool2d(F.relu(self.conv1(x)), 2), self.p, training=self.training)\n"
                     "        h = F.dropout2d(F.max_pool2d(F.relu(self.conv2(h)), 2), self.p, training=self.training)\n"
                     "        return self.head(F.dropout(h.flatten(1), self.p, training=self.training))")
    results = {(k.check, k.name): r for k, r in verify_notebook(cells, requests).results.items()}
    delegated = [r for (check, _), r in results.items() if check.startswith("channel_")]
    assert delegated and all(not r.passed and DELEGATION in r.message for r in delegated)
    assert results[("fixed_model", "SmallCNN")].passed
    attention = results[("fixed_model", "AttentionBlock")]
    assert not attention.passed and "still drops in eval mode" in attention.message
    assert all(r.passed for (check, _), r in results.items() if check.startswith("alpha_"))


def test_part_4_code_run_while_the_notebook_loads_costs_parts_1_to_3_nothing():
    """Part 4 is graded on calling torch's dropout: a cell that runs a model at load calls it."""
    fixed = reference_answers(SOURCE)["fixed_models"]
    cells, requests = _notebook(fixed_models=fixed + "\n\nSmallCNN(p=0.3).train()(torch.randn(2, 1, 8, 8))\n")
    verification = verify_notebook(cells, requests)
    assert all(r.passed for r in verification.results.values()), \
        {k.check: r.message for k, r in verification.results.items() if not r.passed}


def test_one_grade_cell_per_check_with_the_engines_points_and_a_part_table_that_adds_up():
    nb = nbformat.read(SOURCE, as_version=4)
    graded = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if c.metadata.nbgrader.get("grade")}
    for name, check in FAMILY.items():
        cell = graded[f"test_{name}"]
        assert cell.metadata.nbgrader["points"] == check.points
        assert f'assert_check("{name}", {TARGETS[check.targets[0]].label}=' in cell.source
        assert "### BEGIN HIDDEN TESTS" in cell.source
    assert all("points" in c.metadata.nbgrader for c in graded.values())
    table = dict(re.findall(r"^\| (\d) \| .* \| (\d+) \|$", nb.cells[0].source, re.M))
    parts = {str(i): 0 for i in range(1, 6)}
    for cell in graded.values():
        part = "5" if cell.cell_type == "markdown" else \
            {"channel_m": "2", "channel": "1", "alpha": "3", "fixed": "4"}[next(
                k for k in ("channel_m", "channel", "alpha", "fixed") if cell.metadata.nbgrader["grade_id"][5:].startswith(k))]
        parts[part] += cell.metadata.nbgrader["points"]
    assert {k: int(v) for k, v in table.items()} == parts
