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


# --- torch sparse costs -------------------------------------------------------------------


def _torch_cost(torch, Ms, layout="coo", requires_grad=False):
    coo = Ms.tocoo()
    M = torch.sparse_coo_tensor(
        torch.tensor(np.stack([coo.row, coo.col]), dtype=torch.int64),
        torch.tensor(coo.data),
        size=coo.shape,
        check_invariants=True,
    ).coalesce()
    if layout == "csr":
        M = M.to_sparse_csr()
    return M.requires_grad_(requires_grad)


def test_torch_sparse_layouts_are_recognized_without_importing():
    torch = pytest.importorskip("torch")
    _, _, Ms, M, _ = _problem(20)
    assert is_sparse_cost(_torch_cost(torch, Ms)) and is_sparse_cost(_torch_cost(torch, Ms, "csr"))
    assert not is_sparse_cost(torch.tensor(M)) and not is_sparse_cost(M)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_torch_sparse_equals_scipy_path(layout):
    torch = pytest.importorskip("torch")
    a, b, Ms, _, _ = _problem(21)
    want, want_log = ot.emd2(a, b, Ms, log=True, return_matrix=True)
    Mt = _torch_cost(torch, Ms, layout)
    cost, log = ot.emd2(torch.tensor(a), torch.tensor(b), Mt, log=True, return_matrix=True)
    assert isinstance(cost, torch.Tensor) and cost.dtype == torch.float64
    np.testing.assert_allclose(cost.item(), want, rtol=RTOL)
    G = ot.emd(torch.tensor(a), torch.tensor(b), Mt)
    for plan in (G, log["G"]):
        assert plan.layout == torch.sparse_coo
        np.testing.assert_allclose(plan.to_dense().numpy(), want_log["G"].toarray(), atol=1e-15)
    for key in ("u", "v"):
        np.testing.assert_allclose(log[key].numpy(), want_log[key], rtol=RTOL, atol=1e-12)
    assert log["result_code"] == 1 and log["warning"] is None


def test_torch_sparse_gradients_are_plan_and_centred_duals():
    torch = pytest.importorskip("torch")
    a, b, Ms, _, _ = _problem(22)
    _, ref = ot.emd2(a, b, Ms, log=True, return_matrix=True)
    Mt = _torch_cost(torch, Ms, requires_grad=True)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ot.emd2(at, bt, Mt).backward()
    assert Mt.grad.layout == torch.sparse_coo
    np.testing.assert_allclose(Mt.grad.to_dense().numpy(), ref["G"].toarray(), atol=1e-15)
    np.testing.assert_allclose(at.grad.numpy(), ref["u"] - ref["u"].mean(), atol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), ref["v"] - ref["v"].mean(), atol=1e-12)


def test_torch_sparse_cost_gradient_matches_finite_differences():
    # the LP value is linear in the stored costs on the optimal basis: steps of 1e-7 keep it
    torch = pytest.importorskip("torch")
    a, b, Ms, _, _ = _problem(23)
    coo = Ms.tocoo()
    Mt = _torch_cost(torch, Ms, requires_grad=True)
    ot.emd2(a, b, Mt).backward()
    grad = Mt.grad.coalesce().values().numpy()
    order = np.lexsort((coo.col, coo.row))  # the coalesced (row-major) order
    rng = np.random.default_rng(0)
    for k in rng.choice(coo.nnz, size=5, replace=False):
        step = np.zeros(coo.nnz)
        step[order[k]] = 1e-7
        moved = sp.coo_array((coo.data + step, (coo.row, coo.col)), shape=coo.shape)
        fd = (ot.emd2(a, b, moved) - ot.emd2(a, b, Ms)) / 1e-7
        np.testing.assert_allclose(grad[k], fd, atol=1e-7)


def test_torch_sparse_float32_and_uniform_weights():
    torch = pytest.importorskip("torch")
    _, _, Ms, _, _ = _problem(24)
    n, m = Ms.shape
    Mt = _torch_cost(torch, Ms).to(torch.float32)
    cost = ot.emd2([], [], Mt)
    assert cost.dtype == torch.float32
    np.testing.assert_allclose(cost.item(), ot.emd2(np.full(n, 1 / n), np.full(m, 1 / m), Ms),
                               rtol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="a.shape"):
        ot.emd2(torch.ones(n + 1) / (n + 1), torch.ones(m) / m, Mt)
