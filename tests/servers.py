"""Real servers on loopback, started by the tests and stopped afterwards: PostgreSQL, Dask and JupyterLab.

PostgreSQL is Debian's package (``scripts/install-postgres.sh``), run as its own
``postgres`` account in a temporary data folder, listening on a Unix socket only.
Dask is the ``distributed`` package's own ``dask scheduler`` and ``dask worker``
commands. Where either is missing, the tests that need it skip, except in CI, where
that is a broken set-up and fails. JupyterLab is the course environment's own.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must install {what} (see scripts/test.sh)")
    pytest.skip(f"needs {what}", allow_module_level=True)


def postgres_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _missing("the psycopg2-binary package")
    if not found or shutil.which("runuser") is None:
        _missing("Debian's postgresql package (scripts/install-postgres.sh)")
    return Path(found[-1]).parent


def _as_postgres(*command, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True,
                          capture_output=True, text=True, **kw)


@contextmanager
def postgres(database: str = "gradebook"):
    """A PostgreSQL server in a temporary folder; yields the SQLAlchemy URL of an empty ``database``.

    The folder is made in the system's temporary folder, not pytest's: the server runs
    as ``postgres``, which cannot enter root's private folders. Any account may
    connect through the socket as ``postgres`` (trust): the server lives for one test.
    """
    import tempfile

    binaries = postgres_binaries()
    folder = Path(tempfile.mkdtemp(prefix="dropout-postgres-"))
    shutil.chown(folder, "postgres")
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    shutil.chown(sockets, "postgres")
    for path in (folder, sockets):   # other accounts (the hub's instructor) reach the socket
        path.chmod(0o755)
    _as_postgres(binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    log = open(folder / "postgres.log", "w")
    server = subprocess.Popen(["runuser", "-u", "postgres", "--", str(binaries / "postgres"), "-D", str(data),
                               "-k", str(sockets), "-c", "listen_addresses="], stdout=log, stderr=log)
    try:
        deadline = time.time() + 60
        while not (sockets / ".s.PGSQL.5432").exists():
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError("PostgreSQL did not start: " + (folder / "postgres.log").read_text()[-2000:])
            time.sleep(0.2)
        for _ in range(50):
            try:
                _as_postgres(binaries / "createdb", "-h", sockets, "-U", "postgres", database)
                break
            except subprocess.CalledProcessError:   # accepting connections a moment after the socket
                time.sleep(0.2)
        yield f"postgresql+psycopg2://postgres@/{database}?host={sockets}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _dask(*args) -> list[str]:
    dask = BIN / "dask"
    if not dask.exists():
        _missing("Dask's distributed package")
    return [str(dask), *args]


class Cluster:
    """A Dask scheduler and workers on loopback, each worker in a folder of its own.

    ``hide`` is a folder every worker sees empty (a tmpfs mounted over it in the
    worker's own mount namespace): the instructor's course, which workers must never
    need.
    """

    def __init__(self, folder: Path, workers: int = 2, hide: Path | None = None):
        self.folder, self.hide = Path(folder), hide
        self.folder.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen] = []
        scheduler_file = self.folder / "scheduler.json"
        self.scheduler = subprocess.Popen(
            _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                  "--scheduler-file", str(scheduler_file)),
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "scheduler.log", "w"), start_new_session=True)
        deadline = time.time() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if time.time() > deadline or self.scheduler.poll() is not None:
                raise RuntimeError("the Dask scheduler did not start: " +
                                   (self.folder / "scheduler.log").read_text()[-2000:])
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for index in range(workers):
            self.add_worker(f"worker-{index}")
        if workers:
            self.wait_for_workers(workers)

    def add_worker(self, name: str) -> subprocess.Popen:
        home = self.folder / name
        home.mkdir()
        command = _dask("worker", self.address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                        "--no-dashboard", "--local-directory", str(home))
        if self.hide is not None:
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f'mount -t tmpfs tmpfs "$0" && exec "$@"', str(self.hide), *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
        worker = subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(self.folder / f"{name}.log", "w"), start_new_session=True)
        self.workers.append(worker)
        return worker

    def client(self):
        from distributed import Client

        return Client(self.address, timeout="20s", set_as_default=False)

    def wait_for_workers(self, count: int, timeout: float = 120) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=timeout)

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL a worker (its nanny and its worker process) or the scheduler, at once."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                self.kill(process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root: Path, env: dict, log: Path, *options: str, token: str = "course-test-token"):
    """``jupyter lab`` serving ``root`` on loopback with a token, in ``env``; yields (base URL, token).

    Its output goes to ``log``; a server that does not answer within 60 s fails the test
    with the log's tail.
    """
    port = free_port()
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             *options], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        pytest.fail("JupyterLab did not start: " + Path(log).read_text()[-2000:])
                    time.sleep(0.5)
            yield base, token
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def course_lab_config(prefix: Path) -> dict[str, str]:
    """The course's JupyterLab configuration, written into ``prefix`` as scripts/setup.sh writes
    it into .venv; returns the JUPYTER_CONFIG_PATH of each role. The student's is the prefix's
    own configuration (the environment's, in .venv); the instructor's puts the instructor layer
    above it, as scripts/instructor-lab.sh does."""
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "scripts" / "configure_lab.py"),
                    str(prefix)], check=True)
    student, instructor = prefix / "etc" / "jupyter", prefix / "etc" / "jupyter-instructor"
    return {"student": str(student), "instructor": os.pathsep.join([str(instructor), str(student)])}
