"""Kernels forked from the zygote (autograder/untrusted/forked_kernel.py): as fresh and as bounded as started ones."""
from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import tempfile
import time

import nbformat
import pytest
import torch

from autograder.untrusted import launch, limits
from autograder.untrusted.forked_kernel import kernel_arguments
from autograder.nbgrader_plugins import GuardedExecute, LimitedKernelManager
from autograder.untrusted.zygote import Zygote, ZygoteGone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernels fork on Linux only")


async def _session(cells: list[str], fork: bool, env: dict | None, cwd: str | None):
    manager = LimitedKernelManager(kernel_name="python3", fork_kernels=fork)
    await manager.start_kernel(cwd=cwd or tempfile.mkdtemp(), env=env or dict(os.environ))
    client = manager.client()
    client.start_channels()
    results = []
    try:
        await client.wait_for_ready(timeout=60)
        for code in cells:
            outputs = []
            await client.execute_interactive(code, timeout=60, output_hook=lambda msg, o=outputs: o.append(
                (msg["msg_type"], msg["content"])) if msg["msg_type"] in
                ("stream", "display_data", "execute_result", "error") else None)
            results.append(outputs)
        results.append(await manager.is_alive())
        manager.launched_as = type(manager.provisioner.process).__name__  # gone after shutdown
        manager.launched_by = _parent(manager.provisioner.pid)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    return manager, results


def run(*cells: str, fork: bool = True, env: dict | None = None, cwd: str | None = None):
    """Start a graded kernel, run ``cells``, shut it down: (manager, [outputs per cell..., alive]).

    The kernel runs in ``cwd`` (a new empty folder if None), which its jail copies.
    """
    return asyncio.run(_session(list(cells), fork, env, cwd))


def printed(outputs) -> str:
    return "".join(content.get("text", "") for kind, content in outputs if kind == "stream")


def facts(code: str, **kwargs) -> dict:
    """What ``code`` (an expression) evaluates to in a fresh graded kernel, as JSON."""
    manager, (outputs, alive) = run(f"import json; print(json.dumps({code}))", **kwargs)
    return json.loads(printed(outputs))


def test_each_kernel_is_a_fresh_process_that_no_earlier_notebook_touched():
    tamper = ("import torch, autograder, sys\n"
              "torch.nn.functional.dropout = lambda x, *a, **k: x\n"
              "autograder.TAMPERED = True\nsys.modules['planted'] = sys\nleft = 1\n")
    first, _ = run(tamper)
    look = ("{'pid': __import__('os').getpid(), 'patched': __import__('torch').nn.functional.dropout.__name__,"
            " 'tampered': hasattr(__import__('autograder'), 'TAMPERED'),"
            " 'planted': 'planted' in __import__('sys').modules, 'left': 'left' in globals()}")
    second = facts(look)
    assert first.launched_as == "ForkedKernel"
    assert second["pid"] != first.provisioner.pid
    assert second == {**second, "patched": "dropout", "tampered": False, "planted": False, "left": False}


def test_the_kernel_is_forked_from_the_zygote_which_runs_no_threads_to_fork_badly():
    zygote = Zygote.shared()
    manager, _ = run("x = 1")
    assert manager.launched_by == zygote.process.pid  # the jail's keeper, the kernel's parent
    assert len(os.listdir(f"/proc/{zygote.process.pid}/task")) == 1


def test_each_kernel_draws_its_own_random_numbers():
    draw = "[__import__('torch').rand(3).tolist(), __import__('numpy').random.rand(), __import__('random').random()]"
    first, second = facts(draw), facts(draw)
    for a, b in zip(first, second):
        assert a != b, "two forked kernels drew the same numbers: the generators were not reseeded"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_a_forked_kernel_starts_cuda_of_its_own():
    """The zygote never touches CUDA: a child forked after CUDA started could not use it."""
    seen = facts("[__import__('torch').cuda._is_in_bad_fork(), "
                 "__import__('torch').ones(2, device='cuda').sum().item()]")
    assert seen == [False, 2.0]


def test_the_forked_kernel_runs_under_the_graders_limits_as_its_environment_sets_them():
    kinds = {"as": resource.RLIMIT_AS, "fsize": resource.RLIMIT_FSIZE, "core": resource.RLIMIT_CORE,
             "cpu": resource.RLIMIT_CPU}
    code = "{" + ", ".join(f"'{k}': __import__('resource').getrlimit({v})[0]" for k, v in kinds.items()) + "}"
    memory = 6 * 2**30  # the kernel's own setting, which the zygote never saw
    seen = facts(code, env={**os.environ, limits.ENV_MEMORY: str(memory)})
    wanted = {"as": memory, "fsize": limits.FILE_SIZE_LIMIT, "core": 0, "cpu": limits.CPU_LIMIT}
    for kind, value in wanted.items():  # a hard limit below ours wins, as limits.py allows
        hard = resource.getrlimit(kinds[kind])[1]
        wanted[kind] = value if hard == resource.RLIM_INFINITY else min(value, hard)
    assert seen == wanted


