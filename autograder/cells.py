"""What an assignment notebook's cells say to the grader, read without torch or nbgrader.

A test cell is graded code the student does not write; the grader calls it makes
(``assert_check("scaling", dropout=dropout)``, ``check_pipeline(model, Dropout)``)
are read from its code, never run, by the plugins that verify them outside the
kernel (:mod:`autograder.nbgrader_plugins`) and by the feedback that names them
(:mod:`autograder.feedback.summary`). Both import this module, neither the other.
"""
from __future__ import annotations

import ast

#: assert_check's keywords whose target has another name: dropout_from_scratch's answers,
#: named before there was a second assignment. Every other keyword (``Dropout2d=``) is the
#: target's own name (:func:`autograder.subject.register_target`).
ANSWERS = {"dropout": "function", "Dropout": "module"}
#: Outcome checks: a function a test cell calls with the notebook's names, the check it
#: stands for, and how many names it takes (the model, then the layer it is built with).
OUTCOME_CALLS = {"check_pipeline": ("pipeline", 2), "check_overfitting": ("overfitting", 1),
                 "check_fixed_model": ("fixed_model", 1)}


def target_of(keyword: str) -> str:
    """The target an answer passed to assert_check as ``keyword=`` is checked as."""
    return ANSWERS.get(keyword, keyword)


def nbgrader_meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def is_test(cell) -> bool:
    """A test cell: graded code the student does not write."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def check_label(target: str, name: str) -> str:
    """The name a student sees for a check: ``function_scaling``, ``module_state``, ``pipeline``."""
    if target in ("function", "module"):
        return name if name.startswith(f"{target}_") else f"{target}_{name}"
    return name


def call_label(check: str, target: str, name: str = "") -> str:
    """The name a student sees for one grader call: its check's, and for Part 4 the model's too."""
    if check == "fixed_model":
        return f"fixed_model ({name})"
    return check_label(target, check)


def grader_calls(source: str) -> list[tuple[str, str, str, str]]:
    """The grader calls in a test cell: ``[(check, target, name, module), ...]``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
            continue
        func = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        names = [a.id for a in node.args if isinstance(a, ast.Name)]
        if func == "assert_check" and node.args and isinstance(node.args[0], ast.Constant):
            for keyword in node.keywords:
                if keyword.arg and isinstance(keyword.value, ast.Name):
                    found.append((node.args[0].value, target_of(keyword.arg), keyword.value.id, ""))
        elif func in OUTCOME_CALLS and len(names) == OUTCOME_CALLS[func][1]:
            check = OUTCOME_CALLS[func][0]
            found.append((check, check, names[0], names[1] if len(names) > 1 else ""))
    return found
