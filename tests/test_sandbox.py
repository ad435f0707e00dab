"""Grading with the student's code in a sandbox: the wire format, the sandbox, the verdicts.

These call autograder.remote.verify_notebook directly (no nbgrader); the
same attacks graded through nbgrader are in tests/test_hostile.py.
"""
from __future__ import annotations

import json
import socket
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
import torch

from autograder import CHECKS
from autograder.untrusted import wire
from autograder.remote import Request, verify_notebook
from instructors.submissions import SAMPLES, answers_for, load_sample, reference_answers

SETUP = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\ndevice = 'cpu'\n"
SOURCE = Path(__file__).resolve().parents[1] / "source" / "dropout_from_scratch" / "dropout_from_scratch.ipynb"
SOLUTION_IDS = ("dropout_function", "dropout_module", "pipeline_model")
CORRECT = "\n".join(reference_answers(SOURCE)[g] for g in SOLUTION_IDS)
NO_SCALING = "\n".join(answers_for(load_sample(SAMPLES / "dropout_from_scratch" / "no_scaling.py"), SOURCE)[g]
                       for g in SOLUTION_IDS)


def wrapped(twist: str) -> str:
    """The reference answers, with ``twist`` run first in every call of dropout."""
    body = "".join(f"    {line}\n" for line in twist.splitlines())
    return (f"{CORRECT}\n_dropout = dropout\n\n\ndef dropout(x, p=0.5, training=True, inplace=False):\n"
            f"{body}    return _dropout(x, p, training, inplace)\n")


EVERY = ([Request(n, "function", "dropout") for n, c in CHECKS.items() if "function" in c.targets]
         + [Request(n, "module", "Dropout") for n, c in CHECKS.items() if "module" in c.targets]
         + [Request("pipeline", "pipeline", "model", "Dropout")])


def failed(verification) -> set[tuple[str, str]]:
    return {(r.target, r.check) for r, result in verification.results.items() if not result.passed}


def message(verification, target: str, check: str) -> str:
    return next(res.message for r, res in verification.results.items() if (r.target, r.check) == (target, check))


# --- the wire ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: torch.arange(12.0).reshape(3, 4).t(),
    lambda: torch.arange(24.0).reshape(4, 6)[:, ::3],
    lambda: torch.ones(5, dtype=torch.bfloat16),
    lambda: torch.zeros(0, 4),
    lambda: torch.tensor(2.5, dtype=torch.float64),
    lambda: torch.tensor([True, False]),
], ids=["transposed", "strided", "bfloat16", "empty", "0-dim", "bool"])
def test_tensors_cross_the_wire_as_the_same_view(make):
    x = make()
    back = wire.decode(wire.encode({"x": x, "n": [1, "two", None, 3.5]}))
    assert back["n"] == [1, "two", None, 3.5]
    assert back["x"].dtype == x.dtype and back["x"].shape == x.shape and torch.equal(back["x"], x)
    assert back["x"].stride() == x.stride()


def test_the_wire_refuses_what_it_cannot_trust():
    with pytest.raises(wire.WireError, match="cannot send"):
        wire.encode({"f": lambda: 0})
    data = bytearray(wire.encode({"x": torch.arange(4.0)}))
    with pytest.raises(wire.WireError):
        wire.decode(bytes(data[:-4]))  # truncated payload
    forged = wire.encode({"x": torch.arange(4.0)}).replace(b'"size": [4]', b'"size": [9]')
    with pytest.raises(wire.WireError, match="outside its storage"):
        wire.decode(forged)
    misnamed = wire.encode({"x": torch.arange(4.0)}).replace(b'"nbytes"', b'"nbites"')
    with pytest.raises(wire.WireError, match="bytes is None, not a count"):
        wire.decode(misnamed)


def test_a_flood_from_the_other_side_is_refused_before_it_is_read():
    a, b = socket.socketpair()
    a.sendall((wire.MAX_MESSAGE + 1).to_bytes(8, "big") + (0).to_bytes(8, "big"))
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.receive(b)


# --- a sandbox whose answers are hostile: the grader's time and memory stay bounded -----------
# Student code commands the sandbox's socket. Each test sends one hostile answer and measures
# what reading it cost this process; the same answer read without the bound costs what the
# attacker chose, so each test can fail.

