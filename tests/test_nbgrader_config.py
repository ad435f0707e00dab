"""nbgrader_config.py: the settings an instructor relies on, and the stderr filter."""
from pathlib import Path

import nbformat
from nbgrader.preprocessors import IgnorePattern
from traitlets.config import Config, PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[1]


def _config() -> Config:
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT))
    return loader.load_config()


def test_course_settings():
    c = _config()
    assert c.CourseDirectory.course_id == "dropout101"
    assert c.OverwriteCells.add_missing_cells is True
    assert 0 < c.Execute.timeout <= 120
    assert c.IgnorePattern.enabled is True


def _filtered(*texts):
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=t) for t in texts]
    IgnorePattern(config=_config()).preprocess_cell(cell, {}, 0)
    return [o.text for o in cell.outputs]


def test_torch_warnings_on_stderr_are_dropped():
    python_warning = ("/tmp/ipykernel_42/1234.py:10: UserWarning: To copy construct from a tensor, "
                      "it is recommended to use sourceTensor.detach().clone()\n  scale = torch.tensor(exact)\n")
    cpp_warning = "[W1122 18:00:00.000000000 NNPACK.cpp:56] Could not initialize NNPACK! Reason: Unsupported hardware.\n"
    assert _filtered(python_warning, cpp_warning) == []


def test_other_stderr_output_still_fails_the_cell():
    text = "the student printed this to stderr\n"
    assert _filtered(text) == [text]
