"""How long the grading engine takes, on correct implementations and on wrong ones.

Prints, for the grading device: the first (cold) run of the whole suite,
the median of warm runs, and the slowest checks (goal: under 0.5 s for the
whole suite on a correct implementation); the same suite sandboxed, as
autograding runs it (goal: at most 2x the in-process suite); and every
bug of tests/corpus.py timed against the reference in the same run, in
process and sandboxed, with the slowest shown as a ratio (goal: a wrong
answer that terminates costs at most 2x a right one).

    .venv/bin/python benchmarks/engine.py [--repeats 7] [--skip-bugs]
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
import corpus  # noqa: E402
from corpus import BUGS, CORRECT_FUNCTIONS, DropoutReference, dropout_rand  # noqa: E402

CORPUS = Path(corpus.__file__)
SETUP = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\ndevice = 'cpu'"


def timed(must_pass=True, **impls):
    start = time.perf_counter()
    report = check_dropout(**impls)
    assert report.passed or not must_pass, report.table()
    return time.perf_counter() - start, report


def _impls(bug):
    return {"dropout": bug.impl} if bug.kind == "function" else {"Dropout": bug.impl}


def bugs_in_process(repeats: int) -> None:
    """Every bug's suite next to the reference's, interleaved so that drift hits both alike."""
    reference = {"function": dict(dropout=dropout_rand), "module": dict(Dropout=DropoutReference)}
    base = {kind: [] for kind in reference}
    times = {}
    for _ in range(repeats):
        for bug in BUGS:
            times.setdefault(bug.name, []).append(timed(False, **_impls(bug))[0])
            base[bug.kind].append(timed(**reference[bug.kind])[0])
    _print_ratios("in process", times, base)


def bugs_sandboxed(repeats: int) -> None:
    """The same, with each bug as a notebook's code in a sandbox: how autograding runs it."""
    from autograder import CHECKS
    from autograder.remote import Request, verify_notebook

    source = CORPUS.read_text()

    def verify(name, kind):
        target, attr = ("function", "dropout") if kind == "function" else ("module", "Dropout")
        requests = [Request(n, target, attr) for n, c in CHECKS.items() if target in c.targets]
        start = time.perf_counter()
        verify_notebook([SETUP, source, f"{attr} = {name}"], requests)
        return time.perf_counter() - start

    base = {kind: [] for kind in ("function", "module")}
    times = {}
    for _ in range(repeats):
        for bug in BUGS:
            times.setdefault(bug.name, []).append(verify(bug.name, bug.kind))
            reference = "dropout_rand" if bug.kind == "function" else "DropoutReference"
            base[bug.kind].append(verify(reference, bug.kind))
    _print_ratios("sandboxed", times, base)


def _print_ratios(where: str, times: dict, base: dict) -> None:
    """Each bug's median time over its reference's (same target, same run), slowest first."""
    base = {kind: statistics.median(t) for kind, t in base.items()}
    ratios = sorted(((statistics.median(times[b.name]) / base[b.kind], b) for b in BUGS),
                    key=lambda rb: -rb[0])
    worst = ratios[0][0]
    print(f"{len(ratios)} bugs of tests/corpus.py, {where}: reference suite {base['function']:.3f} s "
          f"(function), {base['module']:.3f} s (module); slowest bug {worst:.2f}x its reference "
          f"(goal <= 2x: {'met' if worst <= 2 else 'MISSED'})")
    for ratio, bug in ratios[:5]:
        print(f"  {bug.name:<40} {bug.kind:<8} {ratio:.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-bugs", action="store_true", help="time correct implementations only")
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
    if not args.skip_bugs:
        bugs_in_process(3)
        bugs_sandboxed(1)


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
    ratio = warm / in_process
    print(f"sandboxed, as autograding runs it (function + module + pipeline): first {cold:.3f} s "
          f"(starts the zygote: imports torch once per grading process), then median {warm:.3f} s "
          f"= {ratio:.1f}x the in-process suite (goal <= 2x: {'met' if ratio <= 2 else 'MISSED'})")


if __name__ == "__main__":
    main()
