"""Start a command jailed and limited: ``python autograder/untrusted/launch.py [--jail SPEC] -- CMD``.

A kernel that is started rather than forked from the zygote (no zygote, or
``fork_kernels`` off) begins as this file: it enters the jail described by
``SPEC`` (JSON, from :func:`.jail.spec`), applies the limits, and only then
replaces itself with ``CMD``, so that the first line of student code already
runs inside. It is run as a file, not as ``-m autograder...``: importing the
package would import torch, which the kernel then imports again.
"""
from __future__ import annotations

import json
import os
import sys

try:
    from . import jail, limits
except ImportError:  # run as a file: its folder is sys.path[0]
    import jail  # type: ignore[no-redef]
    import limits  # type: ignore[no-redef]


def wrapped(command: list[str], jail_spec: dict | None = None) -> list[str]:
    """``command`` run under the limits, and in the jail ``jail_spec`` describes if given."""
    options = ["--jail", json.dumps(jail_spec, separators=(",", ":"))] if jail_spec else []
    return [sys.executable, jail.launcher(), *options, "--", *command]


def unwrapped(command: list[str]) -> list[str]:
    """The command inside :func:`wrapped`'s (``command`` itself if it is not wrapped)."""
    if command[:2] == [sys.executable, jail.launcher()] and "--" in command:
        return command[command.index("--") + 1:]
    return command


def _jail_option(options: list[str]) -> dict | None:
    return json.loads(options[options.index("--jail") + 1]) if "--jail" in options else None


def jail_of(command: list[str]) -> dict | None:
    """The jail a :func:`wrapped` command asks for, or None."""
    if command[:2] != [sys.executable, jail.launcher()] or "--" not in command:
        return None
    return _jail_option(command[2:command.index("--")])


def main(argv: list[str]) -> None:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit("usage: python autograder/untrusted/launch.py [--jail SPEC] -- COMMAND [ARGS...]")
    options, command = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    spec = _jail_option(options)
    if spec is not None:
        jail.enter(spec)
    limits.apply(die_with_parent=True)
    os.execvpe(command[0], command, os.environ)


if __name__ == "__main__":
    main(sys.argv[1:])
