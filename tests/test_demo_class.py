"""The main job end to end: a demo class of 65 submissions graded in parallel through nbgrader.

One run releases both assignments, hands in every sample of
instructors/samples/ as often as its `# copies:` line says (perfect, buggy,
broken and untouched notebooks, quiz answers right and wrong), grades them
two at a time with feedback, writes the class reports and exports the
gradebook; the tests below read what it left behind.
"""
import csv
import html
import re
from collections import Counter
from pathlib import Path

import pytest

from instructors.analytics import check_summary, class_scores, failure_messages
from instructors.demo import run_demo, summary
from instructors.grade_class import grade_class
from instructors.statuses import FAILED, STATUSES


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "course", jobs=2, progress=False)


def _points(grade_ids):
    """Points of these grade cells, as the source notebooks (the one place they live) give them."""
    import nbformat
    points = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "source").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and cell.cell_type == "code":
                points[meta["grade_id"]] = meta["points"]
    return sum(points[g] for g in grade_ids)


def test_a_class_of_dozens_is_graded_in_parallel_with_nothing_lost(demo):
    assert len(demo.of_sample("dropout_from_scratch", "reference")) >= 10
    assert sum(1 for s in demo.students if s.assignment == "dropout_from_scratch") >= 20
    for assignment, outcome in demo.grading.items():
        mine = [s for s in demo.students if s.assignment == assignment]
        assert set(outcome.failed) == {s.student for s in mine if s.sample.expect_status == FAILED}
        assert sorted(outcome.graded) == sorted(s.student for s in mine if s.sample.expect_status != FAILED)


def test_each_student_loses_exactly_the_points_of_the_checks_their_bug_breaks(demo):
    for student in demo.students:
        if student.status == FAILED:
            continue
        assert student.failed == student.sample.expect_fail, (student.assignment, student.student)
        assert student.score == student.max_score - _points(student.sample.expect_fail), student.student


def test_export_has_every_student_with_a_status_and_never_a_silent_zero(demo):
    with open(demo.grades_csv) as f:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}
    for student in demo.students:
        row = rows[student.assignment, student.student]
        assert row["status"] == student.status
        if student.status == FAILED:  # a first submission that could not be read has no score, and says why
            assert row["score"] == "" and "not a notebook nbformat can read" in row["detail"]
        else:
            assert float(row["score"]) == student.score and row["timestamp"].endswith("Z")
    handed_in = {(s.assignment, s.student) for s in demo.students}
    # every student on the roster is listed under every assignment; one who handed in nothing has no score
    assert {r["status"] for key, r in rows.items() if key not in handed_in} == {"not submitted"}
    assert all(r["score"] == "" for key, r in rows.items() if key not in handed_in)


def test_the_demo_class_shows_every_status(demo):
    assert {status for per in demo.statuses.values() for status, n in per.items() if n} == set(STATUSES)
    late = demo.of_sample("checkpoint_quiz", "handed_in_late")[0]
    assert late.status == "late" and late.detail == "late by 2 h 30 min, penalty 0"
    assert {s.status for s in demo.of_sample("dropout_from_scratch", "reference")} == {"manual grading pending"}
    assert {s.status for s in demo.of_sample("checkpoint_quiz", "reference")} == {"graded"}


def test_the_reference_and_the_warning_solution_get_full_marks(demo):
    for name in ("reference", "correct_but_triggers_a_torch_warning"):
        assert {s.score for s in demo.of_sample("dropout_from_scratch", name)} == {27}
    assert {s.score for s in demo.of_sample("checkpoint_quiz", "reference")} == {17}
    # the written answers wait for the instructor: pending, not lost
    text = _text(demo.feedback("dropout_from_scratch", demo.of_sample("dropout_from_scratch", "reference")[0].student))
    assert "Score so far: 27 / 27; 6 more points wait to be graded by hand" in text
    assert "pending / 6 graded by hand: waiting for your instructor" in text


def test_untouched_notebooks_score_zero_and_feedback_says_what_to_do(demo):
    student = demo.of_sample("dropout_from_scratch", "untouched")[0]
    assert student.score == 0
    text = _text(demo.feedback("dropout_from_scratch", student.student))
    assert "not implemented yet" in text and "replace `raise NotImplementedError()`" in text
    quiz = demo.of_sample("checkpoint_quiz", "untouched")[0]
    assert quiz.score == 0 and "q1 has no answer yet" in _text(demo.feedback("checkpoint_quiz", quiz.student))


