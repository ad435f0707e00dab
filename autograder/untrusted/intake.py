"""A folder a student handed in, read with the grader's rights without reaching through any of it.

On JupyterHub a student writes its submission into nbgrader's exchange with its
own account, so it controls every entry of that folder: a symbolic link to the
instructor's solutions, the gradebook or a classmate's work; a hard link; a
link to ``/dev/zero`` (an endless file); a FIFO (a read that never returns); a
sparse file of a terabyte; a name no terminal shows right. The grader reads that
folder with its own rights, before any jail, at every step: ``nbgrader collect``,
autograde's copy into ``autograded/``, the copy into the jail, a cluster task's
files. Every one of them goes through :class:`Intake`, which

* opens every entry relative to its folder's descriptor with ``O_NOFOLLOW``, so
  a link is never followed and a folder swapped for a link mid-walk is refused;
* takes only folders and regular files with one link, whose names are UTF-8
  without control characters, on the folder's own file system;
* bounds the bytes of each file and of the whole folder (from ``fstat`` of the
  open file, which counts a sparse file's holes, and again while reading), the
  number of entries and the depth, before and while copying;
* says what it left out and why, in words an instructor and a student can read
  (:attr:`Intake.refused`).

It imports only the standard library: the jail runs it before anything else loads.
"""
from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field

#: Bytes of one notebook the grader will read at all (nbformat holds it in memory twice).
NOTEBOOK_LIMIT = 32 * 2**20
#: Characters a name may not hold: control characters, and the invisible and bidirectional
#: marks that make a name read as another.
_ODD_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
#: Longest path, in bytes, of an entry below the folder (copies must fit under PATH_MAX).
PATH_LIMIT = 1024
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_OPEN_FOLDER = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC


class Refused(OSError):
    """A file or folder that is not what the grader may read (a link, a device, too large)."""


@dataclass(frozen=True)
class Limits:
    """What one folder may hold: bytes per file and in all, entries, depth, names by glob.

    ``exclude`` and ``include`` are nbgrader's ``CourseDirectory.ignore`` and
    ``include``: a name matching ``exclude`` is skipped; a file matching no
    ``include`` pattern is skipped.
    """
    file_bytes: int = 100 * 2**20
    total_bytes: int = 1000 * 2**20
    entries: int = 10_000
    depth: int = 16
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ("*",)


def _kind(mode: int) -> str:
    return {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket",
            stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}.get(
        stat.S_IFMT(mode), "not a file or folder")


def _name_problem(name: str) -> str:
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "a name that is not UTF-8"
    if _ODD_NAME.search(name):
        return "a name with control characters"
    return "a name longer than 255 bytes" if len(encoded) > 255 else ""


def shown(name: str) -> str:
    """A student's file name as it may be printed: control characters and odd bytes escaped."""
    return ascii(name)[1:-1] if _name_problem(name) else name


def read_file(dir_fd: int | None, name: str, limit: int) -> bytes:
    """The bytes of the regular file ``name`` (relative to ``dir_fd``), at most ``limit`` of them.

    Raises :class:`Refused` for a link, a device, a FIFO, a hard link or a file over
    the limit, checked on the open file itself; a file that grows while it is
    read is cut at what it held when opened.
    """
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == 40:  # ELOOP: the last component is a link
            raise Refused(error.errno, "a symbolic link") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(0, _kind(info.st_mode))
        if info.st_nlink != 1:
            raise Refused(0, f"a hard link ({info.st_nlink} names for one file)")
        if info.st_size > limit:
            raise Refused(0, f"{info.st_size} bytes, more than the {limit} allowed")
        chunks, left = [], info.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_path(path: str, limit: int = NOTEBOOK_LIMIT) -> bytes:
    """:func:`read_file` for a path whose every folder, from its parent up, the grader trusts."""
    folder, name = os.path.split(os.path.abspath(path))
    top = os.open(folder, _OPEN_FOLDER)
    try:
        return read_file(top, name, limit)
    finally:
        os.close(top)


