"""The copying check finds a copied pair and nothing that is merely the handout or the obvious answer.

Every test builds a small course folder (the real release notebook and students'
notebooks filled from the samples) and reads it as ``instructors.similarity`` does;
nothing is graded, so the file runs in seconds.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat

from instructors.similarity import (MIN_SHARED, THRESHOLD, compare, fingerprints, main,
                                    normalised_tokens, read_solutions, similar_pairs)
from instructors.submissions import SAMPLES, answers_for, fill, load_sample

ROOT = Path(__file__).resolve().parents[1]
NAME = "dropout_from_scratch"
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"

#: A correct answer written independently of own_style: torch.where on a mask, a self-contained module.
WHERE_STYLE = {
    "dropout_function": '''\
def dropout(x, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got " + str(p))
    if training is False:
        return x
    if p == 1.0:
        out = torch.zeros_like(x)
    else:
        dropped = torch.rand_like(x, dtype=torch.float32) < p
        out = torch.where(dropped, torch.zeros_like(x), x / (1.0 - p))
    if inplace:
        return x.copy_(out)
    return out
''',
    "dropout_module": '''\
class Dropout(nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super(Dropout, self).__init__()
        if p < 0.0 or p > 1.0:
            raise ValueError("dropout probability has to be between 0 and 1, but got " + str(p))
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return "p=" + str(self.p) + ", inplace=" + str(self.inplace)

    def forward(self, x):
        return dropout(x, self.p, self.training, self.inplace)
''',
}


def _answers(sample: str) -> dict[str, str]:
    return answers_for(load_sample(SAMPLES / NAME / f"{sample}.py"), SOURCE)


def _course(tmp_path: Path, students: dict[str, dict[str, str]]) -> Path:
    """A course folder with the release notebook and one notebook per student, filled with answers."""
    (tmp_path / "release" / NAME).mkdir(parents=True)
    shutil.copy(RELEASE, tmp_path / "release" / NAME)
    for student, answers in students.items():
        _hand_in(tmp_path, student, answers)
    return tmp_path


def _hand_in(course: Path, student: str, answers: dict[str, str]) -> Path:
    path = course / "submitted" / student / NAME / f"{NAME}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(fill(RELEASE, answers), path)
    return path


def _class(**extra) -> dict[str, dict[str, str]]:
    """A realistic class: most hand in the reference, some the common bugs, two the handout, one pair copies."""
    students = {f"reference-{i}": _answers("reference") for i in range(1, 9)}
    students.update({"no_scaling-1": _answers("no_scaling"), "buffer-1": _answers("module_keeps_p_in_a_buffer"),
                     "gaussian-1": _answers("gaussian_noise_mask"), "calls_torch-1": _answers("calls_torch_dropout"),
                     "untouched-1": {}, "untouched-2": {}, "where_style-1": WHERE_STYLE,
                     "own_style-1": _answers("own_style"), "own_style_copied-1": _answers("own_style_copied")})
    students.update(extra)
    return students


def _renamed_and_reformatted(answers: dict[str, str]) -> dict[str, str]:
    """What a copier does: every own name renamed, comments and blank lines added, lines wrapped."""
    names = {"_check_rate": "_valid", "rate": "q", "uniform": "u", "survivors": "kept", "factor": "s", "x": "t"}
    out = {}
    for grade_id, source in answers.items():
        source = re.sub(r"\b(" + "|".join(map(re.escape, names)) + r")\b", lambda m: names[m.group(1)], source)
        source = re.sub(r":\n", ":  # the next step\n\n", source)
        out[grade_id] = "# my own work\n" + source.replace(", dtype=", ",\n        dtype=")
    return out


def _pairs(pairs) -> set[tuple[str, str]]:
    return {(p.first, p.second) for p in pairs}


def test_the_copied_pair_is_found_and_no_other(tmp_path):
    course = _course(tmp_path, _class())
    pairs = similar_pairs(course, NAME)
    assert _pairs(pairs) == {("own_style-1", "own_style_copied-1")}
    pair = pairs[0]
    assert pair.assignment == NAME and pair.score >= 0.8 and pair.shared >= MIN_SHARED
    theirs, copied = _answers("own_style"), _answers("own_style_copied")
    assert {g for g, _, _ in pair.cells} == {"dropout_function", "dropout_module"}
    assert all(first == theirs[g] and second == copied[g] for g, first, second in pair.cells)
    # every other pair stays far below the threshold, whatever the minimum of shared fingerprints
    others = [p for p in compare(read_solutions(course, NAME), NAME, 0.0, min_shared=1) if p != pair]
    assert max((p.score for p in others), default=0.0) < THRESHOLD / 2


def test_a_copy_is_found_after_renaming_and_reformatting(tmp_path):
    original = _answers("own_style")
    disguised = _renamed_and_reformatted(original)
    for grade_id in original:
        assert disguised[grade_id] != original[grade_id]
        assert fingerprints(disguised[grade_id]) == fingerprints(original[grade_id])
    students = {s: a for s, a in _class().items() if not s.startswith("own_style")}
    course = _course(tmp_path, {**students, "student-10": original, "student-9": disguised})
    pairs = similar_pairs(course, NAME)
    assert [(p.first, p.second, p.score) for p in pairs] == [("student-9", "student-10", 1.0)]  # 9 before 10


def test_three_students_with_one_answer_need_a_larger_common_share(tmp_path):
    """In a class of 18, code that 3 hold is more than max(2, 5%) hold: the obvious answer, by default."""
    course = _course(tmp_path, _class(**{"student-3": _answers("own_style")}))
    assert similar_pairs(course, NAME) == []
    trio = similar_pairs(course, NAME, common_share=0.2)
    assert _pairs(trio) == {("own_style-1", "own_style_copied-1"), ("own_style-1", "student-3"),
                            ("own_style_copied-1", "student-3")}


def test_many_identical_copies_of_the_reference_are_not_paired(tmp_path):
    course = _course(tmp_path, {f"reference-{i}": _answers("reference") for i in range(1, 13)})
    assert similar_pairs(course, NAME) == []
    # they are not paired because so many share the code, not because there is nothing to compare
    everyone = compare(read_solutions(course, NAME), NAME, common_share=1.0)
    assert len(everyone) == 12 * 11 // 2 and all(p.score == 1.0 for p in everyone)


def test_two_independent_correct_answers_are_not_paired(tmp_path):
    course = _course(tmp_path, {"own_style-1": _answers("own_style"), "where_style-1": WHERE_STYLE})
    solutions = read_solutions(course, NAME)
    assert all(solutions.cells[s]["dropout_function"] for s in solutions.cells)
    assert similar_pairs(course, NAME) == []
    # even counting every fingerprint they share, however few, they are far apart
    pairs = compare(solutions, NAME, 0.0, min_shared=1, common_share=1.0)
    assert max((p.score for p in pairs), default=0.0) < THRESHOLD / 2


def test_notebooks_handed_in_untouched_share_only_the_handout(tmp_path):
    course = _course(tmp_path, {"untouched-1": {}, "untouched-2": {}, "untouched-3": {}})
    solutions = read_solutions(course, NAME)
    assert set(solutions.cells) == {"untouched-1", "untouched-2", "untouched-3"}
    assert compare(solutions, NAME, 0.0, min_shared=0, common_share=1.0) == []


def test_unreadable_and_linked_submissions_are_skipped_without_following_links(tmp_path):
    course = _course(tmp_path, {"own_style-1": _answers("own_style"), "reference-1": _answers("reference")})
    submitted = course / "submitted"
    theirs = submitted / "own_style-1" / NAME
    (submitted / "broken" / NAME).mkdir(parents=True)
    (submitted / "broken" / NAME / f"{NAME}.ipynb").write_text("{ this is not json")
    os.symlink(submitted / "own_style-1", submitted / "linked_student")            # the student folder
    (submitted / "linked_assignment").mkdir()
    os.symlink(theirs, submitted / "linked_assignment" / NAME)                     # the assignment folder
    (submitted / "linked_notebook" / NAME).mkdir(parents=True)
    os.symlink(theirs / f"{NAME}.ipynb", submitted / "linked_notebook" / NAME / f"{NAME}.ipynb")
    odd = _hand_in(course, "odd_metadata", {})
    notebook = json.loads(odd.read_text())                     # metadata and source of the wrong types
    notebook["cells"][0]["metadata"]["nbgrader"] = 7
    next(c for c in notebook["cells"] if "def dropout" in "".join(c["source"]))["source"] = 12
    odd.write_text(json.dumps(notebook))
    (submitted / "stray_file").write_text("not a folder")

    solutions = read_solutions(course, NAME)
    assert set(solutions.skipped) == {"broken", "linked_student", "linked_assignment", "linked_notebook"}
    assert "symbolic link" in solutions.skipped["linked_student"]
    assert "symbolic link" in solutions.skipped["linked_assignment"]
    assert "not a notebook" in solutions.skipped["broken"]
    assert "own_style-1" in solutions.cells and "odd_metadata" in solutions.cells
    # a link followed would have been a perfect copy of own_style-1
    assert similar_pairs(course, NAME) == []


def test_a_student_who_edits_the_cell_metadata_is_still_compared(tmp_path):
    course = _course(tmp_path, _class())
    path = course / "submitted" / "own_style_copied-1" / NAME / f"{NAME}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.metadata.nbgrader["solution"] = False
    nbformat.write(notebook, path)
    assert _pairs(similar_pairs(course, NAME)) == {("own_style-1", "own_style_copied-1")}


def test_code_that_does_not_tokenize_is_still_compared():
    broken = "def dropout(x, p=0.5):\n    mask = (torch.rand_like(x) > p\n    return x * mask  # unclosed\n"
    tokens = normalised_tokens(broken)
    assert "rand_like" in tokens and "return" in tokens and "# unclosed" not in " ".join(tokens)
    renamed = broken.replace("mask", "keep").replace("# unclosed", "")
    assert fingerprints(renamed) == fingerprints(broken) != set()


def test_docstrings_comments_and_layout_are_ignored():
    plain = "def f(a, b):\n    c = a * b\n    return c + 1\n"
    dressed = 'def f(a,\n      b):\n    """Why."""\n    # the product\n\n    c = a*b\n    return c \\\n            + 1\n'
    assert normalised_tokens(plain) == normalised_tokens(dressed)
    assert normalised_tokens("x = 'a'\ny = 2.5") == normalised_tokens('x = "bcd"\ny = 7')


def test_the_command_line_prints_the_pairs(tmp_path, capsys):
    course = _course(tmp_path, _class())
    assert main([NAME, "--course", str(course)]) == 0
    out = capsys.readouterr().out
    assert "17 submissions" in out and "own_style-1 and own_style_copied-1" in out
