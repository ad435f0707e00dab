"""One status per student and assignment, for everyone on the roster.

nbgrader's gradebook knows a submission's scores, its timestamp and whether it
waits for hand grading, but not a submission that could not be graded: grading
stops before the gradebook hears of it. So a student whose only notebook is
corrupt would vanish from every view, and one whose resubmission is corrupt
would keep the old grade with no sign of the new file. ``grade_class`` keeps
those failures in a ledger beside the gradebook (``grading_failures.json`` in
the course folder), and :func:`standings` reads both, so every view of the class
(the terminal, the class report, ``grades.csv``, the LMS export) says the same
thing about every student:

=========================  ==================================================
graded                     autograded and, where it has hand-graded parts, graded by hand
graded with faults         grading found a fault in the run: tampering, a timeout, a dead kernel
manual grading pending     autograded; hand-graded points still to give
late                       handed in after the due date (with nbgrader's penalty)
failed to grade            the notebook as handed in could not be graded (with why); a
                           grade from an earlier submission is kept and flagged
not submitted              on the roster, nothing handed in
=========================  ==================================================

A student's status is the first of these that asks something of the
instructor: failed to grade, then faults, then pending, then late; the
others are in ``detail``.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

GRADED = "graded"
FAULTS = "graded with faults"
PENDING = "manual grading pending"
LATE = "late"
FAILED = "failed to grade"
MISSING = "not submitted"
#: Every status, in the order a class view lists them.
STATUSES = (FAILED, FAULTS, PENDING, LATE, GRADED, MISSING)

LEDGER = "grading_failures.json"


# --- the ledger of submissions that could not be graded ----------------------------

def _ledger_path(course_root: Path) -> Path:
    return Path(course_root) / LEDGER


def _read_ledger(path: Path, set_aside: bool = False) -> dict:
    """The ledger, or {} if it cannot be read; a writer (``set_aside``) first moves an unreadable
    one aside, beside it, rather than write over it."""
    try:
        ledger = json.loads(path.read_text()) if path.exists() else {}
        if isinstance(ledger, dict):
            return ledger
    except (OSError, ValueError):
        pass
    if set_aside:
        os.replace(path, path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}"))
    return {}


@contextmanager
def _locked(course_root: Path):
    """One grade_class run at a time changes the ledger (two classes graded at once keep both)."""
    with open(Path(course_root) / f".{LEDGER}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def failures(course_root: Path, assignment: str) -> dict[str, dict]:
    """student -> {"reason", "at"} for each submission of ``assignment`` that failed to grade."""
    entries = _read_ledger(_ledger_path(course_root)).get(assignment, {})  # whole: written by rename
    return entries if isinstance(entries, dict) else {}


def record_outcomes(course_root: Path, assignment: str, failed: dict[str, str], graded: list[str]) -> None:
    """Add the students that failed to grade and clear those graded since.

    Under a lock, written to a temporary file and renamed over the ledger, so an
    interrupted write leaves the previous ledger whole; readable by the course's
    other accounts as the gradebook is.
    """
    path = _ledger_path(course_root)
    with _locked(course_root):
        ledger = _read_ledger(path, set_aside=True)
        unchanged = json.dumps(ledger, sort_keys=True)
        entries = ledger.setdefault(assignment, {})
        now = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        for student in graded:
            entries.pop(student, None)
        for student, reason in failed.items():
            entries[student] = {"reason": reason, "at": now}
        if not entries:
            del ledger[assignment]
        if json.dumps(ledger, sort_keys=True) == unchanged:
            return  # a class with nothing that failed leaves no ledger behind
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".grading_failures-")
        with os.fdopen(fd, "w") as f:
            json.dump(ledger, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)


# --- standings ---------------------------------------------------------------------

@dataclass
class Standing:
    """Where one student stands on one assignment."""

    assignment: str
    student: str
    status: str
    detail: str = ""                   # the reason, the penalty, the pending points, in words
    submitted_at: str = ""             # ISO 8601, UTC; empty if nothing was handed in
    score: float | None = None         # after the late penalty; None where there is no grade
    raw_score: float | None = None     # before it
    max_score: float = 0.0
    pending_points: float = 0.0        # hand-graded points not given yet
    late_penalty: float = 0.0
    faults: list[str] = field(default_factory=list)
    lms_user_id: str = ""

    @property
    def gradable(self) -> bool:
        """Whether the current submission was graded (what per-check pass rates count)."""
        return self.status not in (FAILED, MISSING)


def iso_utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:  # nbgrader keeps naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _handed_in_at(course_root: Path, student: str, assignment: str) -> str:
    """The timestamp nbgrader's collect wrote beside a submission, read as a bounded plain file."""
    from autograder.untrusted.intake import Refused, read_path
    from nbgrader.utils import parse_utc

    path = Path(course_root) / "submitted" / student / assignment / "timestamp.txt"
    try:
        return iso_utc(parse_utc(read_path(str(path), 256).decode("utf-8").strip()))
    except (OSError, Refused, UnicodeDecodeError, ValueError):
        return ""


