"""What the class got wrong, and where every student stands: the class report.

    write_report(course, "dropout_from_scratch", folder)  # CSVs, two PNGs and report.html

Scores come from nbgrader's gradebook; the messages come from the autograded
notebooks (the error each failed grade cell showed its student); each
student's status from :mod:`instructors.statuses`. The share of the class that
failed a check counts only students whose current submission was graded: one
who handed in nothing, or a file that could not be read, is counted apart
rather than as a failure of every check.
"""
from __future__ import annotations

import json
import os
import re
from urllib.parse import quote
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .course import Course, db_url, open_gradebook  # noqa: E402
from .faults import faults_in  # noqa: E402
from .misconceptions import group_class  # noqa: E402
from .report_page import misconceptions_section, report_page, similarity_section  # noqa: E402
from .similarity import similar_pairs  # noqa: E402
from .statuses import Standing, natural_key, standings  # noqa: E402

#: How a grade cell's error names its check ("function check 'scaling' failed: ", "dropout2d check
#: 'channel_whole' failed: ", "fixed_model check failed: "): not part of what the student is told.
_CHECK_PREFIX = re.compile(r"^[\w.]+ check(?: '\w+')? failed: ")


def class_scores(course: Course, assignment: str) -> tuple[pd.DataFrame, pd.Series]:
    """(scores: student x autograded cell, max points per cell), from the gradebook."""
    rows, max_points = {}, {}
    with open_gradebook(db_url(course.root)) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            row = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell.cell_type == "code" and grade.auto_score is not None:
                        row[grade.cell.name] = grade.score
                        max_points[grade.cell.name] = grade.max_score
            rows[submission.student.id] = row
    scores = pd.DataFrame.from_dict(rows, orient="index")
    scores = scores.loc[sorted(scores.index, key=natural_key)] if len(scores) else scores
    scores.index.name = "student"
    columns = _in_notebook_order(course, assignment, scores.columns)
    return scores[columns], pd.Series(max_points, dtype=float)[columns]


def _in_notebook_order(course: Course, assignment: str, cells) -> list[str]:
    order = list(check_names(course, assignment))
    return sorted(cells, key=lambda c: (order.index(c) if c in order else len(order), natural_key(c)))


def check_names(course: Course, assignment: str) -> dict[str, str]:
    """grade id -> the check's name as the feedback's index gives it (``module_state``, ``q9``)."""
    import nbformat

    from autograder.feedback.summary import check_labels

    return check_labels(nbformat.read(course.root / "source" / assignment / f"{assignment}.ipynb", as_version=4))


def class_standings(course: Course, assignment: str) -> list[Standing]:
    """Every student on the roster with their status on ``assignment`` (instructors/statuses.py)."""
    with open_gradebook(db_url(course.root)) as gradebook:
        return standings(course.root, assignment, gradebook)


def _student_message(evalue: str) -> str:
    first = evalue.strip().splitlines()[0] if evalue.strip() else ""
    return _CHECK_PREFIX.sub("", first)


def failure_messages(course: Course, assignment: str) -> dict[tuple[str, str], str]:
    """(student, cell) -> the message of the error that cell showed, from autograded notebooks."""
    found = {}
    for path in sorted((course.root / "autograded").glob(f"*/{assignment}/*.ipynb")):
        student = path.parent.parent.name
        for cell in json.loads(path.read_text())["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if grade_id and errors:
                error = errors[0]
                message = _student_message(error["evalue"])
                found[student, grade_id] = message if error["ename"] == "CheckFailed" else f"{error['ename']}: {message}"
    return found


def grading_faults(course: Course, assignment: str) -> dict[str, list[str]]:
    """student -> what grading found wrong with the run itself (see instructors/faults.py)."""
    return faults_in(course.root / "autograded", assignment)


def check_summary(scores: pd.DataFrame, max_points: pd.Series, messages: dict,
                  names: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per graded cell, most failed first: its check's name, how many of ``scores``'
    students failed it, which share, and the most common messages.

    ``scores`` should hold only the students whose current submission was graded.
    """
    failed = scores.lt(max_points, axis=1)
    rows = []
    for cell in scores.columns:
        said = Counter(messages.get((student, cell), "(no message)") for student in failed.index[failed[cell]])
        common = "; ".join(f"{n}× {m}" for m, n in said.most_common(2))
        rows.append({"cell": cell, "check": (names or {}).get(cell, cell.removeprefix("test_")),
                     "points": max_points[cell], "failed": int(failed[cell].sum()),
                     "share failed": failed[cell].mean() if len(failed) else 0.0, "most common messages": common})
    return pd.DataFrame(rows).set_index("cell").sort_values("share failed", ascending=False, kind="stable")


def _plot_failure_shares(summary: pd.DataFrame, path: Path) -> None:
    shares = summary["share failed"].sort_values()
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(shares) + 1.5))
    ax.barh(summary.loc[shares.index, "check"], shares * 100, color="tab:red")
    ax.set_xlabel("share of the graded submissions that failed the check (%)")
    ax.set_ylabel("graded check")
    ax.set_xlim(0, 100)
    ax.set_title("Which checks the class failed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_scores(totals: pd.Series, maximum: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(totals, bins=range(0, int(maximum) + 2), color="tab:blue", edgecolor="white", align="left")
    ax.set_xlabel(f"autograded score (out of {maximum:g})")
    ax.set_ylabel("number of students")
    ax.set_title("Score distribution")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(course: Course, assignment: str, folder: Path) -> Path:
    """Write scores.csv, checks.csv, two PNG plots and report.html into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    roster = class_standings(course, assignment)
    names = check_names(course, assignment)
    scores, max_points = class_scores(course, assignment)
    gradable = [r.student for r in roster if r.gradable and r.student in scores.index]
    messages = failure_messages(course, assignment)
    summary = check_summary(scores.loc[gradable], max_points, messages, names)
    groups = group_class(messages, names, set(gradable))
    pd.DataFrame([{"misconception": g.misconception.name, "students": len(g.students), "who": " ".join(g.students),
                   "example": f"{g.example[0]}, {g.example[1]}: {g.example[2]}"} for g in groups],
                 columns=["misconception", "students", "who", "example"]).to_csv(folder / "misconceptions.csv",
                                                                                 index=False)
    totals = scores.loc[gradable].sum(axis=1)
    scores.assign(total=scores.sum(axis=1)).to_csv(folder / "scores.csv")
    summary.to_csv(folder / "checks.csv")
    _plot_failure_shares(summary, folder / "failure_shares.png")
    _plot_scores(totals, max_points.sum(), folder / "score_distribution.png")
    feedback = {r.student: quote(Path(os.path.relpath(course.root / "feedback" / r.student / assignment
                                                      / f"{assignment}.html", folder)).as_posix())
                for r in roster if (course.root / "feedback" / r.student / assignment / f"{assignment}.html").is_file()}
    # compared against the notebook students were given, which only nbgrader generate_assignment makes
    pairs = similar_pairs(course.root, assignment) if course.release_notebook(assignment).is_file() else []
    pd.DataFrame([{"first": p.first, "second": p.second, "score": round(p.score, 3), "shared fingerprints": p.shared}
                  for p in pairs], columns=["first", "second", "score", "shared fingerprints"]
                 ).to_csv(folder / "similar_pairs.csv", index=False)
    page = report_page(assignment, roster, scores, max_points, summary, names, feedback,
                       misconceptions_section(groups, len(gradable), feedback)
                       + similarity_section(pairs, names, feedback))
    (folder / "report.html").write_text(page, encoding="utf-8")
    return folder / "report.html"
