"""Make student submissions from the release notebook and a set of answers.

A sample answer is a Python file in ``instructors/samples/<assignment>/``, split into
sections by lines ``# %% <grade_id>``; each section replaces the solution
cell with that grade id. Header lines state what the sample is for:

    # about: the survivors are never scaled by 1/(1-p)
    # expect-fail: test_function_scaling test_module_scaling
    # base: release          (optional: start from the untouched release notebook
    #                         instead of the reference answers)
    # copies: 4              (optional: how many students of the demo class hand it in)

The reference answer is not a sample file: it is read from the solution
cells of ``source/``, so there is one copy of it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

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


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def reference_answers(source_notebook: Path) -> dict[str, str]:
    """The instructor's solutions: every code solution cell of source/, markers removed."""
    nb = nbformat.read(source_notebook, as_version=4)
    return {_grade_id(c): _SOLUTION.sub("", c.source) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def load_sample(path: Path) -> Sample:
    text = Path(path).read_text()
    about = re.search(r"^# about: (.*)$", text, re.M)
    expect = re.search(r"^# expect-fail:(.*)$", text, re.M)
    base = re.search(r"^# base: (\S+)", text, re.M)
    copies = re.search(r"^# copies: (\d+)", text, re.M)
    sections = re.split(r"^# %% (\S+)[ \t]*\n", text, flags=re.M)
    answers = {sections[i]: sections[i + 1].strip("\n") + "\n" for i in range(1, len(sections), 2)}
    return Sample(Path(path).stem, about.group(1) if about else "", answers,
                  set(expect.group(1).split()) if expect else set(),
                  base.group(1) if base else "reference", int(copies.group(1)) if copies else 1)


def samples(assignment: str) -> list[Sample]:
    return [load_sample(p) for p in sorted((SAMPLES / assignment).glob("*.py"))]


def answers_for(sample: Sample, source_notebook: Path) -> dict[str, str]:
    """The sample's answers on top of its base: the reference answers, or none."""
    base = reference_answers(source_notebook) if sample.base == "reference" else {}
    return {**base, **sample.answers}


def fill(release_notebook: Path, answers: dict[str, str]):
    """The release notebook with the given solution cells replaced; unknown ids raise."""
    nb = nbformat.read(release_notebook, as_version=4)
    by_id = {_grade_id(c): c for c in nb.cells}
    unknown = set(answers) - {g for g, c in by_id.items() if c.metadata.get("nbgrader", {}).get("solution")}
    if unknown:
        raise KeyError(f"no solution cell with grade id {sorted(unknown)} in {release_notebook}")
    for grade_id, source in answers.items():
        by_id[grade_id].source = source
    return nb
