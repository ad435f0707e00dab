"""The course's JupyterLab on a student's own machine, written into an environment's Jupyter configuration.

    python scripts/configure_lab.py PREFIX      (scripts/setup.sh runs it on .venv)

A clone of the course is a student's, with no nbgrader exchange. So this gives the
environment the student role of the JupyterHub deployment (deploy/jupyterhub/student/:
no formgrader, no Create Assignment, no course list; deploy/jupyterhub/lab-overrides.json:
no asking about news from jupyter.org), and takes away what needs an exchange, the
Assignment List (its server extension and lab plugin), and the Nbgrader menu, all of
whose items are then gone. The work is in release/ in the clone; an exchange made up
here would take submissions that no instructor collects, so none is made, and nothing
asks for one.

It writes the environment's own (sys-prefix) configuration, merged into what is there,
so that running it again changes nothing:

    PREFIX/etc/jupyter/jupyter_server_config.json        server extensions
    PREFIX/etc/jupyter/labconfig/page_config.json        disabledExtensions, lockedExtensions
    PREFIX/share/jupyter/lab/settings/overrides.json     JupyterLab's defaults

and PREFIX/etc/jupyter-instructor/, the layer that turns back on all this turned off, which
makes it nbgrader as installed, as the hub's instructor has it (the Assignment List then
says that it needs an exchange, if opened without one). scripts/instructor-lab.sh puts that
layer first on JUPYTER_CONFIG_PATH, which outranks the environment's configuration:
Jupyter merges jpserver_extensions and disabledExtensions key by key across its config
folders, and the first folder wins.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HUB = Path(__file__).resolve().parents[1] / "deploy" / "jupyterhub"
SERVER = "jupyter_server_config.json"
PAGE = Path("labconfig") / "page_config.json"
OVERRIDES = Path("share") / "jupyter" / "lab" / "settings" / "overrides.json"

#: What the hub's students do not get: the instructor's tools.
STUDENT_ROLE = HUB / "student"
#: What a student here does not get either: what needs an exchange, and the Nbgrader menu,
#: whose every item is then off.
NO_EXCHANGE = {
    SERVER: {"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.assignment_list": False}}},
    PAGE: {"disabledExtensions": {"@jupyter/nbgrader:assignment-list": True, "@jupyter/nbgrader:menu": True}},
}


def merged(base: dict, extra: dict) -> dict:
    """``base`` updated with ``extra``, nested dictionaries key by key, as Jupyter merges config."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() and path.stat().st_size else {}


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def student_layer() -> dict[Path, dict]:
    """The hub's student role without what needs an exchange. Its disabled plugins are locked too, so
    JupyterLab's Plugin Manager does not offer them, and JupyterLab does not lock them itself by
    rewriting the file, as it does where it finds disabled plugins and no locks (its migration
    from 4.0, run by `jupyter lab` and `jupyter labextension list` alike)."""
    layer = {name: merged(_read(STUDENT_ROLE / name), NO_EXCHANGE[name]) for name in (SERVER, PAGE)}
    layer[PAGE]["lockedExtensions"] = dict(layer[PAGE]["disabledExtensions"])
    return layer


def instructor_layer() -> dict[Path, dict]:
    """All the student layer turns off turned back on: server extensions enabled, lab plugins not disabled."""
    student = student_layer()
    extensions = student[SERVER]["ServerApp"]["jpserver_extensions"]
    back = {plugin: False for plugin, off in student[PAGE]["disabledExtensions"].items() if off}
    return {SERVER: {"ServerApp": {"jpserver_extensions": {name: True for name, on in extensions.items() if not on}}},
            PAGE: {"disabledExtensions": back, "lockedExtensions": back}}


def configure(prefix: Path) -> None:
    prefix = Path(prefix)
    for name, data in student_layer().items():
        _write(prefix / "etc" / "jupyter" / name, merged(_read(prefix / "etc" / "jupyter" / name), data))
    for name, data in instructor_layer().items():
        _write(prefix / "etc" / "jupyter-instructor" / name, data)
    _write(prefix / OVERRIDES, merged(_read(prefix / OVERRIDES), _read(HUB / "lab-overrides.json")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    configure(Path(sys.argv[1]))
