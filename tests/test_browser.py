"""The course as people meet it: JupyterLab in a real browser (Debian's Chromium, driven by Playwright).

A JupyterLab server runs on loopback with a token, on a private copy of the
course, with private Jupyter folders. Screenshots of every step land in
test-artifacts/browser/ (or $ARTIFACTS_DIR).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from chromium import launched, skip_or_fail_without_chromium
from servers import course_lab_config, jupyterlab
from instructors.course import Course
from instructors.grade_class import fully_graded
from instructors.submissions import load_sample, reference_answers

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "dropout_from_scratch"
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", ROOT / "test-artifacts")) / "browser"

skip_or_fail_without_chromium(allow_module_level=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The instructor's JupyterLab (scripts/instructor-lab.sh) on a released copy of the course, where
    students' notebooks are worked on too; yields (base URL, token, course)."""
    course = Course.copy_of_this_course(tmp_path_factory.mktemp("lab") / "course")
    shutil.copytree(ROOT / "notebooks", course.root / "notebooks")
    for assignment in ("dropout_from_scratch", "checkpoint_quiz"):
        course.nbgrader("generate_assignment", assignment, "--force")
    settings = course.private / "lab-settings"
    for plugin, values in {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
                           "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                                           "checkForUpdates": False}}.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**course.env(), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTER_CONFIG_PATH": course_lab_config(course.private / "prefix")["instructor"]}
    env.pop("MPLBACKEND", None)
    with jupyterlab(course.root, env, course.root / "logs" / "jupyterlab.log",
                    f"--Exchange.root={course.private / 'exchange'}") as (base, token):
        yield base, token, course


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with launched() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    yield page
    page.close()


NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"   # the notebook in the visible tab


def _cells(page):
    return page.locator(f"{NOTEBOOK} .jp-Cell")


def _open_notebook(page, lab, relative: str) -> None:
    base, token, _ = lab
    page.goto(f"{base}/lab/tree/{relative}?reset&token={token}")   # reset: no tabs from earlier tests
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=90_000)
    page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=90_000)


def _run_all_and_wait(page, timeout_ms=180_000) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]
                 .every(p => !p.textContent.includes('*'))
               && document.querySelector('#jp-main-statusbar').textContent.includes('Idle')""",
        timeout=timeout_ms)


def _type_into_cell(page, index: int, text: str) -> None:
    cell = _cells(page).nth(index)
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def _cell_index(notebook: Path, grade_id: str) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _output_text(page, index: int) -> str:
    return _cells(page).nth(index).locator(".jp-OutputArea").inner_text()


def _wait_until_saved(notebook: Path, grade_id: str, fragment: str, timeout: float = 30) -> None:
    """Wait until the file on disk has the typed answer: the save went through."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        cells = json.loads(notebook.read_text())["cells"]
        if fragment in "".join(cells[_cell_index(notebook, grade_id)]["source"]):
            return
        time.sleep(0.3)
    raise AssertionError(f"{notebook.name} was not saved with the typed answer within {timeout} s")


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _work_on_a_copy(lab, name: str) -> tuple[str, Path]:
    _, _, course = lab
    target = course.root / "students" / name / f"{ASSIGNMENT}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(course.release_notebook(ASSIGNMENT), target)
    return str(target.relative_to(course.root)), target


