"""A student's folder is untrusted data: what the grader reads of it, with its own rights, before any jail.

The unit tests give :class:`autograder.untrusted.intake.Intake` a folder of every
kind of entry a student can make. The term below is the real path on a shared
server: students with accounts of their own write into nbgrader's exchange, the
instructor collects, autogrades, gives feedback, grades the class and bundles a
submission for the cluster, and a submission placed in ``submitted/`` by hand is
autograded by the ``nbgrader`` command. It is judged by consequence: whether any of
the instructor's files reached a student's folder, feedback or task, whether every
step ended, how much disk it took, whose work was graded as whose, and at what time.
The mutation tests run nbgrader's own collect and autograde on the same kind of
folder and find the harm.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from autograder.untrusted.intake import NOTEBOOK_LIMIT, Intake, Limits, Refused, read_path
from instructors.course import Course
from instructors.submissions import fill, reference_answers

NAME = "dropout_from_scratch"
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
#: In every instructor's copy of the assignment and nowhere a student's work should have it.
SOLUTION_MARK = "### BEGIN SOLUTION"


# --- the intake on its own ------------------------------------------------------------------

def _every_kind_of_entry(folder: Path) -> Path:
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "answer.txt").write_text("mine")
    (folder / "sub" / "deeper" / "data.csv").write_text("1,2\n")
    os.symlink("/etc/passwd", folder / "to-a-file")
    os.symlink("/etc", folder / "to-a-folder")
    os.symlink("/dev/zero", folder / "endless")
    os.mkfifo(folder / "pipe")
    os.link(folder / "answer.txt", folder / "sub" / "same-file")
    with open(folder / "sparse.bin", "wb") as f:
        f.truncate(10**12)   # a terabyte that takes no disk
    (folder / "new\nline").write_text("x")
    (folder / os.fsdecode(b"\xff-not-utf8")).write_text("x")
    return folder


def test_only_plain_files_and_folders_are_taken_and_every_other_entry_is_named(tmp_path):
    source = _every_kind_of_entry(tmp_path / "handed-in")
    intake = Intake()
    started = time.monotonic()
    intake.copy(str(source), str(tmp_path / "copy"))
    assert time.monotonic() - started < 5   # no endless file, no FIFO waited on
    copied = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*"))
    assert copied == ["sub", "sub/deeper", "sub/deeper/data.csv"]
    said = "\n".join(intake.refused)
    for entry, why in [("to-a-file", "a symbolic link to /etc/passwd"), ("to-a-folder", "a symbolic link"),
                       ("endless", "a symbolic link to /dev/zero"), ("pipe", "a named pipe"),
                       ("answer.txt", "a hard link"), ("sub/same-file", "a hard link"),
                       ("sparse.bin", "the folder holds more than"), ("new\\nline", "a name with control characters"),
                       ("\\udcff-not-utf8", "a name that is not UTF-8")]:
        assert f"{entry}: {why}" in said, (entry, said)
    assert sum(p.stat().st_size for p in (tmp_path / "copy").rglob("*") if p.is_file()) == 4


def test_bounds_on_files_entries_and_depth_hold(tmp_path):
    folder = tmp_path / "many"
    deep = folder
    for level in range(6):
        deep = deep / f"d{level}"
    deep.mkdir(parents=True)
    for i in range(30):
        (folder / f"f{i:02}.txt").write_bytes(b"x" * 100)
    intake = Intake(Limits(file_bytes=100, total_bytes=1000, entries=25, depth=3))
    taken = dict(intake.files(str(folder)))
    files = [k for k, v in taken.items() if v is not None]
    assert len(files) <= 10 and sum(len(taken[f]) for f in files) <= 1000
    assert any("more than 25 files and folders" in r for r in intake.refused) or intake.over_total
    nested = Intake(Limits(depth=3))
    list(nested.files(str(folder)))
    assert any("nested more than 3 deep" in r for r in nested.refused)


def test_a_path_too_long_to_copy_is_refused_not_an_error(tmp_path):
    deep = tmp_path / "long"
    for level in range(6):
        deep = deep / (chr(ord("a") + level) * 250)
    deep.mkdir(parents=True)
    (deep / "x.txt").write_text("x")
    intake = Intake()
    intake.copy(str(tmp_path / "long"), str(tmp_path / "copy"))
    assert any("a path longer than" in r for r in intake.refused)


def test_the_last_change_is_the_latest_of_every_entry_not_the_folders(tmp_path):
    """Rewriting a file in place changes its ctime, not its folder's: the clock reads both."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notebook.ipynb").write_text("{}")
    folder_changed = os.stat(tmp_path).st_ctime
    time.sleep(1.1)
    (tmp_path / "sub" / "notebook.ipynb").write_text('{"later": 1}')
    intake = Intake()
    list(intake.files(str(tmp_path)))
    assert intake.last_change >= os.stat(tmp_path / "sub" / "notebook.ipynb").st_ctime > folder_changed + 1


