"""Part 3 grades what only a network shows: every corpus bug that changes Lesson 3's network fails it.

Each bug of tests/corpus.py goes, as a module, into both dropout slots of Lesson 3's network
(autograder/overfitting.py): the check trains it and measures the network
(autograder/network.py). A bug either changes what this network does, and must fail with a
sentence that says what the network did, or its difference never reaches this network, and
it is listed below with the reason (Parts 1 and 2 catch it). A bug that moves from one list
to the other fails this test, so the list stays true.
"""
import io
from contextlib import redirect_stdout

import pytest
import torch

from autograder.overfitting import check_overfitting
from autograder.subject import CheckFailed
from corpus import BUGS, CORRECT_MODULES, DropoutReference

ARGUMENTS = "only in how p and the other arguments are checked, defaulted or named; the network passes p = 0.8"
ENDS = "only at p = 0 or p = 1"
SHAPES = "only on tensors of other ranks (0-dim, 3-D and more) or layouts (views, non-contiguous)"
INPLACE = "only with inplace=True, or under no_grad on an input it then changes"
PRECISION = "only for other p or dtypes: at p = 0.8 in float32 its rate and scale are torch's"
HIGHER_AUTOGRAD = "only in forward-mode AD or a second derivative"
MODULE_OBJECT = "only in the module object: construction, its state, its repr, copies, p changed later"
GLOBAL_STATE = "only in torch's global state (its generator, its thread count), not in what it computes"
#: Differences real but below what the network can show: the measures stay within 1% of torch's.
UNDETECTABLE = {
    "drops_an_exact_share": "a fixed count per call: over 19,200 values its noise is torch's within 1%",
    "drops_an_exact_share_of_each_tensor": "a fixed count per call: over 19,200 values its noise is torch's within 1%",
    "scales_by_the_share_kept": "divides by the share kept, which is 1-p within 1% over 19,200 values",
    "first_value_always_kept": "one value in 19,200 always kept",
    "half_resolution_mask": "pairs of units share a mask value; the second layer sums them with weights of "
                            "either sign, so the size of the noise it passes on stays torch's",
    "reuses_a_pool_of_noise": "each mask alone is torch's in rate and size; only comparing masks shows the rotation",
}
OUTSIDE_THE_NETWORK = {
    **{name: ARGUMENTS for name in ("asserts_on_p", "never_checks_p", "checks_p_only_when_training",
                                    "default_p_is_0_3", "default_is_eval_mode", "default_is_inplace",
                                    "renamed_arguments", "raises_type_error_for_p", "checks_only_the_upper_bound")},
    **{name: ENDS for name in ("nan_at_p_one", "returns_x_for_p_one", "rejects_p_one", "where_divides_by_zero")},
    **{name: SHAPES for name in ("assumes_a_last_dimension", "one_mask_per_channel", "one_mask_for_every_time_step",
                                 "leaves_scalars_alone", "mask_from_star_size", "forgets_the_scale_on_scalars",
                                 "views_the_input", "writes_in_memory_order")},
    **{name: INPLACE for name in ("ignores_inplace", "drops_in_eval_mode_when_inplace", "inplace_through_data",
                                  "inplace_on_a_contiguous_copy", "inplace_only_in_float32", "mutates_without_grad")},
    **{name: PRECISION for name in ("draws_in_the_inputs_dtype", "rate_rounded_to_a_percent",
                                    "noise_in_steps_of_1_256", "p_clamped_below_one",
                                    "scale_from_p_rounded_to_a_tenth")},
    **{name: HIGHER_AUTOGRAD for name in ("function_without_jvp", "backward_not_differentiable")},
    **{name: GLOBAL_STATE for name in ("dropout_numpy_mask", "sets_threads_for_speed")},
    **{bug.name: MODULE_OBJECT for bug in BUGS if bug.kind == "module"
       and bug.name not in ("IgnoresTraining", "MaskCachedOnTheModule", "OwnFlagInsteadOfTraining")},
    **UNDETECTABLE,
}
#: How each message of Part 3 begins to say what the network did (or that it ran torch's dropout).
NETWORK_SENTENCES = ("after model.eval() your network's predictions", "in training mode your first Dropout gave",
                     "your first Dropout repeated its mask", "in training mode each pass of your first Dropout",
                     "your first Dropout does not thin the samples", "in training mode the outputs of the layer after",
                     "the noise your first Dropout adds", "no gradient reached the layer before",
                     "the gradient that reaches the layer before", "your code ran torch's own dropout")


def as_module(bug):
    """The bug as the student's Dropout: a module bug as it is, a function bug inside torch's layout."""
    if bug.kind == "module":
        return bug.impl
    function = bug.impl

    class StudentDropout(DropoutReference):
        def forward(self, x):
            return function(x, self.p, self.training, self.inplace)

    return StudentDropout