def _frame(header: dict, payload: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack(">QQ", len(text), len(payload)) + text + payload


def _peak_while(read) -> tuple[int, object]:
    """Bytes this process allocated at most (tracemalloc) while ``read`` ran, and its result or error."""
    tracemalloc.start()
    try:
        try:
            result = read()
        except Exception as error:  # noqa: BLE001 - the error is the result
            result = error
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def _sent(data: bytes) -> socket.socket:
    """The reading end of a socket that ``data`` is being sent into (until the reader hangs up)."""
    a, b = socket.socketpair()

    def send():
        try:
            a.sendall(data)
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    return b


def test_an_answer_larger_than_its_request_warrants_is_refused_unread():
    from autograder.untrusted.sandbox import reply_budget

    x = torch.randn(1000)
    flood = _frame({"out_is_input": False}, bytes(64 * 2**20))
    peak, error = _peak_while(lambda: wire.receive(_sent(flood), budget=reply_budget({"x": x})))
    assert isinstance(error, wire.WireError) and "exceeds what this answer may take" in str(error)
    assert peak < 2**20
    peak, _ = _peak_while(lambda: wire.receive(_sent(flood)))   # without the request's budget
    assert peak > 64 * 2**20


def test_a_tensor_view_larger_than_its_request_warrants_is_refused_before_it_is_made():
    from autograder.untrusted.sandbox import reply_budget

    x = torch.randn(1000)
    view = {"out": {"__tensor__": 0, "dtype": "float32", "size": [2**31], "stride": [0], "offset": 0, "nbytes": 4}}
    with pytest.raises(wire.WireError, match="2147483648 elements, where at most"):
        wire.decode(_frame(view, bytes(4)), budget=reply_budget({"x": x}))
    unbounded = wire.Budget(elements=2**32)
    assert wire.decode(_frame(view, bytes(4)), budget=unbounded)["out"].numel() == 2**31   # made, if allowed


@pytest.mark.parametrize("header", [
    "[" * 5000 + "]" * 5000,
    json.dumps({"out": {"__tensor__": [0], "dtype": "float32", "size": [1], "stride": [1], "offset": 0, "nbytes": 4}}),
    json.dumps({"out": {"__tensor__": 0, "dtype": "float32", "size": [-1], "stride": [1], "offset": 0, "nbytes": 4}}),
    json.dumps({"out": {"__tensor__": 0, "dtype": "float32", "size": [2], "stride": [1], "offset": 3, "nbytes": 4}}),
    json.dumps({"a": {"__tensor__": 0, "dtype": "float32", "size": [1], "stride": [1], "offset": 0, "nbytes": 4},
                "b": {"__tensor__": 0, "dtype": "float32", "size": [1], "stride": [1], "offset": 0, "nbytes": 4}}),
], ids=["deeply-nested", "index-not-a-count", "negative-size", "view-past-storage", "one-storage-twice"])
def test_a_malformed_answer_is_a_wire_error_never_another_exception(header):
    text = header.encode()
    with pytest.raises(wire.WireError):
        wire.decode(struct.pack(">QQ", len(text), 4) + text + bytes(4))


def test_an_answer_that_trickles_ends_at_its_deadline():
    a, b = socket.socketpair()
    data = _frame({"failed": []})

    def trickle():
        for i in range(len(data)):
            try:
                a.send(data[i:i + 1])
            except OSError:
                return
            time.sleep(0.1)

    threading.Thread(target=trickle, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(socket.timeout):
        wire.receive(b, deadline=time.monotonic() + 1.0)
    assert time.monotonic() - start < 1.5
    # Without a deadline, a per-read timeout never fires: each byte comes in time.
    b.settimeout(1.0)
    done = []
    reader = threading.Thread(target=lambda: done.append(wire.receive(b)), daemon=True)
    reader.start()
    reader.join(2.0)
    assert done == []
    a.close()


def test_an_answer_of_another_form_is_refused_as_unreadable():
    from autograder.untrusted.sandbox import check_reply

    good = {"out_is_input": False, "requires_grad": False, "out": torch.zeros(2), "routes": ["F.dropout"]}
    assert check_reply("call", good) is good
    for bad in ({"out_is_input": False, "routes": [1]}, {"unexpected": 1}, {"graph": True},
                {"error": {"kind": "student", "types": "ValueError"}}, {"error": {"kind": "other"}},
                {"out": "a string"}, [1, 2], {}, {"out_is_input": False},   # a field it must have is missing
                {"error": {"kind": "student"}},
                {"out_is_input": False, "requires_grad": False, "routes": [f"r{i}" for i in range(17)]}):
        with pytest.raises(wire.WireError):
            check_reply("call", bad)


# --- verdicts from outside the student's process -------------------------------------

def test_a_correct_notebook_passes_every_check_in_the_sandbox(device):
    verification = verify_notebook([SETUP, CORRECT], EVERY, device=device)
    assert failed(verification) == set()
    assert verification.crashes == [] and verification.load_failures == []


def test_patching_torch_in_the_notebook_does_not_reach_the_verdict():
    attack = """
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.nn.functional.dropout = dropout
torch.nn.Dropout = Dropout
torch.Tensor.__ne__ = lambda self, other: torch.zeros_like(self, dtype=torch.bool)
import autograder.checks
autograder.checks.CHECKS.clear()
"""
    verification = verify_notebook([SETUP, NO_SCALING, attack], EVERY)
    assert failed(verification) == {("function", "scaling"), ("module", "forward")}
    assert "torch scales them by 1/(1-p) = 1.429 for p=0.3" in message(verification, "function", "scaling")


def test_delegation_is_seen_through_the_module_too():
    cheat = wrapped("if training and 0 < p < 1:\n    return torch._VF.dropout(x, p, training)")
    verification = verify_notebook([SETUP, cheat], EVERY)
    assert ("module", "train_eval_toggle") in failed(verification)
    assert "your code ran torch's own dropout" in message(verification, "function", "drop_rate")


def test_a_crash_costs_the_calls_that_crash_and_the_sandbox_is_restarted():
    crash = wrapped("if x.numel() == 0:\n    import os; os._exit(5)")
    verification = verify_notebook([SETUP, crash], EVERY)
    assert failed(verification) == {("function", "edge_cases"), ("module", "forward")}
    assert "exited with status 5" in message(verification, "function", "edge_cases")
    assert "exited with status 5" in message(verification, "module", "forward")


def test_a_segfault_is_named_in_the_message():
    crash = wrapped("if x.numel() == 0:\n    import ctypes; ctypes.string_at(0)")
    verification = verify_notebook([SETUP, crash], [Request("edge_cases", "function", "dropout")])
    assert "SIGSEGV (a segmentation fault)" in message(verification, "function", "edge_cases")


def test_an_unstoppable_loop_costs_one_time_limit_then_the_rest_is_skipped(monkeypatch):
    import autograder.remote as remote

    monkeypatch.setattr(remote, "CALL_TIME_LIMIT", 2.0)
    hang = wrapped("while training and p == 0.5:\n    try:\n        pass\n    except BaseException:\n        pass")
    start = time.perf_counter()
    requests = [r for r in EVERY if r.target == "function"]
    verification = verify_notebook([SETUP, hang], requests)
    assert time.perf_counter() - start < 2.0 * 3 + 10
    messages = {r.check: res.message for r, res in verification.results.items()}
    assert "did not finish within" in messages["defaults"]  # the first check to call p=0.5 in training
    assert "skipped: your code ran out of time" in messages["drop_rate"]
    assert "skipped: your code ran out of time" in messages["inplace"]


def test_system_exit_and_a_missing_name_are_verdicts_not_crashes():
    leaves = wrapped("if training:\n    raise SystemExit(0)")
    verification = verify_notebook([SETUP, leaves], [Request("drop_rate", "function", "dropout"),
                                                     Request("drop_rate", "function", "dropout_v2")])
    messages = {r.name: res.message for r, res in verification.results.items()}
    assert "raised SystemExit" in messages["dropout"]
    assert "defines no 'dropout_v2'" in messages["dropout_v2"]


def test_notebook_code_that_hangs_while_loading_fails_every_check_in_bounded_time():
    start = time.perf_counter()
    verification = verify_notebook([SETUP, CORRECT, "while True:\n    pass"], EVERY[:2], load_timeout=2)
    assert time.perf_counter() - start < 15
    assert all("could not be loaded" in r.message for r in verification.results.values())


def test_a_route_to_torchs_dropout_counts_even_when_the_call_then_raises():
    cheat = "def dropout(x, p=0.5, training=True, inplace=False):\n    return F.dropout(x, p, training, inplace)\n"
    verification = verify_notebook([SETUP, cheat], [Request("invalid_p", "function", "dropout")])
    assert "your code ran torch's own dropout" in message(verification, "function", "invalid_p")


def test_the_kernel_wrapper_applies_the_limits_and_imports_nothing_heavy(monkeypatch):
    import subprocess
    import sys

    from autograder.untrusted import jail, launch

    monkeypatch.setenv("DROPOUT_GRADER_MEMORY_LIMIT", str(3 * 2**30))
    probe = ("import os, resource; print(resource.getrlimit(resource.RLIMIT_AS)[0], "
             "resource.getrlimit(resource.RLIMIT_FSIZE)[0], os.getpid())")
    command = launch.wrapped([sys.executable, "-c", probe], jail.spec())
    run = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True, text=True, check=True)
    assert run.stdout.split() == [str(3 * 2**30), str(64 * 2**20), "1"]  # limited, and jailed
    imported = {line.split("|")[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "autograder" not in imported


def test_a_crash_in_the_middle_of_a_check_costs_that_check_only():
    crash = wrapped("if p == 1.0 and training:\n    import os; os._exit(4)")
    verification = verify_notebook([SETUP, crash], EVERY)
    # from_scratch survives its one crashing call (it only asks that some calls run from
    # scratch); every check after a crash gets a fresh sandbox. The checks that call p=1 in
    # training mode are edge_cases, autograd (its gradient) and, on the module, forward.
    assert failed(verification) == {("function", "edge_cases"), ("function", "autograd"), ("module", "forward")}
    assert verification.crashes == ["the process running your code exited with status 4"]


def test_two_threads_can_verify_at_once():
    from concurrent.futures import ThreadPoolExecutor

    requests = [Request("eval_mode", "function", "dropout"), Request("scaling", "function", "dropout")]
    with ThreadPoolExecutor(2) as pool:
        good, bad = pool.map(lambda cells: verify_notebook(cells, requests), [[SETUP, CORRECT], [SETUP, NO_SCALING]])
    assert failed(good) == set() and failed(bad) == {("function", "scaling")}


def test_an_exception_that_cannot_be_printed_is_still_a_verdict():
    weird = ("class Weird(ValueError):\n    def __str__(self):\n        raise RuntimeError('no')\n"
             + wrapped("if training:\n    raise Weird()"))
    verification = verify_notebook([SETUP, weird], [Request("drop_rate", "function", "dropout"),
                                                    Request("eval_mode", "function", "dropout")])
    assert failed(verification) == {("function", "drop_rate")}
    assert verification.crashes == []


def test_delegation_through_torchscript_in_a_notebook_cell_is_seen():
    cheat = """
@torch.jit.script
def _compiled(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return F.dropout(x, p, training, False)


def dropout(x, p=0.5, training=True, inplace=False):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    out = _compiled(x, p, training)
    return x.copy_(out) if inplace else out
"""
    verification = verify_notebook([SETUP, cheat], [Request("from_scratch", "function", "dropout")])
    # Scripting compiles a call of F.dropout, which the sandbox has switched off: the call, when
    # the compiled function runs, is refused and recorded.
    assert "your code ran torch's own dropout (torch.nn.functional.dropout" in message(
        verification, "function", "from_scratch")


def test_the_module_is_built_changed_and_described_in_the_sandbox():
    """Dropout(), Dropout(0.2), layer.p = ... and train() cross the wire like a local module."""
    lazy = CORRECT.replace("""        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
""", "        super().__init__()\n")
    assert lazy != CORRECT
    requests = [Request(n, "module", "Dropout") for n in ("construction", "module_state", "train_eval_toggle")]
    verification = verify_notebook([SETUP, CORRECT], requests)
    assert failed(verification) == set()
    verification = verify_notebook([SETUP, lazy], requests)
    assert failed(verification) == {("module", "construction")}
    assert "was constructed without an error" in message(verification, "module", "construction")


def test_the_overfitting_outcome_is_measured_here_with_the_layer_in_the_sandbox():
    """Part 3's network check: the training loop and the measures run in the grader, each pass
    through the student's layer in the sandbox; a layer never switched off in eval mode and one
    that never scales fail with what the network did."""
    request = Request("overfitting", "overfitting", "Dropout")
    good = verify_notebook([SETUP, CORRECT], [request])
    assert failed(good) == set()
    always_on = CORRECT.replace("return dropout(x, self.p, self.training, self.inplace)",
                                "return dropout(x, self.p, True, self.inplace)")
    assert always_on != CORRECT
    bad = verify_notebook([SETUP, always_on], [request])
    assert failed(bad) == {("overfitting", "overfitting")}
    text = message(bad, "overfitting", "overfitting")
    assert "after model.eval() your network's predictions differ" in text and "nn.Dropout(0.8)" in text
    unscaled = verify_notebook([SETUP, NO_SCALING], [request])
    assert "are 0.20 times what the eval network computes" in message(unscaled, "overfitting", "overfitting")


def test_a_lone_surrogate_in_an_answer_cannot_stop_the_notebook_being_written():
    """A student's ValueError('\\ud800') crosses as JSON; the grader's copy must still encode."""
    message = wire.decode(_frame({"error": {"kind": "student", "message": "bad \ud800 char"}}))
    assert message["error"]["message"].encode("utf-8") == b"bad ? char"