def test_a_folder_that_is_itself_a_link_is_not_read(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(OSError):
        list(Intake().files(str(tmp_path / "link")))


def test_one_file_is_read_only_if_it_is_a_plain_file_within_the_limit(tmp_path):
    (tmp_path / "ok.ipynb").write_text("{}")
    os.symlink("/etc/passwd", tmp_path / "link.ipynb")
    os.mkfifo(tmp_path / "fifo.ipynb")
    with open(tmp_path / "big.ipynb", "wb") as f:
        f.truncate(NOTEBOOK_LIMIT + 1)
    assert read_path(str(tmp_path / "ok.ipynb")) == b"{}"
    for name, why in (("link.ipynb", "symbolic link"), ("fifo.ipynb", "named pipe"), ("big.ipynb", "more than")):
        with pytest.raises(Refused, match=why):
            read_path(str(tmp_path / name))


def test_cleaning_in_place_sets_aside_what_it_would_not_copy_and_deletes_nothing(tmp_path):
    folder = _every_kind_of_entry(tmp_path / "submitted")
    intake = Intake()
    intake.clean(str(folder), str(tmp_path / "submitted.refused"))
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert left == ["sub", "sub/deeper", "sub/deeper/data.csv"]
    aside = tmp_path / "submitted.refused"
    assert os.path.islink(aside / "endless") and (aside / "answer.txt").read_text() == "mine"
    assert len(intake.refused) == 9


# --- a term on a shared server ---------------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("useradd") is None,
                                reason="needs root, to make the students' accounts")
ACCOUNTS = {"ada": "di-ada", "mal": "di-mal", "linker": "di-linker", "eve": "di-eve"}


def _as(account: str, script: str) -> None:
    """Run Python as that student, from / (the student's own rights, nothing of this repository)."""
    done = subprocess.run(["runuser", "-u", account, "--", "/usr/bin/python3", "-c", script],
                          capture_output=True, text=True, cwd="/", timeout=60)
    assert done.returncode == 0, done.stderr


def _stamp(seconds_ago: float = 0) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime(time.time() - seconds_ago))


@dataclass
class Term:
    base: Path
    course: Course
    exchange: Path
    canary: str
    ada_notebook: bytes = b""
    said: dict = field(default_factory=dict)      # command -> what it printed
    codes: dict = field(default_factory=dict)     # step -> exit status
    seconds: dict = field(default_factory=dict)   # step -> how long it took
    outcome: object = None                        # grade_class's
    bundle: dict = field(default_factory=dict)    # a cluster task of di-mal's


def _nbgrader(term: Term, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={term.exchange}"],
                          cwd=term.course.root, env=term.course.env(), capture_output=True, text=True,
                          timeout=timeout)
    term.seconds[" ".join(args[:1])] = time.monotonic() - start
    term.said[" ".join(args)] = done.stdout + done.stderr
    return done


