"""The statistical checks keep their promises: rare false failures, real power."""
import math

import pytest

import autograder.runner  # noqa: F401 - registers every assignment's checks and their bounds
from autograder import checks
from autograder.stats import MAX_FALSE_FAILURE, ProportionTest, binomial_collision, kl_bernoulli

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


@pytest.mark.parametrize("p", [0.0002, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
def test_a_band_drawn_for_any_p_keeps_the_rate_budget(p):
    """drop_rate draws p per run: the band derived for whatever p comes must keep its bound."""
    for n in (checks.EDGE_N, checks.RANDOM_N):
        test = checks.rate_test(p, n)
        assert test.false_failure <= checks.RATE_BUDGET
        assert checks.rate_test(p, n).t < 0.01  # and is narrow enough to mean something


def test_drop_rate_stays_within_its_budget_for_every_case_it_runs():
    cases = len(checks.EDGE_PS) + 3 + checks.RANDOM_PS
    assert cases * checks.RATE_BUDGET <= sum(t.false_failure for t in checks.BOUNDS["drop_rate"]) + 1e-15
    assert cases * checks.RATE_BUDGET <= MAX_FALSE_FAILURE


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("shift", [-0.01, 0.01])
def test_drop_rate_off_by_a_hundredth_is_caught_at_any_p(p, shift):
    assert checks.rate_test(p, checks.RANDOM_N).miss_probability(p + shift) <= MAX_FALSE_FAILURE


@pytest.mark.parametrize("wrong, p, n", [(0.0, 0.0002, checks.EDGE_N), (1 / 256, 0.0002, checks.EDGE_N),
                                         (0.01, 0.0002, checks.EDGE_N), (1 / 2048, 0.0002, checks.EDGE_N),
                                         (0.0021, 0.0002, checks.SMALL_N), (0.99, 0.999, checks.SMALL_N),
                                         (1.0, 0.999, checks.SMALL_N)])
def test_rates_on_a_grid_or_clamped_are_caught_at_the_edges(wrong, p, n):
    """Quantised to 1/100, 1/256 or 1/2048 (a float16 draw); a bfloat16 draw (0.21% measured at
    p = 0.0002); p clamped at 0.99; everything dropped."""
    assert checks.rate_test(p, n).miss_probability(wrong) <= MAX_FALSE_FAILURE


def test_an_exact_share_per_call_is_caught_by_the_count_test():
    """Two exact counts are always equal: a share of equal pairs of 1."""
    test = stats_test = checks.BOUNDS["independence"][-1]
    assert stats_test.false_failure <= checks.COUNT_BUDGET
    assert test.miss_probability(1.0) == 0.0


def test_binomial_collision_matches_a_simulation():
    import torch
    gen = torch.Generator().manual_seed(0)
    counts = torch.bernoulli(torch.full((2, 20000, 512), 0.5), generator=gen).sum(dim=2)
    simulated = (counts[0] == counts[1]).double().mean().item()
    assert abs(simulated - binomial_collision(512, 0.5)) < 0.005


def test_a_reused_pool_of_noise_is_caught_at_its_lag():
    """A mask that repeats after P values agrees with itself at lag P at a share near 1."""
    import torch
    pool = torch.rand(4096) >= 0.5
    mask = pool.repeat(checks.LAG_N // 4096)
    a, b = mask[:checks.LAG_N // 2], mask[checks.LAG_N // 2:]
    assert checks._lag_failure(a, b, checks.INDEPENDENCE_BOUNDS["lags inside a call"], "halves")
    fresh = torch.rand(checks.LAG_N) >= 0.5
    assert not checks._lag_failure(fresh[:checks.LAG_N // 2], fresh[checks.LAG_N // 2:],
                                   checks.INDEPENDENCE_BOUNDS["lags inside a call"], "halves")
    assert checks.INDEPENDENCE_BOUNDS["lags inside a call"].miss_probability(0.75) <= MAX_FALSE_FAILURE


def test_lag_agreements_are_the_shares_they_claim():
    import torch
    a = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0], dtype=torch.bool)
    b = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1], dtype=torch.bool)
    shares = checks._lag_agreements(a, b)
    for lag in range(8):
        expected = sum(a[i] == b[(i + lag) % 8] for i in range(8)) / 8
        assert shares[lag].item() == pytest.approx(float(expected))


def test_a_band_too_narrow_for_its_sample_is_reported_as_such():
    loose = ProportionTest(p=0.5, n=100, t=0.01)
    assert loose.false_failure > 0.5
    assert loose.miss_probability(0.505) == 1.0  # inside the band: never caught


def test_bound_is_conservative_against_the_exact_binomial_tail():
    test = ProportionTest(p=0.3, n=400, t=0.05)
    exact = sum(math.comb(400, k) * 0.3 ** k * 0.7 ** (400 - k)
                for k in range(401) if not test.accepts(k / 400))
    assert exact <= test.false_failure


@pytest.mark.parametrize("distance", [1, 2, 3, 6, 40, 1000, 4095])
def test_a_correlation_at_any_distance_inside_a_call_is_caught(distance):
    """A mask whose value at i + d copies the one at i (every other block of d) shows in the split
    by the lowest set bit of d, at one shift."""
    import torch
    gen = torch.Generator().manual_seed(distance)
    mask = torch.rand(2**checks.SPLIT_BITS, generator=gen) >= 0.5
    index = torch.arange(2**checks.SPLIT_BITS)
    copied = (index // distance) % 2 == 1
    mask[copied] = mask[index[copied] - distance]
    bit = (distance & -distance).bit_length() - 1
    split = mask.view(-1, 2, 2**bit)
    assert checks._lag_failure(split[:, 0].flatten(), split[:, 1].flatten(),
                               checks.INDEPENDENCE_BOUNDS["distances inside a call"], "split")
    fresh = torch.rand(2**checks.SPLIT_BITS, generator=gen) >= 0.5
    split = fresh.view(-1, 2, 2**bit)
    assert not checks._lag_failure(split[:, 0].flatten(), split[:, 1].flatten(),
                                   checks.INDEPENDENCE_BOUNDS["distances inside a call"], "split")