def part3(layer) -> str:
    """'' if Part 3's network check passes ``layer``, else what it said (or the error the network raised)."""
    threads = torch.get_num_threads()   # a bug may move it; the tests after this one keep theirs
    try:
        with redirect_stdout(io.StringIO()):
            check_overfitting(layer, device="cpu")
    except CheckFailed as failed:
        return str(failed)
    except Exception as error:  # noqa: BLE001 - the student's code broke the network: the cell fails
        return f"the network raised {type(error).__name__}: {error}"
    finally:
        torch.set_num_threads(threads)
    return ""


def test_every_listed_bug_exists():
    assert set(OUTSIDE_THE_NETWORK) <= {bug.name for bug in BUGS}


@pytest.mark.parametrize("layer", CORRECT_MODULES, ids=lambda c: c.__name__)
def test_correct_layers_pass(layer):
    assert part3(layer) == ""


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_a_bug_fails_part3_exactly_when_it_changes_the_network(bug):
    said = part3(as_module(bug))
    if bug.name in OUTSIDE_THE_NETWORK:
        assert said == "", f"listed as outside the network ({OUTSIDE_THE_NETWORK[bug.name]}), but: {said}"
    else:
        assert said, "changes the network, yet passed Part 3"
        assert said.startswith(NETWORK_SENTENCES) or said.startswith("the network raised"), said


@pytest.mark.parametrize("name, says", [
    ("no_scaling", "are 0.20 times what the eval network computes"),
    ("scales_by_keep_probability", "are 0.04 times what the eval network computes"),
    ("keep_and_drop_swapped", "silenced 20% of the active units"),
    ("drops_in_eval_mode", "after model.eval() your network's predictions differ by up to"),
    ("one_mask_for_the_batch", "varies 14"),
    ("one_mask_per_sample", "has 1.43 times the variance"),
    ("seeds_inside", "the same output in all 100 passes: it must draw a new mask"),
    ("backward_forgets_the_scale", "is, on average, 0.20 times torch's"),
    ("backward_forgets_the_mask", "varies 0.00 times as much from pass to pass"),
    ("detached_output", "no gradient reached the layer before your first Dropout"),
])
def test_each_network_property_has_a_bug_that_only_it_names(name, says):
    bug = next(b for b in BUGS if b.name == name)
    assert says in part3(as_module(bug))


def test_part3_leaves_the_students_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    assert part3(CORRECT_MODULES[0]) == ""
    assert torch.equal(torch.rand(3), expected)


class _NaNsInTraining(DropoutReference):
    def forward(self, x):
        return x * float("nan") if self.training else x


class _NeverDrops(DropoutReference):
    def forward(self, x):
        return x.clone()


def test_a_layer_that_returns_nans_or_never_drops_fails():
    """A measure that is NaN is a miss, never a pass; a layer with no noise at all is named so."""
    assert part3(_NaNsInTraining) != ""
    assert "the same output in all 100 passes" in part3(_NeverDrops)


class _SpikesTwice(DropoutReference):
    """No scaling, and two passes in a hundred blown up 10,000 times: a student who read that a
    measure's standard error came from its own passes would try to widen it this way."""
    calls = 0

    def forward(self, x):
        if not self.training:
            return x
        type(self).calls += 1
        out = x * (torch.rand_like(x) >= self.p)
        return out * 1e4 if type(self).calls % 50 == 0 else out


class _PairsShareAMask(DropoutReference):
    """Draws a mask for half the batch and uses it twice: neighbouring samples thinned alike."""
    def forward(self, x):
        if not self.training:
            return x
        half = (torch.rand_like(x[: (len(x) + 1) // 2]) >= self.p).repeat(2, 1)[: len(x)]
        return x * half / (1 - self.p)


class _WrongOnlyInTheSecondSlot(DropoutReference):
    """Counts its instances: the second one never scales."""
    made = 0

    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        type(self).made += 1
        self.unscaled = type(self).made % 2 == 0

    def forward(self, x):
        if not self.training:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep if self.unscaled else x * keep / (1 - self.p)


def test_a_layer_cannot_widen_the_margins_with_its_own_outliers():
    said = part3(_SpikesTwice)
    assert said.startswith(NETWORK_SENTENCES), said


def test_masks_shared_between_pairs_of_samples_fail():
    assert "your first Dropout does not thin the samples of a batch independently" in part3(_PairsShareAMask)


def test_both_slots_are_measured():
    assert "the layer after your second Dropout" in part3(_WrongOnlyInTheSecondSlot)