def _hand_in(account: str, folder: str, script: str) -> None:
    """As ``account``: make inbound/``folder`` and run ``script`` in it (``d``: its path)."""
    _as(account, f"import os, json, time\nd = {folder!r}\nos.mkdir(d)\n{script}")


@pytest.fixture(scope="module")
def term():
    from hub import make_account, remove_account
    from instructors.grade_class import grade_class

    base = Path(tempfile.mkdtemp(prefix="dropout-intake-"))
    base.chmod(0o755)
    (base / "home").mkdir(mode=0o755)
    try:
        for name in ACCOUNTS.values():
            make_account(name, base / "home")
        course = Course.copy_of_this_course(base / "course")
        course.root.chmod(0o700)   # the instructor's: students reach none of it
        canary = f"CANARY-{os.urandom(6).hex()}"
        (course.root / "instructor_notes.txt").write_text(f"answer key {canary}\n")
        exchange = base / "exchange"
        for folder, mode in ((exchange, 0o777), (exchange / "dropout101", 0o755),
                             (exchange / "dropout101" / "inbound", 0o2733),
                             (exchange / "dropout101" / "outbound", 0o755)):
            folder.mkdir()
            folder.chmod(mode)
        term = Term(base, course, exchange, canary)
        course.nbgrader("generate_assignment", NAME, "--force")
        notebook = nbformat.writes(fill(course.release_notebook(NAME), reference_answers(SOURCE)))
        term.ada_notebook = notebook.encode()
        inbound = exchange / "dropout101" / "inbound"
        secret_notebook = str(course.root / "source" / NAME / f"{NAME}.ipynb")
        write = f"open(os.path.join(d, {NAME + '.ipynb'!r}), 'w').write({notebook!r})\n"
        # ada hands in her work, as `nbgrader submit` does.
        _hand_in(ACCOUNTS["ada"], str(inbound / f"di-ada+{NAME}+{_stamp(60)}+a1"),
                 write + f"open(os.path.join(d, 'timestamp.txt'), 'w').write({_stamp(60)!r})\n")
        # mal: her notebook, and every entry that reads or blocks with the grader's rights; her
        # timestamp.txt claims a day earlier, before any deadline.
        _hand_in(ACCOUNTS["mal"], str(inbound / f"di-mal+{NAME}+{_stamp(86400)}+m1"), write + f"""
open(os.path.join(d, 'timestamp.txt'), 'w').write({_stamp(86400)!r})
os.symlink({str(course.root / 'instructor_notes.txt')!r}, os.path.join(d, 'notes.txt'))
os.symlink({str(course.root / 'gradebook.db')!r}, os.path.join(d, 'gradebook.db'))
os.symlink({str(course.root / 'source')!r}, os.path.join(d, 'source'))
os.symlink('/dev/zero', os.path.join(d, 'zeros.bin'))
os.mkfifo(os.path.join(d, 'pipe'))
with open(os.path.join(d, 'sparse.bin'), 'wb') as f:
    f.truncate(200 * 2**30)
open(os.path.join(d, 'mine.txt'), 'w').write('mine')
os.link(os.path.join(d, 'mine.txt'), os.path.join(d, 'again.txt'))
open(os.path.join(d, 'odd\\x1b]0;title\\x07name'), 'w').write('x')
""")
        # linker: the notebook itself is a link to the instructor's solutions.
        _hand_in(ACCOUNTS["linker"], str(inbound / f"di-linker+{NAME}+{_stamp(30)}+l1"),
                 f"os.symlink({secret_notebook!r}, os.path.join(d, {NAME + '.ipynb'!r}))\n")
        # eve: a later submission in ada's name, and one of her own that is a link to the course.
        _hand_in(ACCOUNTS["eve"], str(inbound / f"di-ada+{NAME}+{_stamp(5)}+e1"),
                 f"os.symlink({secret_notebook!r}, os.path.join(d, {NAME + '.ipynb'!r}))\n")
        _as(ACCOUNTS["eve"], f"import os; os.symlink({str(course.root / 'source' / NAME)!r}, "
                             f"{str(inbound / f'di-eve+{NAME}+{_stamp(5)}+e2')!r})")
        # And a submission placed in submitted/ by hand (zip_collect, a copy): the notebook a link.
        placed = course.root / "submitted" / "placed" / NAME
        placed.mkdir(parents=True)
        os.symlink(secret_notebook, placed / f"{NAME}.ipynb")
        os.mkfifo(placed / "pipe")
        os.symlink("/dev/zero", placed / "zeros.bin")
        # ... and one whose notebook is real, beside a FIFO and a link to the instructor's notes.
        placed_too = course.root / "submitted" / "placed-too" / NAME
        placed_too.mkdir(parents=True)
        (placed_too / f"{NAME}.ipynb").write_text(notebook)
        os.mkfifo(placed_too / "pipe")
        os.symlink(course.root / "instructor_notes.txt", placed_too / "notes.txt")

        term.codes["collect"] = _nbgrader(term, "collect", NAME, timeout=120).returncode
        term.codes["autograde placed"] = _nbgrader(term, "autograde", NAME, "--student=placed*").returncode
        term.outcome = grade_class(course, NAME, jobs=2, progress=False,
                                   only=[s for s in ("di-ada", "di-mal", "di-linker")
                                         if (course.root / "submitted" / s).exists()])
        term.codes["feedback"] = _nbgrader(term, "generate_feedback", NAME, "--force").returncode
        from instructors.cluster import bundle
        term.bundle = bundle(course, NAME, "di-mal")
        yield term
    finally:
        for name in ACCOUNTS.values():
            remove_account(name)
        shutil.rmtree(base, ignore_errors=True)