@dataclass
class Intake:
    """One pass over one submission folder within ``limits``; :attr:`refused` says what was left out."""
    limits: Limits = field(default_factory=Limits)
    refused: list[str] = field(default_factory=list)
    total: int = 0
    entries: int = 0
    over_total: bool = False
    last_change: float = 0.0   # the latest ctime seen, which no student can set back

    def _refuse(self, relative: str, why: str) -> None:
        self.refused.append(f"{shown(relative)}: {why}")

    def _wanted(self, name: str, is_file: bool) -> bool:
        if any(fnmatch.fnmatch(name, pattern) for pattern in self.limits.exclude):
            return False
        return not is_file or any(fnmatch.fnmatch(name, pattern) for pattern in self.limits.include)

    def _names(self, fd: int, prefix: str) -> list[str]:
        """The folder's entries, counted as they are read: a million names stop at the limit."""
        names = []
        with os.scandir(fd) as entries:
            for entry in entries:
                self.entries += 1
                if self.entries > self.limits.entries:
                    self._refuse(prefix or ".", f"more than {self.limits.entries} files and folders in all")
                    break
                names.append(entry.name)
        return sorted(names)

    def _entries(self, fd: int, prefix: str, depth: int, device: int):
        """(name, relative path, lstat, problem) for each entry of the folder open as ``fd``.

        An entry that vanishes or cannot be read mid-walk is refused, never an error.
        """
        self.last_change = max(self.last_change, os.fstat(fd).st_ctime)
        for name in self._names(fd, prefix):
            relative = prefix + name
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError as error:
                self._refuse(relative, error.strerror or "unreadable")
                continue
            self.last_change = max(self.last_change, info.st_ctime)
            problem = _name_problem(name)
            if not problem and len(os.fsencode(relative)) > PATH_LIMIT:
                problem = f"a path longer than {PATH_LIMIT} bytes"
            if stat.S_ISLNK(info.st_mode):
                problem = problem or f"a symbolic link to {shown(os.readlink(name, dir_fd=fd)[:200])}"
            elif stat.S_ISDIR(info.st_mode):
                if depth + 1 > self.limits.depth:
                    problem = problem or f"folders nested more than {self.limits.depth} deep"
                elif info.st_dev != device:
                    problem = problem or "another file system mounted here"
            elif stat.S_ISREG(info.st_mode):
                if info.st_nlink != 1:
                    problem = problem or f"a hard link ({info.st_nlink} names for one file)"
                elif self.total + info.st_size > self.limits.total_bytes:
                    self.over_total = True
                    problem = problem or f"the folder holds more than {self.limits.total_bytes} bytes"
                elif info.st_size > self.limits.file_bytes:
                    problem = problem or f"{info.st_size} bytes, more than the {self.limits.file_bytes} allowed"
            else:
                problem = problem or _kind(info.st_mode)
            yield name, relative, info, problem

    def _open_folder(self, fd: int, name: str, info) -> int:
        child = os.open(name, _OPEN_FOLDER, dir_fd=fd)
        if (os.fstat(child).st_ino, os.fstat(child).st_dev) != (info.st_ino, info.st_dev):
            os.close(child)
            raise Refused(0, "replaced while it was read")
        return child

    def files(self, source: str):
        """Yield ``(relative path, bytes)`` for each file taken and ``(relative path, None)`` per folder.

        Raises OSError if ``source`` itself is a link, not a folder, or unreadable.
        """
        top = os.open(source, _OPEN_FOLDER)
        try:
            yield from self._files(top, "", 0, os.fstat(top).st_dev)
        finally:
            os.close(top)

    def _files(self, fd: int, prefix: str, depth: int, device: int):
        for name, relative, info, problem in self._entries(fd, prefix, depth, device):
            if not self._wanted(name, stat.S_ISREG(info.st_mode)):
                continue
            if problem:
                self._refuse(relative, problem)
                continue
            try:
                if stat.S_ISDIR(info.st_mode):
                    child = self._open_folder(fd, name, info)
                    try:
                        yield relative, None
                        yield from self._files(child, relative + "/", depth + 1, device)
                    finally:
                        os.close(child)
                else:
                    data = read_file(fd, name, min(self.limits.file_bytes, self.limits.total_bytes - self.total))
                    self.total += len(data)
                    yield relative, data
            except OSError as refused:  # Refused, or an entry changed or gone mid-walk
                self._refuse(relative, refused.strerror or "unreadable")

    def copy(self, source: str, target: str) -> None:
        """Copy what :meth:`files` takes from ``source`` into the folder ``target`` (made if missing)."""
        os.makedirs(target, exist_ok=True)
        for relative, data in self.files(source):
            path = os.path.join(target, relative)
            if data is None:
                os.mkdir(path, 0o755)
            else:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)

    def clean(self, folder: str, quarantine: str) -> None:
        """Move whatever :meth:`files` would leave out of ``folder`` into ``quarantine``, keeping paths.

        For a folder already in the grader's keeping (``submitted/``) that a later
        step reads naively: afterwards it holds only what :meth:`files` takes.
        Nothing is deleted; ``quarantine`` is made when something goes there.
        """
        top = os.open(folder, _OPEN_FOLDER)
        try:
            self._clean(top, "", 0, os.fstat(top).st_dev, quarantine)
        finally:
            os.close(top)

    def _clean(self, fd: int, prefix: str, depth: int, device: int, quarantine: str) -> None:
        for name, relative, info, problem in self._entries(fd, prefix, depth, device):
            if problem:
                self._refuse(relative, problem)
                destination = os.path.join(quarantine, prefix, name)
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                os.rename(name, destination, src_dir_fd=fd)
            elif stat.S_ISDIR(info.st_mode):
                child = self._open_folder(fd, name, info)
                try:
                    self._clean(child, relative + "/", depth + 1, device, quarantine)
                finally:
                    os.close(child)
            else:
                self.total += info.st_size