def test_a_student_solves_the_assignment_in_jupyterlab_and_it_grades_to_full_marks(lab, page):
    relative, notebook = _work_on_a_copy(lab, "ada")
    _open_notebook(page, lab, relative)
    _shot(page, "01-student-opens-the-assignment")
    answers = reference_answers(SOURCE)
    for grade_id in ("dropout_function", "dropout_module", "pipeline_model"):
        _type_into_cell(page, _cell_index(notebook, grade_id), answers[grade_id])
    _run_all_and_wait(page)
    part1 = _output_text(page, _cell_index(notebook, "part1_selfcheck"))
    part2 = _output_text(page, _cell_index(notebook, "part2_selfcheck"))
    _cells(page).nth(_cell_index(notebook, "part1_selfcheck")).scroll_into_view_if_needed()
    _shot(page, "02-self-check-passes")
    assert "score: 15/15" in part1 and "FAIL" not in part1
    assert "score: 8/8" in part2 and "FAIL" not in part2
    page.keyboard.press("Control+s")
    _wait_until_saved(notebook, "dropout_function", "torch.rand_like(x, dtype=torch.float32) >= p")

    _, _, course = lab
    submitted = course.submission_path("ada", ASSIGNMENT)
    submitted.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(notebook, submitted)
    course.nbgrader("autograde", ASSIGNMENT, "--student", "ada", "--force")
    assert "ada" in fully_graded(course, ASSIGNMENT)
    from instructors.analytics import class_scores
    scores, max_points = class_scores(course, ASSIGNMENT)
    assert scores.loc["ada"].sum() == max_points.sum() == 27


def test_a_buggy_solution_shows_the_self_checks_hint_on_screen(lab, page):
    relative, notebook = _work_on_a_copy(lab, "bob")
    _open_notebook(page, lab, relative)
    bug = load_sample(ROOT / "instructors" / "samples" / ASSIGNMENT / "no_scaling.py")
    index = _cell_index(notebook, "dropout_function")
    _type_into_cell(page, index, bug.answers["dropout_function"])
    _run_all_and_wait(page)                  # stops at Part 3, still unanswered; Part 1 ran
    check = _cell_index(notebook, "part1_selfcheck")
    _cells(page).nth(check).scroll_into_view_if_needed()
    text = _output_text(page, check)
    _shot(page, "03-self-check-hint-for-a-bug")
    assert "FAIL  function  scaling" in text
    assert "kept values scaled by 1.000; torch scales them by 1/(1-p) = 1.429 for p=0.3" in text
    assert "hint: Inverted dropout scales the survivors by 1/(1-p)" in text


