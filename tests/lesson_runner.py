"""Execute a lesson notebook headless and read back its state and its figures.

The figures are recorded as they are rendered (every axes' title and
labels), and after the last cell the runner evaluates expressions in the
same kernel, so tests can assert a lesson's teaching claims from the values
it computed rather than from the text it printed.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

RECORD_FIGURES = """
import matplotlib.backend_bases as _backend_bases
_LESSON_FIGURES = []
_print_figure = _backend_bases.FigureCanvasBase.print_figure
def _recording_print_figure(self, *args, **kwargs):
    _LESSON_FIGURES.append([{"title": ax.get_title(), "xlabel": ax.get_xlabel(),
                             "ylabel": ax.get_ylabel(), "colorbar": hasattr(ax, "_colorbar")}
                            for ax in self.figure.axes if ax.get_visible()])
    return _print_figure(self, *args, **kwargs)
_backend_bases.FigureCanvasBase.print_figure = _recording_print_figure
"""


class ExecutedLesson:
    def __init__(self, notebook, values: dict, figures: list):
        self.notebook = notebook
        self.values = values
        self.figures = figures

    def errors(self):
        return [o for c in self.notebook.cells if c.cell_type == "code"
                for o in c.outputs if o.output_type == "error"]


def run_lesson(path: Path, probe: dict[str, str], timeout: int = 300, after: str = "") -> ExecutedLesson:
    """Execute ``path`` in a fresh kernel; ``probe`` maps names to expressions evaluated at the end.

    ``after`` is code the test runs once the lesson is done and before the probe: experiments
    of the test's own on what the lesson defined (its variables start with an underscore).
    """
    nb = nbformat.read(path, as_version=4)
    expressions = ", ".join(f"{name!r}: {expr}" for name, expr in probe.items())
    record = nbformat.v4.new_code_cell(RECORD_FIGURES)
    read_back = nbformat.v4.new_code_cell(
        f"import json as _json\nprint(_json.dumps({{'figures': _LESSON_FIGURES, 'values': {{{expressions}}}}}, default=str))")
    extra = [nbformat.v4.new_code_cell(after)] if after else []
    nb.cells = [record, *nb.cells, *extra, read_back]
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.cells = nb.cells[1:-1 - len(extra)]
    errors = [o for c in (*extra, read_back) for o in c.outputs if o.output_type == "error"]
    if errors:
        raise RuntimeError(f"probe failed in {path.name}: {errors[0].ename}: {errors[0].evalue}")
    text = "".join(o.get("text", "") for o in read_back.outputs if o.output_type == "stream")
    state = json.loads(text)
    return ExecutedLesson(nb, state["values"], state["figures"])
