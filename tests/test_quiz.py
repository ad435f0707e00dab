"""The checkpoint quiz: answers checked kindly, keys hidden from students."""
from pathlib import Path

import nbformat
import pytest

from autograder.quiz import check_choice, check_format, check_number
from autograder.subject import CheckFailed

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source/checkpoint_quiz/checkpoint_quiz.ipynb"
RELEASE = ROOT / "release/checkpoint_quiz/checkpoint_quiz.ipynb"


def test_a_right_letter_passes_in_any_case_and_spacing(capsys):
    check_choice("q1", " c ", correct="C", why="because.")
    assert "q1: correct. because." in capsys.readouterr().out


def test_a_wrong_letter_explains_the_right_one():
    with pytest.raises(CheckFailed, match=r"q1: A is not right; the answer is C\. because\."):
        check_choice("q1", "a", correct="C", why="because.")


@pytest.mark.parametrize("answer, message", [(None, "has no answer yet"), ("E", "not one of A, B, C, D"),
                                             ("nn.Dropout(0.3)", "single letter")])
def test_missing_or_malformed_choices_say_how_to_answer(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_choice("q2", answer, correct="D", why="")


def test_numbers_are_compared_with_a_tolerance():
    check_number("q7", 1.2501, correct=1.25, tolerance=0.005, why="")
    with pytest.raises(CheckFailed, match="q7: 0.8 is not right; the answer is 1.25"):
        check_number("q7", 0.8, correct=1.25, tolerance=0.005, why="")
    with pytest.raises(CheckFailed, match="not a number"):
        check_number("q7", "one and a quarter", correct=1.25, tolerance=0.005, why="")
    with pytest.raises(CheckFailed, match="not a finite number"):
        check_number("q7", float("nan"), correct=1.25, tolerance=0.005, why="")


def test_format_check_reports_problems_without_grading(capsys):
    check_format({"q1": "Z", "q7": 2.0}, {"q1": "choice", "q2": "choice", "q7": "number"})
    out = capsys.readouterr().out
    assert "q1 = 'Z' is not one of" in out and "q2 has no answer yet" in out and "q7" not in out


def test_every_question_is_worth_one_point_and_its_key_is_hidden():
    source = nbformat.read(SOURCE, as_version=4)
    graded = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata.nbgrader.grade_id for c in graded] == [f"test_q{i}" for i in range(1, 18)]
    assert all(c.metadata.nbgrader.points == 1 for c in graded)
    released = RELEASE.read_text()
    assert "check_choice(" not in released and "correct=" not in released
    assert 'q1 = \\"C\\"' not in released


def _choices():
    """{question: (right letter, {letter: option text})} for every multiple-choice question."""
    import re
    cells = nbformat.read(SOURCE, as_version=4).cells
    texts = {c.metadata["nbgrader"]["grade_id"][:-5]: c.source for c in cells
             if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_text")}
    found = {}
    for cell in cells:
        key = re.search(r'check_choice\("(q\d+)", .*correct="([A-D])"', cell.source)
        if key:
            options = dict(re.findall(r"^\* ([A-D])\. (.*(?:\n  .*)*)", texts[key.group(1)], re.M))
            found[key.group(1)] = (key.group(2), {k: " ".join(v.split()) for k, v in options.items()})
    return found


def test_the_right_option_is_not_the_longest_more_often_than_chance():
    """A student who always picks the longest option must not beat guessing."""
    choices = _choices()
    assert len(choices) >= 10 and all(len(options) == 4 for _, options in choices.values())
    longest = [q for q, (right, options) in choices.items()
               if len(options[right]) == max(len(text) for text in options.values())]
    assert len(longest) <= len(choices) / 4, longest


def test_the_quiz_asks_about_no_grad_leakage_and_underfitting_with_explanations():
    text = SOURCE.read_text()
    for topic in ("no_grad", "leaks validation information", "underfits"):
        assert topic in text
    assert len(_choices()) + 3 >= 13  # ten or more questions, the three numeric ones included
