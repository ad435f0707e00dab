"""The top of a feedback file: what it lists, in which order, in which words (autograder/feedback).

Each notebook here is built by hand the way grading leaves one: grade cells with the
scores nbgrader's GetGrades put in, the verdicts VerifyChecks stores, the errors a
kernel raised, the faults in the notebook's metadata. The browser tests
(tests/test_browser.py) open real feedback files; these pin the rules.
"""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.feedback.exporter import FeedbackExporter, mathml, without_scripts
from autograder.feedback.preprocessors import HideHiddenTests
from autograder.feedback.summary import in_words, summarize
from autograder.runner import run_check
from autograder.registry import CHECKS


def _test(grade_id, points, score, source=None, checks=None, error=None):
    """A graded test cell as autograding leaves it (``checks``: VerifyChecks' verdicts)."""
    cell = new_code_cell(source or f"# what {grade_id} tests ({points:g} points)\n"
                                   f"### BEGIN HIDDEN TESTS\nsecret_{grade_id}()\n### END HIDDEN TESTS")
    cell.metadata.nbgrader = {"grade": True, "solution": False, "grade_id": grade_id, "points": points,
                              "score": score, "locked": True}
    if checks is not None:
        cell.metadata.autograder = {"checks": checks}
    if error:
        ename, evalue = error
        cell.outputs = [new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])]
    return cell


def _verdict(check, message, hint="try this"):
    return {"check": check, "passed": False, "message": message, "hint": hint}


def _solution(grade_id, error=None):
    cell = new_code_cell("def dropout(x): ...")
    cell.metadata.nbgrader = {"grade": False, "solution": True, "grade_id": grade_id, "locked": False}
    if error:
        cell.outputs = [new_output("error", ename=error[0], evalue=error[1], traceback=[])]
    return cell


def _assignment(*cells, faults=()):
    nb = new_notebook(cells=[new_markdown_cell("# Dropout from scratch"), *cells])
    nb.metadata.autograder = {"faults": list(faults)}
    return nb


def _calls(check, target="dropout"):
    return f'# {check}\n### BEGIN HIDDEN TESTS\nassert_check("{check}", {target}={target})\n### END HIDDEN TESTS'


def test_a_crash_comes_first_then_code_not_written_then_failures_then_cells_not_run():
    nb = _assignment(
        new_markdown_cell("## Part 1: the function (4 points)"),
        _solution("dropout_function", ("SyntaxError", "expected ':' (2339249709.py, line 1)")),
        _test("test_function_scaling", 2, 0, _calls("scaling"),
              [_verdict("function_scaling", "kept values scaled by 1.000; torch scales them by 1.429")]),
        _test("test_function_eval_mode", 1, 0, _calls("eval_mode"),
              [_verdict("function_eval_mode", "not implemented yet: dropout(x) raised NotImplementedError")]),
        _test("test_function_autograd", 1, 0, error=("NotRun", "not run: the kernel died in cell 2")),
    )
    summary = summarize(nb, 0, 4)
    assert [(e.check, e.kind) for e in summary.to_fix] == [
        ("dropout_function", "crashed"), ("function_eval_mode", "not written"),
        ("function_scaling", "failed"), ("function_autograd", "not run")]
    crash = summary.to_fix[0]
    assert crash.message == "this cell raised SyntaxError: expected ':' (line 1)"  # no temp file name
    assert crash.points is None and "Fix this cell first" in crash.hint


def test_what_others_stand_on_comes_first_and_the_rest_says_it_waits_on_it():
    Dropout = "Dropout"
    nb = _assignment(
        new_markdown_cell("## Part 2: the module (3 points)"),
        _test("test_module_train_eval_toggle", 1, 0, _calls("train_eval_toggle", Dropout),
              [_verdict("module_train_eval_toggle", "model.eval() did not switch it off")]),
        _test("test_module_forward", 1, 0, _calls("forward", Dropout),
              [_verdict("module_forward", "1 of 10 forward checks differ")]),
        new_markdown_cell("## Part 1: the function (1 point)"),
        _test("test_function_scaling", 1, 0, _calls("scaling"), [_verdict("function_scaling", "unscaled")]),
    )
    summary = summarize(nb, 0, 3)
    assert [e.check for e in summary.to_fix] == ["function_scaling", "module_forward",
                                                 "module_train_eval_toggle"]
    waits = {e.check: e.waits_on for e in summary.to_fix}
    assert waits == {"function_scaling": (), "module_forward": ("function_scaling",),
                     "module_train_eval_toggle": ("module_forward",)}


