"""The graded assignment: its structure, what students see, and its answers on the engine.

These run in-process and fast; tests/test_demo_class.py grades the same
answers end to end through nbgrader.
"""
import re
from pathlib import Path

import nbformat
import pytest

from autograder import check_dropout
from autograder.runner import checks_of

CHECKS = checks_of("function", "module")  # dropout_from_scratch's
from autograder.overfitting import check_overfitting
from autograder.pipeline import check_pipeline
from instructors.submissions import answers_for, reference_answers, samples

ROOT = Path(__file__).resolve().parents[1]
NAME = "dropout_from_scratch"
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"
SOLUTION_IDS = {"dropout_function", "dropout_module", "pipeline_model"}


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _grade_cells(nb):
    return {_nbgrader(c)["grade_id"]: c for c in nb.cells if _nbgrader(c).get("grade")}


def test_one_grade_cell_per_check_family_with_the_engines_points():
    cells = _grade_cells(nbformat.read(SOURCE, as_version=4))
    for name, check in CHECKS.items():
        for target in check.targets:
            cell = cells[f"test_{target}_{name}"]
            assert _nbgrader(cell)["points"] == check.points
            assert f'assert_check("{name}"' in cell.source
            assert "### BEGIN HIDDEN TESTS" in cell.source


def test_solution_cells_hold_just_the_fixed_names():
    nb = nbformat.read(SOURCE, as_version=4)
    solutions = {_nbgrader(c)["grade_id"]: c.source for c in nb.cells
                 if _nbgrader(c).get("solution") and c.cell_type == "code"}
    assert set(solutions) == SOLUTION_IDS
    assert "def dropout(x, p=0.5, training=True, inplace=False):" in solutions["dropout_function"]
    assert "class Dropout(nn.Module):" in solutions["dropout_module"]
    assert "def __init__(self, p=0.5, inplace=False):" in solutions["dropout_module"]


def test_written_answers_are_graded_by_hand():
    cells = _grade_cells(nbformat.read(SOURCE, as_version=4))
    manual = {g: c for g, c in cells.items() if c.cell_type == "markdown"}
    assert set(manual) == {"answer_eval_off", "answer_scaling", "answer_high_p"}
    assert all(_nbgrader(c)["solution"] and _nbgrader(c)["points"] == 2 for c in manual.values())


@pytest.mark.parametrize("path", [SOURCE, RELEASE], ids=["source", "release"])
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code")


def test_release_shows_no_solution_and_no_hidden_test():
    text = RELEASE.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "assert_check(\\\"",
                   "keep.to(x.dtype) / (1.0 - p)", "check_pipeline", "inverted dropout already scaled"):
        assert marker not in text, marker
    released = {_nbgrader(c)["grade_id"]: c.source for c in nbformat.read(RELEASE, as_version=4).cells}
    assert "raise NotImplementedError()" in released["dropout_function"]
    assert released["answer_scaling"] == "YOUR ANSWER HERE"


def _run_answers(answers: dict):
    """Execute the setup cell and the answer cells, as the notebook would, on the engine's device."""
    nb = nbformat.read(SOURCE, as_version=4)
    setup = next(c.source for c in nb.cells if _nbgrader(c).get("grade_id") == "setup")
    namespace = {}
    exec(compile(setup.replace("print(describe(device))", ""), "setup", "exec"), namespace)
    for grade_id in ("dropout_function", "dropout_module", "pipeline_model"):
        try:  # like a notebook: a cell that fails leaves its names undefined, the rest run on
            exec(compile(answers.get(grade_id, ""), grade_id, "exec"), namespace)
        except Exception:  # noqa: BLE001
            pass
    return namespace


def test_reference_solution_scores_full_marks(device):
    ns = _run_answers(reference_answers(SOURCE))
    report = check_dropout(ns["dropout"], ns["Dropout"], device=device)
    assert report.failed() == []
    check_pipeline(ns["model"], ns["Dropout"])
    check_overfitting(ns["Dropout"])


# Hostile samples (those expecting a fault) patch torch itself: they run only through
# nbgrader, in tests/test_demo_class.py and tests/test_hostile.py, never in this process.
@pytest.mark.parametrize("sample", [s for s in samples(NAME) if s.base == "reference" and not s.expect_fault],
                         ids=lambda s: s.name)
def test_each_sample_fails_exactly_the_checks_it_declares(sample):
    ns = _run_answers(answers_for(sample, SOURCE))
    failed = set()
    for target, name in (("function", "dropout"), ("module", "Dropout")):
        if name in ns:  # a missing name is a NameError in every one of its grade cells
            report = check_dropout(**{name: ns[name]})
            failed |= {f"test_{r.target}_{r.name}" for r in report.failed()}
        else:
            failed |= {f"test_{target}_{c}" for c, check in CHECKS.items() if target in check.targets}
    for grade_id, check in (("test_pipeline", lambda: check_pipeline(ns["model"], ns["Dropout"])),
                            ("test_overfitting", lambda: check_overfitting(ns["Dropout"]))):
        try:
            check()
        except Exception:  # noqa: BLE001 - CheckFailed, or the student's own error: the cell fails
            failed.add(grade_id)
    assert failed == sample.expect_fail


def test_every_sample_declares_grade_ids_that_exist():
    cells = _grade_cells(nbformat.read(SOURCE, as_version=4))
    for sample in samples(NAME):
        assert sample.expect_fail <= set(cells), sample.name
        assert {g.lstrip("+") for g in sample.answers} <= SOLUTION_IDS, sample.name
        assert re.match(r"^[a-z0-9_]+$", sample.name)


def test_the_comparison_plot_costs_the_same_whatever_the_layer_returns():
    """Part 3's bar chart once drew a bar per distinct output value: 100,000 bars (and a
    minute of autograding) for a layer that returns noise. Now it draws three per layer."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torch import nn

    class Noise(nn.Module):
        def __init__(self, p=0.5, inplace=False):
            super().__init__()

        def forward(self, x):
            return x * torch.randn_like(x)

    nb = nbformat.read(SOURCE, as_version=4)
    cell = next(c.source for c in nb.cells if _nbgrader(c).get("grade_id") == "part3_compare")
    for layer in (Noise, nn.Dropout):
        plt.close("all")
        namespace = {"torch": torch, "nn": nn, "plt": plt, "device": "cpu", "Dropout": layer}
        exec(compile(cell.replace("plt.show()", ""), "part3_compare", "exec"), namespace)
        assert len(plt.gcf().axes[0].patches) == 6, layer.__name__
    plt.close("all")
