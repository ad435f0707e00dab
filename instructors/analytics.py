"""What the class got wrong: scores per student and check, failure shares, common messages, plots.

    write_report(course, "dropout_from_scratch", folder)  # CSVs, two PNGs and report.html

Scores come from nbgrader's gradebook; the messages come from the autograded
notebooks (the error each failed grade cell showed its student).
"""
from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .course import Course, db_url  # noqa: E402
from .faults import faults_in  # noqa: E402

_PREFIXES = ("function check ", "module check ")


def class_scores(course: Course, assignment: str) -> tuple[pd.DataFrame, pd.Series]:
    """(scores: student x autograded cell, max points per cell), from the gradebook."""
    from nbgrader.api import Gradebook

    rows, max_points = {}, {}
    with Gradebook(db_url(course.root)) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            row = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell.cell_type == "code" and grade.auto_score is not None:
                        row[grade.cell.name] = grade.score
                        max_points[grade.cell.name] = grade.max_score
            rows[submission.student.id] = row
    scores = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    scores.index.name = "student"
    return scores[sorted(scores.columns)], pd.Series(max_points)[sorted(scores.columns)]


def _student_message(evalue: str) -> str:
    first = evalue.strip().splitlines()[0] if evalue.strip() else ""
    for prefix in _PREFIXES:
        if first.startswith(prefix) and " failed: " in first:
            return first.split(" failed: ", 1)[1]
    return first


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


def check_summary(scores: pd.DataFrame, max_points: pd.Series, messages: dict) -> pd.DataFrame:
    """One row per graded cell: how many failed, which share, and the most common messages."""
    failed = scores.lt(max_points, axis=1)
    rows = []
    for cell in scores.columns:
        said = Counter(messages.get((student, cell), "(no message)") for student in failed.index[failed[cell]])
        common = "; ".join(f"{n}× {m}" for m, n in said.most_common(2))
        rows.append({"cell": cell, "points": max_points[cell], "failed": int(failed[cell].sum()),
                     "share failed": failed[cell].mean(), "most common messages": common})
    return pd.DataFrame(rows).set_index("cell").sort_values("share failed", ascending=False)


def _plot_failure_shares(summary: pd.DataFrame, path: Path) -> None:
    shares = summary["share failed"].sort_values()
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(shares) + 1.5))
    ax.barh([c.removeprefix("test_") for c in shares.index], shares * 100, color="tab:red")
    ax.set_xlabel("share of the class that failed the check (%)")
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


#: The report runs no script and loads only its own plots.
REPORT_POLICY = "default-src 'none'; img-src 'self' data: file:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _faults_html(faults: dict[str, list[str]]) -> str:
    if not faults:
        return "<p>No submission hit a fault or a tampering check.</p>"
    rows = "".join(f"<tr><td>{html.escape(student)}</td><td>{'<br>'.join(map(html.escape, found))}</td></tr>"
                   for student, found in sorted(faults.items()))
    return (f"<h2>Faults and tampering ({len(faults)} submissions)</h2><table><tr><th>student</th>"
            f"<th>what grading found</th></tr>{rows}</table>")


def write_report(course: Course, assignment: str, folder: Path) -> Path:
    """Write scores.csv, checks.csv, two PNG plots and report.html into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scores, max_points = class_scores(course, assignment)
    summary = check_summary(scores, max_points, failure_messages(course, assignment))
    totals = scores.sum(axis=1)
    scores.assign(total=totals).to_csv(folder / "scores.csv")
    summary.to_csv(folder / "checks.csv")
    _plot_failure_shares(summary, folder / "failure_shares.png")
    _plot_scores(totals, max_points.sum(), folder / "score_distribution.png")
    headline = ", ".join(f"{row['share failed']:.0%} failed {cell.removeprefix('test_')}"
                         for cell, row in summary.head(3).iterrows() if row["failed"])
    # Student text (ids, messages, faults) is escaped; the policy forbids scripts all the same.
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{REPORT_POLICY}">
<title>{html.escape(assignment)}: class report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}} table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left}}</style></head><body>
<h1>{html.escape(assignment)}: class report</h1>
<p>{len(scores)} students; mean autograded score {totals.mean():.1f} of {max_points.sum():g},
median {totals.median():g}. {html.escape(headline)}.</p>
<img src="score_distribution.png" alt="score distribution"> <img src="failure_shares.png" alt="failure shares">
{_faults_html(grading_faults(course, assignment))}
<h2>Checks, most failed first</h2>{summary.to_html(float_format=lambda v: f"{v:.2f}")}
<h2>Scores per student</h2>{scores.assign(total=totals).to_html(float_format=lambda v: f"{v:g}")}
</body></html>"""
    (folder / "report.html").write_text(page)
    return folder / "report.html"