@pytest.mark.parametrize("backend", [None, "Agg"])
def test_plots_reach_the_notebook_exactly_as_in_a_started_kernel(backend):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    if backend:
        env["MPLBACKEND"] = backend
    plot = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]);"

    def images(fork):
        _, (outputs, alive) = run(plot, fork=fork, env=env)
        return [c["data"].keys() & {"image/png"} for kind, c in outputs if kind == "display_data"]

    started, forked = images(fork=False), images(fork=True)
    assert forked == started
    assert bool(started) == (backend is None)  # the inline backend shows it; Agg does not


def test_the_kernel_sees_its_own_environment_and_folder(tmp_path):
    env = {**os.environ, "DROPOUT_GRADER_TEST_MARK": "forked", "HUB_TOKEN": "secret"}
    seen = facts("[__import__('os').environ.get('DROPOUT_GRADER_TEST_MARK'), __import__('os').getcwd(), "
                 "__import__('sys').argv[0].endswith('ipykernel_launcher.py'), "
                 "'HUB_TOKEN' in __import__('os').environ]", env=env, cwd=str(tmp_path))
    assert seen == ["forked", str(tmp_path), True, False]  # the jail keeps only what it allows


def test_an_endless_cell_is_interrupted_and_a_dead_kernel_is_seen_dead():
    interrupted, alive, returncode = asyncio.run(_interrupt_then_exit())
    assert any(kind == "error" and c["ename"] == "KeyboardInterrupt" for kind, c in interrupted)
    assert alive is False
    assert returncode == 3


async def _interrupt_then_exit():
    manager = LimitedKernelManager(kernel_name="python3")
    await manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        outputs = []
        running = asyncio.ensure_future(client.execute_interactive(
            "while True: pass", timeout=60, output_hook=lambda m: outputs.append((m["msg_type"], m["content"]))))
        await asyncio.sleep(1)
        await manager.interrupt_kernel()
        await running
        client.execute("import os; os._exit(3)")
        for _ in range(100):
            if not await manager.is_alive():
                break
            await asyncio.sleep(0.05)
        return outputs, await manager.is_alive(), manager.provisioner.process.returncode
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


def test_a_shut_down_kernel_leaves_no_process_behind():
    manager, _ = run("x = 1")
    pid = manager.provisioner.pid
    deadline = time.monotonic() + 5
    while _state(pid) != "gone" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(pid) == "gone", "the kernel (or its zombie) outlived its shutdown"


def test_when_the_zygote_dies_its_kernels_die_and_the_next_kernel_gets_a_new_one():
    alive, returncode = asyncio.run(_kill_the_zygote_under_a_kernel())
    assert alive is False
    assert returncode == -signal.SIGKILL
    assert facts("1 + 1") == 2  # a new zygote


async def _kill_the_zygote_under_a_kernel():
    manager = LimitedKernelManager(kernel_name="python3")
    await manager.start_kernel()
    try:
        zygote = Zygote.shared()
        os.kill(zygote.process.pid, signal.SIGKILL)
        zygote.process.wait()
        for _ in range(100):
            if not await manager.is_alive():
                break
            await asyncio.sleep(0.05)
        alive = await manager.is_alive()
        for _ in range(100):  # the signal is on its way
            if _state(manager.provisioner.pid) in ("gone", "Z"):
                break
            await asyncio.sleep(0.05)
        state = _state(manager.provisioner.pid)
        assert state in ("gone", "Z"), f"the kernel outlived its zygote (state {state})"
        return alive, manager.provisioner.process.returncode
    finally:
        await manager.shutdown_kernel(now=True)


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_without_a_zygote_the_kernel_starts_from_scratch_and_still_grades(monkeypatch):
    def gone(*args, **kwargs):
        raise ZygoteGone("the grader's zygote process died")

    monkeypatch.setattr(Zygote, "fork_kernel", gone)
    manager, (outputs, alive) = run("print(6 * 7)")
    assert printed(outputs) == "42\n" and alive
    assert manager.launched_as == "Popen"


def test_only_this_interpreters_own_ipykernel_is_forked_with_its_arguments():
    ours = [sys.executable, "-m", "ipykernel_launcher", "-f", "/tmp/k.json"]
    assert kernel_arguments(ours) == ["-f", "/tmp/k.json"]
    assert kernel_arguments(launch.wrapped(ours + ["--HistoryManager.hist_file=:memory:"], {"env": {}})) == [
        "-f", "/tmp/k.json", "--HistoryManager.hist_file=:memory:"]
    assert kernel_arguments(["/other/venv/bin/python", *ours[1:]]) is None  # another environment
    assert kernel_arguments([sys.executable, "-X", "dev", *ours[1:]]) is None  # interpreter options
    assert kernel_arguments(["R", "--slave", "-f", "/tmp/k.json"]) is None
    manager, _ = run("x = 1", fork=False)
    assert type(manager.provisioner).__name__ == "LocalProvisioner"


def test_nbgraders_execute_step_grades_in_a_forked_kernel():
    """nbclient adds kernel options (an in-memory history); the kernel is forked all the same."""
    cell = nbformat.v4.new_code_cell("import os, sys; print(os.getpid(), 'torch' in sys.modules)")
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    GuardedExecute(timeout=60).preprocess(nb, {"nbgrader": {}})
    pid, torch_loaded = nb.cells[0].outputs[0].text.split()
    assert pid == "1"  # the first process of its jail
    assert torch_loaded == "True"  # before any cell imported it: the kernel began with it
