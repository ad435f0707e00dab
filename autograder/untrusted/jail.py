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
  to loopback too, fails. The kernel talks to the grader through Unix
  sockets in a folder bound in for it, the sandbox through an inherited one.
* **Environment.** Only the variables :func:`environment` allows.
* **Devices.** ``/dev/null``, ``/dev/zero``, ``/dev/full``, the random
  devices, and NVIDIA's device nodes (with ``/sys``) where the machine has them.

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
import resource
import select
import signal
import stat
import subprocess
import sys
import sysconfig
import threading

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


def spec(workdir: str | None = None, writable=(), env=None) -> dict:
    """What one jail needs: the folder to copy as its working folder, folders bound writable.

    ``writable`` folders (the kernel's sockets) appear at their own paths and are
    given to the jail's uid; ``env`` is cut with :func:`environment` (None: this one's).
    """
    return {"workdir": os.path.realpath(workdir) if workdir else None,
            "writable": [os.path.realpath(w) for w in writable],
            "env": environment(os.environ if env is None else env)}


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
    """Copy a submission folder: files and folders only, no link followed, at most COPY_LIMIT bytes.

    The grader reads with its own rights here, so a symbolic link the student
    handed in (to a classmate's folder, say) is copied as a link, which inside the
    jail points into the jail; FIFOs and devices are skipped.
    """
    def unreadable(error: OSError) -> None:
        raise JailError(f"the notebook's folder cannot be read to copy it into the jail: "
                        f"{error.filename.removeprefix('/old')}: {error.strerror}")

    if not os.path.isdir(source):
        raise JailError(f"the notebook's folder {source.removeprefix('/old')} is not a folder this "
                        f"account can reach")
    total = 0
    for folder, dirs, files in os.walk(source, onerror=unreadable, followlinks=False):
        rel = os.path.relpath(folder, source)
        into = os.path.normpath(os.path.join(target, rel))
        for name in dirs + files:
            path, dest = os.path.join(folder, name), os.path.join(into, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(path), dest)
            elif stat.S_ISDIR(info.st_mode):
                os.mkdir(dest, 0o755)
            elif stat.S_ISREG(info.st_mode):
                total += info.st_size
                if total > COPY_LIMIT:
                    raise JailError(f"the notebook's folder {source.removeprefix('/old')} holds more than "
                                    f"{COPY_LIMIT // 2**20} MiB, too much to copy into the jail")
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as src, open(dest, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                os.chmod(dest, stat.S_IMODE(info.st_mode) | 0o600)


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
    if uid is not None:
        _chown_tree("/scratch", uid, uid)
        for path in spec.get("writable", []):
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
    mounts += [(f"/old{p}", f"/new{p}", True, False) for p in spec.get("writable", [])]
    for source, target, writable, devices in sorted(mounts, key=lambda m: m[1].count("/")):
        if os.path.islink(source) and not source.startswith("/old/dev/"):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.readlink(source), target)  # /bin -> usr/bin on a merged /usr
        else:
            _bind(source, target, writable, devices)
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


def _relay(child: int) -> None:
    """The jail's keeper, outside it: wait for its first process, end as it ended."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel in the jail
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


def enter(spec: dict, keep_fds=(), ready: int | None = None) -> None:
    """Jail this process and everything it will start; returns inside the jail.

    Call it in a freshly forked, single-threaded process. The caller becomes the
    jail's keeper outside (it waits, then exits as the jailed process did, so its
    pid stands for the jail: a SIGKILL to it ends everything inside); a child, the
    first process of the jail's PID namespace, returns from here. Every descriptor
    but 0, 1, 2 and ``keep_fds`` is closed. ``ready``, a pipe, gets ``ok`` once the
    jail stands, or the reason it could not be set up (then the process exits).
    """
    try:
        if not sys.platform.startswith("linux"):
            raise JailUnavailable(f"the jail needs Linux namespaces; this is {sys.platform}")
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
    except (OSError, JailUnavailable) as error:
        _fail(ready, _explain(error))
    child = os.fork()
    if child:
        os.close(alive_r)
        if ready is not None:
            os.close(ready)
        _relay(child)
    try:
        os.close(alive_w)
        jail_uid = UID_BASE + keeper if root else None
        _build_root(spec, jail_uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
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
        _close_all_but({0, 1, 2, *keep_fds} | ({ready} if ready is not None else set()))
    except (OSError, JailError, JailUnavailable) as error:
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
