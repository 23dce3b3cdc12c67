"""What a user sees of the fixed-cost cuts of the NumPy Sinkhorn path.

Without ``log``, the NumPy engines leave the potentials on bins of zero weight uncomputed (NaN
inside the solve); these tests fail if such a NaN reaches any output: plans, values, logs,
warm starts, epsilon-scaling stages, greenkhorn, relaxation, 2-D ``b``, ``solve`` and the
other backends. Oracles: the plan of the same call with ``log=True`` (on NumPy the same
operations: bit for bit), the c-transform of the other potential over the support computed
here with ``scipy.special.logsumexp`` (the value of a potential on a zero-weight bin), and the
inner product of the plan with ``M`` (the value of ``sinkhorn2``).

Also the finiteness proof of the validation (one product ``M @ 1``): NaN and infinite costs
are still rejected, huge finite costs whose row sums overflow still accepted.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp
from scipy.special import logsumexp

import otkit as ot
from otkit.bregman._sinkhorn import _finite_by_product

RNG = np.random.default_rng(5)
N, K = 12, 9
C = ot.dist(RNG.normal(size=(N, 2)), RNG.normal(size=(K, 2)))
C /= C.max()
A = RNG.random(N)
A[[0, 4, 5]] = 0.0  # zero weights at the start, inside, adjacent
A /= A.sum()
B = RNG.random(K)
B[[3, 8]] = 0.0  # ... and at the end
B /= B.sum()
B2 = np.stack([B, np.roll(B, 2), np.full(K, 1.0 / K)], axis=1)  # zeros in some columns only
REG = 0.1
METHODS = ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "sinkhorn_epsilon_scaling",
           "greenkhorn")  # fmt: skip
OPTIONS = {"stopThr": 1e-10, "numItermax": 5000}


def _c_transform_oracle(f, g, a, b, M, reg):
    """(f on zero rows, g on zero cols): -reg log sum_support w exp((other - M) / reg)."""
    rows, cols = a > 0, b > 0
    f_zero = -reg * logsumexp((g[cols][None, :] - M[:, cols]) / reg, b=b[cols], axis=1)
    g_zero = -reg * logsumexp((f[rows][:, None] - M[rows, :]) / reg, b=a[rows][:, None], axis=0)
    return f_zero[~rows], g_zero[~cols]


@pytest.mark.parametrize("method", METHODS)
def test_no_log_and_log_give_finite_outputs_and_the_same_plan(xp, method):
    a, b, M = (to_xp(xp, x) for x in (A, B, C))
    plan = ot.sinkhorn(a, b, M, REG, method=method, **OPTIONS)
    plan_log, log = ot.sinkhorn(a, b, M, REG, method=method, log=True, **OPTIONS)
    assert_same_backend(plan, M)
    plan_np, plan_log_np = to_np(plan), to_np(plan_log)
    assert np.all(np.isfinite(plan_np))
    on_numpy = isinstance(a, np.ndarray)
    if on_numpy:  # one engine, the same operations
        np.testing.assert_array_equal(plan_np, plan_log_np)
    else:
        np.testing.assert_allclose(plan_np, plan_log_np, rtol=1e-12, atol=1e-15)
    # the plan is zero on the rows and columns of zero weight, and has the marginals
    assert np.all(plan_np[A == 0] == 0) and np.all(plan_np[:, B == 0] == 0)
    np.testing.assert_allclose(plan_np.sum(axis=1), A, atol=1e-9)
    f, g = to_np(log["f"]), to_np(log["g"])
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
    for key in ("cost", "reg_value", "marginal_error"):
        assert np.all(np.isfinite(to_np(log[key]))), key
    # eps log u = f + eps log a: -inf exactly on the rows of zero weight (as documented)
    alpha, beta = to_np(log["alpha"]), to_np(log["beta"])
    assert np.array_equal(np.isfinite(alpha), A > 0) and np.array_equal(np.isfinite(beta), B > 0)
    # zero-weight bins: the c-transform of the returned other potential over the support;
    # NumPy computes it from the final potentials (rounding), while greenkhorn and the
    # log-domain loop of the other backends update them with the iterates, which move by
    # O(eps x marginal error) per step at the stop (stopThr = 1e-10, eps = 0.1)
    f_zero, g_zero = _c_transform_oracle(f, g, A, B, C, REG)
    exact = on_numpy and method != "greenkhorn"
    atol = 1e-12 if exact else 1e-7
    np.testing.assert_allclose(f[A == 0], f_zero, rtol=0, atol=atol)
    np.testing.assert_allclose(g[B == 0], g_zero, rtol=0, atol=atol)
    value = ot.sinkhorn2(a, b, M, REG, method=method, **OPTIONS)
    value_log, log2 = ot.sinkhorn2(a, b, M, REG, method=method, log=True, **OPTIONS)
    assert float(value) == float(value_log)
    np.testing.assert_allclose(float(value), np.sum(plan_np * C), rtol=1e-12)
    assert np.all(np.isfinite(to_np(log2["f"]))) and np.all(np.isfinite(to_np(log2["g"])))


@pytest.mark.parametrize("method", METHODS)
def test_two_dimensional_b_gives_finite_outputs(method):
    costs = ot.sinkhorn(A, B2, C, REG, method=method, **OPTIONS)
    plans = ot.sinkhorn(A, B2, C, REG, method=method, return_plans=True, **OPTIONS)
    values, log = ot.sinkhorn2(A, B2, C, REG, method=method, log=True, **OPTIONS)
    assert np.all(np.isfinite(plans)) and costs.shape == (3,)
    np.testing.assert_allclose(costs, np.einsum("ij,ijk->k", C, plans), rtol=1e-12)
    np.testing.assert_allclose(values, costs, rtol=1e-12)
    assert np.all(np.isfinite(log["f"])) and np.all(np.isfinite(log["g"]))
    for column in range(3):  # each column is the 1-D problem
        single = ot.sinkhorn(A, B2[:, column], C, REG, method=method, **OPTIONS)
        np.testing.assert_allclose(plans[:, :, column], single, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("options", [{"verbose": True}, {"acceleration": "overrelax"}])
def test_the_reporting_and_relaxed_engines_give_finite_outputs(options, capsys):
    # these run the positive-weight engine on the support (_host_on_support), not the plain
    # loop: their potentials on zero-weight bins are left out without log too
    plan = ot.sinkhorn(A, B, C, REG, **options, **OPTIONS)
    plan_log, log = ot.sinkhorn(A, B, C, REG, log=True, **options, **OPTIONS)
    np.testing.assert_array_equal(plan, plan_log)
    assert np.all(np.isfinite(plan)) and np.all(np.isfinite(log["f"]))
    assert np.all(np.isfinite(log["g"]))
    expected = ot.sinkhorn(A, B, C, REG, **OPTIONS)
    np.testing.assert_allclose(plan, expected, rtol=1e-7, atol=1e-12)
    value = ot.sinkhorn2(A, B, C, REG, **options, **OPTIONS)
    np.testing.assert_allclose(value, np.sum(plan * C), rtol=1e-12)
    capsys.readouterr()


@pytest.mark.parametrize("method", METHODS)
def test_a_warm_start_from_a_log_stays_finite(method):
    options = {"stopThr": 1e-6, "numItermax": 5000}
    _, log = ot.sinkhorn(A, B, C, REG, method=method, log=True, **options)
    plan, warm = ot.sinkhorn(
        A, B, C, REG, method=method, warmstart=log["warmstart"], log=True, **OPTIONS
    )
    cold = ot.sinkhorn(A, B, C, REG, method=method, **OPTIONS)
    assert np.all(np.isfinite(plan)) and np.all(np.isfinite(warm["f"]))
    np.testing.assert_allclose(plan, cold, rtol=1e-6, atol=1e-12)
    value = ot.sinkhorn2(A, B, C, REG, method=method, warmstart=log["warmstart"], **OPTIONS)
    np.testing.assert_allclose(value, np.sum(cold * C), rtol=1e-8)


def test_epsilon_scaling_stages_read_no_uncomputed_potential():
    # intermediate stages leave the zero-weight bins uncomputed; a small reg makes several
    # stages, each started from the previous one's f
    reg = 2e-3
    plan = ot.sinkhorn(A, B, C, reg, method="sinkhorn_epsilon_scaling", **OPTIONS)
    plan_log, log = ot.sinkhorn(A, B, C, reg, method="sinkhorn_epsilon_scaling", log=True,
                                **OPTIONS)  # fmt: skip
    expected = ot.sinkhorn(A, B, C, reg, **OPTIONS)
    np.testing.assert_array_equal(plan, plan_log)
    np.testing.assert_allclose(plan, expected, rtol=1e-6, atol=1e-12)
    f_zero, g_zero = _c_transform_oracle(log["f"], log["g"], A, B, C, reg)
    np.testing.assert_allclose(log["f"][A == 0], f_zero, rtol=0, atol=1e-12)
    np.testing.assert_allclose(log["g"][B == 0], g_zero, rtol=0, atol=1e-12)


def test_solve_returns_finite_potentials_on_zero_weight_bins():
    result = ot.solve(C, A, B, reg=REG)
    f, g = result.potentials
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
    assert np.all(np.isfinite(result.plan)) and np.isfinite(result.value)
    np.testing.assert_allclose(result.plan, ot.sinkhorn(A, B, C, REG), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "bad", [[np.nan], [np.inf], [-np.inf], [np.inf, -np.inf]], ids=["nan", "inf", "-inf", "both"]
)
def test_non_finite_costs_are_rejected(dtype, bad):
    M = C.astype(dtype)
    M[2, : len(bad)] = bad  # +inf and -inf in one row: their sum is NaN, not inf
    assert not _finite_by_product(M)
    with pytest.raises(ValueError, match=rf"M contains {len(bad)} NaN or infinite"):
        ot.sinkhorn(A.astype(dtype), B.astype(dtype), M, REG)
    with pytest.raises(ValueError, match="M contains"):
        ot.sinkhorn2(A, B, C.astype(dtype) * np.where(np.arange(K) == 1, np.nan, 1.0), REG)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_finite_costs_whose_sums_overflow_are_accepted(dtype):
    big = np.finfo(dtype).max / 4
    M = (C * big).astype(dtype)  # entries up to max / 4: row sums of 9 of them overflow
    with np.errstate(over="ignore"):
        assert not np.all(np.isfinite(M.sum(axis=1)))
    assert not _finite_by_product(M)  # the proof fails ...
    a, b = A.astype(dtype), B.astype(dtype)
    plan = ot.sinkhorn(a, b, M, float(big) * REG)  # ... and the full check passes
    assert plan.dtype == dtype and np.all(np.isfinite(plan))
    expected = ot.sinkhorn(a, b, C.astype(dtype), REG)
    np.testing.assert_allclose(plan, expected, rtol=1e-3 if dtype == np.float32 else 1e-7,
                               atol=1e-6 if dtype == np.float32 else 1e-12)  # fmt: skip


def test_finite_costs_pass_the_product_proof():
    assert _finite_by_product(C) and _finite_by_product(C.astype(np.float32))
    assert _finite_by_product(np.asfortranarray(C)) and _finite_by_product(C[:, ::2])
    assert not _finite_by_product(C.astype(np.int64))  # other dtypes: the full check


def test_meta_histograms_with_sums_that_overflow_are_not_called_negative():
    pytest.importorskip("torch")
    x = np.linspace(0.0, 1.0, 4)[:, None]
    M = ot.dist(x, x)
    H = np.random.default_rng(0).dirichlet(np.ones(4), size=8)
    init = ot.MetaInitializer(M, 0.1, hidden_sizes=(4,), framework="torch").fit(H, H, n_iter=1)
    huge = np.full(4, np.finfo(np.float64).max / 2)
    with pytest.raises(ValueError, match="a must be histograms summing to 1"):
        init.predict(huge, H[0])
    with pytest.raises(ValueError, match="b has negative entries"):
        init.predict(H[0], H[1] - 0.5)
    with pytest.raises(ValueError, match="a contains 1 NaN or infinite"):
        init.predict(np.array([np.inf, 0.0, 0.0, 0.0]), H[0])
