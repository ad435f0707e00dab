"""nbgrader's configuration for this course. Run nbgrader commands from this folder.

The course follows nbgrader's standard layout: source/<assignment>/ holds the
instructor versions, release/ the student versions nbgrader generates from them,
submitted/, autograded/ and feedback/ are nbgrader's working folders.
"""
from importlib.util import find_spec
from pathlib import Path

c = get_config()  # noqa: F821 - injected by nbgrader when it loads this file

c.CourseDirectory.course_id = "dropout101"

# What a student sees where a solution was removed.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A student's folder is untrusted data, read with your rights (autograder/submission_folders.py):
# collect copies only plain files and folders, within nbgrader's size settings, from a folder
# owned by the student it claims to be; before autograde and feedback copy a submission's
# files, anything else there (a link to your solutions, a FIFO, an endless device) is moved to
# <folder>.refused/ unread, and the feedback says so.
c.ExchangeFactory.collect = "autograder.submission_folders.SafeCollect"
c.Autograde.pre_convert_hook = "autograder.submission_folders.refuse_unreadable"
c.GenerateFeedback.pre_convert_hook = "autograder.submission_folders.refuse_unreadable"

# Before grading, nbgrader sanitizes the submission; RestoreCellMetadata also puts back
# the nbgrader flags (grade, solution, points) of every cell as the source has them, so
# a test cell turned into a solution cell or a made-up grade cell changes nothing.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "autograder.nbgrader_plugins.RestoreCellMetadata",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Autograding runs nbgrader's own pipeline with two of this course's steps
# (autograder/nbgrader_plugins.py): GuardedExecute runs the notebook like nbgrader's
# Execute, in a kernel with bounded memory and output, and stops at the first dead kernel
# or timed-out cell; VerifyChecks then re-judges every grader call outside the kernel,
# with the student's code in a sandbox, and that verdict is the cell's outcome.
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader_plugins.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.nbgrader_plugins.VerifyChecks",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Student code runs jailed while it is graded, the kernel and the sandbox alike
# (autograder/untrusted/jail.py): it sees a copy of its own submission folder and the
# system read-only, and nothing of the course, the gradebook, other students, the network,
# other processes or your secrets. Where this machine cannot jail (macOS, a container
# without namespaces), autograding refuses to start and says why. Set this to False only
# to grade there anyway, trusting every submission: student code then runs as you.
c.StudentCodeJail.enabled = True
# The bounds. A cell gets 60 s; the first one that runs out of time (or kills the kernel)
# costs the notebook its remaining cells, so a notebook takes at most about one timeout
# more than its cells need. Each call of student code in the sandbox gets 10 s, its
# cells 60 s to load; a submission that hangs is skipped after its first timeout.
c.GuardedExecute.timeout = 60
c.GuardedExecute.interrupt_on_timeout = True
c.GuardedExecute.output_limit = 100_000
c.VerifyChecks.load_timeout = 60
# Read-only cells that only show things (plots, self-checks); the sandbox skips them,
# which saves about a second per submission. Cells students can edit always run.
c.VerifyChecks.skip_cells = ["recap_picture", "part1_selfcheck", "part2_selfcheck",
                             "part3_modes", "part3_compare", "part3_overfitting_run",
                             "part3_selfcheck", "part3_selu", "part4_compare"]
# A graded kernel has nothing to save: stop it at once rather than wait for a clean exit.
c.GuardedExecute.shutdown_kernel = "immediate"
# Grade cells come back from source/ on autograde: edited ones are overwritten and
# deleted ones are added again, so a student cannot remove a test they fail.
c.OverwriteCells.enabled = True
c.OverwriteCells.add_missing_cells = True
# nbgrader scores a test cell zero if it writes to stderr. The engine records the warnings
# raised while it runs student code; this drops the warnings torch writes by itself
# (C++ warnings such as "[W ... NNPACK.cpp:...] Could not initialize NNPACK") and Python
# warning lines, so a correct answer never loses points to a warning. Real errors are
# error outputs, not stderr, and still fail the cell.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?m)^(\[W[^\]]*\]|\S+:\d+: \w*Warning: )"
# A flood of output from a student's print loop is cut, not stored in the gradebook.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60
# `nbgrader export` lists every student on the roster under every assignment with a
# status (graded, graded with faults, manual grading pending, late, failed to grade,
# not submitted), what it means for them (`detail`: the reason, the penalty, the points
# still to grade by hand), the submission's time and grading's faults (tampering, a dead
# or hung kernel, a crash) next to nbgrader's own columns (instructors/exports.py).
c.ExportApp.plugin_class = "instructors.exports.StatusCsvExportPlugin"

# Feedback (autograder/feedback/): nbgrader's GenerateFeedback with this course's summary at
# the top of every file (the score per part, each check to fix in the order to fix it, the
# faults in plain words), each graded cell named by its check, and math drawn as MathML so
# the file reads the same with no network. `nbgrader generate_feedback` and the formgrader's
# "Generate Feedback" both make it.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback.preprocessors.FeedbackSummary",
    "autograder.feedback.preprocessors.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.GenerateFeedback.exporter_class = "autograder.feedback.exporter.FeedbackExporter"
c.FeedbackExporter.template_name = "course_feedback"
# Hidden tests stay hidden in the feedback (nbgrader's open request 917): the verdict, its
# message and hint are shown, the test's code is not. This course's messages already say
# what differed from torch and what to try, which is what a student needs to fix the code;
# the hidden tests' inputs and the quiz's answer keys are what lets the course reuse its
# assignments next term. Set False to show students every test as it ran.
c.HideHiddenTests.enabled = True
# The formgrader's page of each submission shows the faults grading found (tampering, a
# timeout, a dead kernel) above the notebook: nbgrader's formgrade template, extended.
# Templates are found by name in these folders: this course's and nbgrader's own.
def _folder(package, *parts):
    """A folder inside an installed package, found without importing it (torch loads slowly)."""
    spec = find_spec(package)
    if spec is None:
        raise ImportError(f"this course's nbgrader_config.py needs the {package!r} package: install "
                          f"the course (scripts/setup.sh, or pip install -e . in its folder)")
    return str(Path(spec.origin).parent.joinpath(*parts))


_NBGRADER_TEMPLATES = _folder("nbgrader", "server_extensions", "formgrader", "templates")
c.HTMLExporter.template_name = "course_formgrade"
# What a student wrote is drawn inert on that page, which runs on your server with your rights
# (autograder/feedback/safe_html.py): outputs cut to types that carry no script, Markdown and
# HTML sanitised, and a Content-Security-Policy that lets only the formgrader's own scripts run.
# The feedback files get the same, and no script at all, whatever this file says.
c.HTMLExporter.preprocessors = ["autograder.feedback.safe_html.SanitizeNotebook"]
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"markdown2html": "autograder.feedback.exporter.markdown_inert",
                          "clean_html": "autograder.feedback.safe_html.clean_html",
                          "formgrader_policy": "autograder.feedback.safe_html.formgrader_policy"}
c.HTMLExporter.extra_template_basedirs = [_folder("autograder", "feedback", "templates"), _NBGRADER_TEMPLATES]
c.HTMLExporter.extra_template_paths = [_NBGRADER_TEMPLATES]  # for "formgrade/index.html.j2"
