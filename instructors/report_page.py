"""The class report as a page an instructor works from: who needs attention, what the class got wrong, everyone.

Every piece of student text (ids, messages, details) is escaped; the page's
policy allows one script, the sorter below, by its hash, and loads nothing but
its own plots, so a student's text that slipped through could still not run.
"""
from __future__ import annotations

import base64
import hashlib
import html

import pandas as pd

from .statuses import FAILED, FAULTS, LATE, MISSING, PENDING, STATUSES, Standing, counts

#: Sorts a table by the column whose header button was pressed: numbers as numbers,
#: text in natural order ("reference-2" before "reference-10"), blanks last.
SORTER = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th button").forEach(function (button) {
    button.addEventListener("click", function () {
      var th = button.parentElement, column = Array.prototype.indexOf.call(th.parentElement.children, th);
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var key = function (row) {
        var cell = row.cells[column];
        return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
      };
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var order = (isNaN(x) || isNaN(y)) ? x.localeCompare(y, undefined, {numeric: true, sensitivity: "base"})
                                           : Number(x) - Number(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    });
  });
});
"""


def policy() -> str:
    digest = base64.b64encode(hashlib.sha256(SORTER.encode()).digest()).decode()
    return (f"default-src 'none'; script-src 'sha256-{digest}'; img-src 'self' data: file:; "
            f"style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


#: What each status asks of the instructor, shown beside its count.
TO_DO = {FAILED: "open the file they handed in; the reason is below",
         FAULTS: "grading found tampering, a timeout or a crash: read the faults below",
         PENDING: "grade the written answers in the formgrader",
         LATE: "handed in after the due date; nbgrader's penalty is applied",
         "graded": "nothing",
         MISSING: "nothing handed in: on the roster, no submission"}

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:78em;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;font-size:90%;margin:.5em 0 1.5em}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} th button{all:unset;cursor:pointer;font-weight:600}
th button::after{content:" \\2195";color:#8c959f} th[aria-sort=ascending] button::after{content:" \\2191"}
th[aria-sort=descending] button::after{content:" \\2193"}
td.num{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#656d76}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:90%;white-space:nowrap}
.s-failed-to-grade{background:#ffebe9;color:#82071e} .s-graded-with-faults{background:#fff1e5;color:#953800}
.s-manual-grading-pending{background:#ddf4ff;color:#0550ae} .s-late{background:#fff8c5;color:#7d4e00}
.s-graded{background:#dafbe1;color:#116329} .s-not-submitted{background:#eaeef2;color:#57606a}
.bar{display:inline-block;height:.8em;background:#cf222e;vertical-align:middle}
img{max-width:100%} table.side{table-layout:fixed;width:100%} table.side pre{white-space:pre-wrap;margin:0;font-size:85%}
"""


def _status(status: str) -> str:
    return f'<span class="status s-{status.replace(" ", "-")}">{html.escape(status)}</span>'


def _score_colour(score: float, maximum: float) -> str:
    """Red at 0, amber half way, green at full marks: a light background the text stays readable on."""
    hue = 120 * (score / maximum) if maximum else 0
    return f"background:hsl({hue:.0f},70%,88%)"


def _e(value) -> str:
    return html.escape(str(value))


def _failed_checks(lost: list[str], every: list[str]) -> str:
    """The checks a student failed, or the few they passed where that is the shorter list."""
    if not lost:
        return "none"
    if len(lost) == len(every):
        return f"all {len(every)}"
    if len(lost) > len(every) / 2:
        return f"all but {', '.join(c for c in every if c not in lost)}"
    return ", ".join(lost)


def _when(iso: str) -> str:
    """2026-11-30T17:00:00Z as a person reads it: 2026-11-30 17:00."""
    return iso.replace("T", " ")[:16]


def _status_table(roster: list[Standing]) -> str:
    rows = "".join(f"<tr><td>{_status(status)}</td><td class=num>{n}</td><td>{_e(TO_DO[status])}</td></tr>"
                   for status, n in counts(roster).items())
    return f"<table><thead><tr><th>status</th><th>students</th><th>what it asks of you</th></tr></thead>" \
           f"<tbody>{rows}</tbody></table>"


