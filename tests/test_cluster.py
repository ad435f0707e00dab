"""Past one machine: a class graded on a real Dask cluster, its gradebook in a real PostgreSQL.

The tests start everything on loopback (tests/servers.py): a PostgreSQL server
in a temporary folder, a Dask scheduler and two workers, each worker in a
folder of its own and seeing the instructor's course folder empty (a tmpfs over
it in the worker's mount namespace), so grading there cannot lean on a shared
disk. One copy of every sample of dropout_from_scratch is graded on this machine
(SQLite, the local pool) and on the cluster (PostgreSQL), and one worker is
killed in the middle of the cluster's run.
"""
from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import pytest

from servers import Cluster, postgres, postgres_binaries

postgres_binaries()  # skip the module (or fail in CI) without PostgreSQL

from instructors.analytics import class_scores  # noqa: E402
from instructors.cluster import ClusterLost  # noqa: E402
from instructors.course import Course  # noqa: E402
from instructors.demo import hand_in  # noqa: E402
from instructors.grade_class import db_url, fully_graded, grade_class, main  # noqa: E402
from instructors.submissions import samples  # noqa: E402

ASSIGNMENT = "dropout_from_scratch"


def gradable():
    """Every sample but the notebook cut short, which never reaches a worker (grade_class refuses it)."""
    return [s for s in samples(ASSIGNMENT) if not s.corrupt]


def _class(root: Path, gradebook: str | None = None) -> Course:
    """A course with one copy of every sample handed in; its gradebook at ``gradebook`` if given."""
    course = Course.copy_of_this_course(root)
    if gradebook:
        with open(course.root / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {gradebook!r}\n")
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    roster = gradable()
    for sample in roster:
        sample.copies = 1
    hand_in(course, ASSIGNMENT, roster)
    return course


@pytest.fixture(scope="module")
def database():
    with postgres() as url:
        yield url


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    """Where the instructor's courses live: the folder every worker sees empty."""
    return tmp_path_factory.mktemp("instructor")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, instructor):
    dask = Cluster(tmp_path_factory.mktemp("dask"), workers=2, hide=instructor)
    yield dask
    dask.stop()


@pytest.fixture(scope="module")
def local(instructor):
    course = _class(instructor / "local")
    outcome = grade_class(course, ASSIGNMENT, jobs=2, progress=False)
    assert outcome.failed == {}
    return course


@pytest.fixture(scope="module")
def on_cluster(instructor, database, cluster):
    """The same class graded on the cluster, one worker killed once both have recorded a grade."""
    course = _class(instructor / "cluster", database)
    log = course.logs / "grade_class.log"
    result = {}

    def run():
        result["outcome"] = grade_class(course, ASSIGNMENT, cluster=cluster.address, progress=False)

    grading = threading.Thread(target=run)
    grading.start()
    deadline = time.time() + 300
    while len(_workers_in(log)) < 2 and time.time() < deadline:
        time.sleep(0.2)
    victim = cluster.workers[0]
    cluster.kill(victim)
    killed_after = log.read_text().count(" graded on ")
    grading.join(timeout=900)
    cluster.add_worker("worker-2")   # the class after this one gets two workers again
    cluster.wait_for_workers(2)
    return course, result["outcome"], killed_after


def _workers_in(log: Path) -> set[str]:
    """The workers grade_class's log says graded something."""
    lines = log.read_text().splitlines() if log.exists() else []
    return {line.rsplit(" on ", 1)[1] for line in lines if " graded on " in line}


