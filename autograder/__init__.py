"""Grade a student's dropout against PyTorch's.

    from autograder import check_dropout, quick_check, assert_check
    report = check_dropout(dropout=my_dropout, Dropout=MyDropout)
    print(report)                 # table with messages and hints
    report.to_frame()             # pandas, one row per check

The checks live in :mod:`autograder.checks`, the statistics behind them in
:mod:`autograder.stats`, the from-scratch watch in :mod:`autograder.watch`.
"""
from importlib import import_module

#: Each public name and the module that defines it, imported on first use: nbgrader's
#: feedback step loads autograder.feedback, which needs none of them, and torch alone
#: takes over a second to import.
_DEFINED_IN = {"CHECKS": "checks", "available_devices": "device", "describe": "device",
               "grading_device": "device", "share_cpu": "device", "CheckResult": "report", "Report": "report",
               "assert_check": "runner", "check_dropout": "runner", "quick_check": "runner",
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