def test_nbgrader_extensions_load_and_the_formgrader_lists_the_assignments(lab, page):
    base, token, _ = lab
    page.goto(f"{base}/lab?token={token}")
    page.wait_for_selector(".lm-MenuBar-itemLabel >> text=Nbgrader", timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
    assert {"Assignment List", "Course List", "Formgrader"} <= set(items)
    page.keyboard.press("Escape")
    assert page.console_errors == []
    page.goto(f"{base}/formgrader?token={token}")
    page.wait_for_selector("text=dropout_from_scratch", timeout=60_000)
    assert page.locator("text=checkpoint_quiz").count() >= 1
    _shot(page, "04-formgrader-lists-the-assignments")


@pytest.mark.parametrize("lesson, figures", [("01_train_vs_eval", 2), ("02_pipeline_trace", 1),
                                             ("03_overfitting_gaps", 3), ("04_mc_dropout", 2),
                                             ("05_dropout_in_modern_networks", 3)])
def test_each_lesson_runs_in_jupyterlab_and_its_plots_appear(lab, page, lesson, figures):
    _open_notebook(page, lab, f"notebooks/{lesson}.ipynb")
    _run_all_and_wait(page)
    assert page.locator(f"{NOTEBOOK} .jp-OutputArea-output img").count() >= figures
    assert page.locator(f"{NOTEBOOK} [data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert page.locator(f"{NOTEBOOK} [data-mime-type='application/vnd.jupyter.error']").count() == 0
    page.locator(f"{NOTEBOOK} .jp-OutputArea-output img").first.scroll_into_view_if_needed()
    _shot(page, f"05-lesson-{lesson}")


# --- feedback and the formgrader, as a student and an instructor open them ---------

FEEDBACK_SAMPLES = ("no_scaling", "syntax_error", "reference", "patches_comparisons")


@pytest.fixture(scope="module")
def graded(lab):
    """The lab's course with four submissions autograded and given feedback, as grade_class does."""
    from instructors.demo import hand_in
    from instructors.grade_class import grade_class
    from instructors.submissions import samples

    _, _, course = lab
    chosen = [s for s in samples(ASSIGNMENT) if s.name in FEEDBACK_SAMPLES]
    for sample in chosen:
        sample.copies = 1
    hand_in(course, ASSIGNMENT, chosen)
    outcome = grade_class(course, ASSIGNMENT, jobs=2, progress=False, only=[f"{s}-1" for s in FEEDBACK_SAMPLES])
    assert outcome.failed == {}
    return course


def _open_feedback_offline(page, course, student: str) -> list[str]:
    """Open a student's feedback file with every request off the file refused; return those refused."""
    refused = []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    path = course.root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
    page.goto(path.as_uri())
    page.wait_for_selector("#summary")
    return refused


def _summary_text(page) -> str:
    return " ".join(page.locator("#summary").inner_text().split())


def test_a_buggy_submissions_feedback_leads_with_the_failed_check_its_points_message_and_hint(graded, page):
    refused = _open_feedback_offline(page, graded, "no_scaling-1")
    top = _summary_text(page)
    page.locator("#summary").screenshot(path=str(ARTIFACTS / "06-feedback-summary-buggy.png"))
    fixes = page.locator(".summary-fix > li").all_inner_texts()
    assert [f.split()[0] for f in fixes] == ["function_scaling", "module_forward", "overfitting"]
    assert "are 0.20 times what the eval network computes" in fixes[2]   # Part 3 says what the network did
    assert "0 / 2" in fixes[0] and "kept values scaled by 1.000; torch scales them by 1/(1-p) = 1.429 for p=0.3" in fixes[0]
    assert "Hint: Inverted dropout scales the survivors by 1/(1-p)" in fixes[0]
    assert "stands on function_scaling" in fixes[1]
    assert "Part 1: the function 13 / 15 1 check to fix" in top and "Part 3: your Dropout in a network 2 / 4 1 check to fix" in top
    assert "function_scaling 0 / 2 every kept value equals x/(1-p)" in top      # the index names the check
    assert "Test cell" not in page.locator("body").inner_text()
    assert refused == []
    # the feedback keeps hidden tests hidden, and its verdict
    assert "assert_check(" not in page.content() and "hidden test: its code is not shown" in page.content()
    # math is drawn, not left as LaTeX, with no network
    assert page.evaluate("document.querySelector('math').getBoundingClientRect().height") > 10
    assert "$$" not in page.locator("body").inner_text() and "\\frac" not in page.locator("body").inner_text()
    # long self-check lines wrap inside their box
    overflow = page.evaluate("""() => [...document.querySelectorAll('div.output_subarea pre')]
        .filter(p => p.scrollWidth > p.clientWidth + 1).length""")
    assert page.locator("div.output_subarea pre").count() > 0 and overflow == 0
    page.locator("math").first.scroll_into_view_if_needed()
    _shot(page, "07-feedback-math-offline")


def test_a_crashing_submissions_feedback_says_first_which_cell_raised(graded, page):
    assert _open_feedback_offline(page, graded, "syntax_error-1") == []
    page.locator("#summary").screenshot(path=str(ARTIFACTS / "08-feedback-summary-crash.png"))
    first = page.locator(".summary-fix > li").first.inner_text()
    assert first.split()[0] == "dropout_function" and "ERROR IN YOUR CODE" in first.upper()
    assert "this cell raised SyntaxError" in first and ".py," not in first
    kinds = page.locator(".summary-fix > li .fix-kind").all_inner_texts()
    assert kinds[0].lower() == "error in your code" and kinds[1].lower() == "not defined"


def test_a_perfect_submissions_feedback_says_so_at_once(graded, page):
    assert _open_feedback_offline(page, graded, "reference-1") == []
    top = _summary_text(page)
    page.locator("#summary").screenshot(path=str(ARTIFACTS / "09-feedback-summary-perfect.png"))
    assert "Every autograded check passed." in top and page.locator(".summary-fix").count() == 0
    assert "Part 1: the function 15 / 15 all passed" in top and "Part 2: the module 8 / 8 all passed" in top


def test_a_tampering_submission_shows_its_fault_to_the_student_and_in_the_formgrader(graded, lab, page):
    assert _open_feedback_offline(page, graded, "patches_comparisons-1") == []
    assert "function_scaling passed inside your notebook but failed when the grader ran the same check" \
        in page.locator(".summary-faults").inner_text()
    page.unroute("**/*")
    from nbgrader.api import Gradebook
    from instructors.grade_class import db_url

    with Gradebook(db_url(graded.root)) as gradebook:
        submission = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "patches_comparisons-1").id
        clean = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "reference-1").id
    base, token, _ = lab
    page.goto(f"{base}/formgrader/submissions/{submission}/?token={token}")
    banner = page.wait_for_selector("#grading-faults", timeout=60_000)
    text = banner.inner_text()
    assert "Grading found 1 fault in this submission" in text
    assert "tampering: test_function_scaling passed in the notebook's kernel but failed when verified" in text
    banner.screenshot(path=str(ARTIFACTS / "10-formgrader-shows-tampering.png"))
    page.goto(f"{base}/formgrader/submissions/{clean}/?token={token}")
    page.wait_for_selector(".nbgrader_cell", timeout=60_000)
    assert page.locator("#grading-faults").count() == 0


