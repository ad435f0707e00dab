"""nbgrader's configuration for this course. Run nbgrader commands from this folder.

The course follows nbgrader's standard layout: source/<assignment>/ holds the
instructor versions, release/ the student versions nbgrader generates from them,
submitted/, autograded/ and feedback/ are nbgrader's working folders.
"""
c = get_config()  # noqa: F821 - injected by nbgrader when it loads this file

c.CourseDirectory.course_id = "dropout101"

# What a student sees where a solution was removed.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding. Each check in autograder/ stops student code after 10 s and skips the
# remaining checks of a submission that hung, so a cell needs far less than this.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# A graded kernel has nothing to save: stop it at once rather than wait for a clean exit.
c.Execute.shutdown_kernel = "immediate"
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
