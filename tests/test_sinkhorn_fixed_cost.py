"""The per-call work of the NumPy Sinkhorn path: the support kernel built from ``C`` by blocks,
the scattered plan, the potentials on zero-weight bins only when read, and the row-only start
of initializers.

Oracles: the unblocked kernel of ``_normalized_kernel`` on the restricted cost matrix (the
same operations entry by entry; the slice sums are accumulated by blocks, hence a rounding
tolerance), the dense ``diag(u) K diag(v)`` padded with zeros (bit for bit: the same products
in the same order), ``stabilized_sinkhorn`` on the restricted problem, the log-domain
c-transform of the other potential on the zero-weight bins, and the potentials of a solve
from the initializer's full ``(f, g)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot
from otkit.bregman import _sinkhorn_numpy as engine
from otkit.bregman._initializers import initial_potentials
from otkit.bregman._sinkhorn_numpy import (
    _limits,
    _normalized_kernel,
    log_c_transform,
    scaling_on_support,
    scattered_plan,
    stabilized_sinkhorn,
    support_kernel,
)

RNG = np.random.default_rng(11)
N, K = 40, 30
C = ot.dist(RNG.normal(size=(N, 2)), RNG.normal(size=(K, 2)) + 0.5)
A = RNG.random(N)
A[RNG.random(N) < 0.3] = 0.0
A /= A.sum()
B = RNG.random(K)
B[RNG.random(K) < 0.3] = 0.0
B /= B.sum()
ROWS, COLS = np.flatnonzero(A > 0), np.flatnonzero(B > 0)
BOUND, FLOOR = _limits(np.dtype(np.float64), np)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 2 rows: every build and scatter runs over many blocks."""
    monkeypatch.setattr(engine, "_BLOCK_ENTRIES", 2 * max(N, K))


