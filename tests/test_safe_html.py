"""autograder/feedback/safe_html.py on its own: what of a student's text survives into a page.

tests/test_browser.py judges the same pages in Chromium by what a script could do there;
these tests say, faster and one by one, which inputs are drawn inert.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.feedback.safe_html import SanitizeNotebook, clean_html, formgrader_policy

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("hostile", [
    '<img src=x onerror="alert(1)">', "<script>alert(1)</script>", '<svg onload="alert(1)">',
    '<a href="javascript:alert(1)">x</a>', '<iframe srcdoc="<script>alert(1)</script>">',
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">', '<base href="http://x/">',
    '<form action="/api/contents"><button>x</button></form>', '<div id="statusmessage" class="score">x</div>',
    '<p style="position:fixed;top:0;background:url(http://x/)">x</p>', '<meta http-equiv="refresh" content="0">',
])
def test_clean_html_leaves_nothing_that_runs_loads_or_reaches_the_page(hostile):
    cleaned = clean_html(hostile).lower()
    for sign in ("<script", "onerror", "onload", "javascript:", "<iframe", "<base", "<form", "<meta",
                 "<svg", "id=", "class=", "position", "url("):
        assert sign not in cleaned, (hostile, cleaned)


def test_clean_html_keeps_text_structure_math_and_data_images():
    page = ('<h2>Part</h2><p><b>bold</b> <code>x</code></p><table><tbody><tr><td colspan="2">1</td></tr></tbody></table>'
            '<math><mfrac><mn>1</mn><mn>2</mn></mfrac></math><img src="data:image/png;base64,iVBORw0KGgo=">')
    assert clean_html(page) == page


def _sanitized(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = cells   # as a hostile notebook has them: not validated
    nb, resources = SanitizeNotebook().preprocess(nb, {})
    assert resources["should_sanitize_html"] is True
    return nb


def test_outputs_keep_only_types_that_carry_no_script_and_images_that_are_images():
    cell = new_code_cell("x", outputs=[
        new_output("display_data", data={"application/javascript": "alert(1)", "text/plain": "kept"}),
        new_output("display_data", data={"image/png": 'x" onerror="alert(1)'}),
        new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                   metadata={"image/png": {"width": "1 onload=alert(1)", "height": 20}, "filenames": {"a": "b"}}),
        new_output("display_data", data={"text/latex": "$x$", "application/vnd.jupyter.widget-view+json": {}}),
    ])
    outputs = _sanitized([cell]).cells[0].outputs
    assert outputs[0].data == {"text/plain": "kept"}
    assert outputs[1].data == {"text/plain": "[output not shown: image/png]"}
    assert outputs[2].data == {"image/png": "iVBORw0KGgo="} and outputs[2].metadata == {"image/png": {"height": 20}}
    assert "not shown" in outputs[3].data["text/plain"]


def test_raw_cells_cell_ids_and_attachments_are_made_plain():
    raw = nbformat.v4.new_raw_cell("<script>alert(1)</script>", metadata={"raw_mimetype": "text/html"})
    raw["id"] = 'x" onload="alert(1)'
    markdown = new_markdown_cell("![a](attachment:a.png)")
    markdown["attachments"] = {"a.png": {"image/png": "iVBORw0KGgo=", "text/html": "<script>"}, 3: {}}
    nb = _sanitized([raw, markdown])
    assert "raw_mimetype" not in nb.cells[0].metadata and nb.cells[0].id == "cell-0"
    assert nb.cells[1].attachments == {"a.png": {"image/png": "iVBORw0KGgo="}}


def test_the_formgrader_page_escapes_the_students_id_and_allows_only_nbgraders_own_scripts(tmp_path):
    """A student id or name from a roster is the student's text; nbgrader writes it as it is."""
    from nbconvert import HTMLExporter
    from traitlets.config import PyFileConfigLoader

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    before = os.getcwd()
    os.chdir(tmp_path)
    try:
        page, _ = HTMLExporter(config=config).from_notebook_node(
            new_notebook(cells=[new_markdown_cell("![gone](attachment:missing.png) **text**")]),
            resources={"base_url": "", "submission_id": "s1", "notebook_id": "nb", "assignment_id": "a",
                       "index": 0, "total": 1, "notebook_path": "p", "first_name": "",
                       "last_name": "", "student": '<img src=x onerror="alert(1)">'})
    finally:
        os.chdir(before)
    assert '<img src=x onerror' not in page and "&lt;img src=x onerror" in page
    assert "**text**" in page   # an attachment that is not there: the cell as text, not a failed page
    policy = page.split('http-equiv="Content-Security-Policy"')[0].rsplit("content=", 1)[1]
    assert policy.count("'sha256-") == 5 and "'unsafe-inline'" not in policy.split("style-src")[0]


def test_a_policy_hashes_inline_scripts_and_handlers_of_the_trusted_part_only():
    policy = formgrader_policy('<script src="/a.js"></script><script>var x = 1;</script>'
                               '<span onclick="go(true);">x</span>')
    assert policy.count("'sha256-") == 2 and "'unsafe-hashes'" in policy and "'self'" in policy
