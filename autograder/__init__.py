"""Grade a student's dropout against PyTorch's.

    from autograder import check_dropout, quick_check, assert_check
    report = check_dropout(dropout=my_dropout, Dropout=MyDropout)
    print(report)                 # table with messages and hints
    report.to_frame()             # pandas, one row per check

The checks live in :mod:`autograder.checks`, the statistics behind them in
:mod:`autograder.stats`, the from-scratch watch in :mod:`autograder.watch`.
"""
from .checks import CHECKS
from .device import available_devices, describe, grading_device
from .report import CheckResult, Report
from .runner import assert_check, check_dropout, quick_check, run_check
from .subject import CheckFailed

__all__ = ["CHECKS", "CheckFailed", "CheckResult", "Report", "assert_check", "available_devices",
           "check_dropout", "describe", "grading_device", "quick_check", "run_check"]