def _who(student: str, feedback: dict[str, str]) -> str:
    if student in feedback:
        return f'<a href="{_e(feedback[student])}">{_e(student)}</a>'
    return _e(student)


def _attention(roster: list[Standing], feedback: dict[str, str]) -> str:
    needs = [r for r in roster if r.status in (FAILED, FAULTS, LATE)]
    if not needs:
        return "<p>No submission failed to grade, hit a fault or came in late.</p>"
    rows = "".join(f"<tr><td>{_who(r.student, feedback)}</td><td>{_status(r.status)}</td>"
                   f"<td>{_e(_when(r.submitted_at))}</td><td>{_e(r.detail)}</td></tr>" for r in needs)
    return (f"<table><thead><tr><th>student</th><th>status</th><th>handed in (UTC)</th><th>what happened</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")


def _checks_table(summary: pd.DataFrame, graded: int) -> str:
    rows = []
    for _, row in summary.iterrows():
        share = row["share failed"] * 100
        rows.append(f"<tr><td><code>{_e(row['check'])}</code></td><td class=num>{row['points']:g}</td>"
                    f"<td class=num>{row['failed']}</td><td class=num data-sort='{share:.3f}'>{share:.0f}% "
                    f"<span class=bar style='width:{share:.0f}px'></span></td>"
                    f"<td>{_e(row['most common messages'])}</td></tr>")
    return (f"<table class=sortable id=checks><thead><tr><th><button>check</button></th><th><button>points"
            f"</button></th><th><button>failed (of {graded})</button></th><th><button>share failed</button></th>"
            f"<th><button>most common messages</button></th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _students_table(roster: list[Standing], scores: pd.DataFrame, max_points: pd.Series,
                    names: dict[str, str], feedback: dict[str, str]) -> str:
    rows = []
    for r in roster:
        if r.student in scores.index and r.gradable:
            row = scores.loc[r.student]
            auto = float(row.sum())
            lost = [names.get(c, c) for c in scores.columns if row[c] < max_points[c]]
            score = (f"<td class=num data-sort='{auto:g}' style='{_score_colour(auto, max_points.sum())}'>"
                     f"{auto:g}</td>")
            failed = _failed_checks(lost, [names.get(c, c) for c in scores.columns])
        else:
            score, failed = "<td class=num data-sort=''>&ndash;</td>", ""
        rows.append(f"<tr><td data-sort='{_e(r.student)}'>{_who(r.student, feedback)}</td>"
                    f"<td data-sort='{STATUSES.index(r.status)}'>{_status(r.status)}</td>{score}"
                    f"<td data-sort='{_e(r.submitted_at)}'>{_e(_when(r.submitted_at))}</td><td>{_e(failed)}</td><td class=muted>{_e(r.detail)}</td></tr>")
    return (f"<table class=sortable id=students><thead><tr><th><button>student</button></th>"
            f"<th><button>status</button></th><th><button>autograded score (of {max_points.sum():g})</button></th>"
            f"<th><button>handed in (UTC)</button></th><th><button>checks failed</button></th>"
            f"<th><button>detail</button></th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def misconceptions_section(groups, graded: int, feedback: dict[str, str]) -> str:
    """The class by diagnosed cause (instructors/misconceptions.py), largest group first."""
    if not groups:
        return ("<h2 id=misconceptions>Misconceptions</h2><p>No graded submission shows a misconception the checks "
                "name.</p>")
    rows = "".join(
        f"<tr><td><b>{_e(g.misconception.name)}</b><br><span class=muted>{_e(g.misconception.meaning)}</span></td>"
        f"<td class=num data-sort='{len(g.students)}'>{len(g.students)} ({len(g.students) / max(graded, 1):.0%})</td>"
        f"<td>{_who(g.example[0], feedback)}, <code>{_e(g.example[1])}</code>: {_e(g.example[2])}</td>"
        f"<td>{', '.join(_who(s, feedback) for s in g.students)}</td></tr>" for g in groups)
    return (f"<h2 id=misconceptions>Misconceptions</h2><p class=muted>Students grouped by the cause their failed checks "
            f"name, each counted once however many checks showed it; shares are of the {graded} graded "
            f"submissions.</p><table class=sortable id=causes><thead><tr><th><button>misconception</button></th>"
            f"<th><button>students</button></th><th><button>for example</button></th><th><button>who</button></th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")


def similarity_section(pairs, names: dict[str, str], feedback: dict[str, str], cells_shown: int = 2) -> str:
    """Pairs whose solution code is unusually alike (instructors/similarity.py), code side by side."""
    if not pairs:
        return ("<h2 id=similar>Similar submissions</h2><p>No two submissions share unusually much solution code "
                "(after names, comments and layout are set aside, and code many students share is ignored).</p>")
    blocks = []
    for pair in pairs:
        shown = "".join(f"<tr><th colspan=2><code>{_e(names.get(grade_id, grade_id))}</code></th></tr>"
                        f"<tr><td><pre>{_e(first)}</pre></td><td><pre>{_e(second)}</pre></td></tr>"
                        for grade_id, first, second in pair.cells[:cells_shown])
        blocks.append(f"<h3>{_who(pair.first, feedback)} and {_who(pair.second, feedback)}: {pair.score:.0%} of "
                      f"the rarer of their code fingerprints shared ({pair.shared})</h3>"
                      f"<table class=side><thead><tr><th>{_e(pair.first)}</th><th>{_e(pair.second)}</th></tr>"
                      f"</thead><tbody>{shown}</tbody></table>")
    return (f"<h2 id=similar>Similar submissions ({len(pairs)} {'pair' if len(pairs) == 1 else 'pairs'})</h2><p class=muted>Solution code compared after "
            f"names, comments and layout are set aside; code from the handed-out notebook, and code more than a "
            f"few students share, is ignored. A high share is a reason to look, not a verdict.</p>{''.join(blocks)}")


def report_page(assignment: str, roster: list[Standing], scores: pd.DataFrame, max_points: pd.Series,
                summary: pd.DataFrame, names: dict[str, str], feedback: dict[str, str],
                extra_sections: str = "") -> str:
    """The whole report.html. ``feedback``: student -> relative link to their feedback file."""
    graded = [r.student for r in roster if r.gradable and r.student in scores.index]
    totals = scores.loc[graded].sum(axis=1)
    apart = len(roster) - len(graded)
    worst = ", ".join(f"{row['share failed']:.0%} failed {row['check']}"
                      for _, row in summary.head(3).iterrows() if row["failed"])
    headline = (f"{len(roster)} students on the roster; {len(graded)} graded submissions, mean autograded score "
                f"{totals.mean():.1f} of {max_points.sum():g}, median {totals.median():g}." if graded
                else f"{len(roster)} students on the roster; no graded submission yet.")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy()}">
<title>{_e(assignment)}: class report</title><style>{STYLE}</style></head><body>
<h1>{_e(assignment)}: class report</h1>
<p>{_e(headline)} {_e(worst) + '.' if worst else ''}</p>
{_status_table(roster)}
<h2 id="attention">Needs your attention</h2>
{_attention(roster, feedback)}
{extra_sections}
<h2 id="checks-heading">Checks, most failed first</h2>
<p class=muted>Shares are of the {len(graded)} students whose current submission was graded; the {apart} others
(not submitted, or failed to grade) are counted apart, above, not as failing every check. Click a heading to sort.</p>
{_checks_table(summary, len(graded))}
<img src="score_distribution.png" alt="histogram of the autograded scores">
<img src="failure_shares.png" alt="bar chart: share of graded submissions that failed each check">
<h2 id="students-heading">Every student</h2>
<p class=muted>One row per student on the roster, in natural order; a name links to that student's feedback.
Click a heading to sort.</p>
{_students_table(roster, scores, max_points, names, feedback)}
<script>{SORTER}</script>
</body></html>"""
