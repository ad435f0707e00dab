"""What every user's nbgrader needs: the course and where the exchange is.

The hub passes the exchange folder in DROPOUT_EXCHANGE (see jupyterhub_config.py).
"""
import os

c = get_config()  # noqa: F821 - injected by nbgrader when it loads this file

c.CourseDirectory.course_id = "dropout101"
c.Exchange.root = os.environ.get("DROPOUT_EXCHANGE", "/srv/nbgrader/exchange")
