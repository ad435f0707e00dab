"""How long the lessons take headless, alone and while other kernels run them too.

    .venv/bin/python benchmarks/lessons.py                 # each lesson alone, one after another
    .venv/bin/python benchmarks/lessons.py --concurrent 4  # ... then 4 kernels at once, both thread counts

Goals, on a 2-core machine: all lessons together in at most 60 s alone; and with N kernels
running at once, each lesson at most about N / cores times its time alone (its fair share of
the cores), with the course's thread count (``autograder.share_cpu``: one thread per kernel).
The same run with torch's default, one thread per core in every kernel, shows what the
course's choice avoids. Every lesson runs in a fresh kernel, started in its own process.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: A lesson may take this long at most, in any setting, before the benchmark gives up on it.
TIMEOUT = 900


def execute(path: Path) -> None:
    """Run one lesson in a fresh kernel (the child side of :func:`start`)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()


def start(path: Path, threads: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "DROPOUT_COURSE_THREADS")}
    if threads:
        env["DROPOUT_COURSE_THREADS"] = threads
    env["MPLBACKEND"] = "Agg"
    # The kernels' own warnings are dropped: a pipe nobody reads until the end could fill up.
    return subprocess.Popen([sys.executable, __file__, "--one", str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(paths: list[Path], threads: str | None) -> list[float]:
    """Start every lesson in ``paths`` at once; the seconds each took to finish."""
    began = time.perf_counter()
    children = [start(path, threads) for path in paths]
    seconds: list[float | None] = [None] * len(children)
    while None in seconds:   # each child's own finishing time, whichever finishes first
        for i, child in enumerate(children):
            if seconds[i] is None and child.poll() is not None:
                seconds[i] = time.perf_counter() - began
                if child.returncode:
                    raise SystemExit(f"{paths[i].name} failed; see why with: {sys.executable} "
                                     f"{__file__} --one {paths[i]}")
        if time.perf_counter() - began > TIMEOUT + 60:
            raise SystemExit(f"lessons still running after {TIMEOUT + 60} s")
        time.sleep(0.05)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=0, metavar="N",
                        help="also run N kernels at once (the lessons in turn), and compare")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        execute(args.one)
        return 0
    if args.concurrent < 0:
        parser.error("--concurrent must be 0 (alone only) or more")
    cores = len(os.sched_getaffinity(0))
    print(f"{platform.machine()}, {cores} cores, Python {platform.python_version()}; "
          f"each lesson in a fresh kernel (start and imports included)")
    settings = {"course (1 thread per kernel)": None}
    if args.concurrent:
        settings[f"torch's default ({cores} threads per kernel)"] = str(cores)
    for setting, threads in settings.items():
        alone = [timed([path], threads)[0] for path in LESSONS]
        print(f"\n{setting}\n  alone: " + ", ".join(f"{p.stem} {s:.1f} s" for p, s in zip(LESSONS, alone))
              + f"; all {sum(alone):.1f} s (goal <= 60 s: {'met' if sum(alone) <= 60 else 'MISSED'})")
        if not args.concurrent:
            continue
        chosen = [LESSONS[i % len(LESSONS)] for i in range(args.concurrent)]
        together = timed(chosen, threads)
        fair = args.concurrent / cores
        print(f"  {args.concurrent} at once (a fair share of {cores} cores: about {fair:.1f}x alone):")
        for path, seconds in zip(chosen, together):
            ratio = seconds / alone[LESSONS.index(path)]
            print(f"    {path.stem:<22} {seconds:6.1f} s = {ratio:4.1f}x alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
