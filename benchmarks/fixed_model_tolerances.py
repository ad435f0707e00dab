"""Where Part 4's noise factor comes from: how far two correct runs of a model stray apart.

For each model of dropout_family's Part 4, over many seeds and p's drawn as grading draws
them, runs a correct model twice (200 training passes each, as the grader does) and prints,
for both noise measures of ``autograder.fixed_models._noise``, the standard deviation and
the largest size of log(ratio), and how many standard deviations the accepted factor's log
is: the margin that keeps a correct model's false failures rare.

    .venv/bin/python benchmarks/fixed_model_tolerances.py [--seeds 50]
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from autograder.fixed_models import NOISE_FACTOR, PASSES, TWINS, _noise  # noqa: E402


def log_ratios(name: str, seeds: int) -> dict[str, list[float]]:
    twin_class, shape = TWINS[name]
    draw = random.Random(0)
    found = {"spread": [], "shared": []}
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = twin_class(p=round(draw.uniform(0.2, 0.45), 2)).train()
        x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            a, b = (_noise(torch.stack([model(x) for _ in range(PASSES)])) for _ in range(2))
        for key in found:
            found[key].append(math.log(a[key] / b[key]))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args(argv)
    limit = math.log(NOISE_FACTOR)
    print(f"{args.seeds} seeds, {PASSES} passes per run; accepted factor {NOISE_FACTOR} (log {limit:.3f})")
    for name in TWINS:
        for key, values in log_ratios(name, args.seeds).items():
            sd = statistics.pstdev(values)
            print(f"  {name:<15} {key:<7} sd of log ratio {sd:.4f}, largest {max(map(abs, values)):.4f}; "
                  f"the limit is {limit / sd:.1f} sd away")


if __name__ == "__main__":
    main()