# --- what a student wrote, in the instructor's browser --------------------------------
# The student's markdown answers, outputs and error messages carry script that would act as
# the instructor: write the course's nbgrader_config.py through the server's contents API and
# give itself full marks through the formgrader's API. Each page is judged by consequence:
# the file's hash, the gradebook's rows, and any sign in the page that the script ran. The
# last test serves the same notebook as nbconvert draws it by default, at the same address,
# and the same checks find the harm, so they can fail.

_SCRIPT = """(async () => {
  window.__pwned = (window.__pwned || 0) + 1; console.log('PWNED');
  const xsrf = decodeURIComponent((document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '');
  const h = {'Content-Type': 'application/json', 'X-XSRFToken': xsrf};
  const o = location.origin;
  await fetch(o + '/api/contents/nbgrader_config.py', {method: 'PUT', headers: h,
      body: JSON.stringify({type: 'file', format: 'text', content: 'c = get_config()  # PWNED'})});
  const id = (location.pathname.match(/submissions[/]([^/]+)/) || [])[1];
  const grades = await (await fetch(o + '/formgrader/api/grades?submission_id=' + id, {headers: h})).json();
  for (const g of grades) await fetch(o + '/formgrader/api/grade/' + g.id, {method: 'PUT', headers: h,
      body: JSON.stringify({manual_score: 99, extra_credit: 99})});
})()"""
P = "eval(atob('%s'))" % __import__("base64").b64encode(_SCRIPT.encode()).decode()
_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
XSS_MARKDOWN = (f'<img src=x onerror="{P}"> <script>{P}</script> <details open ontoggle="{P}">x</details>\n'
                f'<iframe srcdoc="<script>parent.{P}</script>"></iframe> <svg><animate onbegin="{P}" '
                f'attributeName=x dur=1s></animate></svg> <base href="http://127.0.0.9/"> '
                f'<form action="/api/contents/x" method=post><button>ok</button></form>')
XSS_OUTPUTS = f'''
from IPython.display import display, HTML, Javascript, Markdown
display(HTML({f'<img src=x onerror="{P}"><script>{P}</script>'!r}))
display(Javascript({P!r}))
display(Markdown({f'<img src=y onerror="{P}">'!r}))
display({{"image/png": {f'x" onerror="{P}'!r}}}, raw=True)
display({{"image/png": {_PNG!r}}}, metadata={{"image/png": {{"width": {f"10 onload={P}"!r}}}}}, raw=True)
display({{"image/svg+xml": {f'<svg xmlns="http://www.w3.org/2000/svg" onload="{P}"><script>{P}</script></svg>'!r}}}, raw=True)
display({{"text/latex": {f'<img src=z onerror="{P}">'!r}, "text/plain": "latex"}}, raw=True)
'''
XSS_MODULE = f'''
import torch
from torch import nn


class Dropout(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        raise RuntimeError({f'<img src=q onerror="{P}">'!r})
'''


