"""Exact OT restricted to the stored entries of a scipy.sparse cost matrix (POT 0.9.7's
sparse emd/emd2), against HiGHS on the restricted LP, the dense simplex with the missing
arcs forbidden, and POT."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import otkit as ot
from otkit.lp._emd_sparse import emd2_sparse, emd_sparse, is_sparse_cost

RTOL = 1e-10  # LP optima from exact vertices; rounding only


def _problem(seed, n=12, m=9, density=0.45):
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    mask[np.arange(n), np.arange(n) % m] = True  # every row and column has an arc
    mask[np.arange(m) % n, np.arange(m)] = True
    M = rng.random((n, m))
    a = rng.random(n) + 0.1
    a /= a.sum()
    b = np.full(m, 1.0 / m)
    rows, cols = np.nonzero(mask)
    return a, b, sp.coo_array((M[rows, cols], (rows, cols)), shape=(n, m)), M, mask


def _highs(a, b, Ms):
    coo = Ms.tocoo()
    n, m = coo.shape
    k = coo.nnz
    A = sp.csc_array(
        (np.ones(2 * k), (np.r_[coo.row, n + coo.col], np.tile(np.arange(k), 2))), shape=(n + m, k)
    )
    result = linprog(coo.data, A_eq=A, b_eq=np.r_[a, b], bounds=(0, None), method="highs-ipm")
    return result.fun, result.status


@pytest.mark.parametrize("seed", range(8))
def test_equals_highs_and_dense_with_forbidden_arcs(seed):
    a, b, Ms, M, mask = _problem(seed)
    cost, log = emd2_sparse(a, b, Ms, log=True, return_matrix=True)
    expected, status = _highs(a, b, Ms)
    if status == 2:  # the arcs cannot carry the masses
        assert log["result_code"] == 0
        return
    assert log["result_code"] == 1
    np.testing.assert_allclose(cost, expected, rtol=1e-7)  # HiGHS's IPM tolerance
    forbidden = np.where(mask, M, 1e6)
    np.testing.assert_allclose(cost, ot.emd2(a, b, forbidden), rtol=RTOL)
    G = log["G"]
    assert isinstance(G, sp.coo_array) and mask[G.row, G.col].all()
    np.testing.assert_allclose(G.toarray().sum(axis=1), a, atol=1e-13)
    reduced = M - log["u"][:, None] - log["v"][None, :]
    assert reduced[mask].min() >= -1e-9  # feasible on the stored arcs (HiGHS's accuracy)
    np.testing.assert_allclose(a @ log["u"], b @ log["v"], atol=1e-12)


def test_emd_sparse_plan_and_formats():
    a, b, Ms, M, _mask = _problem(2)
    G = emd_sparse(a, b, Ms.tocsr())
    np.testing.assert_allclose(np.sum(G.toarray() * M), emd2_sparse(a, b, Ms), rtol=RTOL)
    assert is_sparse_cost(Ms) and is_sparse_cost(Ms.tocsr()) and not is_sparse_cost(M)


def test_infeasible_arcs_warn_and_return_zero():
    Ms = sp.coo_array(([1.0], ([0], [0])), shape=(2, 2))
    with pytest.warns(UserWarning, match="infeasible"):
        cost, log = emd2_sparse([0.5, 0.5], [0.5, 0.5], Ms, log=True)
    assert cost == 0.0 and log["result_code"] == 0


def test_matches_pot():
    pot = pytest.importorskip("ot")
    a, b, Ms, _, _ = _problem(5)
    expected, pot_log = pot.emd2(a, b, Ms, log=True)
    cost, log = emd2_sparse(a, b, Ms, log=True)
    np.testing.assert_allclose(cost, expected, rtol=RTOL)
    assert pot_log["result_code"] == log["result_code"] == 1


@pytest.mark.parametrize(
    ("a", "M", "error", "match"),
    [
        ([0.5, -0.5], sp.eye(2, format="coo"), ValueError, "a"),
        ([1.0], sp.eye(2, format="coo"), ValueError, "a.shape"),
        ([0.5, 0.5], sp.coo_array(([np.nan], ([0], [0])), shape=(2, 2)), ValueError, "M"),
        ([0.9, 0.9], sp.eye(2, format="coo"), ValueError, "same total mass"),
    ],
)
def test_bad_input(a, M, error, match):
    with pytest.raises(error, match=match):
        emd2_sparse(a, [0.5, 0.5], M)


@pytest.mark.parametrize("fmt", ["coo", "csr", "csc"])
def test_public_emd_and_emd2_dispatch_sparse_costs(fmt):
    # POT's entry points take a sparse M: the same restricted LP as the direct functions
    a, b, Ms, M, mask = _problem(3)
    Mf = Ms.asformat(fmt)
    cost, log = ot.emd2(a, b, Mf, log=True)
    assert log["result_code"] == 1
    np.testing.assert_allclose(cost, emd2_sparse(a, b, Ms), rtol=RTOL)
    np.testing.assert_allclose(cost, ot.emd2(a, b, np.where(mask, M, 1e6)), rtol=RTOL)
    G = ot.emd(a, b, Mf)
    assert sp.issparse(G)
    np.testing.assert_allclose(np.sum(G.toarray() * M), cost, rtol=RTOL)
    assert mask[G.tocoo().row, G.tocoo().col].all()
