"""Device choice: CUDA, then MPS, then CPU; an override wins; a bad one says how to fix it."""
import pytest
import torch

from autograder import device as dev


def test_cpu_is_always_available_and_listed_first():
    assert dev.available_devices()[0] == "cpu"


def test_auto_choice_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv(dev.ENV_VAR, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if "mps" in dev.available_devices() else "cpu"
    assert dev.grading_device().type == expected


def test_override_selects_the_device_and_is_reported(monkeypatch):
    monkeypatch.setenv(dev.ENV_VAR, "cpu")
    assert dev.grading_device() == torch.device("cpu")
    assert f"set by {dev.ENV_VAR}" in dev.describe()


@pytest.mark.parametrize("value, fragment", [("gpu0", "not a device torch knows"),
                                             ("xpu", "this machine has no xpu")])
def test_bad_override_raises_with_the_fix(monkeypatch, value, fragment):
    if value == "xpu" and "xpu" in dev.available_devices():
        pytest.skip("this machine has an xpu")
    monkeypatch.setenv(dev.ENV_VAR, value)
    with pytest.raises(ValueError, match=fragment):
        dev.grading_device()


def test_supported_dtypes_include_float32_everywhere(device):
    assert torch.float32 in dev.supported_dtypes(str(device))
    if device.type == "cpu":
        assert set(dev.supported_dtypes("cpu")) == set(dev.FLOAT_DTYPES)


def test_share_cpu_gives_one_thread_unless_the_machine_owner_chose(monkeypatch):
    """The lessons and graded kernels call share_cpu(): one thread by default (benchmarks/lessons.py
    measures why), the instructor's DROPOUT_COURSE_THREADS or OMP_NUM_THREADS when set."""
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv(dev.THREADS_VAR, raising=False)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert dev.share_cpu() == 1 == torch.get_num_threads()
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert dev.share_cpu() == 2 == torch.get_num_threads()
        monkeypatch.setenv(dev.THREADS_VAR, "1")
        assert dev.share_cpu() == 1 == torch.get_num_threads()
        for bad in ("0", "-2", "many"):
            monkeypatch.setenv(dev.THREADS_VAR, bad)
            with pytest.raises(ValueError, match="whole number of threads, 1 or more"):
                dev.share_cpu()
    finally:
        torch.set_num_threads(before)
