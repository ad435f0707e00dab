"""The lessons' predict-then-run exercises: no answer before an attempt, an explanation after."""
import pytest

from autograder.exercises import reveal


def test_without_a_prediction_it_asks_for_one_and_reveals_nothing(capsys):
    reveal(..., answer={0.0, 1.25}, why="secret")
    out = capsys.readouterr().out
    assert "Write your prediction first" in out and "secret" not in out and "1.25" not in out


@pytest.mark.parametrize("prediction, answer", [
    ({0, 1.25}, {0.0, 1.25}), ([1.25, 0.0], {0.0, 1.25}), (0.801, 0.8), (" Overfitting ", "overfitting"),
    ((32, 3), (32, 3)),
])
def test_a_right_prediction_is_recognised_in_any_reasonable_form(prediction, answer, capsys):
    reveal(prediction, answer=answer, why="because.")
    assert capsys.readouterr().out.strip() == "Right. because."


@pytest.mark.parametrize("prediction, answer", [
    ({0.0, 1.0}, {0.0, 1.25}), ({0.0}, {0.0, 1.25}), (0.5, 0.8), ("yes", "no"), ((3, 32), (32, 3)),
    ("a lot", 0.8), (["x"], {0.0}),
])
def test_a_wrong_prediction_gets_the_answer_and_the_reason(prediction, answer, capsys):
    reveal(prediction, answer=answer, why="because.")
    out = capsys.readouterr().out
    assert out.startswith("Not quite: you predicted") and repr(answer) in out and "because." in out