@pytest.fixture(scope="module")
def hostile_html(lab):
    """A submission whose every part carries script, autograded, with feedback and a class report."""
    import hashlib

    from instructors.analytics import write_report
    from instructors.demo import hand_in
    from instructors.grade_class import grade_class
    from instructors.submissions import Sample

    _, _, course = lab
    answers = {"+dropout_function": XSS_OUTPUTS, "dropout_module": XSS_MODULE,
               **{a: XSS_MARKDOWN for a in ("answer_eval_off", "answer_scaling", "answer_high_p")}}
    hand_in(course, ASSIGNMENT, [Sample("scripted", "script in every part", answers)])
    outcome = grade_class(course, ASSIGNMENT, jobs=1, progress=False, only=["scripted-1"])
    assert outcome.failed == {}
    report = write_report(course, ASSIGNMENT, course.root / "reports" / ASSIGNMENT)
    config = course.root / "nbgrader_config.py"
    return {"course": course, "report": report, "config": config, "config_bytes": config.read_bytes(),
            "config_hash": hashlib.sha256(config.read_bytes()).hexdigest()}


def _restore_config(hostile) -> None:
    """Put the course's config back once the last of the page's writes has landed.

    Every payload on the page sends its own write; one still in flight when the file is
    put back would interleave with it and leave the course a config that does not parse.
    """
    config, last = hostile["config"], None
    deadline = time.time() + 15
    while time.time() < deadline and config.stat().st_mtime_ns != last:
        last = config.stat().st_mtime_ns
        time.sleep(1.0)
    config.write_bytes(hostile["config_bytes"])


def _grades_of(course, student: str) -> list:
    from nbgrader.api import Gradebook
    from instructors.grade_class import db_url

    with Gradebook(db_url(course.root)) as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return notebook.id, sorted((g.name, g.manual_score, g.extra_credit) for g in notebook.grades)


def _harm(page, hostile, grades_before) -> list[str]:
    """Every sign that the student's script ran as the instructor."""
    import hashlib

    found = []
    if hashlib.sha256(hostile["config"].read_bytes()).hexdigest() != hostile["config_hash"]:
        found.append("nbgrader_config.py was rewritten")
    if _grades_of(hostile["course"], "scripted-1")[1] != grades_before:
        found.append("the student's grades changed")
    if page.evaluate("window.__pwned || 0"):
        found.append(f"the script ran {page.evaluate('window.__pwned')} times in the page")
    found += [m for m in page.console_messages if "PWNED" in m]
    return found


@pytest.fixture
def watched(page):
    page.console_messages = []
    page.on("console", lambda m: page.console_messages.append(m.text))
    return page


def _serving(body: bytes):
    """A route handler that answers with ``body``, as the server would serve that file."""
    return lambda route: route.fulfill(body=body, content_type="text/html")


def _logged_in(page, lab) -> None:
    base, token, _ = lab
    page.goto(f"{base}/formgrader?token={token}")   # the instructor's cookies, _xsrf among them
    page.wait_for_selector("text=dropout_from_scratch", timeout=60_000)


def test_the_formgrader_shows_a_scripted_submission_inert_and_still_grades(hostile_html, lab, watched):
    base, token, course = lab
    submission, before = _grades_of(course, "scripted-1")
    _logged_in(watched, lab)
    watched.goto(f"{base}/formgrader/submissions/{submission}/?token={token}")
    watched.wait_for_selector(".nbgrader_cell", timeout=60_000)
    # The formgrader's own scripts still run under its policy: they fill in the autograded scores.
    watched.wait_for_function("() => [...document.querySelectorAll('input.score')].some(i => i.placeholder !== '')",
                              timeout=30_000)
    watched.wait_for_timeout(3000)   # time for a script that did run to do its harm
    _shot(watched, "11-formgrader-scripted-submission")
    assert _harm(watched, hostile_html, before) == []
    text = watched.locator("body").inner_text()
    assert "<img src=q" in text   # the error message is shown, as text
    policy = watched.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content")
    assert "script-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy.split("style-src")[0]


