"""A throwaway JupyterHub on loopback: real Unix accounts, the deployment's own config.

Used by tests/test_jupyterhub.py. The hub is deploy/jupyterhub/ as
scripts/install-hub.sh installs it into .hub/ and an instructor would run it, with the proxy from npm and PAM log-in; only the ports,
the folders and the account names are the test's. Accounts carry a marker in their
GECOS field so that a run which died half-way can clean up after itself, and never
touches an account it did not make.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
HUB_PREFIX = ROOT / ".hub"            # what scripts/install-hub.sh fills
HUB_CONFIG = HUB_PREFIX / "jupyterhub_config.py"
HUB_ENV = HUB_PREFIX / "venv"
PROXY = HUB_PREFIX / "node_modules/.bin/configurable-http-proxy"
MARK = "dropout-course test account"


def missing() -> str:
    """Why a hub cannot run here, or '' if it can."""
    if os.geteuid() != 0:
        return "JupyterHub's local spawner needs root to start servers as other users"
    if not shutil.which("useradd"):
        return "no useradd to make throwaway accounts"
    if not (PROXY.exists() and HUB_CONFIG.exists() and (HUB_ENV / "bin/jupyterhub").exists()):
        return "no hub environment: run scripts/install-hub.sh"
    check = subprocess.run(["bash", str(ROOT / "scripts/install-hub.sh"), "--check"], capture_output=True,
                           text=True, env={**os.environ, "HUB_PREFIX": str(HUB_PREFIX)})
    return check.stderr.strip() if check.returncode else ""


def stale() -> str:
    """Which of the course's modules differ in the hub's copy ('' if none): the hub runs a copy
    made by scripts/install-hub.sh, so a checkout changed since then grades with old code."""
    sites = sorted(HUB_ENV.glob("lib/python3*/site-packages"))
    if not sites:
        return ""
    modules = [path.relative_to(ROOT) for package in ("autograder", "instructors")
               for path in sorted((ROOT / package).rglob("*.py")) if (path.parent / "__init__.py").exists()]
    changed = [str(m) for m in modules if not (sites[0] / m).exists()
               or (sites[0] / m).read_bytes() != (ROOT / m).read_bytes()]
    return ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


@dataclass
class Account:
    name: str
    password: str
    home: Path

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid


def remove_account(name: str) -> None:
    """Delete an account this harness made (and its home); refuse any other."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return
    if entry.pw_gecos != MARK:
        raise RuntimeError(f"account {name} exists and was not made by the tests; not touching it")
    subprocess.run(["pkill", "-KILL", "-u", name], check=False)
    subprocess.run(["userdel", "--remove", "--force", name], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_account(name: str, homes: Path) -> Account:
    remove_account(name)
    home = homes / name
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--comment", MARK,
                    "--shell", "/bin/bash", name], check=True)
    password = secrets.token_urlsafe(16)
    subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True)
    return Account(name, password, home)


def server_environment(name: str) -> dict[str, str]:
    """The environment JupyterHub gave that user's running server (and so its terminals)."""
    found = subprocess.run(["pgrep", "-u", name, "-f", "jupyterhub-singleuser"],
                           capture_output=True, text=True).stdout.split()
    if len(found) != 1:
        raise RuntimeError(f"expected one server of {name}, found processes {found}")
    raw = Path(f"/proc/{found[0]}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """jupyterhub -f .hub/jupyterhub_config.py, in its own folder."""

    def __init__(self, workdir: Path, instructor: str, roster: Path, exchange: Path):
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = workdir / "jupyterhub.log"
        env = dict(os.environ,
                   DROPOUT_INSTRUCTOR=instructor, DROPOUT_ROSTER=str(roster),
                   DROPOUT_EXCHANGE=str(exchange), DROPOUT_HUB_URL=self.url,
                   DROPOUT_PROXY=str(PROXY),
                   JUPYTER_CONFIG_DIR=str(workdir / "config"),
                   JUPYTER_DATA_DIR=str(workdir / "data"),
                   JUPYTER_RUNTIME_DIR=str(workdir / "runtime"))
        command = [str(HUB_ENV / "bin/jupyterhub"), "-f", str(HUB_CONFIG),
                   f"--JupyterHub.hub_bind_url=http://127.0.0.1:{free_port()}",
                   f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_up(timeout=90)

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/hub/api", timeout=5).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"jupyterhub did not answer in {timeout} s:\n{self.tail()}")

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        """Stop the hub; it stops every user's server (JupyterHub.cleanup_servers)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class HubUser:
    """One person at their browser: logs in with their password, starts their server.

    Requests then go with an API token the user made for themself after logging in,
    as JupyterLab's own requests go with the user's log-in.
    """

    def __init__(self, hub: Hub, account: Account):
        self.hub, self.name = hub, account.name
        login = requests.Session()
        login.get(f"{hub.url}/hub/login", timeout=30)
        xsrf = login.cookies.get("_xsrf", "")
        answer = login.post(f"{hub.url}/hub/login?next=", allow_redirects=False, timeout=60,
                            data={"username": account.name, "password": account.password,
                                  "_xsrf": xsrf})
        if answer.status_code != 302:
            raise RuntimeError(f"{account.name} could not log in: {answer.status_code}")
        # Logging in starts a new session and with it a new XSRF token.
        xsrf = login.cookies.get("_xsrf", path="/hub/") or login.cookies.get("_xsrf")
        token = login.post(f"{hub.url}/hub/api/users/{account.name}/tokens", timeout=30,
                           headers={"X-XSRFToken": xsrf}, json={"note": "tests"})
        if not token.ok:
            raise RuntimeError(f"{account.name} could not make a token: {token.status_code} {token.text}")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token.json()['token']}"

    def start_server(self, timeout: float = 150) -> None:
        answer = self.http.post(f"{self.hub.url}/hub/api/users/{self.name}/server", timeout=30)
        if answer.status_code not in (201, 202, 400):  # 400: already running
            raise RuntimeError(f"{self.name}'s server did not start: {answer.status_code} {answer.text}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            user = self.http.get(f"{self.hub.url}/hub/api/users/{self.name}", timeout=30).json()
            server = user.get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{self.name}'s server was not ready in {timeout} s:\n{self.hub.tail()}")

    def url(self, path: str) -> str:
        return f"{self.hub.url}/user/{self.name}/{path.lstrip('/')}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url(path), timeout=kwargs.pop("timeout", 60), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.url(path), timeout=kwargs.pop("timeout", 300), **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.http.put(self.url(path), timeout=kwargs.pop("timeout", 60), **kwargs)
