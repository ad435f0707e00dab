"""Statuses and exports on their own: the ledger of failures, natural order, text a spreadsheet keeps as text."""
from __future__ import annotations

import csv
import json
import os
import stat

from instructors.course import open_gradebook
from instructors.exports import write_canvas, write_grades
from instructors.statuses import FAILED, MISSING, failures, natural_key, record_outcomes, standings


def test_the_ledger_keeps_failures_until_they_grade_and_survives_a_broken_file(tmp_path):
    record_outcomes(tmp_path, "a1", {}, ["dan"])
    assert not (tmp_path / "grading_failures.json").exists()   # nothing failed, nothing written
    record_outcomes(tmp_path, "a1", {"ann": "not a notebook", "bob": "no notebook"}, [])
    record_outcomes(tmp_path, "a2", {"ann": "other assignment"}, [])
    record_outcomes(tmp_path, "a1", {}, ["ann"])
    assert set(failures(tmp_path, "a1")) == {"bob"} and set(failures(tmp_path, "a2")) == {"ann"}
    ledger = tmp_path / "grading_failures.json"
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o644   # readable by the course's other accounts
    ledger.write_text("{ half a file")
    assert failures(tmp_path, "a1") == {}                   # views go on ...
    record_outcomes(tmp_path, "a1", {"cy": "why"}, [])      # ... and the next run keeps the broken file aside
    assert any(p.name.startswith("grading_failures.json.unreadable-") for p in tmp_path.iterdir())
    assert json.loads(ledger.read_text()) == {"a1": {"cy": {"reason": "why", "at": failures(tmp_path, "a1")["cy"]["at"]}}}


def test_natural_order_of_ids_and_questions():
    ids = ["reference-10", "q10", "reference-2", "q2", "Q1", "s1²", "s1", "10"]
    assert sorted(ids, key=natural_key) == ["10", "Q1", "q2", "q10", "reference-2", "reference-10", "s1", "s1²"]


def test_what_students_chose_never_becomes_a_formula_or_a_new_line_in_the_exports(tmp_path, monkeypatch):
    # As CI runs the tests: the venv's python, its bin not on PATH. A new gradebook needs `alembic`.
    monkeypatch.setenv("PATH", os.defpath)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with open_gradebook(url) as gradebook:
        gradebook.update_or_create_assignment("a1")
        gradebook.update_or_create_student("=1+1", first_name="@SUM(A1)", last_name="-2")
        gradebook.update_or_create_student("plain")
    record_outcomes(tmp_path, "a1", {"=1+1": "found: b\n=cmd|' -c calc'!A1.ipynb"}, [])
    with open_gradebook(url) as gradebook:
        rows = {r.student: r for r in standings(tmp_path, "a1", gradebook)}
        assert rows["=1+1"].status == FAILED and rows["plain"].status == MISSING
        write_grades(gradebook, tmp_path, tmp_path / "grades.csv")
        write_canvas(gradebook, tmp_path, tmp_path / "canvas.csv")
    for name in ("grades.csv", "canvas.csv"):
        with open(tmp_path / name, newline="") as f:
            cells = [cell for row in csv.reader(f) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], name
        assert "'=1+1" in cells and not [c for c in cells if "\n" in c], name
    assert os.path.getsize(tmp_path / "grades.csv") > 0