def test_feedback_shows_the_student_facing_message_of_each_failed_check(demo):
    student = demo.of_sample("dropout_from_scratch", "no_scaling")[0].student
    text = _text(demo.feedback("dropout_from_scratch", student))
    assert "kept values scaled by 1.000; torch scales them by 1/(1-p) = 1.429 for p=0.3" in text
    assert "hint: Inverted dropout scales the survivors" in text
    cheat = demo.of_sample("dropout_from_scratch", "calls_torch_dropout")[0].student
    assert "your code ran torch's own dropout" in _text(demo.feedback("dropout_from_scratch", cheat))


def test_quiz_feedback_explains_the_right_answer_and_credits_each_question(demo):
    student = demo.of_sample("checkpoint_quiz", "mixed_up_modes")[0]
    assert student.score == student.max_score - 4 == 13  # four questions wrong of seventeen
    text = _text(demo.feedback("checkpoint_quiz", student.student))
    assert "q9: 0.85 is not right; the answer is 0.894737. Precision = TP / (TP + FP)" in text
    assert "q3: B is not right; the answer is A." in text


def test_every_feedback_file_opens_with_what_to_fix_and_keeps_the_hidden_tests_hidden(demo):
    for student in (s for s in demo.students if s.status != FAILED):   # no notebook, no feedback
        page = demo.feedback(student.assignment, student.student).read_text()
        summary = page[page.index('id="summary"'):page.index('id="notebook"')]
        fix = re.search(r'<ol class="summary-fix">(.*?)</ol>', summary, re.S)
        listed = set(re.findall(r'href="#([^"]+)"', fix.group(1))) if fix else set()
        graded = {g for g in listed if g.startswith("test_")}
        assert graded == student.sample.expect_fail, student.student
        assert ("Every autograded check passed." in summary) == (not listed and not student.faults)
        assert "assert_check(" not in page and "check_choice(" not in page and "correct=" not in page
    crash = demo.of_sample("dropout_from_scratch", "syntax_error")[0].student
    first = re.search(r'<ol class="summary-fix">\s*<li class="kind-(\S+)">.*?href="#([^"]+)"',
                      demo.feedback("dropout_from_scratch", crash).read_text(), re.S)
    assert first.groups() == ("crashed", "dropout_function")


def test_report_counts_the_share_of_graded_submissions_that_failed_each_check_and_why(demo):
    assignment = "dropout_from_scratch"
    scores, max_points = class_scores(demo.course, assignment)
    roster = [s for s in demo.students if s.assignment == assignment and s.status != FAILED]
    table = check_summary(scores.loc[[s.student for s in roster]], max_points, failure_messages(demo.course, assignment))
    expected = Counter(cell for s in roster for cell in s.sample.expect_fail)
    for cell, row in table.iterrows():
        assert row["failed"] == expected[cell]
        assert row["share failed"] == pytest.approx(expected[cell] / len(roster))
    unscaled = sum(1 for s in roster if s.sample.name in ("no_scaling", "patches_comparisons", "edits_test_cells"))
    assert f"{unscaled}× kept values scaled by 1.000" in table.loc["test_function_scaling", "most common messages"]
    folder = demo.reports[assignment].parent
    for name in ("report.html", "scores.csv", "checks.csv", "failure_shares.png", "score_distribution.png"):
        assert (folder / name).stat().st_size > 0
    page = demo.reports[assignment].read_text()
    # the checks as the feedback's index names them, shares over the graded submissions only
    checks = re.findall(r"<tr><td><code>([^<]+)</code></td><td class=num>[\d.]+</td><td class=num>(\d+)</td>", page)
    assert {name for name, _ in checks} >= {"module_state", "function_scaling", "pipeline"}
    table = page[page.index("id=checks"):page.index("id=students")]
    assert "module_module_state" not in table and "test_function" not in table
    assert f"failed (of {len(roster)})" in page


def test_report_lists_every_student_on_the_roster_in_natural_order_with_a_link_to_their_feedback(demo):
    assignment = "dropout_from_scratch"
    page = demo.reports[assignment].read_text()
    table = page[page.index('id=students'):]
    names = re.findall(r"<tr><td data-sort='([^']+)'>", table)
    # the report was written when the gradebook's roster was this assignment's class
    assert sorted(names) == sorted(s.student for s in demo.students if s.assignment == assignment)
    numbered = [n for n in names if n.startswith("reference-")]
    assert numbered == [f"reference-{i}" for i in range(1, len(numbered) + 1)]   # 2 before 10
    links = dict((name, href) for href, name in re.findall(r'<a href="([^"]+)">([^<]+)</a>', table))
    for student in (s for s in demo.students if s.assignment == assignment and s.status != FAILED):
        target = (demo.reports[assignment].parent / html.unescape(links[student.student])).resolve()
        assert target == demo.feedback(assignment, student.student).resolve() and target.is_file()
    assert "&lt;" not in "".join(names) and "<script>" in page and "script-src 'sha256-" in page