def test_parts_add_up_their_cells_and_hand_graded_cells_wait_for_the_instructor():
    answer = new_markdown_cell("my answer")
    answer.metadata.nbgrader = {"grade": True, "solution": True, "grade_id": "answer_eval_off",
                                "points": 2, "score": 0}
    nb = _assignment(
        new_markdown_cell("## Part 1: the function (3 points)\n\nWrite dropout."),
        new_markdown_cell("### Graded checks for Part 1"),   # a level-3 heading starts no part
        _test("test_function_scaling", 2, 2, _calls("scaling")),
        _test("test_function_drop_rate", 1, 0, _calls("drop_rate"), [_verdict("function_drop_rate", "30%")]),
        new_markdown_cell("## Part 4: in your own words (2 points, graded by hand)"),
        answer,
    )
    summary = summarize(nb, 2, 5, needs_hand={"answer_eval_off"})
    parts = {p.title: p for p in summary.parts}
    assert list(parts) == ["Part 1: the function", "Part 4: in your own words"]
    assert (parts["Part 1: the function"].score, parts["Part 1: the function"].points) == (2, 3)
    assert parts["Part 1: the function"].to_fix == 1
    assert parts["Part 4: in your own words"].waiting and parts["Part 4: in your own words"].by_hand
    assert [e.check for e in summary.to_fix] == ["function_drop_rate"]   # waiting is not losing
    index = {line.check: line for line in summary.index}
    assert index["function_scaling"].passed and index["function_scaling"].about == "scaling"
    assert index["answer_eval_off"].score is None


def test_the_index_names_each_cell_by_the_check_it_runs_not_by_its_grade_id():
    quiz = new_notebook(cells=[new_markdown_cell("# Quiz"),
                               _test("question_three", 1, 0, 'check_choice("q3", q3, correct="A", why="")',
                                     error=("AssertionError", "q3: B is not right; the answer is A."))])
    quiz.metadata.autograder = {"faults": []}
    summary = summarize(quiz, 0, 1)
    assert [line.check for line in summary.index] == ["q3"]
    assert summary.to_fix[0].message == "B is not right; the answer is A."   # the name is not repeated
    module = _assignment(_test("cell_7", 2, 2, 'assert_check("module_state", Dropout=Dropout)'),
                         _test("cell_8", 1, 1, "check_pipeline(model, Dropout)"))
    assert [line.check for line in summarize(module, 3, 3).index] == ["module_state", "pipeline"]


def test_a_kernel_error_in_a_cell_the_grader_did_not_verify_splits_off_its_hint():
    nb = _assignment(_test("test_x", 1, 0, "run_it()", error=(
        "CheckFailed", "function check 'scaling' failed: kept 1.000\nhint: scale by 1/(1-p)")))
    entry = summarize(nb, 0, 1).to_fix[0]
    assert (entry.message, entry.hint) == ("kept 1.000", "scale by 1/(1-p)")
    other = _assignment(_test("test_y", 1, 0, "run_it()", error=("ZeroDivisionError", "division by zero")))
    assert summarize(other, 0, 1).to_fix[0].message == "ZeroDivisionError: division by zero"


def test_the_real_grader_messages_for_missing_code_read_as_not_written():
    def dropout(x, p=0.5, training=True, inplace=False):
        raise NotImplementedError()

    result = run_check(CHECKS["scaling"], "function", dropout)
    nb = _assignment(_test("test_function_scaling", 2, 0, _calls("scaling"),
                           [_verdict("function_scaling", result.message, result.hint)]),
                     _test("test_function_drop_rate", 2, 0, _calls("drop_rate"),
                           [_verdict("function_drop_rate", "your notebook defines no 'dropout'")]))
    assert [e.kind for e in summarize(nb, 0, 4).to_fix] == ["not written", "not defined"]


