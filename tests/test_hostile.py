"""Hostile submissions, graded by the real `nbgrader autograde` in one run with an honest one.

tests/hostile/dropout_from_scratch/ (and the demo class's samples that expect
a fault, in instructors/samples/) hold one notebook per attack: delegation
to torch's dropout, monkeypatching (torch's comparisons, torch's own dropout,
builtins, the grading library), hidden failures (silenced tracebacks, test
cells rewritten on the fly), a reseeded generator, a kernel killed by
os._exit or a segfault, an unstoppable loop, a memory hog, output floods,
and edits to the notebook itself (test cells edited, deleted, duplicated,
flags flipped, a made-up grade cell). Each is paired with a wrong or
forbidden answer and declares the cells it must fail (`# expect-fail`) and
the fault grading must report (`# expect-fault`).
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from instructors.analytics import class_scores, grading_faults
from instructors.course import Course
from instructors.demo import hand_in
from instructors.grade_class import export
from instructors.submissions import Sample, samples

HOSTILE = Path(__file__).resolve().parent / "hostile"
NAME = "dropout_from_scratch"
# The demo class's own hostile samples (those that expect a fault) are graded here too.
CORPUS = samples(NAME, folder=HOSTILE) + [s for s in samples(NAME) if s.expect_fault]


@dataclass
class Graded:
    course: Course
    roster: dict[str, Sample]
    log: str
    returncode: int
    failed: dict[str, set[str]]
    faults: dict[str, list[str]]
    grades_csv: Path

    def student(self, sample: str) -> str:
        return next(s for s, smp in self.roster.items() if smp.name == sample)

    def feedback(self, sample: str) -> str:
        path = self.course.root / "feedback" / self.student(sample) / NAME / f"{NAME}.html"
        return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))

    def autograded(self, sample: str) -> Path:
        return self.course.root / "autograded" / self.student(sample) / NAME / f"{NAME}.ipynb"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = Course.copy_of_this_course(tmp_path_factory.mktemp("hostile") / "course")
    # The course's bounds are 60 s; a test class with a hang in it need not wait that long.
    with open(course.root / "nbgrader_config.py", "a") as f:
        f.write("\nc.GuardedExecute.timeout = 20\nc.VerifyChecks.load_timeout = 20\n")
    course.nbgrader("generate_assignment", NAME, "--force")
    roster = hand_in(course, NAME, CORPUS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DROPOUT_GRADER_MEMORY_LIMIT", str(8 * 2**30))  # also where CUDA is present
        run = course.nbgrader("autograde", NAME, check=False)
    course.nbgrader("generate_feedback", NAME, "--force")
    scores, max_points = class_scores(course, NAME)
    failed = {s: {c for c in scores.columns if scores.loc[s, c] < max_points[c]} for s in scores.index}
    return Graded(course, roster, run.stdout + run.stderr, run.returncode, failed,
                  grading_faults(course, NAME), export(course, course.root / "grades.csv"))


def test_the_corpus_covers_every_class_of_attack():
    names = {s.name for s in CORPUS}
    assert {"delegates_through_aten", "patches_comparisons", "patches_torch_dropout", "patches_builtins",
            "patches_the_grader", "hides_tracebacks", "rewrites_test_cells", "reseeds_the_generator",
            "raises_system_exit", "exits_the_kernel", "segfaults", "hangs_unstoppably", "eats_memory",
            "floods_output", "edits_test_cells", "deletes_test_cells", "duplicates_test_cells",
            "flips_test_cell_flags", "adds_a_fake_grade_cell", "honest"} <= names


def test_one_command_grades_every_submission(graded):
    assert graded.returncode == 0, graded.log[-3000:]
    assert set(graded.failed) == set(graded.roster)


@pytest.mark.parametrize("sample", CORPUS, ids=lambda s: s.name)
def test_each_attack_loses_exactly_the_points_it_attacks(graded, sample):
    assert graded.failed[graded.student(sample.name)] == sample.expect_fail


@pytest.mark.parametrize("sample", CORPUS, ids=lambda s: s.name)
def test_grading_reports_the_fault_it_found_and_no_other(graded, sample):
    faults = graded.faults.get(graded.student(sample.name), [])
    if sample.expect_fault:
        assert any(sample.expect_fault in f for f in faults), faults
    else:
        assert faults == []


def test_the_honest_submission_in_the_same_run_keeps_full_marks(graded):
    honest = graded.student("honest")
    assert graded.failed[honest] == set() and honest not in graded.faults
    with open(graded.grades_csv) as f:
        row = next(r for r in csv.DictReader(f) if r["student_id"] == honest)
    assert float(row["score"]) == 27 and float(row["max_score"]) == 33 and row["faults"] == ""  # 6 by hand


def test_feedback_says_what_was_found(graded):
    assert "passed in your notebook's own run but failed when the same check ran outside your kernel" \
        in graded.feedback("patches_comparisons")
    assert "kept values scaled by 1.000" in graded.feedback("patches_torch_dropout")
    assert "your code ran torch's own dropout" in graded.feedback("delegates_through_aten")
    assert "not run: the kernel died in cell" in graded.feedback("exits_the_kernel")
    assert "ignored the interrupt" in graded.feedback("hangs_unstoppably")
    assert "MemoryError" in graded.feedback("eats_memory")
    assert "SystemExit" in graded.feedback("raises_system_exit")


def test_the_run_output_and_the_export_name_the_faults(graded):
    cheat = graded.student("patches_the_grader")
    assert re.search(rf"WARNING.*{cheat}/{NAME}: tampering", graded.log)
    with open(graded.grades_csv) as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == NAME}
    assert "passed in the notebook's kernel but failed when verified" in rows[cheat]["faults"]
    assert "the kernel died" in rows[graded.student("segfaults")]["faults"]


def test_a_flood_of_output_is_cut_and_costs_no_points(graded):
    notebook = graded.autograded("floods_output")
    assert os.path.getsize(notebook) < 1_000_000
    outputs = [o for c in json.loads(notebook.read_text())["cells"] for o in c.get("outputs", [])]
    texts = ["".join(o.get("text", "")) for o in outputs]  # nbformat may store text as lines
    assert any("[output cut: more than" in t for t in texts) and any(t.startswith("xxxx") for t in texts)
    assert graded.failed[graded.student("floods_output")] == set()