def _late(seconds: float, penalty: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"late by {hours} h {rest // 60:02d} min, penalty {penalty:g}"


def standings(course_root: Path, assignment: str, gradebook) -> list[Standing]:
    """Every student on the roster (the open ``gradebook``'s students) with their status, in natural order."""
    from nbgrader.api import MissingEntry

    from .faults import faults_in

    course_root = Path(course_root)
    failed = failures(course_root, assignment)
    faults = faults_in(course_root / "autograded", assignment)
    found = []
    max_score = gradebook.find_assignment(assignment).max_score
    for student in gradebook.students:
        row = Standing(assignment, student.id, MISSING, max_score=max_score,
                       lms_user_id=student.lms_user_id or "")
        try:
            submission = gradebook.find_submission(assignment, student.id)
        except MissingEntry:
            submission = None
        notes = []
        grades = [g for nb in submission.notebooks for g in nb.grades] if submission is not None else []
        if any(g.auto_score is not None or g.manual_score is not None for g in grades):
            row.pending_points = sum(g.max_score for g in grades if waits_for_hand(g))
            row.late_penalty = submission.late_submission_penalty or 0.0
            row.raw_score = submission.score
            row.score = max(0.0, submission.score - row.late_penalty)
            row.submitted_at = iso_utc(submission.timestamp)
            row.faults = faults.get(student.id, [])
            row.status = GRADED
            if submission.total_seconds_late > 0:
                row.status = LATE
                notes.append(_late(submission.total_seconds_late, row.late_penalty))
            if row.pending_points:
                row.status = PENDING
                notes.insert(0, f"{row.pending_points:g} points to grade by hand")
            if row.faults:
                row.status = FAULTS
                notes.insert(0, "; ".join(row.faults))
        if student.id in failed:
            why = str(failed[student.id].get("reason", "")).strip().splitlines()
            kept = ("; the earlier submission's grade "
                    f"({row.score:g} of {max_score:g}) is kept") if row.score is not None else ""
            notes = [f"{why[-1] if why else 'no reason recorded'}{kept}"]  # the rest was the earlier one's
            row.status = FAILED
            row.submitted_at = _handed_in_at(course_root, student.id, assignment) or row.submitted_at
        row.detail = "; ".join(notes)
        found.append(row)
    return sorted(found, key=lambda s: natural_key(s.student))


def waits_for_hand(grade) -> bool:
    """Whether a gradebook grade still waits for the instructor: nbgrader flags a regraded cell
    that already has a hand-given score too, for review; those points are given, not pending."""
    return bool(grade.needs_manual_grade) and grade.manual_score is None


def natural_key(text: str) -> list:
    """Sort key that puts "reference-2" before "reference-10" and "q2" before "q10"."""
    return [(0, int(part), "") if part.isdecimal() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", text) if part]


def counts(rows: list[Standing]) -> dict[str, int]:
    """status -> how many students have it, for every status (zeros included), in STATUSES order."""
    return {status: sum(1 for r in rows if r.status == status) for status in STATUSES}