def test_the_cluster_gives_every_submission_the_score_a_local_run_gives(local, on_cluster):
    course, outcome, _ = on_cluster
    assert outcome.failed == {} and len(outcome.graded) == len(gradable())
    here, _ = class_scores(local, ASSIGNMENT)
    there, _ = class_scores(course, ASSIGNMENT)
    assert len(here) == len(gradable())
    assert there.sort_index().equals(here.sort_index())


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(on_cluster, database):
    course, outcome, killed_after = on_cluster
    assert 2 <= killed_after < len(gradable())       # killed while there was work left
    import sqlalchemy

    engine = sqlalchemy.create_engine(database)
    with engine.connect() as db:
        per_cell = db.execute(sqlalchemy.text(
            "select grade.cell_id, submitted_notebook.assignment_id, count(*) from grade "
            "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
            "group by grade.cell_id, submitted_notebook.assignment_id")).all()
        cells = db.execute(sqlalchemy.text("select count(*) from grade_cells")).scalar()
        students = db.execute(sqlalchemy.text("select count(*) from submitted_assignment")).scalar()
    engine.dispose()
    assert all(count == 1 for *_, count in per_cell)
    assert len(per_cell) == cells * students and students == len(gradable())
    assert fully_graded(course, ASSIGNMENT) == {s.name + "-1" for s in gradable()}
    assert outcome.faults.keys() == {s.name + "-1" for s in gradable() if s.expect_fault}


def test_workers_grade_from_what_the_task_carries_and_the_log_names_each(on_cluster, cluster, instructor):
    course, _, _ = on_cluster
    with cluster.client() as client:
        seen = client.run(lambda: __import__("os").listdir(str(instructor)))
    assert seen and all(listing == [] for listing in seen.values())    # the course is not there
    lines = (course.logs / "grade_class.log").read_text().splitlines()
    workers = _workers_in(course.logs / "grade_class.log")
    assert len([line for line in lines if " graded on " in line]) == len(gradable())
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    feedback = course.root / "feedback" / "no_scaling-1" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert "kept values scaled by 1.000" in feedback.read_text()


def test_nbgrader_exports_from_the_postgresql_gradebook(on_cluster):
    course, _, _ = on_cluster
    assert db_url(course.root).startswith("postgresql+psycopg2://")
    to = course.root / "grades.csv"
    course.nbgrader("export", f"--CsvExportPlugin.to={to}")
    with open(to) as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    scores, _ = class_scores(course, ASSIGNMENT)
    assert set(rows) == set(scores.index)
    for student, row in rows.items():
        assert float(row["score"]) == pytest.approx(scores.loc[student].sum())
    assert rows["patches_comparisons-1"]["faults"].startswith("tampering:")


def test_a_rerun_on_the_cluster_skips_everything_already_graded(on_cluster, cluster):
    course, _, _ = on_cluster
    before, _ = class_scores(course, ASSIGNMENT)
    again = grade_class(course, ASSIGNMENT, cluster=cluster.address, progress=False)
    assert again.graded == [] and sorted(again.skipped) == sorted(before.index)
    assert class_scores(course, ASSIGNMENT)[0].equals(before)


def test_a_scheduler_that_goes_away_stops_the_run_and_a_rerun_resumes(instructor, database, cluster, tmp_path):
    course = Course.copy_of_this_course(instructor / "lost")
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    roster = [s for s in samples(ASSIGNMENT) if s.name in ("reference", "no_scaling")]
    for sample in roster:
        sample.copies = 1
    hand_in(course, ASSIGNMENT, roster)
    doomed = Cluster(tmp_path / "doomed", workers=0)      # a scheduler with no one to grade
    try:
        threading.Timer(3, doomed.kill, (doomed.scheduler,)).start()
        with pytest.raises(ClusterLost, match=r"lost the Dask scheduler at tcp://127\.0\.0\.1:\d+: 0 "
                                              r"submissions were graded and recorded, 2 were not; run "
                                              r"the same command again"):
            grade_class(course, ASSIGNMENT, cluster=doomed.address, progress=False)
    finally:
        doomed.stop()
    assert class_scores(course, ASSIGNMENT)[0].empty
    resumed = grade_class(course, ASSIGNMENT, cluster=cluster.address, progress=False)
    assert sorted(resumed.graded) == ["no_scaling-1", "reference-1"] and resumed.failed == {}


def test_an_unreachable_scheduler_is_a_clear_error_before_anything_is_graded(local, capsys):
    assert main([ASSIGNMENT, "--course", str(local.root), "--force", "--cluster", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
