"""Make student submissions from the release notebook and a set of answers.

A sample answer is a Python file in ``instructors/samples/<assignment>/``, split into
sections by lines ``# %% <grade_id>``; each section replaces the solution
cell with that grade id. Header lines state what the sample is for:

    # about: the survivors are never scaled by 1/(1-p)
    # expect-fail: test_function_scaling test_module_scaling
    # base: release          (optional: start from the untouched release notebook, or
    #                         from another sample's answers, instead of the reference)
    # copies: 4              (optional: how many students of the demo class hand it in)
    # tamper: NAME ...       (optional: edits to the notebook itself, from TAMPERING)
    # expect-fault: TEXT     (optional: grading must report a fault containing TEXT)
    # expect-status: STATUS  (optional: the student's status, from instructors/statuses.py)
    # late-by-minutes: N     (optional: handed in N minutes after the due date)
    # hand-in: corrupt       (optional: the notebook file cut in half, as a failed upload leaves it)

A section ``# %% +<grade_id>`` adds its code after the base's cell instead.
The reference answer is not a sample file: it is read from the solution
cells of ``source/``, so there is one copy of it.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_solution

SAMPLES = Path(__file__).resolve().parent / "samples"
_SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n|^[ \t]*### END SOLUTION\n?", re.M)


@dataclass
class Sample:
    name: str
    about: str
    answers: dict[str, str]                   # grade_id -> cell source
    expect_fail: set[str] = field(default_factory=set)
    base: str = "reference"                   # or "release": no answers at all
    copies: int = 1                           # students of the demo class who hand it in
    tamper: list[str] = field(default_factory=list)  # names in TAMPERING, applied in order
    expect_fault: str = ""                    # text of the fault grading must report
    expect_status: str = ""                   # the status the student must end with, if said
    late_by_minutes: int = 0                  # handed in this long after the due date
    corrupt: bool = False                     # the file handed in is not a whole notebook


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def reference_answers(source_notebook: Path) -> dict[str, str]:
    """The instructor's solutions, markers removed: every code solution cell of source/, and the
    written answers too, which nbgrader then leaves for grading by hand as it would a student's."""
    nb = nbformat.read(source_notebook, as_version=4)
    return {_grade_id(c): _SOLUTION.sub("", c.source) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def load_sample(path: Path) -> Sample:
    text = Path(path).read_text()
    about = re.search(r"^# about: (.*)$", text, re.M)
    expect = re.search(r"^# expect-fail:(.*)$", text, re.M)
    base = re.search(r"^# base: (\S+)", text, re.M)
    copies = re.search(r"^# copies: (\d+)", text, re.M)
    tamper = re.search(r"^# tamper:(.*)$", text, re.M)
    fault = re.search(r"^# expect-fault: (.*)$", text, re.M)
    status = re.search(r"^# expect-status: (.*)$", text, re.M)
    late = re.search(r"^# late-by-minutes: (\d+)", text, re.M)
    corrupt = re.search(r"^# hand-in: corrupt\s*$", text, re.M)
    sections = re.split(r"^# %% (\S+)[ \t]*\n", text, flags=re.M)
    answers = {sections[i]: sections[i + 1].strip("\n") + "\n" for i in range(1, len(sections), 2)}
    return Sample(Path(path).stem, about.group(1) if about else "", answers,
                  set(expect.group(1).split()) if expect else set(),
                  base.group(1) if base else "reference", int(copies.group(1)) if copies else 1,
                  tamper.group(1).split() if tamper else [], fault.group(1).strip() if fault else "",
                  status.group(1).strip() if status else "", int(late.group(1)) if late else 0,
                  corrupt is not None)


def samples(assignment: str, folder: Path = SAMPLES) -> list[Sample]:
    from .statuses import STATUSES

    found = [load_sample(p) for p in sorted((Path(folder) / assignment).glob("*.py"))]
    for sample in found:
        unknown = set(sample.tamper) - set(TAMPERING)
        if unknown:
            raise KeyError(f"sample {sample.name}: unknown tampering {sorted(unknown)}; "
                           f"known: {', '.join(TAMPERING)}")
        if sample.expect_status and sample.expect_status not in STATUSES:
            raise KeyError(f"sample {sample.name}: unknown status {sample.expect_status!r}; "
                           f"known: {', '.join(STATUSES)}")
    return found


def answers_for(sample: Sample, source_notebook: Path) -> dict[str, str]:
    """The sample's answers on top of its base: the reference answers, none, or another sample's.

    A section named ``+<grade_id>`` is appended to the base's cell instead of replacing it.
    """
    if sample.base == "reference":
        answers = reference_answers(source_notebook)
    elif sample.base == "release":
        answers = {}
    else:
        assignment = Path(source_notebook).stem
        answers = answers_for(load_sample(SAMPLES / assignment / f"{sample.base}.py"), source_notebook)
    for grade_id, source in sample.answers.items():
        if grade_id.startswith("+"):
            answers[grade_id[1:]] = answers.get(grade_id[1:], "") + "\n" + source
        else:
            answers[grade_id] = source
    return answers


# --- edits a hostile student makes to the notebook itself --------------------------

def _is_test(cell) -> bool:
    return is_grade(cell) and not is_solution(cell)


def _edit_tests(nb):
    """Every test cell's code replaced by `pass`."""
    for cell in filter(_is_test, nb.cells):
        cell.source = "pass"


def _delete_tests(nb):
    """Every test cell deleted."""
    nb.cells = [c for c in nb.cells if not _is_test(c)]


def _flip_flags(nb):
    """Test cells turned into answer cells (manual grading), and one worth 100 points."""
    tests = list(filter(_is_test, nb.cells))
    for cell in tests[1:]:
        cell.metadata.nbgrader["solution"] = True
        cell.source = "pass"
    tests[0].metadata.nbgrader["points"] = 100


def _fake_grade_cell(nb):
    """A new cell that claims to be a grade cell worth 100 points."""
    cell = nbformat.v4.new_code_cell("print('free points')")
    cell.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "points": 100,
                              "grade_id": "bonus_points", "schema_version": 3}
    nb.cells.append(cell)


def _duplicate_tests(nb):
    """After each test cell, a copy with the same grade id that only says `pass`."""
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if _is_test(cell):
            copy = nbformat.from_dict(cell)
            copy.source = "pass"
            copy.id = uuid.uuid4().hex[:8]
            cells.append(copy)
    nb.cells = cells


TAMPERING = {"edit_tests": _edit_tests, "delete_tests": _delete_tests, "flip_flags": _flip_flags,
             "fake_grade_cell": _fake_grade_cell, "duplicate_tests": _duplicate_tests}


def fill(release_notebook: Path, answers: dict[str, str], tamper=()):
    """The release notebook with the given solution cells replaced; unknown ids raise."""
    nb = nbformat.read(release_notebook, as_version=4)
    by_id = {_grade_id(c): c for c in nb.cells}
    unknown = set(answers) - {g for g, c in by_id.items() if c.metadata.get("nbgrader", {}).get("solution")}
    if unknown:
        raise KeyError(f"no solution cell with grade id {sorted(unknown)} in {release_notebook}")
    for grade_id, source in answers.items():
        by_id[grade_id].source = source
    for name in tamper:
        TAMPERING[name](nb)
    return nb
