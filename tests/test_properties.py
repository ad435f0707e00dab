"""Property-based tests (Hypothesis) of what the checks stand on, for any input they may meet.

The checks draw their own values per grading run within a fixed budget (see
docs/contract.md, "Values drawn per run"); here Hypothesis searches the whole
space for a counterexample, and shrinks any it finds, to the math and to the
answer key:

* the assignment's reference solution and torch's own dropout keep every
  per-call property of the contract on any shape (rank 0 to 5, empty
  dimensions included), layout, dtype, p and mode;
* the statistics keep their bounds for any p and sample size, and the
  lag-agreement shortcut equals its definition.

The examples are derandomized, so CI runs the same ones every time.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import checks
from autograder.stats import binomial_collision, tolerance_for
from instructors.submissions import reference_answers

SOURCE = Path(__file__).resolve().parents[1] / "source" / "dropout_from_scratch" / "dropout_from_scratch.ipynb"
FAST = settings(max_examples=150, deadline=None, derandomize=True)
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _reference_solution():
    namespace: dict = {}
    exec("import torch\n" + reference_answers(SOURCE)["dropout_function"], namespace)  # noqa: S102 - ours
    return namespace["dropout"]


IMPLEMENTATIONS = {"the reference solution": _reference_solution(), "torch": F.dropout}


@st.composite
def inputs(draw):
    """A tensor of any rank 0-5 (sizes 0-4), in any dtype, maybe a strided or permuted view."""
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=5)))
    dtype = draw(st.sampled_from(DTYPES))
    base = torch.rand(shape) + 0.5  # nonzero: a zero out means dropped
    layout = draw(st.sampled_from(["contiguous", "strided", "permuted"]))
    if layout == "strided" and base.dim():
        base = torch.cat([base, base], dim=-1)[..., ::2]
    elif layout == "permuted" and base.dim() > 1:
        base = base.permute(*reversed(range(base.dim())))
    return base.to(dtype)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@FAST
@given(x=inputs(), p=st.floats(0, 1), training=st.booleans(), inplace=st.booleans())
def test_every_call_keeps_the_per_call_contract(name, x, p, training, inplace):
    """Shape, dtype kept; each value 0 or x/(1-p) (x in eval mode); inplace as asked."""
    dropout = IMPLEMENTATIONS[name]
    before = x.clone()
    out = dropout(x, p, training, inplace)
    assert out.shape == before.shape and out.dtype == before.dtype
    if inplace:
        assert out.data_ptr() == x.data_ptr() and torch.equal(out, x)
    else:
        assert torch.equal(x, before)
    if not training:
        assert torch.equal(out, before)
        return
    kept = out != 0
    if p == 1:
        assert not kept.any()
        return
    # x/(1-p) rounded to x's dtype (where it overflows, to inf, as torch's does)
    expected = (before.double()[kept] / (1 - p)).to(x.dtype).double()
    tolerance = 4 * torch.finfo(x.dtype).eps
    assert torch.allclose(out.double()[kept], expected, rtol=tolerance, atol=0)


@FAST
@given(p=st.floats(1e-4, 1 - 1e-4), n=st.integers(2**10, 2**22))
def test_a_band_derived_for_any_p_and_size_keeps_its_budget(p, n):
    test = tolerance_for(p, n, checks.RATE_BUDGET)
    assert test.false_failure <= checks.RATE_BUDGET
    assert 0 < test.t < 1


@FAST
@given(n=st.integers(1, 120), p=st.floats(0.01, 0.99))
def test_binomial_collision_is_the_sum_of_squared_probabilities(n, p):
    exact = sum((math.comb(n, k) * p ** k * (1 - p) ** (n - k)) ** 2 for k in range(n + 1))
    assert binomial_collision(n, p) == pytest.approx(exact, rel=1e-9)


@FAST
@given(bits=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=64))
def test_lag_agreements_equal_their_definition(bits):
    a = torch.tensor([x for x, _ in bits])
    b = torch.tensor([y for _, y in bits])
    n = len(bits)
    shares = checks._lag_agreements(a, b)
    for lag in range(n):
        expected = sum(bool(a[i] == b[(i + lag) % n]) for i in range(n)) / n
        assert shares[lag].item() == pytest.approx(expected)
