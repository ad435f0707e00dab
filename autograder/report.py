"""What grading found: one row per check, printable for students, tabular for instructors."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class CheckResult:
    target: str        # "function" (dropout) or "module" (Dropout)
    name: str          # the check's name, e.g. "scaling"
    passed: bool
    points: int        # points earned: all or nothing per check
    max_points: int
    message: str       # empty when passed; otherwise what differed from torch
    hint: str          # what to try; shown to students when the check fails
    seconds: float
    warnings: tuple[str, ...] = ()   # warnings raised meanwhile, kept off stderr
    notes: tuple[str, ...] = ()      # advice that costs no points (e.g. memory layout)


@dataclass
class Report:
    device: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def max_score(self) -> int:
        return sum(r.max_points for r in self.results)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def result(self, target: str, name: str) -> CheckResult:
        for r in self.results:
            if (r.target, r.name) == (target, name):
                return r
        raise KeyError(f"no result for {target} check {name!r}")

    def rows(self) -> list[dict]:
        """Plain dicts, one per check: ``pandas.DataFrame(report.rows())``."""
        return [asdict(r) for r in self.results]

    def to_frame(self):
        import pandas as pd
        return pd.DataFrame(self.rows())

    def table(self, hints: bool = True) -> str:
        """A fixed-width table for a terminal or a notebook's output."""
        width = max((len(r.name) for r in self.results), default=10)
        lines = [f"Dropout checks ({self.device})", ""]
        for r in self.results:
            mark = "PASS" if r.passed else "FAIL"
            lines.append(f"  {mark}  {r.target:<8}  {r.name:<{width}}  {r.points}/{r.max_points}")
            if not r.passed:
                lines.append("        " + r.message.replace("\n", "\n          "))
                if hints:
                    lines.append(f"        hint: {r.hint}")
            lines.extend(f"        note: {note}" for note in r.notes)
        lines += ["", f"  score: {self.score}/{self.max_score}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()