def _everything_of(course: Course, student: str) -> str:
    text = []
    for kind in ("submitted", "autograded", "feedback"):
        for path in (course.root / kind / student).rglob("*"):
            if path.is_file() and not path.is_symlink():
                text.append(path.read_bytes().decode(errors="replace"))
    return "\n".join(text)


@needs_root
def test_no_file_of_the_instructor_reaches_a_students_folder_feedback_or_task(term):
    for student in ("di-ada", "di-mal", "di-linker", "di-eve", "placed", "placed-too"):
        found = _everything_of(term.course, student)
        assert term.canary not in found and SOLUTION_MARK not in found, student
        assert "SQLite format" not in found, student
    sent = json.dumps({k: v.decode(errors="replace") for k, v in term.bundle["submitted"].items()})
    assert term.canary not in sent and SOLUTION_MARK not in sent
    # mine.txt went too: again.txt is a second name for it (a hard link)
    assert sorted(Path(k).name for k in term.bundle["submitted"]) == ["dropout_from_scratch.ipynb", "timestamp.txt"]


@needs_root
def test_every_step_ends_and_the_disk_holds_only_what_was_handed_in(term):
    assert term.codes["collect"] == 0 and term.codes["feedback"] == 0, term.said
    assert max(term.seconds.values()) < 120, term.seconds
    used = sum(p.lstat().st_size for p in term.course.root.rglob("*") if p.is_file() and not p.is_symlink())
    assert used < 100 * 2**20, used
    assert not [p for p in (term.course.root / "submitted").rglob("*")
                if (p.is_symlink() or p.is_fifo()) and ".refused" not in str(p)]


