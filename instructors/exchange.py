"""Check nbgrader's exchange folder before a term goes wrong in it.

nbgrader's exchange works by Unix permissions alone: students write into inbound/
without being able to list it, read outbound/ and find their own feedback by a name
only they can compute. A folder with the wrong mode fails late and far from its cause
(a student's "Submit" says only that it cannot write). This names every wrong mode,
says what it should be and why, and can put it right:

    python -m instructors.exchange /srv/nbgrader/exchange --course dropout101 [--fix]

The modes are the ones nbgrader itself creates (nbgrader/exchange/default/) for a course
that is not group-shared.
"""
from __future__ import annotations

import argparse
import stat
import sys
from pathlib import Path

# relative path (course folders under the root) -> (mode, what breaks without it)
EXPECTED = {
    ".": (0o777, "everyone creates their course's folders and caches here"),
    "{course}": (0o755, "students must reach outbound/, inbound/ and feedback/"),
    "{course}/outbound": (0o755, "students fetch released assignments from here"),
    "{course}/inbound": (0o2733, "students submit here; they may write but not list "
                                 "each other's submissions"),
    "{course}/feedback": (0o711, "students fetch their own feedback by name; they may "
                                 "not list anyone's"),
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode) & 0o2777


def problems(root: Path, course_id: str) -> list[tuple[Path, int, str]]:
    """(folder, the mode it should have, the message) for every folder that is wrong.

    Folders nbgrader has not created yet (before the first release, say) are fine:
    nbgrader creates them with the right mode.
    """
    root = Path(root)
    if not root.is_dir():
        return [(root, EXPECTED["."][0], f"{root} does not exist: create it as root with "
                 f"mode {EXPECTED['.'][0]:o} (python -m instructors.exchange {root} --fix)")]
    found = []
    for relative, (mode, why) in EXPECTED.items():
        path = root / relative.format(course=course_id)
        if path.is_dir() and _mode(path) != mode:
            found.append((path, mode, f"{path} has mode {_mode(path):o}; it needs {mode:o} "
                                      f"because {why}"))
    return found


def fix(root: Path, course_id: str) -> list[str]:
    """Give every wrong folder its mode; the messages of what was changed."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    done = []
    for path, mode, message in problems(root, course_id):
        path.chmod(mode)
        done.append(f"fixed: {message}")
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructors.exchange",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the exchange folder (nbgrader's Exchange.root)")
    parser.add_argument("--course", default="dropout101", help="the course id [dropout101]")
    parser.add_argument("--fix", action="store_true", help="set the modes nbgrader expects")
    args = parser.parse_args(argv)
    if args.fix:
        for line in fix(args.root, args.course):
            print(line)
    wrong = problems(args.root, args.course)
    for _, _, message in wrong:
        print(f"wrong: {message}", file=sys.stderr)
    if not wrong:
        print(f"ok: the exchange at {args.root} is ready for {args.course}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
