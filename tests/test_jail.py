"""The jail, judged by consequences: a class of attackers graded for real leaves the machine as it was.

tests/jail_attacks.py builds the class (each attack from the kernel and from
the sandbox, and one honest student), grades it with `grade_class` and a
subset with `nbgrader autograde`, and lists every harm it finds. With the jail
every list is empty; the mutation check grades the same class with the jail
switched off and every list fills, so these tests can fail.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import jail_attacks
from autograder.untrusted import jail, launch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the jail needs Linux")


def _graded(tmp_path_factory, jailed: bool) -> jail_attacks.Run:
    run = jail_attacks.build(tmp_path_factory.mktemp("jailed" if jailed else "unjailed"), jailed=jailed)
    try:
        return jail_attacks.grade(run)
    finally:
        jail_attacks.clean_up(run)


@pytest.fixture(scope="module")
def jailed(tmp_path_factory):
    return _graded(tmp_path_factory, jailed=True)


@pytest.fixture(scope="module")
def unjailed(tmp_path_factory):
    return _graded(tmp_path_factory, jailed=False)


@pytest.mark.parametrize("kind", jail_attacks.KINDS)
def test_a_class_of_attackers_leaves_no_trace(jailed, kind):
    assert jailed.consequences[kind] == []


def test_the_attacks_really_ran_in_the_jail(jailed):
    """Each attack reported from inside, so an empty list above is not an attack that never ran."""
    for student in jailed.attackers:
        text = (jailed.course.root / "autograded" / student / jail_attacks.NAME /
                f"{jail_attacks.NAME}.ipynb").read_text()
        if student.endswith("-kernel"):
            assert any(word in text for word in ("leaked:", "no connection", "out of reach", "blocked",
                                                 "started", "disk full", "killed [")), student


@pytest.mark.parametrize("kind", jail_attacks.JAIL_KINDS)
def test_without_the_jail_the_same_checks_find_harm(unjailed, kind):
    """The mutation check: the same class, graded with c.StudentCodeJail.enabled = False."""
    assert unjailed.consequences[kind] != []


def test_jailed_code_sees_nothing_of_the_course_and_no_secret(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("my own file")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret")
    probe = ("import os, json, socket\n"
             "s = socket.socket(); r = s.connect_ex(('127.0.0.1', 22))\n"
             "print(json.dumps({'pid': os.getpid(), 'uid': os.getuid(), 'cwd': os.getcwd(),"
             " 'mine': open('mine.txt').read(), 'procs': [p for p in os.listdir('/proc') if p.isdigit()],"
             " 'course': os.path.exists(%r), 'repo': sorted(os.listdir(%r)),"
             " 'env': sorted(os.environ), 'connect': r,"
             " 'caps': [l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')],"
             " 'nnp': [l.split()[1] for l in open('/proc/self/status') if l.startswith('NoNewPrivs')]}))\n"
             "open('mine.txt', 'w').write('changed in the jail')\n" % (str(jail_attacks.REPO / "source"),
                                                                          str(jail_attacks.REPO)))
    run = subprocess.run(launch.wrapped([sys.executable, "-c", probe], jail.spec(str(tmp_path))),
                         capture_output=True, text=True, timeout=60)
    seen = json.loads(run.stdout)
    assert seen["pid"] == 1 and seen["procs"] == ["1"]
    assert seen["uid"] != 0 and set(seen["caps"]) == {"0000000000000000"} and seen["nnp"] == ["1"]
    assert seen["cwd"] == str(tmp_path) and seen["mine"] == "my own file"
    assert (tmp_path / "mine.txt").read_text() == "my own file"  # the jail wrote to its copy
    assert seen["course"] is False and set(seen["repo"]) <= {".venv", "autograder", "instructors"}
    assert "JUPYTERHUB_API_TOKEN" not in seen["env"] and seen["connect"] != 0


#: Run in a jail: what of the kernel's state around it student code can reach.
AROUND = r"""
import ctypes, json, os, resource
libc = ctypes.CDLL(None, use_errno=True)
def refused(call):
    try:
        ok = call()
    except OSError as error:
        return error.errno
    return 0 if ok is None or ok >= 0 else ctypes.get_errno()
