"""The jail: what a process that runs student code can see and do on this machine.

Every process that runs student code during grading (the graded kernel,
forked or started, and the verification sandbox) enters the jail before the
first student line runs, and everything it starts is inside it too:

* **Files.** A root of its own, built from nothing (``pivot_root``). The
  system (``/usr``, ``/etc``, the ``/lib`` folders), the Python environment and
  the grader's own packages are bound read-only at their usual paths. Its
  working folder is a private, writable *copy* of the notebook's folder, at
  the same path; ``/tmp``, ``/dev/shm`` and an empty home (``/home/student``)
  are private too. Everything it can write lives on one tmpfs of
  :data:`DISK_LIMIT` bytes. Nothing else exists for it: not the course folder
  with ``source/``, the gradebook and the other students' files, not the
  exchange, not the grader's home.
* **Identity.** An unprivileged uid with no capabilities and
  ``no_new_privs``. A grader running as root gives each jail a uid of its
  own (:data:`UID_BASE` + a pid), so no two jails, and no account, share one;
  any other grader maps the jail into a user namespace as ``nobody``.
* **Processes.** A PID namespace of its own: it sees and can signal only
  its own processes, at most :data:`PROCESS_LIMIT` of them, threads
  included, and all of them die when its first process does.
* **Network.** A network namespace with no interfaces up: every connection,
  to loopback too, fails. The kernel makes its Unix sockets in a folder of
  the jail's own tmpfs, which the grader reaches through ``/proc/<pid>/root``;
  the sandbox talks over an inherited socket. Nothing of the grader's disk is
  writable from inside.
* **Environment.** Only the variables :func:`environment` allows.
* **Devices.** ``/dev/null``, ``/dev/zero``, ``/dev/full``, the random
  devices, and NVIDIA's device nodes (with ``/sys``) where the machine has them.
* **Descriptors.** Nothing the grader had open: stdin is ``/dev/null``; stdout
  and stderr are pipes to the jail's keeper outside, which passes at most
  :data:`OUTPUT_LIMIT` bytes of each on to the grader's with control characters
  defused, and nothing at all to a terminal (the instructor's keystrokes and
  screen stay out of reach).
* **Kernel state.** A fresh, empty session keyring (the grader's may hold
  Kerberos tickets and passwords), at most :data:`FILES_LIMIT` open files, no
  POSIX message queues, and the system calls :mod:`.syscalls` lists refused:
  RAM-backed files outside the tmpfs, new namespaces or mounts, the key store,
  ptrace and a few others.

:func:`enter` does all of that in the calling process, which must be freshly
forked (single-threaded) and hold nothing it should keep from student code.
It imports only the standard library, because the kernel launcher
(:mod:`autograder.untrusted.launch`) runs it before the kernel imports anything.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import re
import resource
import select
import signal
import subprocess
import sys
import sysconfig
import threading

try:
    from . import intake, syscalls
except ImportError:  # imported by the launcher, run as a file: its folder is sys.path[0]
    import intake  # type: ignore[no-redef]
    import syscalls  # type: ignore[no-redef]

#: Bytes the jail may write in all: its working folder, /tmp, /dev/shm and its home.
DISK_LIMIT = 256 * 2**20
#: Files and folders the jail may create in all.
INODE_LIMIT = 65536
#: Processes and threads in the jail (torch starts a thread per core).
PROCESS_LIMIT = 512
#: A root grader gives each jail the uid UID_BASE + pid (pids stay below 2**22).
UID_BASE = 1_900_000_000
#: The jail's uid inside a user namespace (an unprivileged grader's jail).
NOBODY = 65534
#: The jailed process's home, empty and private.
HOME = "/home/student"
#: What a submission folder may hold to be copied into the jail.
COPY_LIMIT = 64 * 2**20
#: Files a jailed process may have open at once.
FILES_LIMIT = 1024
#: Bytes of a jail's own output (stdout and stderr) passed on to the grader's stderr.
OUTPUT_LIMIT = 64 * 1024

#: Environment variables kept (with the prefixes below: locale, the grader's settings, CUDA's
#: and PyTorch's); the rest (tokens, credentials, Jupyter's and the hub's variables) go.
ALLOWED_ENV = {
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONHASHSEED", "MPLBACKEND",
    "PYDEVD_DISABLE_FILE_VALIDATION", "NBGRADER_EXECUTION",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH",
}
ALLOWED_PREFIXES = ("LC_", "DROPOUT_GRADER_", "CUDA_", "NVIDIA_", "PYTORCH_")

#: The folders of the system every program needs, bound read-only where they exist.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")

SETTING = "c.StudentCodeJail.enabled = False"

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
#: Exit status of a jail that could not be set up (its reason went to the ready pipe or stderr).
SETUP_FAILED = 97

_libc = ctypes.CDLL(None, use_errno=True)


class JailUnavailable(RuntimeError):
    """This machine cannot jail student code; grading refuses to start without a decision."""


class JailError(RuntimeError):
    """Setting up one jail failed (e.g. a submission folder too large to copy)."""


def allowed(env) -> dict:
    """The variables of ``env`` that :data:`ALLOWED_ENV` keeps."""
    return {k: v for k, v in env.items() if k in ALLOWED_ENV or k.startswith(ALLOWED_PREFIXES)}


def environment(env, home: str = HOME) -> dict:
    """``env`` cut to what student code may see: no tokens, no Jupyter or hub variables."""
    kept = allowed(env)
    kept.setdefault("PATH", os.defpath)
    return {**kept, "HOME": home, "USER": "student", "LOGNAME": "student", "TMPDIR": "/tmp"}


def spec(workdir: str | None = None, readonly=(), sockets: str | None = None, env=None) -> dict:
    """What one jail needs: the folder to copy as its working folder, and two extras for a kernel.

    ``readonly`` folders (the kernel's connection file) appear read-only at their
    own paths, readable by the jail's uid. ``sockets``, a path under ``/tmp``, is
    made as an empty folder on the jail's own tmpfs (the kernel binds its sockets
    there). ``env`` is cut with :func:`environment` (None: this one's).
    """
    if sockets is not None and not sockets.startswith("/tmp/"):
        raise ValueError(f"a jail's socket folder lies under /tmp, not at {sockets}")
    return {"workdir": os.path.realpath(workdir) if workdir else None,
            "readonly": [os.path.realpath(r) for r in readonly], "sockets": sockets,
            "env": environment(os.environ if env is None else env)}


def reachable(pid: int, path: str) -> str:
    """Where the grader finds ``path`` of the jail whose keeper is ``pid``: inside its root."""
    return f"/proc/{pid}/root{path}"


# --- system calls ---------------------------------------------------------------------


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def _mount(source, target, fstype=None, flags=0, data=None) -> None:
    enc = (lambda s: s.encode() if isinstance(s, str) else s)
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source or fstype} on {target}")


def _pivot_root(new: str, old: str) -> None:
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise JailUnavailable(f"pivot_root's system call number on {platform.machine()} is not known")
    _check(_libc.syscall(ctypes.c_long(number), new.encode(), old.encode()), f"pivot_root {new}")


def _prctl(option: int, arg: int = 0, arg3: int = 0) -> int:
    return _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0),
                  f"prctl {option}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _drop_bounding_set() -> None:
    """No capability can be had again, by exec or otherwise (needs CAP_SETPCAP, so first)."""
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)


def _clear_capabilities() -> None:
    """Empty every capability set this process still has."""
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


# --- building the jail's root ------------------------------------------------------------


def _python_paths() -> list[str]:
    """The Python environment: its prefixes, its packages, and the grader's own packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(p for k in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_path(k)))
    import site
    paths.update(site.getsitepackages())
    paths.update(p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p.startswith("/"))
    user_site = site.getusersitepackages()
    if user_site in sys.path:
        paths.add(user_site)
    # autograder/ (which holds this file) and instructors/ beside it: an editable install
    # leaves them in the course's folder, of which nothing else is bound.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths.add(package)
    paths.add(os.path.join(os.path.dirname(package), "instructors"))
    return [os.path.realpath(p) for p in paths]


def _gpu_paths() -> list[str]:
    nodes = [f"/dev/{n}" for n in sorted(os.listdir("/dev")) if n.startswith("nvidia")]
    return nodes + (["/sys"] if nodes else [])


def _outermost(paths) -> list[str]:
    """Existing paths, without those inside another one of them."""
    chosen: list[str] = []
    for path in sorted(set(p for p in paths if os.path.lexists(p)), key=len):
        if not any(path == c or path.startswith(c.rstrip("/") + "/") for c in chosen):
            chosen.append(path)
    return chosen


def _locked_flags(path: str) -> int:
    """The flags of the mount holding ``path`` that a read-only remount must keep."""
    f = os.statvfs(path).f_flag
    return ((MS_NOSUID if f & os.ST_NOSUID else 0) | (MS_NODEV if f & os.ST_NODEV else 0)
            | (MS_NOEXEC if f & os.ST_NOEXEC else 0) | (MS_NOATIME if f & os.ST_NOATIME else 0)
            | (MS_NODIRATIME if f & os.ST_NODIRATIME else 0) | (MS_RELATIME if f & os.ST_RELATIME else 0))


def _bind(source: str, target: str, writable: bool = False, devices: bool = False) -> None:
    """Bind ``source`` on ``target`` (made if missing), read-only unless ``writable``."""
    if os.path.isdir(source) and not os.path.islink(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(source, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | _locked_flags(target)
    if not devices:
        flags |= MS_NODEV
    if not writable:
        flags |= MS_RDONLY
    _mount(None, target, None, flags)


def _copy_tree(source: str, target: str) -> None:
    """Copy a submission folder into the jail: what :class:`.intake.Intake` takes, at most COPY_LIMIT bytes.

    The grader reads with its own rights here, so nothing in the folder is followed
    or opened but plain files and folders (a link to a classmate's folder, a FIFO,
    a device stay outside); a folder too large for the jail is refused.
    """
    shown = source.removeprefix("/old")
    taken = intake.Intake(intake.Limits(file_bytes=COPY_LIMIT, total_bytes=COPY_LIMIT))
    try:
        taken.copy(source, target)
    except FileNotFoundError:
        raise JailError(f"the notebook's folder {shown} is not a folder this account can reach") from None
    except OSError as error:
        raise JailError(f"the notebook's folder cannot be read to copy it into the jail: "
                        f"{shown}: {error.strerror}") from None
    if taken.over_total:
        raise JailError(f"the notebook's folder {shown} holds more than {COPY_LIMIT // 2**20} MiB, "
                        f"too much to copy into the jail")


def _chown_tree(path: str, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def _build_root(spec: dict, uid: int | None) -> None:
    """Make the jail's root and move into it, into its working folder.

    Runs with the rights to mount (root, or the creator of a user namespace) in a
    private mount namespace: first into a scratch root on a tmpfs with the old root
    under /old, from which the new root under /new is assembled, then into /new.
    """
    # What to bind, worked out while the host's paths still resolve.
    system = _outermost(SYSTEM + tuple(_python_paths()))
    gpu = [p for p in _gpu_paths() if os.path.exists(p)]
    devices = [d for d in DEVICES if os.path.exists(f"/dev/{d}")]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the host
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for name in ("old", "new", "scratch"):
        os.mkdir(f"/tmp/{name}")
    _pivot_root("/tmp", "/tmp/old")
    os.chdir("/")
    _mount("tmpfs", "/new", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    _mount("tmpfs", "/scratch", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={DISK_LIMIT},nr_inodes={INODE_LIMIT},mode=0755")
    for name, mode in (("tmp", 0o1777), ("shm", 0o1777), ("home", 0o700), ("work", 0o755)):
        os.mkdir(f"/scratch/{name}")
        os.chmod(f"/scratch/{name}", mode)
    workdir = spec.get("workdir") or HOME
    if spec.get("workdir"):
        _copy_tree("/old" + workdir, "/scratch/work")
    if spec.get("sockets"):
        os.makedirs("/scratch" + spec["sockets"], mode=0o700)
    if uid is not None:
        _chown_tree("/scratch", uid, uid)
        for path in spec.get("readonly", []):
            _chown_tree("/old" + path, uid, uid)
    # (source, target, writable, devices); parents before children, so that a folder bound
    # under /tmp lands in the jail's /tmp, not under it.
    mounts = [(f"/old{p}", f"/new{p}", False, False) for p in system]
    mounts += [("/scratch/tmp", "/new/tmp", True, False), ("/scratch/home", f"/new{HOME}", True, False),
               ("/scratch/shm", "/new/dev/shm", True, False)]
    mounts += [(f"/old/dev/{d}", f"/new/dev/{d}", True, True) for d in devices]
    mounts += [(f"/old{p}", f"/new{p}", p.startswith("/dev/"), p.startswith("/dev/")) for p in gpu]
    if spec.get("workdir"):
        mounts.append(("/scratch/work", f"/new{workdir}", True, False))
    mounts += [(f"/old{p}", f"/new{p}", False, False) for p in spec.get("readonly", [])]
    for source, target, writable, devices in sorted(mounts, key=lambda m: m[1].count("/")):
        if os.path.islink(source) and not source.startswith("/old/dev/"):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.readlink(source), target)  # /bin -> usr/bin on a merged /usr
        else:
            _bind(source, target, writable, devices)
    if spec.get("sockets"):
        # A tmpfs of its own: a mount point cannot be renamed or replaced by a link, so the path the
        # grader connects through stays this folder; it holds a few sockets, nothing more.
        owner = uid if uid is not None else NOBODY
        _mount("tmpfs", "/new" + spec["sockets"], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
               f"size=64k,nr_inodes=64,mode=0700,uid={owner},gid={owner}")
    os.makedirs("/new/proc", exist_ok=True)
    _mount("proc", "/new/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/new/dev/{name}")
    _mount(None, "/new", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/new")
    _pivot_root(".", ".")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir(workdir)


# --- entering it -------------------------------------------------------------------------

#: What the jail's output may not carry to the grader's log: C0 and C1 control characters but
#: newline and tab (a terminal's escape sequences, carriage returns), and bidirectional overrides.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class _Output:
    """The keeper's copy of one of the jail's output streams: defused and cut at a limit."""

    def __init__(self, fd: int):
        self.fd = fd if not os.isatty(fd) else None  # a terminal gets nothing of it
        self.left = OUTPUT_LIMIT

    def write(self, data: bytes) -> None:
        if self.fd is None or self.left < 0:
            return
        cut = len(data) > self.left
        text = _UNSAFE.sub("?", data[:self.left].decode("utf-8", "replace"))
        self.left = -1 if cut else self.left - len(data)
        if cut:
            text += f"\n[output of student code cut after {OUTPUT_LIMIT} bytes]\n"
        try:
            os.write(self.fd, text.encode())
        except OSError:
            self.fd = None


def _relay(child: int, pipes: dict[int, int]) -> None:
    """The jail's keeper, outside it: pass its output on, wait for its first process, end as it ended.

    ``pipes`` maps the read end of each of the jail's output pipes to where it goes.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel in the jail
    open_pipes = {r: _Output(fd) for r, fd in pipes.items()}
    while open_pipes:  # until every process in the jail has closed them (or is gone)
        try:
            readable = select.select(list(open_pipes), [], [])[0]
        except InterruptedError:
            continue
        for r in readable:
            try:
                chunk = os.read(r, 65536)
            except InterruptedError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                open_pipes[r].write(chunk)
            else:
                os.close(r)
                del open_pipes[r]
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _fail(ready: int | None, why: str) -> None:
    message = f"the jail could not be set up: {why}"
    try:
        os.write(ready if ready is not None else 2, message.encode()[:4000] + b"\n")
    except OSError:
        pass
    os._exit(SETUP_FAILED)


def _new_session_keyring() -> None:
    """Leave the grader's session keyring for an empty one of the jail's own."""
    number = syscalls.DENIED.get(platform.machine(), {}).get("keyctl")
    if number is None:
        raise JailUnavailable(f"keyctl's system call number on {platform.machine()} is not known")
    KEYCTL_JOIN_SESSION_KEYRING = 1
    if _libc.syscall(ctypes.c_long(number), ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), None) < 0:
        code = ctypes.get_errno()
        if code != errno.ENOSYS:  # a kernel without keyrings has nothing to leave behind
            raise OSError(code, f"keyctl(JOIN_SESSION_KEYRING): {os.strerror(code)}")


def _fresh_stdio(out_w: int, err_w: int) -> None:
    """stdin from /dev/null, stdout and stderr into the keeper's pipes: nothing of the grader's."""
    null = os.open("/dev/null", os.O_RDONLY)
    for source, target in ((null, 0), (out_w, 1), (err_w, 2)):
        os.dup2(source, target)
        os.close(source)


def enter(spec: dict, keep_fds=(), ready: int | None = None, outputs: tuple[int, int] = (1, 2)) -> None:
    """Jail this process and everything it will start; returns inside the jail.

    Call it in a freshly forked, single-threaded process. The caller becomes the
    jail's keeper outside (it passes the jail's stdout and stderr on to ``outputs``,
    waits, then exits as the jailed process did, so its pid stands for the jail:
    a SIGKILL to it ends everything inside); a child, the first process of the
    jail's PID namespace, returns from here with fresh stdio and every other
    descriptor but ``keep_fds`` closed. ``ready``, a pipe, gets ``ok`` once the
    jail stands, or the reason it could not be set up (then the process exits).
    """
    try:
        if not sys.platform.startswith("linux"):
            raise JailUnavailable(f"the jail needs Linux namespaces; this is {sys.platform}")
        syscalls.program()  # Unsupported here, before anything changed, on an unknown machine
        root = os.geteuid() == 0
        flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
        if root:
            _unshare(flags)
        else:
            uid, gid = os.geteuid(), os.getegid()
            _unshare(flags | CLONE_NEWUSER)
            for name, text in (("uid_map", f"{NOBODY} {uid} 1"), ("setgroups", "deny"),
                               ("gid_map", f"{NOBODY} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the keeper dies with whoever started it
        keeper = os.getpid()
        alive_r, alive_w = os.pipe()  # closes when the keeper dies
        (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
    except (OSError, JailUnavailable, syscalls.Unsupported) as error:
        _fail(ready, _explain(error))
    child = os.fork()
    if child:
        for fd in (alive_r, out_w, err_w, *([ready] if ready is not None else [])):
            os.close(fd)
        _relay(child, {out_r: outputs[0], err_r: outputs[1]})
    try:
        for fd in (alive_w, out_r, err_r):
            os.close(fd)
        jail_uid = UID_BASE + keeper if root else None
        _build_root(spec, jail_uid)
        for limit, value in ((resource.RLIMIT_NPROC, PROCESS_LIMIT), (resource.RLIMIT_NOFILE, FILES_LIMIT),
                             (resource.RLIMIT_MSGQUEUE, 0)):
            resource.setrlimit(limit, (value, value))
        _drop_bounding_set()
        if root:
            os.setgroups([])
            os.setresgid(jail_uid, jail_uid, jail_uid)
            os.setresuid(jail_uid, jail_uid, jail_uid)
        _clear_capabilities()
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        # Set after the uid changed (which clears it); if the keeper died before, the pipe says so.
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if select.select([alive_r], [], [], 0)[0]:
            os._exit(1)
        os.umask(0o022)
        os.environ.clear()
        os.environ.update(spec.get("env") or environment({}))
        _new_session_keyring()
        syscalls.install()
        _fresh_stdio(out_w, err_w)
        _close_all_but({0, 1, 2, *keep_fds} | ({ready} if ready is not None else set()))
    except (OSError, JailError, JailUnavailable, syscalls.Unsupported) as error:
        _fail(ready, _explain(error))
    if ready is not None:
        os.write(ready, b"ok\n")
        os.close(ready)


def _close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _explain(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno in (errno.EPERM, errno.EACCES, errno.EINVAL, errno.ENOSPC):
        hints = {errno.ENOSPC: " (user namespaces are used up or switched off: "
                               "/proc/sys/user/max_user_namespaces)",
                 errno.EPERM: " (namespaces are not allowed here: an unprivileged container, "
                              "or kernel.unprivileged_userns_clone / AppArmor's "
                              "restrict_unprivileged_userns set to forbid them)"}
        return f"{error}{hints.get(error.errno, '')}"
    return str(error)


# --- in the grader -------------------------------------------------------------------------

_probe_lock = threading.Lock()
_probed: list[str] = []  # [] not yet, [""] works, [why] does not


def launcher() -> str:
    """The file that jails and limits a command, then runs it (see :mod:`.launch`)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")


def require() -> None:
    """Raise :class:`JailUnavailable`, naming what is missing, unless jails work here.

    Tried once per process: a jail is set up with the real launcher and a command
    that reports what it can see, which must be what the jail promises.
    """
    with _probe_lock:
        if not _probed:
            _probed.append(_probe())
    if _probed[0]:
        raise JailUnavailable(
            f"student code cannot be jailed on this machine: {_probed[0]}. Autograding is "
            f"refused, so that no submission runs with your account's rights. To grade "
            f"without the jail anyway (student code can then read and change everything "
            f"your account can), set {SETTING} in nbgrader_config.py.")


PROBE = ("import json, os, socket; s = socket.socket()\n"
         "try: s.connect(('127.0.0.1', 9)); net = True\n"
         "except OSError: net = False\n"
         "print(json.dumps({'pid': os.getpid(), 'uid': os.getuid(), 'net': net, "
         "'root': sorted(os.listdir('/'))}))")


def _probe() -> str:
    if not sys.platform.startswith("linux"):
        return f"it needs Linux namespaces, and this is {sys.platform}"
    command = [sys.executable, launcher(), "--jail", json.dumps(spec(env={})), "--",
               sys.executable, "-I", "-c", PROBE]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=60, env={})
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"the jail's launcher did not run ({error})"
    if run.returncode != 0:
        lines = (run.stderr.strip() or f"exit status {run.returncode}").splitlines()
        return next((line for line in reversed(lines) if "jail" in line), lines[-1])
    try:
        seen = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"the jail's probe printed {run.stdout[-200:]!r}"
    if seen["pid"] != 1 or seen["net"] or seen["uid"] == 0:
        return f"the jail did not hold: {seen}"
    return ""
