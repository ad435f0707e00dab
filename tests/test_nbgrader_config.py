"""nbgrader_config.py: the settings an instructor relies on, and the stderr filter."""
from pathlib import Path

import nbformat
from nbgrader.preprocessors import IgnorePattern
from traitlets.config import Config, PyFileConfigLoader
from traitlets.utils.importstring import import_item

ROOT = Path(__file__).resolve().parents[1]


def _config() -> Config:
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT))
    return loader.load_config()


def test_course_settings():
    c = _config()
    assert c.CourseDirectory.course_id == "dropout101"
    assert c.OverwriteCells.add_missing_cells is True
    assert 0 < c.GuardedExecute.timeout <= 120
    assert 0 < c.VerifyChecks.load_timeout <= 120
    assert c.IgnorePattern.enabled is True


def test_grading_pipeline_is_nbgraders_with_the_guards_in_place():
    """The verdict is reached after the kernel is gone and before nbgrader saves the grades;
    cell flags are restored before nbgrader's OverwriteCells compares checksums."""
    c = _config()
    autograde = [name.rsplit(".", 1)[1] for name in c.Autograde.autograde_preprocessors]
    assert autograde[0] == "GuardedExecute" and "Execute" not in autograde
    assert autograde.index("LimitOutput") < autograde.index("VerifyChecks") < autograde.index("SaveAutoGrades")
    sanitize = [name.rsplit(".", 1)[1] for name in c.Autograde.sanitize_preprocessors]
    assert sanitize.index("DeduplicateIds") < sanitize.index("RestoreCellMetadata") < sanitize.index("OverwriteCells")
    for name in [*c.Autograde.autograde_preprocessors, *c.Autograde.sanitize_preprocessors]:
        assert isinstance(import_item(name), type), name


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


def test_cells_the_sandbox_skips_are_read_only_display_cells_of_the_assignments():
    """A grade id names a cell to skip in every assignment that has it: each must be read-only
    there, and no assignment's setup or handed-out code (which the answers need) is skipped."""
    read_only, needed = set(), {"setup"}
    for path in sorted((ROOT / "source").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            displayed = meta.get("locked") and not meta.get("grade") and not meta.get("solution")
            (read_only if displayed else needed).add(meta.get("grade_id"))
    skipped = set(_config().VerifyChecks.skip_cells)
    assert skipped and skipped <= read_only - needed - {"handout_models"}


def test_grading_uses_the_gradebook_the_course_config_names(tmp_path):
    """A course on several servers moves its gradebook to PostgreSQL by configuration alone."""
    from instructors.grade_class import db_url

    config = (ROOT / "nbgrader_config.py").read_text()
    (tmp_path / "nbgrader_config.py").write_text(config)
    assert db_url(tmp_path) == f"sqlite:///{tmp_path / 'gradebook.db'}?timeout=120"
    (tmp_path / "nbgrader_config.py").write_text(
        config + '\nc.CourseDirectory.db_url = "postgresql://grader@db.example/dropout101"\n')
    assert db_url(tmp_path) == "postgresql://grader@db.example/dropout101"
