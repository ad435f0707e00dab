"""The feedback a student gets and the formgrader page an instructor sees, through nbgrader's own hooks.

``nbgrader_config.py`` wires them in, so ``nbgrader generate_feedback`` and the
formgrader's *Generate Feedback* make the same file:

* :mod:`.summary` decides what the top of a feedback file says: the score per
  part, every check to fix in the order to fix it, the faults in plain words;
* :mod:`.preprocessors` are steps of nbgrader's ``GenerateFeedback``: one adds
  the summary, one keeps hidden test source out of the feedback;
* :mod:`.exporter` is the HTML exporter: this course's template (extending
  nbgrader's ``feedback`` template) and math rendered to MathML, so the file
  reads the same with no network;
* ``templates/course_formgrade`` extends nbgrader's ``formgrade`` template with
  the faults grading found, at the top of each submission's page.
"""
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