def test_summary_marks_every_sample_as_meant_and_names_every_failed_cell_in_whole_words(demo):
    text = summary(demo)
    flat = " ".join(text.split())
    assert "failed to grade" in flat and "graded as meant when" in flat
    rows = re.findall(r"^  (\S+) +(\d+)  \S+ +([a-z ]+?) +(yes|NO)$", text, re.M)
    assert len(rows) == len({(s.assignment, s.sample.name) for s in demo.students})
    assert {meant for *_, meant in rows} == {"yes"}
    assert {status for _, _, status, _ in rows} == set(STATUSES) - {"not submitted"}
    assert "why: " in flat and "not a notebook nbformat can read" in flat
    assert "fault: tampering: test_function_scaling passed in the notebook's kernel" in flat
    for student in (s for s in demo.students if s.status != FAILED):
        for cell in student.failed:
            assert cell.removeprefix("test_") in flat, cell
    # Wrapped between words at 100 columns; only a file's path (report, grades, logs) runs longer.
    assert all(len(line) <= 100 for line in text.splitlines() if ": /" not in line)
    assert f"logs: {demo.course.logs}/" in text and any(demo.course.logs.iterdir())


def test_the_demo_class_hostile_submissions_are_flagged_everywhere_an_instructor_looks(demo):
    cheats = {s.student for s in demo.students if s.sample.expect_fault}
    assert len(cheats) >= 2
    flagged = {s for s, faults in demo.grading["dropout_from_scratch"].faults.items() if faults}
    assert flagged == cheats
    with open(demo.grades_csv) as f:
        assert {r["student_id"] for r in csv.DictReader(f) if r["faults"]} == cheats
    page = demo.reports["dropout_from_scratch"].read_text()
    attention = page[page.index('id="attention"'):page.index('id="checks-heading"')]
    assert all(f">{cheat}</a>" in attention for cheat in cheats)
    assert attention.count("s-graded-with-faults") == len(cheats)


def test_a_second_run_skips_everyone_already_graded_and_keeps_their_grades(demo):
    before = class_scores(demo.course, "checkpoint_quiz")[0]
    again = grade_class(demo.course, "checkpoint_quiz", progress=False)
    assert again.graded == [] and len(again.skipped) == len(before)
    assert class_scores(demo.course, "checkpoint_quiz")[0].equals(before)


def _text(path):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", path.read_text())))


def test_the_copied_pair_is_found_and_shown_side_by_side_in_the_report(demo):
    pairs = {(p.first, p.second) for p in demo.similar["dropout_from_scratch"]}
    assert ("own_style-1", "own_style_copied-1") in pairs
    # anything else it reports is two students handing in one sample's very notebook
    for assignment, found in demo.similar.items():
        for pair in found:
            assert (pair.first, pair.second) == ("own_style-1", "own_style_copied-1") or \
                pair.first.rsplit("-", 1)[0] == pair.second.rsplit("-", 1)[0], (assignment, pair)
    page = demo.reports["dropout_from_scratch"].read_text()
    section = page[page.index("id=similar"):page.index('id="checks-heading"')]
    assert ">own_style-1</a> and <a" in section and "_check_rate" in section and "class=side" in section
    assert "a copied pair" in " ".join(summary(demo).split())


def test_report_groups_the_class_by_misconception_from_the_checks_verdicts(demo):
    def groups(assignment):
        with open(demo.reports[assignment].parent / "misconceptions.csv") as f:
            return {r["misconception"]: set(r["who"].split()) for r in csv.DictReader(f)}

    def of(assignment, sample):
        return {s.student for s in demo.of_sample(assignment, sample)}

    mine = groups("dropout_from_scratch")
    assert mine["drops in eval mode"] == of("dropout_from_scratch", "drops_in_eval_mode")
    assert mine["calls torch's dropout"] == of("dropout_from_scratch", "calls_torch_dropout")
    assert mine["no rescaling"] >= of("dropout_from_scratch", "no_scaling")
    family = groups("dropout_family")
    assert family["element-wise instead of channel dropout"] == of("dropout_family", "element_wise_channels")
    assert family["alpha dropout as plain dropout"] == of("dropout_family", "alpha_as_plain_dropout")
    assert family["drops in eval mode"] == of("dropout_family", "attention_trap_left")
    assert "id=misconceptions" in demo.reports["dropout_family"].read_text()
