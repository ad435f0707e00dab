"""The instructor's nbgrader: the course folder in their home, graded by its own config.

The course folder holds source/ and the course's nbgrader_config.py (a copy of the
repository's); loading that file here means the formgrader autogrades with exactly the
settings `nbgrader autograde` uses from the command line: the sandboxed verification,
the bounded kernel, the faults column in exports.
"""
import os

c = get_config()  # noqa: F821 - injected by nbgrader when it loads this file

course = os.path.expanduser(os.environ.get("DROPOUT_COURSE_DIR", "~/dropout101"))
c.CourseDirectory.root = course
load_subconfig(os.path.join(course, "nbgrader_config.py"))  # noqa: F821 - traitlets
