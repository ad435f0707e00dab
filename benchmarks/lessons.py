"""How long the lessons take to execute headless, each in a fresh kernel.

    .venv/bin/python benchmarks/lessons.py

The goal: all lessons together in at most 60 s on a 2-core machine.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parents[1] / "notebooks"


def main():
    print(f"{platform.machine()}, {platform.python_version()}; each lesson in a fresh kernel")
    total = 0.0
    for path in sorted(LESSONS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(LESSONS)}}).execute()
        seconds = time.perf_counter() - start
        total += seconds
        print(f"  {path.name:<28} {seconds:5.1f} s (kernel start and imports included)")
    print(f"all lessons: {total:.1f} s (goal <= 60 s: {'met' if total <= 60 else 'MISSED'})")


if __name__ == "__main__":
    main()
