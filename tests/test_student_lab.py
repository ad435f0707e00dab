"""A student's own JupyterLab, as scripts/setup.sh configures the course's environment: quiet, no instructor tools.

setup.sh writes the student's configuration into .venv (scripts/configure_lab.py); here
it is written into a temporary prefix, and JupyterLab starts from that prefix's
configuration, once as a student and once with the instructor's switch
(scripts/instructor-lab.sh), on loopback with private Jupyter folders and nbgrader's
default exchange, which a clone of the course does not have. Each is judged by what the
server logs and answers and what the page shows. Screenshots land in
test-artifacts/browser/ (or $ARTIFACTS_DIR).
"""
from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from chromium import launched, skip_or_fail_without_chromium
from servers import course_lab_config, jupyterlab

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", ROOT / "test-artifacts")) / "browser"
NEWS = "official Jupyter news"
# the nbgrader server's pages: the formgrader, its course list, and the two the Assignments tab asks
INSTRUCTOR_PAGES = ("/formgrader", "/formgraders")
EXCHANGE_PAGES = ("/assignments", "/courses")

skip_or_fail_without_chromium(allow_module_level=True)


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    return tmp_path_factory.mktemp("env")


@pytest.fixture(scope="module")
def roles(prefix):
    return course_lab_config(prefix)


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with launched() as chromium:
        yield chromium


@contextmanager
def _lab(tmp_path: Path, prefix: Path, config_path: str):
    """JupyterLab in a clone's course folder, with the prefix's configuration as its environment's."""
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"JUPYTER_{name}_DIR"] = str(tmp_path / "private" / name.lower())
    env["JUPYTER_CONFIG_PATH"] = config_path
    log = tmp_path / "jupyterlab.log"
    # The prefix's overrides.json, read where JupyterLab reads the environment's.
    settings = f"--LabApp.app_settings_dir={prefix / 'share' / 'jupyter' / 'lab' / 'settings'}"
    with jupyterlab(course, env, log, settings) as (base, token):
        yield base, token, log


def _status(base: str, token: str, path: str) -> int:
    try:
        return urllib.request.urlopen(f"{base}{path}?token={token}", timeout=30).status
    except urllib.error.HTTPError as error:
        return error.code


def _open(browser, base: str, token: str):
    """JupyterLab in a fresh page, restored (the launcher is up: the news question would be too)."""
    page = browser.new_page(viewport={"width": 1300, "height": 800})
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/lab?reset&token={token}")
    page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
    page.wait_for_selector(".jp-DirListing-item", timeout=30_000)
    page.wait_for_timeout(1500)
    return page


def _menus(page) -> list[str]:
    return page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").all_inner_texts()


def _nbgrader_menu(page) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    items = [item for item in page.locator(".lm-Menu-itemLabel").all_inner_texts() if item]
    page.keyboard.press("Escape")
    return items


def _sidebar(page) -> list[str]:
    return page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
        "tabs => tabs.map(t => t.getAttribute('title') || t.textContent)")


def _trouble(log: Path) -> list[str]:
    """What a student should never find in the server's log."""
    return [line for line in log.read_text().splitlines()
            if line.startswith(("[E ", "[C ")) or "Traceback" in line or "exchange" in line.lower()]


def _news_setting(page, base: str) -> str:
    """fetchNews as JupyterLab composes it: the user's setting over the default (overrides.json's)."""
    plugin = page.request.get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification").json()
    return plugin["settings"].get("fetchNews", plugin["schema"]["properties"]["fetchNews"]["default"])


def test_a_students_lab_has_no_instructor_tools_no_exchange_errors_and_no_news_question(
        browser, roles, prefix, tmp_path):
    with _lab(tmp_path, prefix, roles["student"]) as (base, token, log):
        page = _open(browser, base, token)
        page.screenshot(path=str(ARTIFACTS / "student-lab-quiet.png"))
        text = page.locator("body").inner_text()
        assert NEWS not in text and page.locator(".Toastify__toast").count() == 0
        assert _news_setting(page, base) == "false"          # the question is asked only while it is "none"
        assert "Nbgrader" not in _menus(page), _menus(page)
        assert not [tab for tab in _sidebar(page) if "Nbgrader" in tab], _sidebar(page)
        assert "Error fetching courses" not in text and "exchange directory" not in text
        assert page.console_errors == []
        page.close()
        # Nothing on the server lists an exchange or opens the formgrader, so nothing can fail for want of one.
        assert {path: _status(base, token, path) for path in INSTRUCTOR_PAGES + EXCHANGE_PAGES} == \
            dict.fromkeys(INSTRUCTOR_PAGES + EXCHANGE_PAGES, 404)
        assert _status(base, token, "/api/status") == 200
        assert _trouble(log) == []       # read while it runs: stopping it logs its signal as critical


def test_the_instructor_switch_brings_back_nbgraders_tools(browser, roles, prefix, tmp_path):
    with _lab(tmp_path, prefix, roles["instructor"]) as (base, token, log):
        page = _open(browser, base, token)
        assert "Nbgrader" in _menus(page), _menus(page)
        assert {"Assignment List", "Course List", "Formgrader", "Create assignment"} <= set(_nbgrader_menu(page))
        assert "Nbgrader Create Assignment" in _sidebar(page), _sidebar(page)
        assert NEWS not in page.locator("body").inner_text()
        page.screenshot(path=str(ARTIFACTS / "instructor-lab-tools.png"))
        assert page.console_errors == []
        page.close()
        assert {path: _status(base, token, path) for path in INSTRUCTOR_PAGES} == dict.fromkeys(INSTRUCTOR_PAGES, 200)
        assert _trouble(log) == []


def test_configuring_again_changes_nothing(roles, prefix):
    files = sorted(p for p in prefix.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    assert course_lab_config(prefix) == roles
    assert {p: p.read_bytes() for p in sorted(q for q in prefix.rglob("*") if q.is_file())} == before
