"""The statistical checks keep their promises: rare false failures, real power."""
import math

import pytest

from autograder import checks
from autograder.stats import MAX_FALSE_FAILURE, ProportionTest, kl_bernoulli

ALL_TESTS = {f"{check} #{i}": t for check, tests in checks.BOUNDS.items() for i, t in enumerate(tests)}


def test_kl_matches_its_definition():
    assert kl_bernoulli(0.5, 0.5) == 0
    assert kl_bernoulli(0.6, 0.5) == pytest.approx(0.6 * math.log(1.2) + 0.4 * math.log(0.8))
    assert kl_bernoulli(0.0, 0.5) == pytest.approx(math.log(2))


@pytest.mark.parametrize("name", ALL_TESTS)
def test_every_statistical_test_fails_a_correct_dropout_at_most_once_in_a_billion(name):
    assert ALL_TESTS[name].false_failure <= MAX_FALSE_FAILURE


@pytest.mark.parametrize("check", sorted(checks.BOUNDS))
def test_each_check_as_a_whole_fails_a_correct_dropout_at_most_once_in_a_billion(check):
    """A check fails if any of its tests does: the union bound is the sum."""
    assert sum(t.false_failure for t in checks.BOUNDS[check]) <= MAX_FALSE_FAILURE


def test_every_statistical_check_lists_its_tests():
    """A check that draws a share must name its tests in BOUNDS, or its bound goes unchecked."""
    import inspect
    for name, check in checks.CHECKS.items():
        source = inspect.getsource(check.run)
        if "accepts(" in source or "_agreement_failure(" in source:
            assert checks.BOUNDS.get(name), name
    assert checks.BOUNDS["forward"] == [t for n in checks.FORWARD for t in checks.BOUNDS.get(n, [])]


@pytest.mark.parametrize("wrong", [0.3, 0.4, 0.6, 0.7])
def test_a_wrong_default_p_is_caught(wrong):
    assert checks.DEFAULT_TESTS[0.5].miss_probability(wrong) <= MAX_FALSE_FAILURE
    assert checks.MODULE_DEFAULT_TEST.miss_probability(wrong) <= MAX_FALSE_FAILURE


def test_a_p_change_that_is_ignored_is_caught():
    assert checks.CHANGED_P_TEST.miss_probability(0.5) <= MAX_FALSE_FAILURE


def test_a_scalar_that_is_never_or_always_dropped_is_caught():
    assert checks.SCALAR_TEST.miss_probability(0.0) <= MAX_FALSE_FAILURE
    assert checks.SCALAR_TEST.miss_probability(1.0) <= MAX_FALSE_FAILURE


def test_a_mask_shared_along_one_dimension_is_caught():
    """Slices that share a draw agree everywhere: a share of 1, far outside the band."""
    assert checks.INDEPENDENCE_BOUNDS["dimensions"].miss_probability(1.0) <= MAX_FALSE_FAILURE


def test_independence_slack_covers_the_agreement_shift_from_an_observed_rate():
    share = checks.INDEPENDENCE_BOUNDS["drop share"]
    for r in (share.p - share.t, share.p + share.t):
        assert abs(r ** 2 + (1 - r) ** 2 - 0.5) <= checks._SLACK + 1e-12


@pytest.mark.parametrize("p", sorted(checks.DROP_RATE_TESTS))
@pytest.mark.parametrize("shift", [-0.01, 0.01])
def test_drop_rate_off_by_a_hundredth_is_caught(p, shift):
    assert checks.DROP_RATE_TESTS[p].miss_probability(p + shift) <= MAX_FALSE_FAILURE


def test_a_band_too_narrow_for_its_sample_is_reported_as_such():
    loose = ProportionTest(p=0.5, n=100, t=0.01)
    assert loose.false_failure > 0.5
    assert loose.miss_probability(0.505) == 1.0  # inside the band: never caught


def test_bound_is_conservative_against_the_exact_binomial_tail():
    test = ProportionTest(p=0.3, n=400, t=0.05)
    exact = sum(math.comb(400, k) * 0.3 ** k * 0.7 ** (400 - k)
                for k in range(401) if not test.accepts(k / 400))
    assert exact <= test.false_failure
