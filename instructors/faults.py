"""What grading found wrong with a submission's run.

The grading steps in autograder/nbgrader_plugins.py keep their findings (a
dead or hung kernel, a crash in the sandbox, tampering) in each autograded
notebook's metadata. :func:`faults_in` reads them back for every view of the
class: the export's ``faults`` column and status, the class report, the terminal.
"""
from __future__ import annotations

import json
from pathlib import Path


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
