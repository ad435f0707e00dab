"""A term on one server: JupyterHub with nbgrader's exchange, run for real on loopback.

The hub is deploy/jupyterhub/ as scripts/install-hub.sh installs it and an
instructor would run it (PAM log-in, one process
per user started as that Unix user, configurable-http-proxy from npm). Throwaway
accounts play the instructor and three students:

* ada submits a buggy notebook, then a correct one: the latest counts;
* bo submits a buggy notebook after the deadline, and first hits an exchange folder
  with the wrong permissions, which the admin's check names and repairs;
* cy never fetches the assignment and tries to submit anyway.

Everything goes through the same HTTP endpoints JupyterLab's buttons call: the
formgrader's API for the instructor, the assignment list for the students. The whole
term runs once (the `term` fixture, about two minutes); each test checks one part of it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from chromium import launched, skip_or_fail_without_chromium
from servers import postgres
from hub import (HUB_ENV, HUB_PREFIX, ROOT, Hub, HubUser, make_account, missing, remove_account,
                 server_environment, stale)
from instructors.submissions import answers_for, fill, load_sample, reference_answers

pytestmark = pytest.mark.timeout(900)

COURSE, ASSIGNMENT = "dropout101", "dropout_from_scratch"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
SAMPLES = ROOT / "instructors/samples" / ASSIGNMENT
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
NAMES = {"teacher": "dt-teacher", "ada": "dt-ada", "bo": "dt-bo", "cy": "dt-cy"}
IDS = {"course_id": COURSE, "assignment_id": ASSIGNMENT}


def _skip_or_fail_without_a_hub():
    reason = missing()
    if reason and os.environ.get("CI"):
        raise RuntimeError(f"CI must run the JupyterHub term ({reason}; see .ci/run)")
    if reason:
        pytest.skip(reason)
    changed = stale()
    if changed:  # grading with old checks would fail for reasons that are not the code's
        raise RuntimeError(f"the hub's copy of the course is older than this checkout ({changed} "
                           f"differ): run scripts/install-hub.sh again")


@dataclass
class Term:
    """What happened, step by step, for the tests to check."""
    base: Path
    exchange: Path
    course: Path
    hub: Hub
    accounts: dict = field(default_factory=dict)
    answers: dict = field(default_factory=dict)      # step -> JSON answer of an endpoint
    exchange_check: str = ""                          # what the admin's check printed
    bo_notebook_before: str = ""                      # bo's work before the failed submit
    bo_notebook_after: str = ""                       # ... and after it
    feedback: dict = field(default_factory=dict)      # student -> {path: html}
    denied: dict = field(default_factory=dict)        # what a student tried -> status
    inbound: list = field(default_factory=list)       # every submission the exchange holds
    export: str = ""                                  # the instructor's `nbgrader export`
    gradebook: str = ""                               # the course's db_url: a PostgreSQL server
    grade_class: str = ""                             # what instructors.grade_class printed
    jail_probe: dict = field(default_factory=dict)    # what ada's code saw, graded by the formgrader
    server_env: dict = field(default_factory=dict)    # the instructor's server's environment


#: Appended to a solution: prints what the code sees while it is graded.
PROBE = ("\nimport json as _json, os as _os\n"
         "print('JAIL-PROBE ' + _json.dumps({'env': sorted(_os.environ), 'pid': _os.getpid(), "
         "'course': sorted(_os.listdir(%r)), 'home': _os.path.expanduser('~')}))\n")


def _work(student: HubUser, sample: str, extra: str = "") -> None:
    """The student writes their answers into the fetched notebook and saves it."""
    saved = student.get(f"api/contents/{NOTEBOOK}", params={"content": 1}).json()
    with tempfile.TemporaryDirectory() as folder:
        fetched = Path(folder) / "fetched.ipynb"
        nbformat.write(nbformat.from_dict(saved["content"]), fetched)
        answers = (reference_answers(SOURCE) if sample == "reference"
                   else answers_for(load_sample(SAMPLES / f"{sample}.py"), SOURCE))
        answers["dropout_function"] += extra
        nb = fill(fetched, answers)
    answer = student.put(f"api/contents/{NOTEBOOK}",
                         json={"type": "notebook", "format": "json", "content": nb})
    answer.raise_for_status()


def _act(user: HubUser, action: str) -> dict:
    answer = user.post(f"assignments/{action}", params=IDS)
    answer.raise_for_status()
    return answer.json()


def _instructor(user: HubUser, method: str, path: str, **kwargs) -> dict:
    answer = getattr(user, method)(f"formgrader/api/{path}", **kwargs)
    answer.raise_for_status()
    return answer.json()


def _as_user(name: str, *command: str) -> subprocess.CompletedProcess:
    """Run a command as that account, from / (so nothing of this repository is on its path)."""
    return subprocess.run(["runuser", "-u", name, "--", *command], capture_output=True, text=True,
                          cwd="/")


def _check_exchange(exchange: Path, *flags: str) -> str:
    done = subprocess.run([sys.executable, "-m", "instructors.exchange", str(exchange),
                           "--course", COURSE, *flags], cwd=ROOT, capture_output=True, text=True)
    return done.stdout + done.stderr


def _in_instructor_terminal(teacher, term: Term, *command: str) -> str:
    """Run a command as the instructor would in a terminal of their JupyterLab:
    as their account, in the course folder, with their server's environment."""
    env = server_environment(teacher.name)   # its PATH has no /usr/sbin, where runuser is
    done = subprocess.run([shutil.which("runuser"), "-u", teacher.name, "--", *command], env=env,
                          cwd=term.course, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _play_the_term(term: Term) -> None:
    hub, accounts, said = term.hub, term.accounts, term.answers
    teacher = HubUser(hub, accounts["teacher"])
    teacher.start_server()
    for who in ("ada", "bo", "cy"):
        _instructor(teacher, "put", f"student/{NAMES[who]}",
                    json={"first_name": who.title(), "last_name": "Test", "email": None})
    said["assign"] = _instructor(teacher, "post", f"assignment/{ASSIGNMENT}/assign")
    said["release"] = _instructor(teacher, "post", f"assignment/{ASSIGNMENT}/release")

    ada, bo, cy = (HubUser(hub, accounts[who]) for who in ("ada", "bo", "cy"))
    for student in (ada, bo, cy):
        student.start_server()

    said["ada_fetch"] = _act(ada, "fetch")
    _work(ada, "no_scaling")
    said["ada_first_submit"] = _act(ada, "submit")
    time.sleep(1.1)  # nbgrader's submission timestamps have one-second names
    _work(ada, "reference", extra=PROBE % str(term.course))
    said["ada_resubmit"] = _act(ada, "submit")

    said["bo_fetch"] = _act(bo, "fetch")
    _work(bo, "drops_in_eval_mode")

    # The deadline passes: from now on a submission is late. (nbgrader takes due dates to
    # the second; the pauses keep every submission clear of the deadline's second.)
    time.sleep(1.1)
    due = datetime.now(timezone.utc).replace(microsecond=0)
    said["due"] = _instructor(teacher, "put", f"assignment/{ASSIGNMENT}", json={
        "duedate_notimezone": due.strftime("%Y-%m-%d %H:%M:%S"), "duedate_timezone": "UTC"})
    time.sleep(1.1)

    # Someone breaks the exchange: inbound/ no longer lets students write.
    inbound = term.exchange / COURSE / "inbound"
    inbound.chmod(0o755)
    term.bo_notebook_before = (accounts["bo"].home / NOTEBOOK).read_text()
    said["bo_blocked_submit"] = _act(bo, "submit")
    term.bo_notebook_after = (accounts["bo"].home / NOTEBOOK).read_text()
    term.exchange_check = _check_exchange(term.exchange)
    _check_exchange(term.exchange, "--fix")
    said["bo_late_submit"] = _act(bo, "submit")

    said["cy_list"] = cy.get("assignments", params={"course_id": COURSE}).json()
    said["cy_submit"] = _act(cy, "submit")

    said["collect"] = _instructor(teacher, "post", f"assignment/{ASSIGNMENT}/collect")
    for who in ("ada", "bo"):
        said[f"autograde_{who}"] = _instructor(
            teacher, "post", f"submission/{ASSIGNMENT}/{NAMES[who]}/autograde", timeout=600)
    graded = json.loads((term.course / "autograded" / NAMES["ada"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in graded["cells"] for o in c.get("outputs", [])
                      if o.get("output_type") == "stream")
    term.jail_probe = json.loads(printed.split("JAIL-PROBE ", 1)[1].splitlines()[0])
    term.server_env = server_environment(NAMES["teacher"])
    said["generate_feedback"] = _instructor(teacher, "post", f"assignment/{ASSIGNMENT}/generate_feedback")
    said["release_feedback"] = _instructor(teacher, "post", f"assignment/{ASSIGNMENT}/release_feedback")
    said["submissions"] = _instructor(teacher, "get", f"submissions/{ASSIGNMENT}")
    said["cy_record"] = _instructor(teacher, "get", f"student_submissions/{NAMES['cy']}")
    term.inbound = sorted(p.name for p in inbound.iterdir())
    # The same class again, as an instructor of 200 would grade it: all at once, in parallel.
    term.grade_class = _in_instructor_terminal(
        accounts["teacher"], term, "python", "-m", "instructors.grade_class", ASSIGNMENT, "--force")
    _in_instructor_terminal(accounts["teacher"], term, "nbgrader", "export", "--to", "grades.csv")
    term.export = (term.course / "grades.csv").read_text()

    for who, student in (("ada", ada), ("bo", bo), ("cy", cy)):
        said[f"{who}_fetch_feedback"] = _act(student, "fetch_feedback")
        folder = accounts[who].home / ASSIGNMENT / "feedback"
        term.feedback[who] = {str(p.relative_to(folder)): p.read_text()
                              for p in sorted(folder.rglob("*.html"))} if folder.exists() else {}

    # What a student must not reach: the formgrader, someone else's server.
    term.denied["own formgrader"] = ada.get("formgrader/api/status").status_code
    term.denied["teacher's server"] = ada.http.get(
        f"{hub.url}/user/{NAMES['teacher']}/api/contents", timeout=30,
        allow_redirects=False).status_code


@pytest.fixture(scope="module")
def gradebook():
    """The term's gradebook: PostgreSQL, as a course on several machines keeps it (docs/scaling.md)."""
    _skip_or_fail_without_a_hub()
    with postgres() as url:
        yield url


@pytest.fixture(scope="module")
def term(gradebook):
    _skip_or_fail_without_a_hub()
    base = Path(tempfile.mkdtemp(prefix="dropout-hub-"))
    base.chmod(0o755)   # every account must reach its home and the exchange under here
    homes = base / "home"
    homes.mkdir(mode=0o755)
    hub = None
    try:
        accounts = {who: make_account(name, homes) for who, name in NAMES.items()}
        exchange = base / "exchange"
        # The admin's part of the set-up, as the README has it.
        _check_exchange(exchange, "--fix")
        course = accounts["teacher"].home / COURSE
        course.mkdir()
        shutil.copytree(ROOT / "source", course / "source")
        shutil.copy(ROOT / "nbgrader_config.py", course)
        with open(course / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {gradebook!r}\n")
        subprocess.run(["chown", "-R", f"{NAMES['teacher']}:", str(course)], check=True)
        course.chmod(0o700)
        roster = base / "students.txt"
        roster.write_text("".join(f"{NAMES[w]}\n" for w in ("ada", "bo", "cy")))
        (base / "hub").mkdir()
        hub = Hub(base / "hub", NAMES["teacher"], roster, exchange)
        played = Term(base, exchange, course, hub, accounts, gradebook=gradebook)
        try:
            _play_the_term(played)
        except Exception as error:
            raise RuntimeError(f"the term broke off: {error}\n--- hub log ---\n{hub.tail(80)}") from error
        yield played
    finally:
        if hub:
            hub.stop()
            # The hub's log and every endpoint's answer, for reading after a failure.
            artifacts = ROOT / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            shutil.copy(hub.log, artifacts / "jupyterhub.log")
            if "played" in locals():
                (artifacts / "jupyterhub-term.json").write_text(
                    json.dumps(played.answers, indent=1, default=str))
        for name in NAMES.values():
            remove_account(name)
        shutil.rmtree(base, ignore_errors=True)


def test_the_formgrader_grades_student_code_in_the_jail(term):
    """The instructor's server holds the hub's API token; the kernels it grades in do not."""
    assert "JUPYTERHUB_API_TOKEN" in term.server_env
    seen = term.jail_probe
    # Of the course folder, only the path down to its own (copied) folder: no source/, no gradebook.
    assert seen["pid"] == 1 and seen["course"] == ["autograded"] and seen["home"] == "/home/student"
    assert not [v for v in seen["env"] if v.startswith(("JUPYTERHUB", "JPY_"))], seen["env"]


def _submission(term: Term, who: str) -> dict:
    return next(s for s in term.answers["submissions"] if s["student"] == NAMES[who])


def test_the_instructor_releases_through_the_exchange_and_students_fetch_it(term):
    assert term.answers["release"]["success"], term.answers["release"]["log"]
    fetched = term.answers["ada_fetch"]["value"][0]
    assert (fetched["assignment_id"], fetched["status"]) == (ASSIGNMENT, "fetched")
    released = nbformat.read(term.course / "release" / NOTEBOOK, as_version=4)
    assert not (term.accounts["cy"].home / NOTEBOOK).exists(), "cy never fetched, yet has it"
    bo_fetched = nbformat.read(term.accounts["bo"].home / NOTEBOOK, as_version=4)
    assert len(bo_fetched.cells) == len(released.cells)
    assert "### BEGIN SOLUTION" not in json.dumps(bo_fetched), "the student got the solutions"


def test_the_correct_resubmission_counts_not_the_buggy_first_one(term):
    assert term.answers["ada_first_submit"]["success"] and term.answers["ada_resubmit"]["success"]
    ada = _submission(term, "ada")
    # 27 autograded points; the written answers wait for the instructor's hand.
    assert ada["autograded"] and ada["code_score"] == ada["max_code_score"] == 27, ada


def test_the_term_keeps_its_gradebook_in_postgresql(term):
    import sqlalchemy

    assert not (term.course / "gradebook.db").exists()
    engine = sqlalchemy.create_engine(term.gradebook)
    with engine.connect() as db:
        students = db.execute(sqlalchemy.text(
            "select student.id from submitted_assignment join student "
            "on submitted_assignment.student_id = student.id")).scalars().all()
    engine.dispose()
    assert sorted(students) == sorted([NAMES["ada"], NAMES["bo"]])


def test_every_submission_reaches_the_exchange_and_the_export_has_the_class(term):
    handed_in = [name.split("+")[0] for name in term.inbound]
    assert sorted(handed_in) == [NAMES["ada"], NAMES["ada"], NAMES["bo"]], term.inbound
    rows = {row["student_id"]: row for row in csv.DictReader(io.StringIO(term.export))
            if row["assignment"] == ASSIGNMENT}
    assert set(rows) == {NAMES["ada"], NAMES["bo"], NAMES["cy"]}
    assert float(rows[NAMES["ada"]]["raw_score"]) == 27.0
    # cy never handed in: no score, and a status that says so rather than a 0
    assert (rows[NAMES["cy"]]["raw_score"], rows[NAMES["cy"]]["status"]) == ("", "not submitted")
    assert all(row["faults"] == "" for row in rows.values()), rows


def test_grading_the_class_in_parallel_on_the_server_agrees_with_the_formgrader(term):
    assert "graded 2, skipped 0 already graded, failed 0" in term.grade_class, term.grade_class
    assert "FAULT" not in term.grade_class
    # The export was taken after this regrade; the formgrader's scores were taken before.
    exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(io.StringIO(term.export))
                if row["assignment"] == ASSIGNMENT and row["status"] != "not submitted"}
    for who in ("ada", "bo"):
        assert exported[NAMES[who]] == _submission(term, who)["score"], who


def test_the_buggy_submission_scores_what_its_bugs_cost(term):
    bo = _submission(term, "bo")
    assert bo["autograded"] and 0 < bo["code_score"] < bo["max_code_score"], bo
    graded = term.answers["autograde_bo"]
    assert graded["success"], graded["log"]


def test_a_submission_after_the_deadline_is_recorded_late(term):
    submitted = {who: datetime.fromisoformat(_submission(term, who)["timestamp"]) for who in ("ada", "bo")}
    due = datetime.fromisoformat(term.answers["due"]["duedate"])   # both in UTC
    assert submitted["bo"] > due > submitted["ada"]
    assert f"{NAMES['bo']}> is" in term.answers["autograde_bo"]["log"]
    assert "seconds late" in term.answers["autograde_bo"]["log"]
    assert "seconds late" not in term.answers["autograde_ada"]["log"]


def test_each_student_fetches_only_their_own_feedback(term):
    ada, bo = term.feedback["ada"], term.feedback["bo"]
    assert len(ada) == 1 and len(bo) == 1, (ada.keys(), bo.keys())
    for who, html in (("ada", *ada.values()), ("bo", *bo.values())):
        graded = _submission(term, who)
        # the written answers wait for the instructor: the score so far, the pending points apart
        heading = re.search(r"\(Score so far: ([\d.]+) / [\d.]+; ([\d.]+) more points wait to be graded by hand\)", html)
        assert heading and float(heading[1]) == graded["score"], who
    # bo's feedback says what is wrong with bo's code: dropout stays on in eval mode.
    assert "dropout must be off after model.eval()" in next(iter(bo.values()))
    assert "dropout must be off after model.eval()" not in next(iter(ada.values()))
    assert term.feedback["cy"] == {}
    for who in ("ada", "bo"):
        assert _as_user(NAMES[who], "ls", str(term.exchange / COURSE / "feedback")).returncode != 0, \
            f"{who} can list everyone's feedback"


def test_a_student_who_never_fetched_cannot_submit_and_nothing_is_recorded(term):
    listed = term.answers["cy_list"]["value"]
    assert [(a["assignment_id"], a["status"]) for a in listed] == [(ASSIGNMENT, "released")]
    refused = term.answers["cy_submit"]
    assert refused["success"] is False and "Assignment not found" in refused["value"], refused
    assert NAMES["cy"] not in {s["student"] for s in term.answers["submissions"]}
    record = next(r for r in term.answers["cy_record"] if r["name"] == ASSIGNMENT)
    assert (record["submitted"], record["autograded"], record["score"]) == (False, False, 0), record


def test_an_exchange_with_wrong_permissions_fails_clearly_and_loses_nothing(term):
    blocked = term.answers["bo_blocked_submit"]
    assert blocked["success"] is False
    assert "write permissions" in blocked["value"] and "inbound" in blocked["value"], blocked
    assert term.bo_notebook_after == term.bo_notebook_before, "the failed submit changed bo's work"
    assert "inbound has mode 755; it needs 2733" in term.exchange_check, term.exchange_check
    assert term.answers["bo_late_submit"]["success"], term.answers["bo_late_submit"]


def test_students_cannot_reach_the_formgrader_the_course_or_each_others_work(term):
    assert term.denied["own formgrader"] == 404
    assert term.denied["teacher's server"] == 403, term.denied
    source = term.course / "source" / NOTEBOOK
    assert source.exists()
    for who in ("ada", "bo", "cy"):
        assert _as_user(NAMES[who], "cat", str(source)).returncode != 0, f"{who} read source/"
        assert _as_user(NAMES[who], "ls", str(term.exchange / COURSE / "inbound")).returncode != 0, \
            f"{who} can list the submissions"


def test_the_installed_course_that_students_can_read_holds_no_solutions(term):
    """The hub's environment has the grader's code, copied, and nothing of source/.

    Every account must read the environment its server runs from. An editable install
    would link it to this repository, whose source/ holds the solutions and the
    quiz's answer key; a copy of the packages does not.
    """
    # The quiz's hidden tests: each explains its answer in a sentence found nowhere but
    # in source/ (and, after grading, in that student's feedback).
    quiz = nbformat.read(ROOT / "source/checkpoint_quiz/checkpoint_quiz.ipynb", as_version=4)
    key = re.findall(r'why="([^"\\]{40,})"', "\n".join(c.source for c in quiz.cells))
    assert len(key) >= 5, key
    patterns = term.base / "answer-key.txt"
    patterns.write_text("\n".join(key) + "\n")
    probe = ("import importlib.metadata as m, autograder, instructors; "
             "print(autograder.__file__); print(instructors.__file__); "
             "print('\\n'.join(str(f) for f in m.files('dropout-course')))")
    seen = _as_user(NAMES["ada"], str(HUB_ENV / "bin/python"), "-c", probe)
    assert seen.returncode == 0, seen.stderr
    lines = seen.stdout.splitlines()
    assert all(line.startswith(str(HUB_ENV)) for line in lines[:2]), lines[:2]
    installed = lines[2:]
    assert not [f for f in installed if f.endswith((".pth", ".ipynb")) or "samples" in f], installed
    found = _as_user(NAMES["ada"], "grep", "-rlFf", str(patterns), str(HUB_PREFIX))
    assert found.returncode == 1 and found.stdout == "", (found.stdout, found.stderr)
    # ... and the same search does find the key where it is, so it can find a leak.
    found = subprocess.run(["grep", "-rlFf", str(patterns), str(ROOT / "source")],
                           capture_output=True, text=True)
    assert "checkpoint_quiz.ipynb" in found.stdout


# --- in the browser: what each role sees --------------------------------------------

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", ROOT / "test-artifacts")) / "jupyterhub"


@pytest.fixture(scope="module")
def browser():
    skip_or_fail_without_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with launched() as chromium:
        yield chromium


def _log_in(browser, term: Term, who: str):
    """Log in on the hub's own page, as a person would, and land in JupyterLab."""
    account = term.accounts[who]
    page = browser.new_page(viewport={"width": 1300, "height": 850})
    page.goto(f"{term.hub.url}/hub/login")
    page.fill("#username_input", account.name)
    page.fill("#password_input", account.password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{account.name}/lab**", timeout=120_000)
    page.wait_for_selector(".lm-MenuBar-itemLabel:text-is('Nbgrader')", timeout=120_000)
    return page


def _nbgrader_menu(page) -> list[str]:
    page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    page.wait_for_selector(".lm-Menu-content")
    items = page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_inner_texts()
    return [item for item in items if item]


def test_in_the_browser_a_student_sees_the_assignment_and_no_formgrader(term, browser):
    page = _log_in(browser, term, "cy")
    try:
        menu = _nbgrader_menu(page)
        assert "Assignment List" in menu and "Formgrader" not in menu, menu
        assert "Course List" not in menu, menu
        page.click(".lm-Menu-itemLabel:text-is('Assignment List')")
        released = page.locator("#released_assignments_list")
        released.get_by_text(ASSIGNMENT).wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "student-assignment-list.png"))
    finally:
        page.close()


def test_in_the_browser_the_instructor_grades_in_the_formgrader_in_its_own_tab(term, browser):
    """JupyterHub forbids framing a user's server (CSP frame-ancestors 'none'): on one
    origin, a student's page could otherwise frame the instructor's formgrader. So the
    formgrader opens in a browser tab of its own, as nbgrader documents for JupyterHub."""
    page = _log_in(browser, term, "teacher")
    try:
        menu = _nbgrader_menu(page)
        assert "Formgrader" in menu, menu
        page.keyboard.press("Escape")
        answer = page.goto(f"{term.hub.url}/user/{NAMES['teacher']}/formgrader")
        assert answer.ok
        assert answer.headers.get("content-security-policy") == "frame-ancestors 'none'"
        row = page.locator("tr", has_text=ASSIGNMENT).first
        row.wait_for(timeout=60_000)
        cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
        assert "released" in cells and "2" in cells, cells   # status; ada's and bo's submissions
        page.screenshot(path=str(ARTIFACTS / "instructor-formgrader.png"))
    finally:
        page.close()
