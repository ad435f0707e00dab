"""What a feedback file says first: the score per part, what to fix in which order, the faults.

:func:`summarize` reads one graded notebook (an autograded notebook with the
scores nbgrader's ``GetGrades`` put into each grade cell) and returns a
:class:`Summary`: plain data, which the feedback template lays out at the top
of the page. Nothing here renders HTML, so the order and the words are tested
on their own (``tests/test_feedback_summary.py``).

The order of :attr:`Summary.to_fix` is the order a student should work in:

1. solution cells that raised (a ``SyntaxError``, a ``NameError``): every check
   of what they define fails with them;
2. checks of code that is not written yet, or that the notebook never defined;
3. failed checks, what the others stand on first: the function (Part 1) before
   the module built on it, the module's construction and forward pass before
   what uses them, then the network of Part 3 (:data:`DEPENDS_ON`);
4. cells that were not run because grading stopped (the fault says why).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch

from ..cells import call_label, grader_calls, is_test, nbgrader_meta

#: A check's label -> the labels (patterns) of the checks it stands on. A failed check
#: whose foundations also failed is listed after them, with a note that it may pass
#: once they do.
DEPENDS_ON = {
    "module_forward": ("function_*",),
    "module_construction": (),
    "module_train_eval_toggle": ("module_construction", "module_forward"),
    "module_state": ("module_construction", "module_forward"),
    "module_repr": ("module_construction",),
    "pipeline": ("module_construction", "module_forward"),
    "overfitting": ("module_forward",),
}

#: How the grader words a check of code that is not there: the stub's NotImplementedError
#: (autograder.runner), and a name the notebook never defined (the sandbox), which is
#: what a solution cell that raised leaves behind.
NOT_WRITTEN = "not implemented yet"
NOT_DEFINED = "your notebook defines no"

#: Kinds of entries, in the order they are listed, with the words the page shows.
KINDS = {"crashed": "error in your code", "not written": "not written yet", "not defined": "not defined",
         "failed": "failed", "not run": "not run"}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_POINTS = re.compile(r"\s*\((\d+(\.\d+)?|one|two|\w+) points?[^)]*\)\s*$", re.I)
_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$", re.M)


@dataclass(frozen=True)
class Entry:
    """One thing to fix: a graded cell that lost points, or a solution cell that raised."""
    grade_id: str
    check: str          # the check's name (function_scaling, q9) or the solution cell's id
    kind: str           # one of KINDS
    score: float | None
    points: float | None  # None for a solution cell: it earns nothing itself
    message: str
    hint: str = ""
    waits_on: tuple[str, ...] = ()   # failed checks this one stands on


@dataclass(frozen=True)
class IndexLine:
    """A graded cell in the index: its check, its score and what it tests."""
    grade_id: str
    check: str
    score: float | None        # None: waiting to be graded by hand
    points: float
    about: str
    passed: bool


@dataclass(frozen=True)
class Part:
    title: str
    score: float
    points: float
    to_fix: int           # graded cells of this part that lost points
    by_hand: bool         # graded by the instructor
    waiting: bool         # some of its cells still wait for the instructor


@dataclass
class Summary:
    score: float
    max_score: float
    parts: list[Part] = field(default_factory=list)
    to_fix: list[Entry] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)      # in words a student understands
    index: list[IndexLine] = field(default_factory=list)
    pending: float = 0.0     # points of cells still waiting to be graded by hand

    @property
    def autograded(self) -> tuple[float, float]:
        """(score, points) of everything graded so far: the points nobody has given yet kept apart."""
        return self.score, self.max_score - self.pending

    @property
    def all_passed(self) -> bool:
        return not self.to_fix and not self.faults


# --- reading a graded notebook ---------------------------------------------------------

def _label(cell) -> str:
    """The check a graded cell runs, read from its code; its grade id where it runs none."""
    calls = grader_calls(cell.get("source", ""))
    if calls:
        return " + ".join(dict.fromkeys(call_label(check, target, name) for check, target, name, _ in calls))
    try:  # a quiz question: check_choice("q3", ...), check_number("q7", ...)
        for node in ast.walk(ast.parse(cell.get("source", ""))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", ""))
                    .startswith("check_") and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                return node.args[0].value
    except SyntaxError:
        pass
    grade_id = nbgrader_meta(cell).get("grade_id", "")
    return grade_id.removeprefix("test_")


def check_labels(nb) -> dict[str, str]:
    """grade id -> the name the feedback's index gives that graded cell (``function_scaling``, ``q9``)."""
    return {nbgrader_meta(c)["grade_id"]: _label(c) if is_test(c) else nbgrader_meta(c)["grade_id"]
            for c in nb.get("cells", []) if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("grade_id")}


def _about(cell) -> str:
    """What a graded cell tests: its first comment line, without the points."""
    for line in cell.get("source", "").splitlines():
        line = line.strip()
        if line.startswith("#") and not line.startswith("###"):
            return _POINTS.sub("", line.lstrip("# ")).strip()
        if line:
            break
    return ""


