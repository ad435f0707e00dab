"""Regenerate release/ from source/ with nbgrader: the only way release/ changes.

    python -m instructors.release [assignment ...]
"""
from __future__ import annotations

import sys

from .course import COURSE_ROOT, Course


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or sorted(
        p.name for p in (COURSE_ROOT / "source").iterdir() if p.is_dir())
    course = Course(COURSE_ROOT)
    for name in names:
        course.nbgrader("generate_assignment", name, "--force")
        print(f"release/{name}: regenerated from source/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
