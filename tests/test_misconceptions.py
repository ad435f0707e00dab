"""The class grouped by misconception, read from the checks' own verdicts on known bugs."""
from __future__ import annotations

import pytest

import corpus
import family_corpus
from autograder.runner import check_dropout
from instructors.misconceptions import MISCONCEPTIONS, diagnose, group_class

#: Bug of a corpus -> the misconception its verdicts must show, and no other.
EXPECTED = {
    "no_scaling": "no rescaling",
    "scale_by_one_over_p": "the wrong scale",
    "keep_and_drop_swapped": "keep and drop swapped",
    "drops_in_eval_mode": "drops in eval mode",
    "one_mask_for_the_batch": "one mask for the whole batch",
    "seeds_inside": "the same mask every call",
    "calls_torch": "calls torch's dropout",
}
FAMILY = {
    "element_wise_mask": "element-wise instead of channel dropout",
    "PlainDropoutInstead": "alpha dropout as plain dropout",
}


def _verdicts(report) -> dict[tuple[str, str], str]:
    return {("student", f"{r.target}_{r.name}"): r.message for r in report.failed()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bugs_real_verdicts_show_its_misconception_and_no_other(name):
    bug = next(b for b in corpus.BUGS if b.name == name and b.kind == "function")
    groups = group_class(_verdicts(check_dropout(dropout=bug.impl)))
    assert [g.misconception.name for g in groups] == [EXPECTED[name]]
    assert groups[0].students == ["student"] and groups[0].example[2]


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_the_family_assignments_bugs_show_theirs(name):
    bug = next(b for b in family_corpus.BUGS if b.name == name)
    found = {m.name for message in _verdicts(check_dropout(**{bug.target: bug.impl})).values()
             for m in diagnose(message)}
    assert found == {FAMILY[name]}


def test_correct_answers_show_none_and_every_misconception_is_some_bugs():
    for impl in corpus.CORRECT_FUNCTIONS[:2]:
        assert group_class(_verdicts(check_dropout(dropout=impl))) == []
    fragments = [b.message for b in corpus.BUGS + family_corpus.BUGS]
    for misconception in MISCONCEPTIONS:
        assert any(misconception in diagnose(f) for f in fragments), misconception.name
    assert diagnose("a dropout still drops in eval mode")[0].name == "drops in eval mode"


def test_a_student_counts_once_per_misconception_and_only_if_gradable():
    messages = {("ann", "test_function_scaling"): "kept values scaled by 1.000; torch scales them by 1.429",
                ("ann", "test_module_forward"): "scaling: kept values scaled by 1.000; torch ...",
                ("bob", "test_function_scaling"): "kept values scaled by 1.000",
                ("cy", "test_function_scaling"): "kept values scaled by 1.000"}
    (group,) = group_class(messages, {"test_function_scaling": "function_scaling"}, students={"ann", "bob"})
    assert group.students == ["ann", "bob"] and group.example[:2] == ("ann", "function_scaling")


def test_near_misses_and_other_causes_are_not_misdiagnosed():
    near = ("kept values scaled by 1.429; torch scales them by 1/(1-p) = 1.429 for p=0.3 (off by 1.2e-03 "
            "relative, allowed 1e-03: compute the scale in x's dtype)")
    keywords = ("dropout(x, p=0.2, training=False) changed the values; with torch's keywords that is eval "
                "mode, which returns x unchanged")
    rank = ("dropout2d(x, 0.5, False) on a 1-D input did not return the input; in evaluation mode torch "
            "returns it (with a warning) whatever its rank")
    assert diagnose(near) == diagnose(keywords) == diagnose(rank) == []
    assert [m.name for m in diagnose("kept values scaled by 0.500 in float16; torch scales them by 1/(1-p) = "
                                     "2.000 for p=0.5")] == ["the wrong scale"]
    assert [m.name for m in diagnose("after layer.eval(), Dropout2d(0.5) changed its input; in eval mode "
                                     "torch's layer returns it unchanged")] == ["drops in eval mode"]
