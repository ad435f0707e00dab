"""Where the tolerances of Part 3's outcome check come from: repeated runs of correct layers.

    .venv/bin/python benchmarks/overfitting_tolerances.py [--seeds 8]

Trains Lesson 3's network (autograder/overfitting.py) once per seed without dropout, with
torch's nn.Dropout(P) and with two correct layers of tests/corpus.py, and prints how far a
correct layer's validation accuracy strays from torch's in the same seed and how much of
the no-dropout gap it closes, against the check's TOLERANCE and MIN_GAP_CLOSED, and the
seconds one training run takes (the check makes two in the notebook's kernel, one of them
cached, and one through the sandbox).
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

from autograder.overfitting import MIN_GAP_CLOSED, P, TOLERANCE, train  # noqa: E402
from corpus import DropoutReference, DropoutSelfContained  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    strays, closed, seconds = [], [], []
    for seed in range(args.seeds):
        none = train(nn.Identity, seed=seed)
        theirs = train(lambda: nn.Dropout(P), seed=seed)
        for layer in (DropoutReference, DropoutSelfContained):
            start = time.perf_counter()
            mine = train(lambda: layer(P), seed=seed)
            seconds.append(time.perf_counter() - start)
            strays.append(abs(mine["val"] - theirs["val"]))
            closed.append(none["gap"] - mine["gap"])
        print(f"seed {seed}: no dropout gap {none['gap']:+.3f}, torch val {theirs['val']:.3f} gap {theirs['gap']:+.3f}")
    print(f"{len(strays)} correct runs: validation accuracy at most {max(strays):.3f} from torch's "
          f"(tolerance {TOLERANCE}: {TOLERANCE / max(max(strays), 1e-9):.0f}x that)")
    print(f"gap closed at least {min(closed):.3f} (required {MIN_GAP_CLOSED}: "
          f"{min(closed) / MIN_GAP_CLOSED:.1f}x that)")
    print(f"one training run: {sorted(seconds)[len(seconds) // 2]:.2f} s (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
