"""The grading steps in autograder/nbgrader_plugins.py, each on a small notebook, without nbgrader's apps."""
from __future__ import annotations

import nbformat
from nbgrader.utils import determine_grade

from autograder.cells import grader_calls
from autograder.nbgrader_plugins import GuardedExecute, LimitedKernelManager, _released


def _notebook():
    setup = nbformat.v4.new_code_cell("x = 41")
    test = nbformat.v4.new_code_cell("assert x + 1 == 42")
    test.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "points": 1.0,
                              "grade_id": "test_x", "schema_version": 3}
    return nbformat.v4.new_notebook(cells=[setup, test], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})


class FlakyKernels(LimitedKernelManager):
    """Fails to start ``failures`` times in a row (like a port taken by another grader)."""

    failures = 0

    async def start_kernel(self, **kwargs):
        if FlakyKernels.failures > 0:
            FlakyKernels.failures -= 1
            raise RuntimeError("Kernel died before replying to kernel_info")
        return await super().start_kernel(**kwargs)


def _run(failures: int):
    FlakyKernels.failures = failures
    nb, resources = _notebook(), {"nbgrader": {"student": "s", "assignment": "a"}}
    GuardedExecute(kernel_manager_class=FlakyKernels, timeout=30).preprocess(nb, resources)
    return nb, resources


def test_a_kernel_that_fails_to_start_is_started_again():
    nb, resources = _run(failures=2)
    assert determine_grade(nb.cells[1]) == (1.0, 1.0)
    assert resources["autograder"]["faults"] == []


def test_a_kernel_that_never_starts_leaves_every_cell_not_run_and_worth_nothing():
    nb, resources = _run(failures=GuardedExecute.start_attempts)
    assert determine_grade(nb.cells[1]) == (0, 1.0)  # an empty output would have passed
    assert nb.cells[1].outputs[0].ename == "NotRun"
    assert resources["autograder"]["stopped_at"] == 0
    assert "the kernel could not be started" in resources["autograder"]["faults"][0]


def test_grader_calls_are_read_from_the_test_cells_code():
    source = ('# a comment that says assert_check("scaling", dropout=dropout)\n'
              'assert_check("scaling", dropout=my_dropout)\n'
              'autograder.assert_check("eval_mode", Dropout=Mine)\n'
              'check_pipeline(model, Mine)\n')
    assert grader_calls(source) == [("scaling", "function", "my_dropout", ""),
                                    ("eval_mode", "module", "Mine", ""),
                                    ("pipeline", "pipeline", "model", "Mine")]
    assert grader_calls("this is not python (") == []


def test_a_read_only_cell_compares_as_students_received_it():
    source = "# comment\n### BEGIN HIDDEN TESTS\nassert_check('x', dropout=dropout)\n### END HIDDEN TESTS\n"
    assert _released(source) == _released("# comment\n")
    assert _released(source) != _released("pass\n")
