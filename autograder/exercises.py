"""Predict-then-run exercises for the lessons: ungraded, answered after an attempt.

A lesson's exercise cell asks a question, leaves ``prediction = ...`` for the
student to fill in, and calls :func:`reveal` with the answer and why. Until the
student writes a prediction, ``reveal`` only asks for one; after an attempt it
says whether the prediction was right and always explains the answer. Nothing is
graded and nothing is hidden: the point is to commit to a guess before the code
shows the truth.

    prediction = ...          # your guess, e.g. {0.0, 1.0}
    reveal(prediction, answer={0.0, 1.25}, why="kept values are 1/(1-p) = 1.25 ...")
"""
from __future__ import annotations

import math


def _same(prediction, answer, tolerance: float) -> bool:
    """Equal, with numbers (and sets or lists of numbers) compared to ``tolerance``."""
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        try:
            return math.isclose(float(prediction), float(answer), rel_tol=tolerance, abs_tol=tolerance)
        except (TypeError, ValueError):
            return False
    if isinstance(answer, (set, frozenset)):
        try:
            mine = sorted(float(v) for v in prediction)
        except (TypeError, ValueError):
            return prediction == answer
        theirs = sorted(float(v) for v in answer)
        return len(mine) == len(theirs) and all(_same(a, b, tolerance) for a, b in zip(mine, theirs))
    if isinstance(answer, str):
        return str(prediction).strip().lower() == answer.strip().lower()
    return prediction == answer


def reveal(prediction, answer, why: str, tolerance: float = 0.01) -> None:
    """Print whether ``prediction`` matches ``answer`` (after an attempt), and why.

    Returns nothing, so that a notebook cell ending in ``reveal(...)`` shows only the text.
    """
    if prediction is ... or prediction is None:
        print("Write your prediction first (replace the ... above), then run this cell again.")
        return
    verdict = ("Right." if _same(prediction, answer, tolerance)
               else f"Not quite: you predicted {prediction!r}, the answer is {answer!r}.")
    print(f"{verdict} {why}")
