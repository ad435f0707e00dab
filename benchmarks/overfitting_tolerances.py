"""Where the tolerances of Part 3's outcome check come from: repeated runs of correct layers.

    .venv/bin/python benchmarks/overfitting_tolerances.py [--seeds 8]

Trains Lesson 3's network (autograder/overfitting.py) once per seed without dropout, with
torch's nn.Dropout(P) and with two correct layers of tests/corpus.py, and prints how far a
correct layer's validation accuracy strays from torch's in the same seed and how much of
the no-dropout gap it closes, against the check's TOLERANCE and MIN_GAP_CLOSED; how far
each network measure of autograder/network.py strays from its target, in standard errors
(against Z) and as a share of its scale (against MIN_EFFECT), for torch's layer and the
correct ones; and the seconds one training run and one measurement take (the check makes
two runs in the notebook's kernel, one of them cached, and one through the sandbox).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from torch import nn  # noqa: E402

from autograder.network import MIN_EFFECT, Z  # noqa: E402
from autograder.overfitting import MIN_GAP_CLOSED, P, TOLERANCE, measure_network, train  # noqa: E402
from corpus import DropoutReference, DropoutSelfContained  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    strays, closed, seconds, measuring = [], [], [], []
    worst: dict[str, tuple[float, float]] = {}   # measure: (most standard errors, largest share)
    for seed in range(args.seeds):
        none = train(nn.Identity, seed=seed)
        theirs = train(lambda: nn.Dropout(P), seed=seed)
        for layer in (DropoutReference, DropoutSelfContained, nn.Dropout):
            start = time.perf_counter()
            mine = train(lambda: layer(P), seed=seed)
            seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
            found = measure_network(mine)
            measuring.append(time.perf_counter() - start)
            assert found["eval"] == "", found["eval"]
            for slot in found["slots"].values():
                assert slot["repeated"] == 0
                for name, m in slot.items():
                    if name == "repeated":
                        continue
                    off = abs(m.mean - m.target)
                    z, share = worst.get(name, (0.0, 0.0))
                    worst[name] = (max(z, off / m.standard_error), max(share, off / max(abs(m.target), 1.0)))
            if layer is nn.Dropout:
                continue
            strays.append(abs(mine["val"] - theirs["val"]))
            closed.append(none["gap"] - mine["gap"])
        print(f"seed {seed}: no dropout gap {none['gap']:+.3f}, torch val {theirs['val']:.3f} gap {theirs['gap']:+.3f}")
    print(f"{len(strays)} correct runs: validation accuracy at most {max(strays):.3f} from torch's "
          f"(tolerance {TOLERANCE}: {TOLERANCE / max(max(strays), 1e-9):.0f}x that)")
    print(f"gap closed at least {min(closed):.3f} (required {MIN_GAP_CLOSED}: "
          f"{min(closed) / MIN_GAP_CLOSED:.1f}x that)")
    print(f"network measures of {len(measuring)} correct runs (torch's layer included), worst case each: "
          f"a measure fails beyond {Z} standard errors and {MIN_EFFECT:.0%} of its scale")
    for name, (z, share) in worst.items():
        print(f"  {name:<15} {z:4.1f} standard errors, {share:.2%} of its scale")
    print(f"one training run: {sorted(seconds)[len(seconds) // 2]:.2f} s, one measurement "
          f"{sorted(measuring)[len(measuring) // 2]:.2f} s (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