def _errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def without_ansi(text: str) -> str:
    """Text as a terminal would show it, without its colour codes (IPython tracebacks have them)."""
    return _ANSI.sub("", text or "")


def _clean(text: str) -> str:
    text = without_ansi(text)
    # IPython names a cell's code after a temporary file: "(2339249709.py, line 1)"
    return re.sub(r"\(\d+\.py, (line \d+)\)", r"(\1)", text).strip()


def _part_title(source: str) -> str:
    return _POINTS.sub("", source).strip()


def _verified(cell) -> list[dict]:
    """The grader's own results for a cell it verified outside the kernel (VerifyChecks)."""
    return cell.get("metadata", {}).get("autograder", {}).get("checks", [])


def _failure(cell, label: str) -> tuple[str, str, str]:
    """(kind, message, hint) of a graded cell that lost points."""
    errors = _errors(cell)
    if any(e.get("ename") == "NotRun" for e in errors):
        return "not run", _clean(errors[0].get("evalue", "")), ""
    failed = [c for c in _verified(cell) if not c.get("passed")]
    if failed:
        messages = [c.get("message", "") for c in failed]
        if len(failed) == 1:
            message = messages[0]
        else:
            message = "\n".join(f"{c['check']}: {c.get('message', '')}" for c in failed)
        return _kind(messages), message, next((c.get("hint", "") for c in failed if c.get("hint")), "")
    if errors:  # a cell the grader did not verify: the kernel's error is the verdict
        error = errors[-1]
        lines = (_clean(error.get("evalue", "")) or error.get("ename", "error")).splitlines()
        hint = " ".join(line.removeprefix("hint: ") for line in lines if line.startswith("hint: "))
        message = "\n".join(line for line in lines if not line.startswith("hint: "))
        message = re.sub(r"^(function|module) check '\w+' failed: |^\w+ check failed: ", "", message)
        message = message.removeprefix(f"{label}: ")
        if error.get("ename") == "NotImplementedError":
            return "not written", message or NOT_WRITTEN, hint
        if error.get("ename") not in ("AssertionError", "CheckFailed"):
            message = f"{error.get('ename')}: {message}"
        return _kind([message]), message, hint
    return "failed", "this cell lost points without an error; ask your instructor", ""


def _kind(messages: list[str]) -> str:
    for kind, start in (("not written", NOT_WRITTEN), ("not defined", NOT_DEFINED)):
        if all(m.startswith(start) for m in messages):
            return kind
    return "failed"


def _depth(label: str) -> int:
    """How many layers of checks stand under this one (a pattern such as ``function_*`` is 0)."""
    deps = DEPENDS_ON.get(label, ())
    return 1 + max(_depth(d) for d in deps) if deps else 0


def _waits_on(label: str, failed: list[str]) -> tuple[str, ...]:
    patterns = DEPENDS_ON.get(label, ())
    return tuple(f for f in failed if f != label and any(fnmatch(f, p) for p in patterns))


def summarize(nb, score: float, max_score: float, needs_hand: set[str] = frozenset()) -> Summary:
    """The summary of graded notebook ``nb``.

    ``score`` and ``max_score`` are the notebook's totals from the gradebook;
    ``needs_hand`` the grade ids still waiting for the instructor's grade.
    """
    cells = nb.get("cells", [])
    summary = Summary(score=score, max_score=max_score)
    parts: dict[str, dict] = {}
    title = ""
    crashes, losses, order = [], [], {}
    for position, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") == "markdown":
            heading = _HEADING.search(cell.get("source", ""))
            if heading and (not title or len(heading.group(1)) <= 2):
                title = _part_title(heading.group(2))
        raised = [e for e in _errors(cell) if e.get("ename") not in ("NotRun", "NotImplementedError")]
        if cell.get("cell_type") == "code" and meta.get("solution") and raised:
            error = raised[0]
            crashes.append(Entry(meta.get("grade_id", f"cell {position}"), meta.get("grade_id", f"cell {position}"),
                                 "crashed", None, None,
                                 f"this cell raised {error.get('ename')}: {_clean(error.get('evalue', ''))}",
                                 "Fix this cell first: the checks of everything it defines fail with it."))
        if not meta.get("grade"):
            continue
        grade_id = meta.get("grade_id", f"cell {position}")
        points = float(meta.get("points") or 0)
        waiting = grade_id in needs_hand
        earned = None if waiting else float(meta.get("score") or 0)
        summary.pending += points if waiting else 0.0
        label = _label(cell) if is_test(cell) else grade_id
        part = parts.setdefault(title, {"score": 0.0, "points": 0.0, "to_fix": 0, "by_hand": False,
                                        "waiting": False})
        part["score"] += earned or 0.0
        part["points"] += points
        part["by_hand"] |= not is_test(cell)
        part["waiting"] |= waiting
        about = _about(cell) if is_test(cell) else "graded by your instructor"
        summary.index.append(IndexLine(grade_id, label, earned, points, "" if about == label else about,
                                       earned is not None and earned >= points))
        if is_test(cell) and earned is not None and earned < points:
            part["to_fix"] += 1
            kind, message, hint = _failure(cell, label)
            losses.append(Entry(grade_id, label, kind, earned, points, message, hint))
            order[grade_id] = position
    failed_labels = [e.check for e in losses if e.kind != "not run"]
    losses = [Entry(**{**e.__dict__, "waits_on": _waits_on(e.check, failed_labels)}) for e in losses]
    losses.sort(key=lambda e: (list(KINDS).index(e.kind), _depth(e.check), order[e.grade_id]))
    labels = {line.grade_id: line.check for line in summary.index}
    summary.faults = [in_words(f, cells, labels)
                      for f in nb.get("metadata", {}).get("autograder", {}).get("faults", [])]
    summary.to_fix = crashes + losses
    summary.parts = [Part(t or "Notebook", round(p["score"], 2), round(p["points"], 2), p["to_fix"],
                          p["by_hand"], p["waiting"]) for t, p in parts.items()]
    return summary


