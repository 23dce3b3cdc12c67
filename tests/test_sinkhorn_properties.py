"""Property test (hypothesis) of the Sinkhorn plans over random methods, dtypes, scales and
backends: the plan is finite and non-negative; converged, its marginals are within the
stopping tolerance; not converged, a warning says so (never a silent wrong plan)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import property_settings, to_np, to_xp
from hypothesis import given
from hypothesis import strategies as st

import otkit as ot

# HYPOTHESIS_PROFILE=long runs 1000 examples per backend (30 in CI).
PROPERTY_SETTINGS = property_settings(30, 1000)

METHODS = ["sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "greenkhorn"]
# stopThr bounds the L2 norm of the stacked marginal errors, up to the rounding of the sums
# (n + m terms of a few ulps each) and of the inputs to dtype.
STOP = {"float32": 1e-4, "float64": 1e-9}
ULP = {"float32": np.finfo(np.float32).eps, "float64": np.finfo(np.float64).eps}


@st.composite
def problems(draw):
    n = draw(st.integers(2, 7))
    m = draw(st.integers(2, 7))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.random(n) + draw(st.sampled_from([0.0, 0.05]))
    b = rng.random(m) + 0.05
    if draw(st.booleans()):
        a[rng.integers(n)] = 0.0  # a zero weight
    if a.sum() == 0:
        a[0] = 1.0
    a, b = a / a.sum(), b / b.sum()
    scale = 10.0 ** draw(st.floats(-3, 3))
    M = rng.random((n, m)) * scale
    reg = float(M.max() * 10.0 ** draw(st.floats(-2, 0.5)))
    return a, b, M, reg, draw(st.sampled_from(METHODS)), draw(st.sampled_from(list(STOP)))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@PROPERTY_SETTINGS
@given(problem=problems())
def test_sinkhorn_plans_are_feasible_or_flagged(backend, problem):
    xp = pytest.importorskip("torch") if backend == "torch" else np
    a, b, M, reg, method, dtype = problem
    a_x, b_x, M_x = (to_xp(xp, x, dtype) for x in (a, b, M))
    stop = STOP[dtype]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        P, log = ot.sinkhorn(
            a_x, b_x, M_x, reg, method=method, numItermax=20_000, stopThr=stop, log=True
        )
    P = to_np(P).astype(np.float64)
    assert np.all(np.isfinite(P)) and P.min() >= 0.0
    # the stopping rule: the L2 norm of the stacked row and column marginal errors (Sinkhorn:
    # one of them is exact after the last update; greenkhorn: both are measured)
    error = np.hypot(np.linalg.norm(P.sum(1) - a), np.linalg.norm(P.sum(0) - b))
    rounding = 8 * (len(a) + len(b)) * ULP[dtype]
    if log["converged"]:
        # the input itself was rounded to dtype: its masses are off by a few ulps too
        assert error <= stop + rounding, (method, dtype, error)
    else:
        assert any("converge" in str(w.message) for w in caught), (method, dtype, error)
