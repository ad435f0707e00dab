"""Steps of nbgrader's ``GenerateFeedback`` pipeline (``c.GenerateFeedback.preprocessors``)."""
from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Bool, List

from .summary import KINDS, is_test, summarize, without_ansi


class FeedbackSummary(NbGraderPreprocessor):
    """Put the summary of the graded notebook into ``resources["summary"]`` for the template.

    It runs after nbgrader's ``GetGrades``, which has put each grade cell's
    score into its metadata; the gradebook says which cells still wait for
    the instructor, so the summary does not count them as lost.
    """

    # HTMLExporter sets this for every nbconvert object; declared configurable here so
    # that nbgrader does not log "not recognized" for each notebook.
    display_data_priority = List(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            submitted = gradebook.find_submission_notebook(info["notebook"], info["assignment"],
                                                           info["student"])
            # nbgrader also flags a regraded cell that already has a hand-given score, for review:
            # those points are given, not waiting
            by_hand = {grade.name for grade in submitted.grades
                       if grade.needs_manual_grade and grade.manual_score is None}
        resources["summary"] = summarize(nb, info["score"], info["max_score"], by_hand)
        resources["summary_kinds"] = KINDS
        return nb, resources


class HideHiddenTests(ClearHiddenTests):
    """Keep the source of hidden tests out of the feedback; the verdict and its message stay.

    Only test cells are touched (their source comes from ``source/``, never from the
    student), so text a student writes elsewhere cannot break the feedback. A kernel's
    traceback quotes the code around the error, so every traceback line that shows a
    line of the hidden tests goes too; the rest (the error, the grader's notes) stays.
    The delimiters are ``ClearHiddenTests``'s.
    """

    enabled = Bool(True, help="Hide the source of hidden tests in the feedback (the verdict, "
                              "its message and hint are still shown).").tag(config=True)
    display_data_priority = List(config=True)  # as FeedbackSummary's

    def preprocess_cell(self, cell, resources, cell_index):
        if not is_test(cell):
            return cell, resources
        before = cell.source
        try:
            self._remove_hidden_test_region(cell)
        except RuntimeError:  # unbalanced delimiters: hide the whole cell rather than half of it
            cell.source = ""
        kept = {line.strip() for line in cell.source.splitlines()}
        hidden = [line.strip() for line in before.splitlines() if line.strip() and line.strip() not in kept]
        if not hidden:
            return cell, resources
        cell.source = cell.source.rstrip("\n") + ("\n" if cell.source.strip() else "") + \
            "# (hidden test: its code is not shown; its result is below)"
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [left for left in (_without(entry, hidden) for entry in output.traceback)
                                    if left.strip()]
        return cell, resources


def _without(entry: str, hidden: list[str]) -> str:
    """A traceback entry without the lines that quote any of ``hidden``."""
    return "\n".join(line for line in entry.split("\n")
                     if not any(code in without_ansi(line) for code in hidden))
