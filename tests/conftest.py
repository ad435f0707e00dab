"""Shared fixtures: every device test runs once per device kind, skipping absent ones."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from autograder.device import available_devices  # noqa: E402

DEVICE_KINDS = ["cpu", "cuda", "mps"]


@pytest.fixture(params=DEVICE_KINDS)
def device(request):
    """A torch.device of each kind this machine has; the others skip with a reason."""
    if request.param not in available_devices():
        pytest.skip(f"no {request.param} device on this machine")
    return torch.device(request.param)