def test_a_scripted_submissions_feedback_and_the_class_report_are_inert_on_the_instructors_origin(
        hostile_html, lab, watched):
    """Served from the instructor's own server, where a script would have the APIs at hand."""
    base, _, course = lab
    _, before = _grades_of(course, "scripted-1")
    _logged_in(watched, lab)
    pages = {"feedback": course.root / "feedback" / "scripted-1" / ASSIGNMENT / f"{ASSIGNMENT}.html",
             "report": hostile_html["report"]}
    for name, path in pages.items():
        watched.route(f"{base}/under-test/{name}.html", _serving(path.read_bytes()))
        watched.goto(f"{base}/under-test/{name}.html")
        watched.wait_for_timeout(3000)
        assert _harm(watched, hostile_html, before) == [], name
        assert "<img src=q" in watched.locator("body").inner_text(), name
    assert watched.locator("meta[http-equiv='Content-Security-Policy']").count() == 1


def test_without_the_defences_the_same_page_does_harm(hostile_html, lab, watched):
    """The mutation check: nbconvert's own drawing of the same notebook, at the formgrader's address."""
    from nbconvert import HTMLExporter

    base, _, course = lab
    submission, before = _grades_of(course, "scripted-1")
    autograded = course.root / "autograded" / "scripted-1" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    stock, _ = HTMLExporter(template_name="classic").from_filename(str(autograded))
    _logged_in(watched, lab)
    url = f"{base}/formgrader/submissions/{submission}/"
    watched.route(url, _serving(stock.encode()))
    try:
        watched.goto(url)
        watched.wait_for_function("() => (window.__pwned || 0) > 0", timeout=30_000)
        deadline = time.time() + 15
        wanted = {"nbgrader_config.py was rewritten", "the student's grades changed"}
        while time.time() < deadline and not wanted <= set(_harm(watched, hostile_html, before)):
            time.sleep(0.5)
        harm = _harm(watched, hostile_html, before)
        assert "nbgrader_config.py was rewritten" in harm and "the student's grades changed" in harm, harm
    finally:
        watched.goto("about:blank")   # no script of that page is left to write again
        _restore_config(hostile_html)


def test_the_class_report_sorts_by_any_column_and_leads_to_each_students_feedback(graded, hostile_html, watched):
    """The report's one script (allowed by its hash) runs; the student text on the same page does not."""
    from instructors.analytics import write_report
    from instructors.statuses import natural_key

    course = hostile_html["course"]
    _, before = _grades_of(course, "scripted-1")
    # Written again here: the fixtures may have run in either order, and the class is both.
    report = write_report(course, ASSIGNMENT, course.root / "reports" / ASSIGNMENT)
    watched.goto(report.as_uri())
    column = lambda n: watched.locator(f"#students tbody tr td:nth-child({n})").all_inner_texts()  # noqa: E731
    assert column(1) == sorted(column(1), key=natural_key) and len(column(1)) >= 5
    watched.click("#students th:nth-child(3) button")
    ascending = [float(s) for s in column(3) if s.strip() not in ("–", "")]
    watched.click("#students th:nth-child(3) button")
    descending = [float(s) for s in column(3) if s.strip() not in ("–", "")]
    assert ascending == sorted(ascending) and descending == sorted(ascending, reverse=True) and len(set(ascending)) > 1
    watched.screenshot(path=str(ARTIFACTS / "13-class-report.png"), full_page=True)
    assert _harm(watched, hostile_html, before) == []
    assert not [m for m in watched.console_messages if "Content Security Policy" in m]
    watched.locator("#students a", has_text="no_scaling-1").click()
    watched.wait_for_selector("#summary")
    assert "function_scaling" in watched.locator("#summary").inner_text()
