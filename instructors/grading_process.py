"""What every process that grades sets up once: on this machine, in a pool worker, or on a Dask worker.

Its own module so that the local pool (:mod:`.grade_class`) and the cluster
(:mod:`.cluster`) share it without importing each other.
"""
from __future__ import annotations

import os


def ready_to_grade(torch_threads: int) -> None:
    """What every grading process sets up once, on this machine or on a Dask worker."""
    # Each kernel would otherwise start one torch thread per core, and N workers
    # would fight over the same cores.
    os.environ["OMP_NUM_THREADS"] = str(torch_threads)
    os.environ["MKL_NUM_THREADS"] = str(torch_threads)
    # Plots are for students at work; grading skips rendering them.
    os.environ["MPLBACKEND"] = "Agg"
    # nbgrader's gradebook code (nbgrader/api.py, creating a submission's rows) touches a
    # relationship while SQLAlchemy 2's autoflush runs, which warns "Object of type
    # <SubmittedAssignment> not in session, add operation ... will not proceed" on every
    # submission, 135 times in the demo's logs; the rows are added a line later, and the
    # gradebook check after every run (grade_class.fully_graded) proves each grade arrived.
    import warnings

    warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session",
                            module=r"nbgrader\.api")
    # The zygote (kernels and sandboxes fork from it) imports torch while this process
    # imports nbgrader.
    from autograder.untrusted.zygote import Zygote

    Zygote.shared()
