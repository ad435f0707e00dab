"""How long the grading engine takes on correct implementations.

Prints, for the grading device: the first (cold) run of the whole suite,
the median of warm runs, and the slowest checks. The goal is under 0.5 s
for the whole suite on a correct implementation.

    .venv/bin/python benchmarks/engine.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from autograder import check_dropout, describe  # noqa: E402
from corpus import CORRECT_FUNCTIONS, DropoutReference, dropout_rand  # noqa: E402


def timed(**impls):
    start = time.perf_counter()
    report = check_dropout(**impls)
    assert report.passed, report.table()
    return time.perf_counter() - start, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{describe()}; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads")
    cold, _ = timed(dropout=dropout_rand, Dropout=DropoutReference)
    print(f"whole suite, function + module, first run in this process: {cold:.3f} s")
    for label, impls in (("function only", dict(dropout=dropout_rand)),
                         ("module only", dict(Dropout=DropoutReference)),
                         ("function + module", dict(dropout=dropout_rand, Dropout=DropoutReference))):
        runs = [timed(**impls) for _ in range(args.repeats)]
        median = statistics.median(t for t, _ in runs)
        print(f"whole suite, {label:<17}: median {median:.3f} s over {args.repeats} runs "
              f"(goal < 0.5 s: {'met' if median < 0.5 else 'MISSED'})")
    _, report = runs[0]
    slowest = sorted(report.results, key=lambda r: -r.seconds)[:5]
    print("slowest checks: " + ", ".join(f"{r.target}.{r.name} {r.seconds * 1000:.0f} ms" for r in slowest))
    for impl in CORRECT_FUNCTIONS:
        t = statistics.median(timed(dropout=impl)[0] for _ in range(3))
        print(f"  {impl.__name__:<28} function suite {t:.3f} s")
    sandboxed(args.repeats, median)


def sandboxed(repeats: int, in_process: float) -> None:
    """The same suite (and the pipeline check) with the code in a sandbox, as autograding runs it."""
    from autograder import CHECKS
    from autograder.remote import Request, verify_notebook
    from instructors.submissions import reference_answers

    source = Path(__file__).resolve().parents[1] / "source" / "dropout_from_scratch" / "dropout_from_scratch.ipynb"
    answers = reference_answers(source)
    cells = ["import torch\nimport torch.nn.functional as F\nfrom torch import nn\ndevice = 'cpu'",
             answers["dropout_function"], answers["dropout_module"], answers["pipeline_model"]]
    requests = ([Request(n, t, "dropout" if t == "function" else "Dropout")
                 for t in ("function", "module") for n, c in CHECKS.items() if t in c.targets]
                + [Request("pipeline", "pipeline", "model", "Dropout")])

    def once():
        start = time.perf_counter()
        outcome = verify_notebook(cells, requests)
        assert all(r.passed for r in outcome.results.values())
        return time.perf_counter() - start

    cold = once()
    warm = statistics.median(once() for _ in range(repeats))
    print(f"sandboxed, as autograding runs it (function + module + pipeline): first {cold:.3f} s "
          f"(starts the zygote: imports torch once per grading process), then median {warm:.3f} s "
          f"= {warm / in_process:.1f}x the in-process suite")


if __name__ == "__main__":
    main()