KEYCTL = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
seen = {
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "ttys": [fd for fd in range(64) if os.isatty(fd)],
    "stdin": os.readlink("/proc/self/fd/0"),
    "memfd": refused(lambda: os.memfd_create("x")),
    "shmget": refused(lambda: libc.shmget(0, 2**20, 0o1600)),
    "unshare_user": refused(lambda: libc.unshare(0x10000000)),
    "keyctl": refused(lambda: libc.syscall(KEYCTL, 0, -3, 0)),
    "msgget": refused(lambda: libc.msgget(0, 0o1600)),
    "vsock": refused(lambda: __import__("socket").socket(40, __import__("socket").SOCK_STREAM)),
    "bigger_buffer": refused(lambda: __import__("socket").socket().setsockopt(1, 7, 2**26)),
    "unix_socket": refused(lambda: __import__("socket").socketpair() and None),
    "files": resource.getrlimit(resource.RLIMIT_NOFILE),
    "mqueue": resource.getrlimit(resource.RLIMIT_MSGQUEUE),
}
print(json.dumps(seen), flush=True)
os.write(2, b"\x1b]0;CANARY-SCREEN\x07 written by the jail\n")
"""


def _around_the_jail(tmp_path, stdout, stderr) -> subprocess.Popen:
    return subprocess.Popen(launch.wrapped([sys.executable, "-c", AROUND], jail.spec(str(tmp_path))),
                            stdout=stdout, stderr=stderr)


def test_the_jail_bounds_and_closes_the_kernel_state_around_it(tmp_path):
    """No descriptor of the grader's, no RAM-backed file outside its tmpfs, no namespace, no keyring."""
    run = _around_the_jail(tmp_path, subprocess.PIPE, subprocess.PIPE)
    out, err = run.communicate(timeout=60)
    seen = json.loads(out)
    assert seen["fds"] == [0, 1, 2, 3] and seen["ttys"] == [] and seen["stdin"] == "/dev/null"
    for call in ("memfd", "shmget", "msgget", "unshare_user", "keyctl", "bigger_buffer"):
        assert seen[call] == 1, (call, seen[call])   # EPERM
    assert seen["vsock"] == 97 and seen["unix_socket"] == 0   # EAFNOSUPPORT; Unix sockets work
    assert seen["files"] == [jail.FILES_LIMIT, jail.FILES_LIMIT] and seen["mqueue"] == [0, 0]
    # Its output reaches a log defused: the escape sequence's control characters are gone.
    assert b"?]0;CANARY-SCREEN? written by the jail" in err and b"\x1b" not in err


def test_nothing_of_a_jail_reaches_the_instructors_terminal(tmp_path):
    """Run from a terminal, the jail neither reads it nor writes to it: its output goes nowhere."""
    master, slave = os.openpty()
    run = _around_the_jail(tmp_path, slave, slave)
    os.close(slave)
    os.write(master, b"the instructor types a password\n")
    screen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    assert run.wait(timeout=60) == 0
    os.close(master)
    assert b"CANARY-SCREEN" not in screen and b"fds" not in screen


def test_a_fork_bomb_is_capped_and_nothing_outlives_the_jail(tmp_path):
    bomb = ("import os, time\nn = 0\n"
            "for _ in range(2000):\n"
            "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
            "    if pid == 0:\n        time.sleep(600); os._exit(0)\n    n += 1\n"
            "print(n)\n")
    keeper = subprocess.Popen(launch.wrapped([sys.executable, "-c", bomb], jail.spec(str(tmp_path))),
                              stdout=subprocess.PIPE, text=True)
    started = int(keeper.communicate(timeout=120)[0])
    assert 100 < started < jail.PROCESS_LIMIT  # capped; and the end of its first process took the rest:
    if os.geteuid() == 0:  # each jail of a root grader has a uid of its own
        assert [p for p in os.listdir("/proc") if p.isdigit() and _uid(p) == jail.UID_BASE + keeper.pid] == []


