"""Grading a class: this project's parallel grader against nbgrader, against the floor, jailed or not.

    .venv/bin/python benchmarks/class_grading.py [--students 16] [--skip-sequential] [--skip-suites]

Measured side by side in one run on the same machine and the same submissions:
  1. seconds per submission: stock nbgrader 0.9 (its own Execute, none of this
     course's plugins, a config with nothing but the course id), `nbgrader
     autograde` with this course's config, both sequential, and
     instructors.grade_class (autograde only, one worker per core). Each for the
     whole run and once started (what one more student costs, with the start-up
     paid): a class of 200 is mostly the latter;
  2. the jail's cost: grade_class on the same class with the jail switched off
     (``c.StudentCodeJail.enabled = False``), in turns with the jailed runs,
     and the time to fork a sandbox with and without entering the jail;
  3. the floor: a bare kernel start + `import torch` + the whole check suite,
     once per submission, spread over the cores; the grader's time over it;
  4. the check suite per implementation (benchmarks/engine.py);
  5. all lessons executed headless (benchmarks/lessons.py);
  6. the cluster path: grade_class --cluster on a Dask scheduler with two
     workers on loopback (tests/servers.py), side by side with the local pool on
     the same class, and what Dask adds per task. On one machine expect about 1x:
     the cluster is for grading past one machine, and this is what that costs.
Goals: at least 1.8x faster than sequential nbgrader with this course's config on
2 cores, within 1.3x of the floor per submission, the jail at most 5% per
submission, and every grade in the gradebook. The floor has no start-up of its
own, so it is compared with the grader's cost once started; the whole-run
figure, start-up included, is printed beside it.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))   # tests/servers.py starts the loopback Dask cluster

from instructors.course import Course  # noqa: E402
from instructors.grade_class import fully_graded, grade_class  # noqa: E402
from instructors.submissions import answers_for, fill, samples  # noqa: E402

ASSIGNMENT = "dropout_from_scratch"
FLOOR_CODE = """
import torch
from autograder import check_dropout
exec(SOLUTION)
report = check_dropout(dropout, Dropout)
assert report.passed, report.table()
"""


STOCK_CONFIG = 'c = get_config()\nc.CourseDirectory.course_id = "dropout101"\n'


def make_class(root: Path, students: int, config: str = "") -> Course:
    """A course with ``students`` submissions; ``config`` replaces its nbgrader_config.py if given
    (``STOCK_CONFIG``), or is added to it."""
    course = Course.copy_of_this_course(root)
    config_file = course.root / "nbgrader_config.py"
    if config == STOCK_CONFIG:
        config_file.write_text(config)
    elif config:
        config_file.write_text(config_file.read_text() + "\n" + config)
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    source = course.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    kinds = samples(ASSIGNMENT)
    for i in range(students):
        sample = kinds[i % len(kinds)]
        path = course.submission_path(f"student-{i:03d}", ASSIGNMENT)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(fill(course.release_notebook(ASSIGNMENT), answers_for(sample, source)), path)
    return course


def once_started(course: Course, workers: int) -> float:
    """Seconds per submission once every worker is running: the cost of one more student.

    Taken from when the autograded notebooks were written: from the moment each
    worker has finished its first submission (and so paid its start-up) to the
    last, divided by the submissions finished in between.
    """
    done = sorted(p.stat().st_mtime for p in (course.root / "autograded").glob(f"*/{ASSIGNMENT}/*.ipynb"))
    if len(done) <= workers:
        raise ValueError(f"need more than {workers} submissions to see past the start-up")
    return (done[-1] - done[workers - 1]) / (len(done) - workers)


def floor_seconds(course: Course, runs: int) -> float:
    """Median time of: start a kernel, import torch, run the whole check suite, shut down."""
    from jupyter_client.manager import KernelManager

    from instructors.submissions import reference_answers

    solution = "\n".join(reference_answers(course.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")[g]
                         for g in ("dropout_function", "dropout_module"))
    code = f"SOLUTION = {solution!r}\nfrom torch import nn\n{FLOOR_CODE}"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        manager = KernelManager(kernel_name="python3")
        manager.start_kernel(env={**course.env(), "OMP_NUM_THREADS": "1"})
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def sandbox_start(jailed: bool, runs: int = 21) -> float:
    """Median seconds to fork a sandbox from the zygote and load nothing in it, jailed or not."""
    import torch

    from autograder.untrusted import jail
    from autograder.untrusted.sandbox import Sandbox

    folder = tempfile.mkdtemp()
    Path(folder, f"{ASSIGNMENT}.ipynb").write_bytes(bytes(150_000))  # a notebook's size to copy in
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        box = Sandbox([], torch.device("cpu"), 30, jail.spec(folder) if jailed else None)
        box.close()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def sequential_autograde(course: Course, students: int) -> tuple[float, float]:
    start = time.perf_counter()
    course.nbgrader("autograde", ASSIGNMENT, "--force")
    return (time.perf_counter() - start) / students, once_started(course, 1)


def parallel_autograde(course: Course, students: int, workers: int) -> tuple[float, float, bool]:
    start = time.perf_counter()
    outcome = grade_class(course, ASSIGNMENT, feedback=False, progress=False)
    seconds = (time.perf_counter() - start) / students
    complete = len(fully_graded(course, ASSIGNMENT)) == students and not outcome.failed
    return seconds, once_started(course, min(workers, students)), complete


def cluster_autograde(root: Path, students: int, workers: int = 2) -> tuple[float, float, bool]:
    """grade_class --cluster on a fresh loopback scheduler with ``workers`` one-thread workers."""
    from servers import Cluster

    dask = Cluster(root / "dask", workers=workers)
    try:
        course = make_class(root / "class", students)
        start = time.perf_counter()
        outcome = grade_class(course, ASSIGNMENT, feedback=False, progress=False, cluster=dask.address)
        seconds = (time.perf_counter() - start) / students
    finally:
        dask.stop()
    complete = len(fully_graded(course, ASSIGNMENT)) == students and not outcome.failed
    return seconds, once_started(course, min(workers, students)), complete


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=16)
    parser.add_argument("--skip-sequential", action="store_true",
                        help="measure the grader and the floor only (for a whole class of 200: "
                             "plain nbgrader would take minutes more)")
    parser.add_argument("--skip-suites", action="store_true", help="skip the engine and lesson benchmarks")
    parser.add_argument("--skip-cluster", action="store_true", help="skip the Dask cluster figures")
    parser.add_argument("--jail-repeats", type=int, default=2,
                        help="runs of grade_class with the jail and without it, in turns (least kept)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{platform.machine()}, {cores} cores, Python {platform.python_version()}; "
          f"{args.students} submissions of {ASSIGNMENT}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_sequential:
            stock, stock_started = sequential_autograde(
                make_class(Path(tmp) / "stock", args.students, STOCK_CONFIG), args.students)
            plain, plain_started = sequential_autograde(make_class(Path(tmp) / "sequential", args.students),
                                                        args.students)
        # Jailed and not, in turns, the same class each time; the least of each is kept, since
        # whatever else the machine does only adds time.
        runs = {True: [], False: []}
        for turn in range(args.jail_repeats):
            for jailed in (True, False):
                course = make_class(Path(tmp) / f"{'jailed' if jailed else 'unjailed'}-{turn}", args.students,
                                    "" if jailed else "c.StudentCodeJail.enabled = False")
                runs[jailed].append((*parallel_autograde(course, args.students, cores), course))
        ours, ours_started = min(r[0] for r in runs[True]), min(r[1] for r in runs[True])
        free, free_started = min(r[0] for r in runs[False]), min(r[1] for r in runs[False])
        complete, free_complete = all(r[2] for r in runs[True]), all(r[2] for r in runs[False])
        parallel = runs[True][0][3]
        sandbox_free, sandbox_jailed = sandbox_start(False), sandbox_start(True)
        floor = floor_seconds(parallel, runs=3)
        floor_per_submission = floor / cores
        if not args.skip_cluster:
            dask, dask_started, dask_complete = cluster_autograde(Path(tmp) / "cluster", args.students)

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print("                                               whole run   once started (the cost of one more student)")
    if not args.skip_sequential:
        print(f"1. stock nbgrader 0.9 autograde, sequential:   {stock:5.2f} s       {stock_started:5.2f} s per submission")
        print(f"   `nbgrader autograde`, this course, sequential: {plain:5.2f} s    {plain_started:5.2f} s per submission")
    print(f"   instructors.grade_class, {cores} workers:          {ours:5.2f} s       {ours_started:5.2f} s per submission")
    if not args.skip_sequential:
        print(f"   faster than this course's sequential run:    {plain / ours:5.2f}x      "
              f"{plain_started / ours_started:5.2f}x (goal >= 1.8x: {verdict(plain / ours >= 1.8)} "
              f"for the whole run)")
        print(f"   faster than stock nbgrader:                  {stock / ours:5.2f}x      "
              f"{stock_started / ours_started:5.2f}x")
    print(f"   every grade in the gradebook: {complete} (jailed), {free_complete} (not jailed)")
    print(f"2. the jail: grade_class without it:            {free:5.2f} s       {free_started:5.2f} s per submission "
          f"(least of {args.jail_repeats} runs each, in turns)")
    print(f"   jailed / not jailed:                         {ours / free:5.3f}       {ours_started / free_started:5.3f} "
          f"(goal <= 1.05: {verdict(ours_started / free_started <= 1.05)} once started)")
    print(f"   a sandbox forked and closed: {sandbox_free * 1000:.1f} ms, jailed {sandbox_jailed * 1000:.1f} ms "
          f"(+{(sandbox_jailed - sandbox_free) * 1000:.1f} ms; a submission enters two jails, its kernel's and "
          f"its sandbox's: {2 * (sandbox_jailed - sandbox_free) / ours_started:.1%} of it once started)")
    print(f"3. floor: kernel start + import torch + checks = {floor:.2f} s, over {cores} cores "
          f"{floor_per_submission:.2f} s per submission")
    print(f"   grader / floor: {ours / floor_per_submission:.2f} for the whole run, "
          f"{ours_started / floor_per_submission:.2f} once started "
          f"(goal <= 1.3: {verdict(ours_started / floor_per_submission <= 1.3)} once started, "
          f"{verdict(ours / floor_per_submission <= 1.3)} for the whole run)")
    startup = (ours - ours_started) * args.students
    print(f"   the grader's start-up, once per run: {startup:.1f} s; at this rate a class of 200 "
          f"would take {(startup + 200 * ours_started) / 200 / floor_per_submission:.2f}x the floor")
    if not args.skip_cluster:
        print(f"6. grade_class --cluster, 2 Dask workers on loopback: {dask:5.2f} s       {dask_started:5.2f} s "
              f"per submission; every grade in the gradebook: {dask_complete}")
        print(f"   cluster / local pool ({cores} workers):          {dask / ours:5.2f}x      "
              f"{dask_started / ours_started:5.2f}x")
        print(f"   what Dask and the coordinator add per task, once started: "
              f"{(dask_started * 2 - ours_started * cores):+.2f} s (the task's files there and back, "
              f"the scheduler, the gradebook written here)")
    if not args.skip_suites:
        import engine
        import lessons
        print("4. the check suite:")
        engine.main([])
        print("5. the lessons:")
        lessons.main()


if __name__ == "__main__":
    main()
