"""Bounds on how often a statistical check fails a correct implementation.

Dropout is random, so several checks compare an observed share (of zeros,
of agreeing masks) with the share torch's contract implies. A check accepts
when the observed share of ``n`` independent Bernoulli(``p``) trials lies
within ``p ± t``. By the Chernoff-Hoeffding theorem,

    P(share >= p + t) <= exp(-n * KL(p + t || p))
    P(share <= p - t) <= exp(-n * KL(p - t || p))

where KL(a || p) = a ln(a/p) + (1-a) ln((1-a)/(1-p)) is the Kullback-Leibler
divergence between Bernoulli(a) and Bernoulli(p). Their sum is the
false-failure probability of the check; a check that tests ``repeats``
such shares at once pays a union bound (the sum over all of them). Every
test the engine uses is built so that this sum is at most
:data:`MAX_FALSE_FAILURE`; ``tests/test_stats.py`` asserts it.

The same bound, applied to a wrong implementation whose true share is
``p + shift`` with ``|shift| > t``, bounds how often the check misses that
bug: P(miss) <= exp(-n * KL(p ± t || p + shift)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MAX_FALSE_FAILURE = 1e-9


def kl_bernoulli(a: float, p: float) -> float:
    """KL(Bernoulli(a) || Bernoulli(p)), with 0 ln 0 = 0."""
    total = 0.0
    if a > 0:
        total += a * math.log(a / p)
    if a < 1:
        total += (1 - a) * math.log((1 - a) / (1 - p))
    return total


def _tail(n: int, p: float, edge: float) -> float:
    """Chernoff bound on P(share of n Bernoulli(p) lands beyond ``edge``)."""
    if edge < 0 or edge > 1:
        return 0.0
    return math.exp(-n * kl_bernoulli(edge, p))


@dataclass(frozen=True)
class ProportionTest:
    """Accept a share of ``n`` Bernoulli trials when it lies within ``p ± t``."""

    p: float
    n: int
    t: float
    repeats: int = 1

    def accepts(self, share: float) -> bool:
        return abs(share - self.p) <= self.t

    @property
    def false_failure(self) -> float:
        """Upper bound on rejecting a correct implementation (union over repeats)."""
        one = _tail(self.n, self.p, self.p + self.t) + _tail(self.n, self.p, self.p - self.t)
        return min(1.0, self.repeats * one)

    def miss_probability(self, true_share: float) -> float:
        """Upper bound on accepting when the true share is ``true_share`` (outside the band)."""
        if self.accepts(true_share):
            return 1.0
        if true_share in (0.0, 1.0):  # every trial comes out the same: always outside the band
            return 0.0
        edge = self.p + self.t if true_share > self.p else self.p - self.t
        return min(1.0, math.exp(-self.n * kl_bernoulli(edge, true_share)))

    def band(self) -> str:
        return f"{self.p - self.t:.1%} to {self.p + self.t:.1%}"


def tolerance_for(p: float, n: int, budget: float, repeats: int = 1) -> ProportionTest:
    """The narrowest ``p ± t`` test of ``n`` trials whose false-failure bound is within ``budget``.

    How checks that draw p at random per run keep their bound for every p: the band
    is derived for the p drawn, by bisection on the Chernoff bound above.
    """
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if ProportionTest(p, n, mid, repeats).false_failure <= budget:
            high = mid
        else:
            low = mid
    return ProportionTest(p, n, high, repeats)


def binomial_collision(n: int, p: float) -> float:
    """P(two independent Binomial(n, p) counts are equal) = sum over k of P(k)²."""
    log_q = math.log1p(-p)
    total = 0.0
    for k in range(n + 1):
        log_pmf = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (
            k * math.log(p) if p > 0 else (0.0 if k == 0 else -math.inf)) + (n - k) * log_q
        total += math.exp(2 * log_pmf)
    return total