def test_a_perfect_notebook_has_nothing_to_fix_and_no_faults():
    nb = _assignment(new_markdown_cell("## Part 1: the function (2 points)"),
                     _test("test_function_scaling", 2, 2, _calls("scaling")))
    summary = summarize(nb, 2, 2)
    assert summary.all_passed and summary.to_fix == [] and summary.parts[0].to_fix == 0


@pytest.mark.parametrize("fault, words", [
    ("the kernel died in cell 1", "Your notebook stopped in the cell of function_scaling: Python died there"),
    ("the kernel died in cell 0", "Your notebook stopped in cell 1 (counting from the top): Python died"),
    ("cell 1 ran out of time (60 s); the rest of the notebook was not run",
     "The cell of function_scaling took longer than 60 s, so grading stopped it"),
    ("tampering: test_function_scaling passed in the notebook's kernel but failed when verified outside it",
     "function_scaling passed inside your notebook but failed when the grader ran the same check outside it"),
    ("tampering: 2 nbgrader cells were deleted (test_function_scaling, setup); they were added back",
     "2 graded cells were deleted (function_scaling, setup); they were put back and graded."),
    ("the kernel could not be started (RuntimeError: port)", "This is not your doing"),
    ("sandbox: the process running your code was killed (memory)", "When the grader ran your code outside"),
    ("something new and odd", "Something new and odd"),
])
def test_each_fault_is_said_in_words_a_student_understands(fault, words):
    nb = _assignment(_test("test_function_scaling", 2, 0, _calls("scaling")), faults=[fault])
    assert words in summarize(nb, 0, 2).faults[0]
    assert words in in_words(fault, nb.cells, {"test_function_scaling": "function_scaling"})


def test_hidden_tests_leave_the_feedback_but_their_verdict_stays():
    cell = _test("test_q1", 1, 0, '# q1 (1 point)\n### BEGIN HIDDEN TESTS\ncheck_choice("q1", q1, correct="C")\n'
                                  "### END HIDDEN TESTS", error=("AssertionError", "q1: A is not right"))
    cell.outputs[0].traceback = ["----", '\x1b[0;32m----> 3\x1b[0m check_choice("q1", q1, correct="C")\nline 3',
                                 "AssertionError: q1", "note: the verdict outside your kernel counts"]
    answer = _solution("q1_answer")
    answer.source = "q1 = 'A'  # ### BEGIN HIDDEN TESTS in a student's cell breaks nothing"
    nb = _assignment(answer, cell)
    nb, _ = HideHiddenTests().preprocess(nb, {})
    shown = nbformat.writes(nb)
    assert 'correct=\\"C\\"' not in shown and "correct=" not in shown
    assert "q1: A is not right" in shown and "hidden test" in nb.cells[2].source
    assert nb.cells[2].outputs[0].traceback == ["----", "line 3", "AssertionError: q1",
                                                "note: the verdict outside your kernel counts"]
    assert nb.cells[1].source == answer.source
    nb_off, _ = HideHiddenTests(enabled=False)(_assignment(_test("t", 1, 1, _calls("scaling"))), {})
    assert 'assert_check("scaling"' in nb_off.cells[1].source


def test_math_becomes_mathml_and_what_cannot_be_converted_stays_readable():
    assert mathml(r"\frac{x}{1-p}").startswith("<math") and "<mfrac>" in mathml(r"\frac{x}{1-p}")
    assert mathml(r"\begin{array}x") == '<code class="tex">\\begin{array}x</code>'  # latex2mathml gave up
    exporter = FeedbackExporter()
    html = exporter.markdown2html({"cell": {}, "resources": {}},
                                  "Kept values: $$\\mathbb{E}[y] = x$$ and inline $1/(1-p)$, `$HOME` code.")
    assert html.count("<math") == 2 and "$$" not in html and "<code>$HOME</code>" in html


def test_the_page_keeps_no_script():
    page = '<head><script src="https://cdn.example/mathjax.js"> </script><script>init()</script><style>a{}</style></head>'
    assert without_scripts(page) == "<head><style>a{}</style></head>"
