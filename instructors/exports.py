"""The gradebook as files: ``grades.csv`` (one row per student and assignment) and a Canvas import.

Both list every student on the roster under every assignment, with the
status from :mod:`instructors.statuses`, so "never submitted" and "failed to
grade" are never a silent 0. ``grades.csv`` keeps nbgrader's own columns
first (what ``nbgrader export`` always wrote), then adds ours; it is what
``nbgrader export`` writes in this course too (``c.ExportApp.plugin_class``).

The Canvas file follows Canvas's gradebook import: the columns ``Student``
(last name, first name), ``ID``, ``SIS User ID``, ``SIS Login ID`` and
``Section``, then one column per assignment, and a ``Points Possible`` row
under the header. Canvas matches a row to a student by ``ID`` (its own user
id: the gradebook's ``lms_user_id`` where nbgrader has one) or by ``SIS Login
ID`` (here the nbgrader student id, the login on a course server). A cell is
left blank where there is no grade (not submitted, failed to grade with no
earlier grade), since Canvas reads a blank as "no grade yet" and a 0 as a 0. A
student whose written answers wait for hand grading gets the score so far; the
assignment columns carry no Canvas assignment id, so Canvas matches them by name
or creates them.
"""
from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.plugins import CsvExportPlugin

from .statuses import Standing, iso_utc, natural_key, standings

#: nbgrader's CsvExportPlugin columns, in its order, then this course's.
NBGRADER_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score")
COLUMNS = NBGRADER_COLUMNS + ("status", "detail", "pending_manual_points", "faults", "lms_user_id")
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def _class(gradebook, course_root: Path, assignments=(), students=()) -> list[tuple[object, Standing]]:
    """(nbgrader Student, Standing) for each student and assignment asked for (all by default)."""
    people = {s.id: s for s in gradebook.students}
    rows = []
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        for standing in standings(course_root, assignment.name, gradebook):
            if not students or standing.student in students:
                rows.append((people[standing.student], standing))
    return rows


def _number(value) -> str:
    return "" if value is None else f"{value:g}"


def _text(value) -> str:
    """Text a spreadsheet shows as text: on one line, and never read as a formula.

    Student ids, names, reasons and faults carry what students chose (a file name in a
    reason, say); a cell that starts with = + - @ or a tab would be a formula in Excel,
    LibreOffice or Google Sheets, so it gets a leading apostrophe, as OWASP advises.
    """
    text = " ".join(str(value or "").split())
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_grades(gradebook, course_root: Path, to: Path, assignments=(), students=()) -> Path:
    """``grades.csv``: one row per student and assignment, nbgrader's columns then status and detail."""
    with open(to, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for person, row in _class(gradebook, course_root, assignments, students):
            duedate = gradebook.find_assignment(row.assignment).duedate
            writer.writerow([_text(row.assignment), iso_utc(duedate), row.submitted_at, _text(row.student),
                             _text(person.last_name), _text(person.first_name), _text(person.email),
                             _number(row.raw_score), _number(row.late_penalty if row.score is not None else None),
                             _number(row.score), _number(row.max_score), row.status, _text(row.detail),
                             _number(row.pending_points), _text(" | ".join(row.faults)), _text(row.lms_user_id)])
    return Path(to)


def write_canvas(gradebook, course_root: Path, to: Path, section: str = "") -> Path:
    """A Canvas gradebook import: one row per student, one column per assignment."""
    rows = _class(gradebook, course_root)
    assignments = sorted({row.assignment for _, row in rows}, key=natural_key)
    maxima = {row.assignment: row.max_score for _, row in rows}
    people: dict[str, dict] = {}
    for person, row in rows:
        name = ", ".join(filter(None, [person.last_name, person.first_name])) or person.id
        entry = people.setdefault(person.id, {"Student": _text(name), "ID": _text(person.lms_user_id),
                                              "SIS User ID": "", "SIS Login ID": _text(person.id),
                                              "Section": _text(section)})
        entry[_text(row.assignment)] = _number(row.score)
    with open(to, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[*CANVAS_IDENTITY, *map(_text, assignments)], restval="")
        writer.writeheader()
        writer.writerow({"Student": "Points Possible", **{_text(a): _number(maxima[a]) for a in assignments}})
        for student in sorted(people, key=natural_key):
            writer.writerow(people[student])
    return Path(to)


def export_all(course_root: Path, db_url: str) -> tuple[Path, Path]:
    """Write ``grades.csv`` and ``canvas.csv`` in the course folder; return their paths."""
    from .course import open_gradebook

    course_root = Path(course_root)
    with open_gradebook(db_url) as gradebook:
        return (write_grades(gradebook, course_root, course_root / "grades.csv"),
                write_canvas(gradebook, course_root, course_root / "canvas.csv"))


class StatusCsvExportPlugin(CsvExportPlugin):
    """``nbgrader export`` for this course: :func:`write_grades`, honouring --to, --student and --assignment.

    A subclass of nbgrader's CSV plugin, so configuration written for that one
    (``--CsvExportPlugin.to=...``) still applies.
    """

    def export(self, gradebook) -> None:
        coursedir = self.parent.coursedir
        dest = Path(self.to or "grades.csv")
        self.log.info("Exporting grades with each student's status to %s", dest)
        write_grades(gradebook, Path(coursedir.root), dest, [str(a) for a in self.assignment],
                     [str(s) for s in self.student])