def _restricted(rows, cols):
    rows = np.arange(N) if rows is None else rows
    cols = np.arange(K) if cols is None else cols
    return np.ascontiguousarray(C[np.ix_(rows, cols)]), rows, cols


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("support", ["both", "rows", "none"])
def test_support_kernel_is_the_normalized_kernel_of_the_restriction(small_blocks, axis, support):
    rows = None if support == "none" else ROWS
    cols = COLS if support == "both" else None
    C_sub, r, c = _restricted(rows, cols)
    eps = 0.05
    if axis == 0:  # columns normalized to b, the potential on the rows
        potential, weights, other = RNG.normal(size=r.size), B[c] + 0.1, np.log(A[r] + 0.1)
    else:
        potential, weights, other = RNG.normal(size=c.size), A[r] + 0.1, np.log(B[c] + 0.1)
    expected, expected_potential = _normalized_kernel(
        C_sub, potential, weights, other, eps, axis, FLOOR, np
    )
    kernel, other_potential, ratio = support_kernel(
        C, rows, cols, potential, weights, other, eps, axis, FLOOR, False
    )
    assert ratio is None
    np.testing.assert_allclose(kernel, expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(other_potential, expected_potential, rtol=1e-13, atol=1e-15)
    # the slices sum to the weights: the kernel is the exact half step's plan
    np.testing.assert_allclose(kernel.sum(axis=axis), weights, rtol=1e-13)


def test_folded_column_ratio_gives_the_same_plan_and_potential(small_blocks):
    C_sub, r, c = _restricted(ROWS, COLS)
    f, weights, log_a = RNG.normal(size=r.size), B[c], np.log(A[r])
    expected, g_expected = _normalized_kernel(C_sub, f, weights, log_a, 0.05, 0, FLOOR, np)
    kernel, g, ratio = support_kernel(C, ROWS, COLS, f, weights, log_a, 0.05, 0, FLOOR, True)
    assert ratio is not None
    np.testing.assert_allclose(kernel * ratio, expected, rtol=1e-13, atol=0)
    # the loop's potential is g + eps log v with the scaling v = ratio
    np.testing.assert_allclose(g + 0.05 * np.log(ratio), g_expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("support", ["both", "rows", "cols", "none"])
def test_scattered_plan_pads_the_product_with_zeros(small_blocks, support):
    rows = ROWS if support in ("both", "rows") else None
    cols = COLS if support in ("both", "cols") else None
    _, r, c = _restricted(rows, cols)
    kernel = RNG.random((r.size, c.size))
    u, v = RNG.random(r.size) + 0.5, RNG.random(c.size) + 0.5
    expected = np.zeros((N, K))
    expected[np.ix_(r, c)] = kernel * u[:, None] * v[None, :]
    plan = scattered_plan(kernel.copy(), u, v, rows, cols, (N, K))
    assert plan.shape == (N, K) and plan.flags.c_contiguous
    np.testing.assert_array_equal(plan, expected)


@pytest.mark.parametrize("reg", [0.05, 2e-3])
def test_scaling_on_support_equals_the_loop_on_the_restricted_problem(small_blocks, reg):
    C_sub = np.ascontiguousarray(C[np.ix_(ROWS, COLS)])
    f0 = RNG.normal(size=N) * 0.1
    plan_sub, f_sub, g_sub, n_iter_sub, trace_sub, n_rebuilds = stabilized_sinkhorn(
        A[ROWS], B[COLS], C_sub, reg, f0[ROWS], 3000, 1e-10
    )
    if reg < 0.01:  # the case must exercise the rebuilds (made by blocks, from C)
        assert n_rebuilds > 1
    plan, f, g, n_iter, trace = scaling_on_support(A, B, C, reg, f0, 3000, 1e-10)
    assert n_iter == n_iter_sub
    # The kernels differ by rounding (block sums; the first column scaling kept apart), and
    # Sinkhorn, a contraction, keeps the iterates a few ulps apart (2e-15 measured on the
    # plan): 1e-12. An error near tol = 1e-10 is a difference of O(1) marginals: its
    # absolute rounding (~1e-16) is ~1e-6 of it (2e-7 measured).
    np.testing.assert_allclose(trace, trace_sub, rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(plan[np.ix_(ROWS, COLS)], plan_sub, rtol=1e-12, atol=1e-17)
    zero = np.ones((N, K), dtype=bool)
    zero[np.ix_(ROWS, COLS)] = False
    assert np.all(plan[zero] == 0.0)
    np.testing.assert_allclose(f[ROWS], f_sub, rtol=0, atol=1e-12 * reg)
    np.testing.assert_allclose(g[COLS], g_sub, rtol=0, atol=1e-12 * reg)
    # zero-weight bins: the c-transform of the other potential over the support
    zero_rows, zero_cols = np.flatnonzero(A == 0), np.flatnonzero(B == 0)
    g_zero = log_c_transform(C[np.ix_(ROWS, zero_cols)], f[ROWS], np.log(A[ROWS]), reg, 0)
    f_zero = log_c_transform(C[np.ix_(zero_rows, COLS)], g[COLS], np.log(B[COLS]), reg, 1)
    np.testing.assert_allclose(g[zero_cols], g_zero, rtol=1e-12)
    np.testing.assert_allclose(f[zero_rows], f_zero, rtol=1e-12)
    _, f_lazy, g_lazy, _, _ = scaling_on_support(A, B, C, reg, f0, 3000, 1e-10, complete=False)
    assert np.all(np.isnan(f_lazy[zero_rows])) and np.all(np.isnan(g_lazy[zero_cols]))
    np.testing.assert_array_equal(f_lazy[ROWS], f[ROWS])


@pytest.mark.parametrize("method", ["sinkhorn", "sinkhorn_epsilon_scaling"])
def test_the_plan_without_log_is_the_plan_with_log(method):
    # without log, the potentials on zero-weight bins are never computed (NaN inside): the
    # plan and the value must not see them
    plan = ot.sinkhorn(A, B, C, 0.05, method=method)
    plan_log, log = ot.sinkhorn(A, B, C, 0.05, method=method, log=True)
    np.testing.assert_array_equal(plan, plan_log)
    assert np.all(np.isfinite(log["f"])) and np.all(np.isfinite(log["g"]))
    value = ot.sinkhorn2(A, B, C, 0.05, method=method)
    np.testing.assert_allclose(value, np.sum(plan * C), rtol=1e-14)


class _Spy:
    """An initializer with both methods, recording which one the solver called."""

    def __init__(self):
        self.calls = []

    def init_potentials(self, a, b, M, reg):
        self.calls.append("both")
        return np.full(np.shape(M)[0], 0.3), np.full(np.shape(M)[1], -0.3)

    def init_row_potentials(self, a, b, M, reg):
        self.calls.append("rows")
        return np.full(np.shape(M)[0], 0.3)


def test_sinkhorn_asks_an_initializer_for_f_alone():
    spy = _Spy()
    plan, log = ot.sinkhorn(A, B, C, 0.05, init=spy, log=True)
    assert spy.calls == ["rows"]
    expected, expected_log = ot.sinkhorn(
        A, B, C, 0.05, warmstart=(np.full(N, 0.3), np.full(K, -0.3)),
        warmstart_type="potentials", log=True,
    )  # fmt: skip
    np.testing.assert_array_equal(plan, expected)
    assert log["n_iter"] == expected_log["n_iter"]
    # solve() reads both potentials (the exact solver uses g): it asks for both
    assert initial_potentials(spy, A, B, C, 0.05)[1][0] == -0.3 and spy.calls[-1] == "both"


def test_row_only_start_gives_zeros_for_g_in_the_namespace_of_f(xp):
    class RowsOnXp:
        def init_row_potentials(self, a, b, M, reg):
            return to_xp(xp, np.full((N, 2), 0.5))

    f, g = initial_potentials(RowsOnXp(), A, np.stack([B, B], 1), C, 0.05, rows_only=True)
    assert_same_backend(g, f)
    assert tuple(g.shape) == (K, 2)
    np.testing.assert_array_equal(to_np(g), 0.0)


def test_meta_initializer_row_start_is_its_f_and_sinkhorn_uses_it():
    pytest.importorskip("torch")
    x = np.linspace(0.0, 1.0, 6)[:, None]
    M = ot.dist(x, x)
    H = np.random.default_rng(3).dirichlet(np.ones(6), size=32)
    H[:, 0] = 0.0  # zero-weight bins, as on digit images
    H /= H.sum(axis=1, keepdims=True)
    init = ot.MetaInitializer(M, 0.1, hidden_sizes=(8,), framework="torch").fit(H, H[::-1])
    a, b = H[0], H[1]
    f, g = init.init_potentials(a, b, M, 0.1)
    np.testing.assert_array_equal(init.init_row_potentials(a, b, M, 0.1), f)
    plan, log = ot.sinkhorn(a, b, M, 0.1, init=init, log=True)
    expected, expected_log = ot.sinkhorn(
        a, b, M, 0.1, warmstart=(f, g), warmstart_type="potentials", log=True
    )
    np.testing.assert_array_equal(plan, expected)
    assert log["n_iter"] == expected_log["n_iter"]
