"""How long dropout_family's checks take on correct answers, in process and sandboxed.

Prints, for the grading device: the median of warm runs of the checks of Parts 1-3
(dropout2d, Dropout2d, AlphaDropout), their slowest checks, Part 4's two model checks,
and the whole assignment's checks (Parts 1-4; goal under 0.5 s); then the same, as
autograding runs them, with the answers as a notebook's code in sandboxes (goal: at most
2x in process). A sandbox's start (a fork, the notebook's cells, a connection) is a
fixed cost, so the ratio is largest for the cheapest suite: both are printed.

    .venv/bin/python benchmarks/family_engine.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import family_corpus  # noqa: E402
from autograder import check_answers, describe  # noqa: E402
from autograder.fixed_models import LocalModel, judge  # noqa: E402
from family_corpus import AlphaReference, Dropout2dReference, dropout2d_rand  # noqa: E402

ANSWERS = {"dropout2d": dropout2d_rand, "Dropout2d": Dropout2dReference, "AlphaDropout": AlphaReference}
NAMES = {"dropout2d": "dropout2d_rand", "Dropout2d": "Dropout2dReference", "AlphaDropout": "AlphaReference"}
SETUP = "import warnings\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn"
#: The answers as a student's notebook holds them: their code, without the corpus's imports.
ANSWER_CELL = "\n\n".join(inspect.getsource(o) for o in (
    family_corpus._validate, family_corpus._rank_rules, family_corpus._channel_shape, *ANSWERS.values())
    ) + f"\nALPHA = {family_corpus.ALPHA!r}\n\n" + "\n\n".join(
    inspect.getsource(c) for c in (family_corpus.AttentionTwin, family_corpus.CNNTwin)
    ) + "\n\nAttentionBlock, SmallCNN = AttentionTwin, CNNTwin"
MODELS = ("AttentionBlock", "SmallCNN")


def in_process(models: bool = False) -> tuple[float, object]:
    start = time.perf_counter()
    report = check_answers(ANSWERS)
    assert report.passed, report.table()
    if models:
        for name, cls in zip(MODELS, (family_corpus.AttentionTwin, family_corpus.CNNTwin)):
            judge(name, LocalModel(cls))
    return time.perf_counter() - start, report


def sandboxed(models: bool = False) -> float:
    from autograder.remote import Request, verify_notebook
    from autograder.runner import checks_of

    requests = [Request(n, c.targets[0], NAMES[c.targets[0]]) for n, c in checks_of(*ANSWERS).items()]
    requests += [Request("fixed_model", "fixed_model", name) for name in MODELS] if models else []
    start = time.perf_counter()
    verification = verify_notebook([SETUP, ANSWER_CELL], requests)
    assert all(r.passed for r in verification.results.values())
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{describe()}; {torch.get_num_threads()} torch threads")
    cold, _ = in_process()
    print(f"family suite, first run in this process: {cold:.3f} s")
    runs = [in_process() for _ in range(args.repeats)]
    median = statistics.median(t for t, _ in runs)
    print(f"family suite, warm: median {median:.3f} s over {args.repeats} runs "
          f"(goal < 0.5 s: {'met' if median < 0.5 else 'MISSED'})")
    slowest = sorted(runs[0][1].results, key=lambda r: -r.seconds)[:5]
    print("slowest checks: " + ", ".join(f"{r.name} {r.seconds * 1000:.0f} ms" for r in slowest))
    for name, cls in (("AttentionBlock", family_corpus.AttentionTwin), ("SmallCNN", family_corpus.CNNTwin)):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            judge(name, LocalModel(cls))
            times.append(time.perf_counter() - start)
        print(f"Part 4, {name}: median {statistics.median(times):.3f} s (two models of 200 passes each)")
    whole = statistics.median(in_process(models=True)[0] for _ in range(args.repeats))
    print(f"whole assignment (Parts 1-4), warm: median {whole:.3f} s "
          f"(goal < 0.5 s: {'met' if whole < 0.5 else 'MISSED'})")
    sandboxed()  # the zygote's start is paid once per grading process: not part of the ratio
    for label, models, base in (("Parts 1-3", False, median), ("whole assignment", True, whole)):
        boxed = statistics.median(sandboxed(models) for _ in range(args.repeats))
        print(f"{label} sandboxed, as autograding runs it: median {boxed:.3f} s = {boxed / base:.2f}x "
              f"in process (goal <= 2x: {'met' if boxed <= 2 * base else 'MISSED'})")

if __name__ == "__main__":
    main()