def test_a_submission_folder_too_large_for_the_jail_is_refused_with_a_reason(tmp_path):
    (tmp_path / "data.bin").write_bytes(bytes(jail.COPY_LIMIT + 1))
    run = subprocess.run(launch.wrapped(["/bin/true"], jail.spec(str(tmp_path))), capture_output=True, text=True)
    assert run.returncode == jail.SETUP_FAILED
    assert "holds more than 64 MiB" in run.stderr


def test_where_jails_cannot_work_autograding_refuses_and_names_the_setting(monkeypatch):
    monkeypatch.setattr(jail, "_probed", ["unshare: Operation not permitted"])
    with pytest.raises(jail.JailUnavailable, match="c.StudentCodeJail.enabled = False"):
        jail.require()


def _uid(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(next(line for line in f if line.startswith("Uid:")).split()[1])
    except (OSError, StopIteration):
        return -1


def test_grade_class_refuses_before_grading_anything_where_jails_cannot_work(tmp_path, monkeypatch, capsys):
    from instructors import grade_class
    from instructors.course import Course

    course = Course.copy_of_this_course(tmp_path / "course")
    handed_in = course.submission_path("ada", jail_attacks.NAME)
    handed_in.parent.mkdir(parents=True)
    handed_in.write_text("{}")
    monkeypatch.setattr(jail, "_probed", ["unshare: Operation not permitted (namespaces are not allowed here)"])
    assert grade_class.main([jail_attacks.NAME, "--course", str(course.root)]) == 2
    said = capsys.readouterr().err
    assert "cannot be jailed on this machine: unshare: Operation not permitted" in said
    assert "set c.StudentCodeJail.enabled = False in nbgrader_config.py" in said
    assert not (course.root / "gradebook.db").exists() and not (course.root / "autograded").exists()


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"),
                    reason="needs root, to grade as another account, and a system Python it can run")
def test_a_grader_without_root_jails_through_a_user_namespace_as_nobody():
    """The path an instructor's own account takes (JupyterHub's formgrader): no root, same jail."""
    import shutil
    import tempfile

    base = tempfile.mkdtemp()  # pytest's tmp_path is in a folder only root may enter
    os.chmod(base, 0o755)
    folder = os.path.join(base, "work")
    os.mkdir(folder)
    with open(os.path.join(folder, "mine.txt"), "w") as f:
        f.write("mine")
    os.chown(folder, 65534, 65534)
    probe = ("import os, json, socket; s = socket.socket()\n"
             "print(json.dumps({'pid': os.getpid(), 'uid': os.getuid(), 'mine': open('mine.txt').read(),"
             " 'root': sorted(os.listdir('/')), 'connect': s.connect_ex(('127.0.0.1', 22)),"
             " 'caps': sorted({l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')})}))")
    command = ["runuser", "-u", "nobody", "--", "/usr/bin/python3", jail.launcher(), "--jail",
               json.dumps(jail.spec(str(folder))), "--", "/usr/bin/python3", "-I", "-c", probe]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd="/")
    # The state around the jail is closed on this path too.
    around = ["runuser", "-u", "nobody", "--", "/usr/bin/python3", jail.launcher(), "--jail",
              json.dumps(jail.spec(str(folder))), "--", "/usr/bin/python3", "-I", "-c", AROUND]
    closed = subprocess.run(around, capture_output=True, text=True, timeout=60, cwd="/")
    # A folder this account cannot read is refused, never copied in empty.
    os.chown(folder, 0, 0)
    os.chmod(folder, 0o700)
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd="/")
    shutil.rmtree(base)
    assert refused.returncode == jail.SETUP_FAILED and "cannot be read to copy it into the jail" in refused.stderr
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["pid"] == 1 and seen["uid"] == jail.NOBODY and seen["mine"] == "mine"
    assert seen["caps"] == ["0000000000000000"] and seen["connect"] != 0
    assert "root" not in seen["root"]  # the grader's home: the system Python needs nothing of it
    assert closed.returncode == 0, closed.stderr
    around_seen = json.loads(closed.stdout)
    assert around_seen["fds"] == [0, 1, 2, 3] and around_seen["ttys"] == []
    assert [around_seen[c] for c in ("memfd", "shmget", "unshare_user", "keyctl")] == [1, 1, 1, 1]
