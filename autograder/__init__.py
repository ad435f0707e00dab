"""Grade a student's dropout against PyTorch's.

    from autograder import check_dropout, quick_check, assert_check
    report = check_dropout(dropout=my_dropout, Dropout=MyDropout)
    print(report)                 # table with messages and hints
    report.to_frame()             # pandas, one row per check

The engine every assignment shares: the checks registry (:mod:`autograder.registry`),
the subjects that call a student's answer (:mod:`autograder.subject`), the runner
(:mod:`autograder.runner`), the statistics (:mod:`autograder.stats`), the from-scratch
watch (:mod:`autograder.watch`), the device (:mod:`autograder.device`) and the report
(:mod:`autograder.report`). Each assignment's checks are a module of their own:
:mod:`autograder.checks` (dropout_from_scratch, with :mod:`~autograder.pipeline`,
:mod:`~autograder.overfitting`, :mod:`~autograder.network`) and
:mod:`autograder.dropout_family` (with :mod:`~autograder.fixed_models`). Where student
code runs is :mod:`autograder.untrusted`; nbgrader's plugins are
:mod:`autograder.nbgrader_plugins` and :mod:`autograder.feedback`.

    from autograder import check_answers
    check_answers({"Dropout2d": MyDropout2d})    # the second assignment's answers, by target
"""
from importlib import import_module

#: Each public name and the module that defines it, imported on first use: nbgrader's
#: feedback step loads autograder.feedback, which needs none of them, and torch alone
#: takes over a second to import.
_DEFINED_IN = {"CHECKS": "runner", "available_devices": "device", "describe": "device",
               "grading_device": "device", "share_cpu": "device", "CheckResult": "report", "Report": "report",
               "assert_check": "runner", "check_answers": "runner", "check_dropout": "runner", "quick_check": "runner",
               "run_check": "runner", "CheckFailed": "subject"}

__all__ = sorted(_DEFINED_IN)


def __getattr__(name: str):
    if name not in _DEFINED_IN:
        raise AttributeError(f"module 'autograder' has no attribute {name!r}")
    value = getattr(import_module(f".{_DEFINED_IN[name]}", __name__), name)
    globals()[name] = value   # later lookups skip this function
    return value


def __dir__():
    return sorted({*globals(), *__all__})
