"""deploy/jupyterhub/jupyterhub_config.py read on its own: roster, roles, clear refusals.

The whole deployment runs in tests/test_jupyterhub.py (root only); this checks the
config's own logic anywhere, fast.
"""
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import PyFileConfigLoader

CONFIG = Path(__file__).resolve().parents[1] / "deploy/jupyterhub/jupyterhub_config.py"


def _load(monkeypatch, tmp_path, roster_text: str | None = "ada\n# a comment\n\nbo  # late joiner\n"):
    roster = tmp_path / "students.txt"
    if roster_text is not None:
        roster.write_text(roster_text)
    monkeypatch.setenv("DROPOUT_ROSTER", str(roster))
    monkeypatch.setenv("DROPOUT_INSTRUCTOR", "prof")
    monkeypatch.setenv("DROPOUT_PROXY", "/bin/true")
    return PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()


def test_the_roster_and_the_instructor_are_the_only_users(monkeypatch, tmp_path):
    config = _load(monkeypatch, tmp_path)
    assert config.Authenticator.allowed_users == {"prof", "ada", "bo"}
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.ConfigurableHTTPProxy.command == ["/bin/true"]


def test_each_role_gets_its_own_jupyter_configuration(monkeypatch, tmp_path):
    hook = _load(monkeypatch, tmp_path).Spawner.pre_spawn_hook
    seen = {}
    for name in ("prof", "ada"):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={})
        hook(spawner)
        seen[name] = [Path(p).name for p in spawner.environment["JUPYTER_CONFIG_PATH"].split(":")]
    assert seen == {"prof": ["instructor", "common"], "ada": ["student", "common"]}


def test_a_missing_roster_stops_the_hub_with_what_to_do(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="no roster at .*students.txt; set DROPOUT_ROSTER"):
        _load(monkeypatch, tmp_path, roster_text=None)


def test_a_missing_proxy_stops_the_hub_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    roster = tmp_path / "students.txt"
    roster.write_text("ada\n")
    monkeypatch.setenv("DROPOUT_ROSTER", str(roster))
    monkeypatch.delenv("DROPOUT_PROXY", raising=False)
    with pytest.raises(SystemExit, match="no configurable-http-proxy; run scripts/install-hub.sh"):
        PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()


def test_install_hub_refuses_a_prefix_the_accounts_cannot_reach():
    """A clone in a mode-700 folder would install a hub whose servers cannot start (13 errors)."""
    import shutil
    import subprocess
    import tempfile

    base = Path(tempfile.mkdtemp())  # pytest's own tmp_path sits in a mode-700 folder
    base.chmod(0o755)
    private = base / "private"
    private.mkdir(mode=0o700)
    script = Path(__file__).resolve().parents[1] / "scripts" / "install-hub.sh"
    run = subprocess.run(["bash", str(script), "--check"], capture_output=True, text=True,
                         env={**os.environ, "HUB_PREFIX": str(private / "hub")})
    assert run.returncode == 1
    assert f"{private} has mode drwx------" in run.stderr and f"chmod o+x {private}" in run.stderr
    private.chmod(0o711)
    ok = subprocess.run(["bash", str(script), "--check"], capture_output=True, text=True,
                        env={**os.environ, "HUB_PREFIX": str(private / "hub")})
    shutil.rmtree(base)
    assert ok.returncode == 0, ok.stderr
