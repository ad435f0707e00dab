"""JupyterHub for one course on one server: one instructor, many students, nbgrader's exchange.

`scripts/install-hub.sh` installs it, with everything it refers to, into one folder that
every account can read (HUB_PREFIX, e.g. /opt/dropout101): venv/, jupyter/ (the
configuration of each role, from the folders next to this file), node_modules/ (the
proxy) and this file. Run it as root (it starts each user's server as that Unix user),
in the folder where the hub should keep its state (its database and cookie secret):

    cd /srv/jupyterhub && /opt/dropout101/venv/bin/jupyterhub -f /opt/dropout101/jupyterhub_config.py

Everything below is standard JupyterHub: PAM log-in with the server's own accounts,
one local process per user, the proxy from the configurable-http-proxy package.
The course adds one thing: which Jupyter configuration each user's server reads.
The instructor's reads jupyter/instructor/ (the formgrader, the course folder) and
jupyter/common/; a student's reads jupyter/student/ (no formgrader, no course list) and
jupyter/common/. Both find the exchange in common/. Settings come from the environment:

    DROPOUT_INSTRUCTOR  the instructor's Unix account           [instructor]
    DROPOUT_ROSTER      a file with one student account a line  [/srv/dropout101/students.txt]
    DROPOUT_EXCHANGE    nbgrader's exchange folder              [/srv/nbgrader/exchange]
    DROPOUT_HUB_URL     where the hub listens                   [http://:8000]
    DROPOUT_PROXY       the configurable-http-proxy command     [the prefix's, then PATH]
"""
import os
import shutil
import sys
from pathlib import Path

# Everything lives under the prefix install-hub.sh filled: this hub runs from its venv.
PREFIX = Path(sys.prefix).resolve().parent
ROLES = PREFIX / "jupyter"
INSTRUCTOR = os.environ.get("DROPOUT_INSTRUCTOR", "instructor")
ROSTER = Path(os.environ.get("DROPOUT_ROSTER", "/srv/dropout101/students.txt"))
EXCHANGE = os.environ.get("DROPOUT_EXCHANGE", "/srv/nbgrader/exchange")


def read_roster(path: Path) -> set[str]:
    """Student accounts, one a line; blank lines and # comments are skipped."""
    if not path.is_file():
        sys.exit(f"jupyterhub_config: no roster at {path}; set DROPOUT_ROSTER to a file "
                 "with one student account a line")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def proxy_command() -> str:
    """The configurable-http-proxy that scripts/install-hub.sh installs (npm), or one on PATH."""
    installed = PREFIX / "node_modules/.bin/configurable-http-proxy"
    found = (os.environ.get("DROPOUT_PROXY") or (installed if installed.exists() else None)
             or shutil.which("configurable-http-proxy"))
    if not found or not Path(found).exists():
        sys.exit("jupyterhub_config: no configurable-http-proxy; run scripts/install-hub.sh "
                 "or set DROPOUT_PROXY")
    return str(found)


def role_config(spawner) -> None:
    """Point the user's server at the Jupyter configuration of their role."""
    role = "instructor" if spawner.user.name == INSTRUCTOR else "student"
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(ROLES / role), str(ROLES / "common")])


c = get_config()  # noqa: F821 - injected by JupyterHub when it loads this file

c.JupyterHub.bind_url = os.environ.get("DROPOUT_HUB_URL", "http://:8000")
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = {INSTRUCTOR} | read_roster(ROSTER)
c.JupyterHub.spawner_class = "localprocess"
c.ConfigurableHTTPProxy.command = [proxy_command()]

# Every server runs from the course's environment, so the instructor's formgrader
# grades with this course's autograder, and opens JupyterLab in the user's home.
c.Spawner.cmd = [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    "PATH": os.pathsep.join([str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
    "DROPOUT_EXCHANGE": EXCHANGE,
}
c.Spawner.pre_spawn_hook = role_config
# A server's first start imports torch and JupyterLab; give it time on a slow disk.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