# --- faults, in words a student understands -------------------------------------------

def _cell_name(cells, labels: dict, index: str) -> str:
    """A cell a fault names by its index, as the student finds it: by its check, or counted from 1."""
    try:
        grade_id = nbgrader_meta(cells[int(index)]).get("grade_id")
    except (IndexError, ValueError):
        grade_id = None
    if grade_id:
        return f"the cell of {labels.get(grade_id, grade_id)}"
    return f"cell {int(index) + 1} (counting from the top)" if index.isdigit() else f"cell {index}"


def _checks(names: str, labels: dict) -> str:
    """Grade ids named in a fault, as the checks the summary names them by."""
    return re.sub(r"[\w.-]+", lambda m: labels.get(m[0], m[0]), names)


_FAULTS = [
    (re.compile(r"^the kernel died in cell (\d+)"),
     lambda m, c, k: f"Your notebook stopped in {_cell_name(c, k, m[1])}: Python died there (os._exit, a crash, "
                  f"or more memory than grading allows). The cells after it were not run and score zero. "
                  f"Restart your kernel and run every cell to find it."),
    (re.compile(r"^cell (\d+) ran out of time \(([\d.]+) s\)"),
     lambda m, c, k: f"{_cell_name(c, k, m[1]).capitalize()} took longer than {m[2]} s, so grading stopped it; "
                  f"the cells after it were not run and score zero. Look for an endless loop or a long "
                  f"training run in it."),
    (re.compile(r"^the kernel could not be started"),
     lambda m, c, k: "Grading could not start Python for your notebook. This is not your doing: your "
                  "instructor sees it too and will grade it again."),
    (re.compile(r"^tampering: (\S+) passed in the notebook's kernel but failed when verified outside it"),
     lambda m, c, k: f"{_checks(m[1], k)} passed inside your notebook but failed when the grader ran the same check outside "
                  f"it: something in your notebook changed how the test ran (a patched function, a hidden "
                  f"error, a reseeded generator). The verdict from outside counts."),
    (re.compile(r"^tampering: the nbgrader metadata of (\d+) cells was changed"),
     lambda m, c, k: f"The grading settings of {m[1]} cells were changed; grading used the assignment's own."),
    (re.compile(r"^tampering: (\d+) read-only cells were edited \((.*)\)"),
     lambda m, c, k: f"{m[1]} read-only cells were edited ({m[2]}); they were graded as the assignment has them."),
    (re.compile(r"^tampering: (\d+) nbgrader cells were deleted \((.*)\)"),
     lambda m, c, k: f"{m[1]} graded cells were deleted ({_checks(m[2], k)}); they were put back and "
                     f"graded."),
    (re.compile(r"^tampering: a cell claims to be nbgrader cell '([^']*)'"),
     lambda m, c, k: f"A cell claims to be the graded cell {m[1]!r}, which the assignment does not have; it "
                  f"earned nothing."),
    (re.compile(r"^set aside: (\d+) things in the submission folder were not read \((.*)\)", re.S),
     lambda m, c, k: f"{m[1]} things in your submission folder were not read, because the grader reads "
                     f"only plain files and folders ({m[2]}). If your notebook needs them, hand them in "
                     f"as ordinary files."),
    (re.compile(r"^sandbox: (.*)", re.S),
     lambda m, c, k: f"When the grader ran your code outside your notebook, it failed: {m[1]}"),
]


def in_words(fault: str, cells=(), labels: dict | None = None) -> str:
    """A grading fault (as the grading steps log it) said to the student.

    ``cells`` are the notebook's, to name a cell by its index; ``labels`` maps grade ids
    to the check names the summary uses.
    """
    for pattern, say in _FAULTS:
        match = pattern.search(fault)
        if match:
            return say(match, cells, labels or {})
    return fault[:1].upper() + fault[1:]
