"""Checking the checkpoint quiz: answers are variables, keys live in hidden test cells.

The answer key is never in this module (students can read it); each hidden
test cell passes its key and an explanation, and the messages here turn a
wrong or missing answer into feedback that teaches the right one.
"""
from __future__ import annotations

import math

from .subject import CheckFailed

CHOICES = ("A", "B", "C", "D")
NO_ANSWER = "{name} has no answer yet: replace `raise NotImplementedError()` in its cell with {example}"


def _missing(answer) -> bool:
    return answer is None or answer is NotImplemented or answer is ...


def _as_choice(name: str, answer) -> str:
    if _missing(answer):
        raise CheckFailed(NO_ANSWER.format(name=name, example=f'{name} = "A" (or "B", "C", "D")'))
    letter = str(answer).strip().upper()
    if letter not in CHOICES:
        raise CheckFailed(f"{name} = {answer!r} is not one of {', '.join(CHOICES)}: answer with a single letter")
    return letter


def _as_number(name: str, answer) -> float:
    if _missing(answer):
        raise CheckFailed(NO_ANSWER.format(name=name, example=f"{name} = 0.5 (a number)"))
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} = {answer!r} is not a number") from None
    if not math.isfinite(value):
        raise CheckFailed(f"{name} = {answer!r} is not a finite number")
    return value


def check_choice(name: str, answer, correct: str, why: str) -> None:
    """Raise with the explanation unless ``answer`` is the letter ``correct``."""
    __tracebackhide__ = True
    if _as_choice(name, answer) != correct:
        raise CheckFailed(f"{name}: {str(answer).strip().upper()} is not right; the answer is {correct}. {why}")
    print(f"{name}: correct. {why}")


def check_number(name: str, answer, correct: float, tolerance: float, why: str) -> None:
    """Raise with the explanation unless ``answer`` is within ``tolerance`` of ``correct``."""
    __tracebackhide__ = True
    value = _as_number(name, answer)
    if abs(value - correct) > tolerance:
        raise CheckFailed(f"{name}: {value:g} is not right; the answer is {correct:g}. {why}")
    print(f"{name}: correct. {why}")


def check_format(answers: dict, kinds: dict[str, str]) -> None:
    """For students: say which answers are missing or malformed, without grading them."""
    problems = []
    for name, kind in kinds.items():
        try:
            (_as_choice if kind == "choice" else _as_number)(name, answers.get(name))
        except CheckFailed as problem:
            problems.append(str(problem))
    for line in problems or ["every answer is in the right format (this does not say whether it is right)"]:
        print(line)
