"""The two install paths agree, and CI runs the README's test command."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch", "psycopg2": "psycopg2-binary"}  # conda-forge name -> PyPI name, where they differ
CONDA_ONLY = {"python", "pip"}


def _split(requirement: str):
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def _pip_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(_split(r) for r in reqs)


def _conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _split(dep)
            if name not in CONDA_ONLY:
                found[CONDA_NAMES.get(name, name)] = spec
    return found


def test_conda_and_pip_list_the_same_packages_and_versions():
    assert _conda_requirements() == _pip_requirements()


def test_environment_installs_the_course_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_torch_is_a_range_not_a_pin():
    spec = _pip_requirements()["torch"]
    assert spec.startswith(">=") and "==" not in spec


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert commands and all(c in readme for c in commands)


def test_setup_installs_the_torch_pin_before_the_project():
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert setup.index('"$TORCH_SPEC"') < setup.index('-e ".[$EXTRAS]"')
    assert "TORCH_SPEC:-torch==2.13.0" in setup


def test_building_the_course_raises_no_warning_about_its_own_metadata(tmp_path):
    """Set-up builds the course: its metadata (license, packages, templates) must be in the form
    setuptools expects, and the wheel must carry the feedback templates."""
    import subprocess
    import sys
    import zipfile

    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    source = tmp_path / "source"
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    said = built.stdout + built.stderr
    assert not re.search(r"Warning|deprecated|absent from", said), said[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "autograder/feedback/templates/course_feedback/index.html.j2" in names
    assert "autograder/untrusted/zygote_process.py" in names and not any("samples" in n for n in names)
