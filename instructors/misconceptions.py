"""The class grouped by what they misunderstood, not by which cells they failed.

Twenty students failing ``function_scaling``, ``module_forward`` and
``overfitting`` is one misunderstanding (the survivors are never scaled by
1/(1-p)) seen three times. The checks already name the cause in their
verdicts: "kept values scaled by 1.000", "that is 1-p, so values are dropped
where they should be kept", "rows (samples) of one batch share their dropped
positions", "your code ran torch's own dropout". Each misconception below is
the wording of those verdicts, whichever check gave it; a student counts once
per misconception however many checks gave it, and may have several.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Misconception:
    name: str
    meaning: str          # for the instructor: what the student believes, and what it costs
    verdict: str          # a regular expression on a failed check's message
    unless: str = ""      # ... that does not also match this (a near miss, another cause)


MISCONCEPTIONS = (
    Misconception("no rescaling", "the kept values are not scaled by 1/(1-p), so the next layer sees smaller "
                  "inputs in training than in evaluation", r"kept values(?: on a 0-dim tensor)?(?: were)? scaled by 1\.000",
                  r"after layer\.p"),
    Misconception("the wrong scale", "the kept values are scaled, but by p, 1-p or 1/p instead of 1/(1-p)",
                  r"kept values(?: on a 0-dim tensor)?(?: were)? scaled by (?!1\.000)[\d.]+[^;]*; torch scales them by",
                  r"in x's dtype"),
    Misconception("drops in eval mode", "dropout stays on after model.eval() or with training=False, so "
                  "predictions are random", r"in eval(?:uation)? mode (?:changed|torch returns)|training=False[^;]*"
                  r"changed|still drops in eval mode|after (?:model|layer)\.eval\(\)",
                  r"torch's keywords|whatever its rank|did not return the layer"),
    Misconception("keep and drop swapped", "p is used as the probability of keeping a value",
                  r"that is 1-p"),
    Misconception("one mask for the whole batch", "one mask is drawn and shared by every sample of the batch",
                  r"of one batch share their dropped positions|one mask for the batch"),
    Misconception("the same mask every call", "the mask is fixed (a seed set inside, a cached mask), so every "
                  "forward pass drops the same units", r"two calls on the same input dropped the same|the mask "
                  r"repeats itself"),
    Misconception("element-wise instead of channel dropout", "single values are dropped where whole feature "
                  "maps should be", r"channels were partly zeroed"),
    Misconception("alpha dropout as plain dropout", "dropped values set to 0 and the rest scaled by 1/(1-p), which "
                  "breaks SELU's mean 0 and variance 1", r"torch gives either a\*x \+ alpha\*a\*p"),
    Misconception("calls torch's dropout", "the answer hands the work to torch's own dropout instead of writing it",
                  r"ran torch's own dropout|operator aten::\w*dropout"),
)


def diagnose(message: str) -> list[Misconception]:
    """The misconceptions a failed check's message shows (none for faults it does not name)."""
    return [m for m in MISCONCEPTIONS
            if re.search(m.verdict, message) and not (m.unless and re.search(m.unless, message))]


@dataclass
class Group:
    misconception: Misconception
    students: list[str] = field(default_factory=list)
    example: tuple[str, str, str] = ("", "", "")     # (student, check, message) that shows it


def group_class(messages: dict[tuple[str, str], str], names: dict[str, str] | None = None,
                students: set[str] | None = None) -> list[Group]:
    """Groups, largest first, from (student, grade id) -> failed check's message.

    ``students`` limits the grouping to those (the ones whose current submission was graded).
    """
    from .statuses import natural_key

    groups = {m.name: Group(m) for m in MISCONCEPTIONS}
    for (student, cell), message in sorted(messages.items(), key=lambda kv: (natural_key(kv[0][0]), kv[0][1])):
        if students is not None and student not in students:
            continue
        for found in diagnose(message):
            group = groups[found.name]
            if student not in group.students:
                group.students.append(student)
            if not group.example[0]:
                group.example = (student, (names or {}).get(cell, cell), message)
    return sorted((g for g in groups.values() if g.students), key=lambda g: -len(g.students))
