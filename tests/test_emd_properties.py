"""Property test: emd on any small problem (zero weights, ties, negative and integer costs)
agrees with scipy's HiGHS LP, with feasible and complementary duals."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from oracles import linprog_ot

import otkit as ot


@st.composite
def small_problems(draw):
    n = draw(st.integers(1, 7))
    m = draw(st.integers(1, 7))
    weights = st.floats(0.0, 1.0, allow_nan=False).map(lambda x: x if x > 1e-3 else 0.0)
    a = draw(arrays(np.float64, n, elements=weights).filter(lambda x: x.sum() > 0.1))
    b = draw(arrays(np.float64, m, elements=weights).filter(lambda x: x.sum() > 0.1))
    integer_costs = draw(st.booleans())
    elements = (
        st.integers(-3, 3).map(float) if integer_costs else st.floats(-10, 10, allow_nan=False)
    )
    M = draw(arrays(np.float64, (n, m), elements=elements))
    return a / a.sum(), b / b.sum(), M


@settings(max_examples=150, deadline=None)
@given(small_problems())
def test_property_emd_matches_linprog(problem):
    a, b, M = problem
    G, log = ot.emd(a, b, M, log=True)
    _, lp_cost = linprog_ot(a, b, M)
    scale = max(np.abs(M).max(), 1.0)
    np.testing.assert_allclose(G.sum(1), a, atol=1e-13)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-13)
    assert abs(log["cost"] - lp_cost) <= 1e-10 * scale
    reduced = M - log["u"][:, None] - log["v"][None, :]
    assert reduced.min() >= -1e-12 * scale
    assert abs(a @ log["u"] + b @ log["v"] - log["cost"]) <= 1e-12 * scale
