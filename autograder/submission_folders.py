"""nbgrader's steps that read a student's folder, made to read it as untrusted data.

``nbgrader_config.py`` plugs these into nbgrader's own extension points:

* :class:`SafeCollect` is ``nbgrader collect`` (and the formgrader's *Collect*):
  a submission folder in the exchange's ``inbound/`` is taken only if it is a
  real folder owned by the account it claims to come from; its files are
  copied through :class:`~autograder.untrusted.intake.Intake` (no link
  followed, no device or FIFO opened, sizes bounded by nbgrader's own
  ``max_file_size`` and ``max_dir_size``), and what was left out is logged. A
  ``timestamp.txt`` that claims a time long before the folder was last changed
  (which only the kernel sets) is replaced by that time.
* :func:`refuse_unreadable` runs as ``pre_convert_hook`` of Autograde and
  GenerateFeedback, before nbgrader copies a submission's files: whatever
  there is not a plain file or folder within bounds (a link, a FIFO, a notebook
  too large to read) is moved to ``<folder>.refused/`` beside it, never read, and
  the submission's feedback says what was set aside. Submissions placed by hand
  or by ``zip_collect`` get the same treatment as collected ones.
"""
from __future__ import annotations

import os
import pwd
import shutil
import stat
from datetime import datetime, timedelta, timezone

from traitlets.log import get_logger

from .untrusted.intake import NOTEBOOK_LIMIT, Intake, Limits, shown

#: A timestamp.txt may claim a time at most this long before its folder last changed.
CLOCK_SLACK = timedelta(minutes=5)
#: Folder (realpath) -> what refuse_unreadable set aside there, for the feedback of this run.
SET_ASIDE: dict[str, list[str]] = {}


def _set_aside_path(path: str) -> str:
    """``path.refused``, or ``path.refused-2`` ... if that is taken."""
    candidate, n = f"{path}.refused", 1
    while os.path.lexists(candidate):
        n += 1
        candidate = f"{path}.refused-{n}"
    return candidate


def _set_aside_whole(path: str, log) -> str:
    """Move ``path`` out of the converter's way; failing that, delete it: nothing is read through it."""
    try:
        os.rename(path, _set_aside_path(path))
        return "set aside whole"
    except OSError as error:
        log.error("%s could not be set aside (%s); deleting it so that nothing is read through it",
                  path, error.strerror)
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
            shutil.rmtree(path)
        return "deleted"


def refuse_unreadable(assignment=None, student=None, notebooks=(), **_) -> None:
    """nbgrader's pre-convert hook: leave only plain files and folders where the converter reads.

    nbgrader swallows a hook's exceptions and goes on reading, so this fails closed:
    what it cannot clean it sets aside whole (or, failing that, deletes).
    """
    log = get_logger()
    if not notebooks:
        return
    folder = os.path.dirname(os.path.abspath(notebooks[0]))
    notes: list[str] = []
    for path in (os.path.dirname(folder), folder):   # the student's folder, the submission's
        if os.path.islink(path):
            notes.append(f"{os.path.basename(path)}: a symbolic link, {_set_aside_whole(path, log)}")
            break
    else:
        quarantine = _set_aside_path(folder)
        intake = Intake(Limits())
        try:
            intake.clean(folder, quarantine)
            for notebook in notebooks:
                if os.path.isfile(notebook) and os.lstat(notebook).st_size > NOTEBOOK_LIMIT:
                    os.makedirs(quarantine, exist_ok=True)
                    os.rename(notebook, os.path.join(quarantine, os.path.basename(notebook)))
                    notes.append(f"{os.path.basename(notebook)}: more than {NOTEBOOK_LIMIT >> 20} MiB, "
                                 f"too large to grade")
        except OSError as error:   # unreadable, or changed under our feet: read none of it
            intake.refused.append(f"{os.path.basename(folder)}: {error.strerror}; "
                                  f"{_set_aside_whole(folder, log)}")
        notes += intake.refused
    if notes:
        SET_ASIDE[os.path.realpath(folder)] = notes
        for note in notes:
            log.warning("%s/%s: set aside, not read: %s", student, assignment, note)


def set_aside_in(folder: str) -> list[str]:
    """What :func:`refuse_unreadable` set aside in ``folder`` during this run."""
    return SET_ASIDE.get(os.path.realpath(folder), [])


