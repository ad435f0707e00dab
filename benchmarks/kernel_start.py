"""What a kernel zygote would save per submission (issue #6), measured side by side.

Every graded notebook now starts a fresh kernel and imports torch in it: the
largest item of the 3.7 s a submission spends in its kernel. A kernel forked from
a process that has already imported ipykernel, torch and matplotlib would pay those
imports once per worker instead, and still give each submission a fresh process.
This prints both, to the point where the kernel has run `import torch, matplotlib.pyplot`:

    .venv/bin/python benchmarks/kernel_start.py [--repeats 3]

The forked kernel here is a measurement, not the grader: it applies none of the limits
of autograder/limits.py and is not wired into nbgrader.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time

from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.connect import write_connection_file

IMPORTS = "import torch, matplotlib.pyplot"


def _until_imported(client) -> None:
    client.wait_for_ready(timeout=60)
    reply = client.execute_interactive(IMPORTS, timeout=60, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def fresh_kernel() -> float:
    """Seconds for what the grader does now: start a kernel, import torch in it."""
    start = time.perf_counter()
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = manager.client()
    client.start_channels()
    _until_imported(client)
    seconds = time.perf_counter() - start
    client.stop_channels()
    manager.shutdown_kernel(now=True)
    return seconds


def forked_kernel(app_class) -> float:
    """Seconds for a kernel forked from this process, which has imported everything."""
    start = time.perf_counter()
    connection, _ = write_connection_file(tempfile.mktemp(suffix=".json", prefix="kernel-"))
    pid = os.fork()
    if pid == 0:  # the kernel: quiet, then ipykernel's own entry point
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        try:
            app_class.launch_instance(argv=["-f", connection])
        finally:
            os._exit(0)
    client = BlockingKernelClient()
    client.load_connection_file(connection)
    client.start_channels()
    _until_imported(client)
    seconds = time.perf_counter() - start
    client.shutdown()
    client.stop_channels()
    os.waitpid(pid, 0)
    os.unlink(connection)
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    fresh = [fresh_kernel() for _ in range(args.repeats)]
    start = time.perf_counter()
    import matplotlib.pyplot  # noqa: F401 - the zygote's imports, paid once
    import torch  # noqa: F401
    from ipykernel.kernelapp import IPKernelApp
    once = time.perf_counter() - start
    forked = [forked_kernel(IPKernelApp) for _ in range(args.repeats)]
    f, k = statistics.median(fresh), statistics.median(forked)
    print(f"fresh kernel + {IMPORTS}:  {f:.2f} s (median of {args.repeats})")
    print(f"forked kernel, imports done: {k:.2f} s (median of {args.repeats}); "
          f"the zygote's imports, once per worker: {once:.2f} s")
    print(f"saved per submission: {f - k:.2f} s ({f / k:.1f}x less)")


if __name__ == "__main__":
    main()
