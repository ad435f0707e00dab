"""What grading found wrong with a submission's run, and nbgrader's CSV export with it.

The grading steps in autograder/nbgrader_plugins.py keep their findings (a
dead or hung kernel, a crash in the sandbox, tampering) in each autograded
notebook's metadata. :func:`faults_in` reads them back; the export plugin
adds them as a ``faults`` column to ``nbgrader export``'s CSV, so an
instructor sees them next to the score, whichever tool exported it.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from nbgrader.plugins import CsvExportPlugin


def faults_in(autograded: Path, assignment: str) -> dict[str, list[str]]:
    """student -> faults, from ``autograded/<student>/<assignment>/*.ipynb``."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(autograded).glob(f"*/{assignment}/*.ipynb")):
        try:
            meta = json.loads(path.read_text()).get("metadata", {}).get("autograder", {})
        except (OSError, ValueError):
            continue  # a notebook nbgrader could not finish writing has no findings to show
        if meta.get("faults"):
            found.setdefault(path.parent.parent.name, []).extend(meta["faults"])
    return found


class FaultsCsvExportPlugin(CsvExportPlugin):
    """nbgrader's CSV export, plus a ``faults`` column (``|``-separated, empty if none)."""

    def export(self, gradebook) -> None:
        super().export(gradebook)
        dest = Path(self.to or "grades.csv")
        coursedir = self.parent.coursedir
        autograded = Path(coursedir.root) / coursedir.autograded_directory
        with open(dest, newline="") as f:
            rows = list(csv.DictReader(f))
        faults = {}
        for assignment in {row["assignment"] for row in rows}:
            for student, found in faults_in(autograded, assignment).items():
                faults[assignment, student] = " | ".join(found)
        with open(dest, "w", newline="") as f:
            columns = [*(rows[0] if rows else ("assignment", "student_id")), "faults"]
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "faults": faults.get((row["assignment"], row["student_id"]), "")})