try:  # nbgrader's exchange; absent where only the grading library is installed
    from nbgrader.exchange.default.collect import ExchangeCollect
    from nbgrader.utils import parse_utc
except ImportError:  # pragma: no cover
    ExchangeCollect = object


class SafeCollect(ExchangeCollect):
    """``nbgrader collect``, reading each student's inbound folder as untrusted data."""

    def _path_to_record(self, path):
        """nbgrader's record of a submission, with ``problem`` set where it must not be collected.

        A record with a problem sorts before every good one of the same student,
        so a student's newest good submission is the one collected.
        """
        name = os.path.basename(path)
        parts = name.rsplit("+", 3)
        record = {"username": parts[0], "filename": name, "problem": "",
                  "timestamp": parse_utc("1970-01-01 00:00:00 UTC")}
        if len(parts) < 3 or shown(name) != name:
            record["problem"] = f"{shown(name)!r} is not a submission's name"
            self.log.error("not collected: %s", record["problem"])
            return record
        try:
            record["timestamp"] = parse_utc(parts[2])
        except (ValueError, OverflowError):
            record["problem"] = f"{shown(name)!r} has no readable time in its name"
            self.log.error("not collected: %s", record["problem"])
            return record
        try:
            info = os.lstat(path)
            inbound = os.stat(os.path.dirname(path))
        except OSError as error:   # gone since it was listed
            record["problem"] = f"{name}: {error.strerror}"
            self.log.error("not collected: %s", record["problem"])
            return record
        if not stat.S_ISDIR(info.st_mode):
            record["problem"] = f"{name} is {'a symbolic link' if stat.S_ISLNK(info.st_mode) else 'not a folder'}"
        elif info.st_dev != inbound.st_dev:   # a file system the student mounted (FUSE) answers as it likes
            record["problem"] = f"{name} is another file system mounted in the exchange"
        elif self.check_owner:
            try:
                owner = pwd.getpwuid(info.st_uid).pw_name
            except KeyError:
                owner = f"uid {info.st_uid}"
            if owner != record["username"]:
                record["problem"] = (f"{name} claims to come from {record['username']} but belongs to "
                                     f"{owner} (ExchangeCollect.check_owner)")
        if record["problem"]:
            record["timestamp"] = parse_utc("1970-01-01 00:00:00 UTC")
            self.log.error("not collected: %s", record["problem"])
        return record

    def copy_files(self):
        self.src_records = [r for r in self.src_records if not r.get("problem")]
        super().copy_files()

    def do_copy(self, src, dest, log=None):
        """Copy through :class:`Intake`, within nbgrader's size settings; log what was left out."""
        directory = self.coursedir
        intake = Intake(Limits(file_bytes=int(directory.max_file_size * 1000),
                               total_bytes=int(directory.max_dir_size * 1000),
                               exclude=tuple(directory.ignore), include=tuple(directory.include or ["*"])))
        try:
            intake.copy(src, dest)
        except OSError as error:  # one student's folder never stops the class's collect
            self.log.error("%s could not be collected: %s", os.path.basename(src), error)
            shutil.rmtree(dest, ignore_errors=True)
            return
        for note in intake.refused:
            self.log.warning("%s: not collected: %s", os.path.basename(src), note)
        self._trust_the_clock(src, dest, intake.last_change)
        if directory.groupshared:
            for folder, _, files in os.walk(dest):
                os.chmod(folder, (os.stat(folder).st_mode | 0o2770) & 0o2777)
                for name in files:
                    os.chmod(os.path.join(folder, name), os.stat(os.path.join(folder, name)).st_mode | 0o660)

    def _trust_the_clock(self, src: str, dest: str, last_change: float) -> None:
        """A submission is no earlier than the last change to anything in it (a ctime, which the
        kernel sets and no student can set back)."""
        changed = datetime.fromtimestamp(last_change, timezone.utc).replace(tzinfo=None)
        path = os.path.join(dest, "timestamp.txt")
        try:
            claimed = parse_utc(open(path).read().strip()) if os.path.isfile(path) else None
        except (ValueError, OverflowError):
            claimed = None
        if claimed is None or claimed < changed - CLOCK_SLACK:
            self.log.warning("%s: timestamp.txt says %s, but the folder was last changed at %s UTC; "
                             "using that", os.path.basename(src), claimed, changed)
            with open(path, "w") as out:
                out.write(f"{changed:%Y-%m-%d %H:%M:%S.%f} UTC")
