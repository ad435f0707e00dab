"""Starting a graded kernel: from scratch vs forked from the zygote (issue #6), side by side.

Every graded notebook runs in a kernel of its own. Started from scratch, a kernel
imports torch and matplotlib again for each submission; forked from the grader's
zygote (autograder/untrusted/forked_kernel.py), it begins with them imported, the zygote
having paid for that once. This prints both, through the grader's own kernel
manager (limits included), to the point where the kernel has run
`import torch, matplotlib.pyplot`:

    .venv/bin/python benchmarks/kernel_start.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.nbgrader_plugins import LimitedKernelManager  # noqa: E402
from autograder.untrusted.zygote import Zygote  # noqa: E402

IMPORTS = "import torch, matplotlib.pyplot"


async def start_and_import(fork: bool) -> float:
    """Seconds from asking for a kernel to the kernel having run IMPORTS."""
    start = time.perf_counter()
    manager = LimitedKernelManager(kernel_name="python3", fork_kernels=fork)
    await manager.start_kernel()
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    reply = await client.execute_interactive(IMPORTS, timeout=60, output_hook=lambda msg: None)
    seconds = time.perf_counter() - start
    assert reply["content"]["status"] == "ok", reply["content"]
    client.stop_channels()
    await manager.shutdown_kernel(now=True)
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    fresh = [asyncio.run(start_and_import(fork=False)) for _ in range(args.repeats)]
    start = time.perf_counter()
    Zygote.shared().poll(os.getpid())  # answered once the zygote has imported everything
    once = time.perf_counter() - start
    forked = [asyncio.run(start_and_import(fork=True)) for _ in range(args.repeats)]
    f, k = statistics.median(fresh), statistics.median(forked)
    print(f"kernel from scratch + {IMPORTS}: {f:.2f} s (median of {args.repeats})")
    print(f"kernel forked from the zygote:   {k:.2f} s (median of {args.repeats}); "
          f"the zygote's start, once per grading process: {once:.2f} s")
    print(f"saved per submission: {f - k:.2f} s ({f / k:.1f}x less)")


if __name__ == "__main__":
    main()
