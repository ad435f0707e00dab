"""The instructors' command line says no clearly and at once: before any heavy import."""
import subprocess
import sys
from pathlib import Path

import pytest

from instructors.grade_class import main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("nbgrader", "pandas", "matplotlib", "torch", "distributed")


@pytest.mark.parametrize("jobs", ["0", "-3", "two"])
def test_jobs_below_one_or_not_a_number_is_refused_with_a_reason(jobs, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["dropout_from_scratch", "--jobs", jobs, "--course", str(ROOT)])
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "--jobs" in said and ("1 or more" in said or "not a whole number" in said)


@pytest.mark.parametrize("argv, message", [
    (["no_such_assignment"], "the course has: checkpoint_quiz, dropout_family, dropout_from_scratch"),
    (["dropout_from_scratch", "--jobs", "0"], "give 1 or more"),
])
def test_a_refusal_imports_nothing_heavy(argv, message, tmp_path):
    """Measured by what the process imported (python -X importtime), not by a clock."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "instructors.grade_class", *argv,
                           "--course", str(ROOT)], capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and message in done.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_the_python_api_refuses_jobs_below_one_too():
    from instructors.course import Course
    from instructors.grade_class import grade_class

    with pytest.raises(ValueError, match="1 or more"):
        grade_class(Course(ROOT), "dropout_from_scratch", jobs=0)