@needs_root
def test_each_student_is_graded_on_their_own_work_at_the_time_the_server_saw_it(term):
    from nbgrader.api import Gradebook
    from instructors.grade_class import db_url

    collected = term.said["collect " + NAME]
    assert "claims to come from di-ada but belongs to di-eve" in collected
    assert "di-eve" in collected and "is a symbolic link" in collected
    assert (term.course.root / "submitted" / "di-ada" / NAME / f"{NAME}.ipynb").read_bytes() == term.ada_notebook
    assert not (term.course.root / "submitted" / "di-eve").exists()
    for entry in ("notes.txt", "gradebook.db", "source", "zeros.bin", "pipe", "sparse.bin", "again.txt", "mine.txt",
                  "odd\\x1b]0;title\\x07name"):
        assert f"{entry}: " in collected, entry
    assert "timestamp.txt says" in collected
    with Gradebook(db_url(term.course.root)) as gradebook:
        mal = gradebook.find_submission(NAME, "di-mal")
        ada = gradebook.find_submission(NAME, "di-ada")
        assert abs((mal.timestamp - ada.timestamp).total_seconds()) < 600   # not the day before
        assert ada.code_score == mal.code_score == 27
    assert f"{NAME}.ipynb: a symbolic link to {term.course.root}/source" in collected
    assert "di-linker" in term.outcome.failed and "no notebook at all" in term.outcome.failed["di-linker"]


@needs_root
def test_a_submission_placed_by_hand_is_set_aside_unread_not_graded_as_the_solution(term):
    from nbgrader.api import Gradebook
    from instructors.grade_class import db_url

    placed = term.course.root / "submitted" / "placed"
    aside = placed / f"{NAME}.refused"
    assert os.path.islink(aside / f"{NAME}.ipynb") and os.path.islink(aside / "zeros.bin")
    assert term.codes["autograde placed"] != 0
    assert "set aside, not read" in term.said["autograde " + NAME + " --student=placed*"]
    with Gradebook(db_url(term.course.root)) as gradebook:
        scores = [s for s in gradebook.assignment_submissions(NAME) if s.student.id == "placed"]
        assert not scores or scores[0].code_score == 0


@needs_root
def test_a_real_notebook_placed_beside_such_entries_is_graded_and_its_feedback_says_what_was_not_read(term):
    from nbgrader.api import Gradebook
    from instructors.grade_class import db_url

    with Gradebook(db_url(term.course.root)) as gradebook:
        assert gradebook.find_submission(NAME, "placed-too").code_score == 27
    feedback = (term.course.root / "feedback" / "placed-too" / NAME / f"{NAME}.html").read_text()
    assert "2 things in your submission folder were not read" in feedback
    assert "notes.txt: a symbolic link" in feedback and "pipe: a named pipe" in feedback


# --- the mutation checks: nbgrader's own steps on the same kind of folder ---------------------

@needs_root
def test_without_the_intake_nbgrader_collects_and_grades_the_instructors_solution(term):
    """The term's course, with nbgrader's own collect and a pre-convert hook that does nothing."""
    stock = ["--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect",
             "--Autograde.pre_convert_hook=builtins.dict"]   # dict(**kwargs): a hook that reads nothing
    exchange = term.base / "stock-exchange"
    submission = exchange / "dropout101" / "inbound" / f"root+{NAME}+{_stamp()}+x"
    submission.mkdir(parents=True)
    solution = term.course.root / "source" / NAME / f"{NAME}.ipynb"
    os.symlink(solution, submission / f"{NAME}.ipynb")
    run = subprocess.run([sys.executable, "-m", "nbgrader", "collect", NAME, *stock, f"--Exchange.root={exchange}"],
                         cwd=term.course.root, env=term.course.env(), capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert SOLUTION_MARK in (term.course.root / "submitted" / "root" / NAME / f"{NAME}.ipynb").read_text()
    placed = term.course.root / "submitted" / "placed-stock" / NAME
    placed.mkdir(parents=True)
    os.symlink(solution, placed / f"{NAME}.ipynb")
    _nbgrader(term, "autograde", NAME, "--student=placed-stock", *stock)
    assert SOLUTION_MARK in (term.course.root / "autograded" / "placed-stock" / NAME / f"{NAME}.ipynb").read_text()
