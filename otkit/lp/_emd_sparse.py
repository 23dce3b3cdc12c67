r"""Exact OT restricted to the stored entries of a sparse cost matrix (``emd``/``emd2`` with a
``scipy.sparse`` ``M`` or a torch sparse COO/CSR tensor, as POT 0.9.7).

A sparse ``M`` lists the allowed arcs: the problem is

.. math::
    \min_{\gamma \ge 0} \sum_{(i, j) \in E} \gamma_{ij} M_{ij}
    \quad\text{s.t.}\quad \gamma \mathbf{1} = a,\; \gamma^\top \mathbf{1} = b,\;
    \gamma_{ij} = 0 \text{ off } E,

with E the stored entries (explicit zeros included: an arc of cost 0; duplicates summed, as
scipy and torch's ``coalesce`` do).  The plan comes back as a ``scipy.sparse.coo_array`` (a
coalesced torch sparse COO tensor of the positive entries for a torch ``M``; the cost is then
differentiable: w.r.t. the stored values of M the plan there, w.r.t. a and b the centred duals
:math:`u - \bar u`, :math:`v - \bar v`); the duals are feasible on E
only (:math:`M_{ij} - u_i - v_j \ge 0` for :math:`(i, j) \in E`).  A problem that E cannot
carry (a positive row without arcs, say) is infeasible: result code 0, a warning, cost 0 and
zero duals, as POT.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import scipy.sparse as sp

from .._boundary import as_backend
from .._validation import check_equal_mass, check_finite, check_nonnegative_weights, mass_tolerance
from ..backend import call_host, device_of, get_namespace, stop_gradient, to_numpy
from ._emd import RESULT_MESSAGES, _is_sparse_cost
from ._sparse_simplex import INFEASIBLE, OPTIMAL, SparseNetworkSimplex

__all__ = ["emd2_sparse", "emd_sparse", "is_sparse_cost", "torch_sparse_coo"]


def torch_sparse_coo(values, rows, cols, shape, like):
    """A coalesced torch sparse COO tensor ``plan[rows[k], cols[k]] = values[k]`` on the
    device of ``like`` (a torch tensor, so torch is already imported)."""
    torch = sys.modules["torch"]
    indices = torch.stack([torch.as_tensor(rows), torch.as_tensor(cols)]).to(
        device=like.device, dtype=torch.int64
    )
    values = torch.as_tensor(values).to(device=like.device, dtype=like.dtype)
    return torch.sparse_coo_tensor(
        indices, values, size=tuple(shape), check_invariants=True
    ).coalesce()


def is_sparse_cost(M) -> bool:
    """True for a ``scipy.sparse`` matrix or array, or a torch tensor of sparse COO or CSR
    layout (the inputs :func:`emd_sparse` takes); imports neither scipy nor torch."""
    return _is_sparse_cost(M)


def _is_torch(M) -> bool:
    return type(M).__module__.startswith("torch")


def _torch_solve(a, b, M, num_iter_max, check_marginals, center_dual, potentials_init):
    """The restricted LP for a torch sparse ``M``: (cost, plan, log) in torch, the cost
    differentiable w.r.t. the stored values of M (the plan there) and a, b (centred duals)."""
    if potentials_init is not None:
        raise ValueError("potentials_init is not supported with a sparse M")
    coo = (M if str(M.layout) == "torch.sparse_coo" else M.to_sparse_coo()).coalesce()
    values, indices = coo.values(), coo.indices()
    rows, cols = (to_numpy(indices[k], dtype=np.int64) for k in (0, 1))
    n, m = (int(x) for x in coo.shape)
    if n == 0 or m == 0:
        raise ValueError(f"M is empty (shape {(n, m)}); nothing to transport")
    xp = get_namespace(M=values)
    dtype = values.dtype if xp.isdtype(values.dtype, "real floating") else xp.float64
    device = device_of(values)
    values = xp.astype(values, dtype)
    a, b = (
        _torch_weights(w, size, name, against, xp, dtype, device)
        for w, size, name, against in ((a, n, "a", "M.shape[0]"), (b, m, "b", "M.shape[1]"))
    )
    keys = rows * m + cols  # sorted: coalesced indices are in row-major order

    def host_fn(costs, a_np, b_np):
        matrix = sp.coo_array((costs, (rows, cols)), shape=(n, m))
        G, cost, log = _solve(a_np, b_np, matrix, num_iter_max, check_marginals, center_dual,
                              None, stacklevel=7)  # fmt: skip
        flows = np.zeros(costs.size)
        flows[np.searchsorted(keys, G.row.astype(np.int64) * m + G.col)] = G.data
        u, v = log["u"], log["v"]
        info = np.array([log["result_code"], log["n_iter"]], dtype=np.int64)
        return cost, (flows, u - u.mean(), v - v.mean()), (flows, u, v, info)

    specs = (((values.shape[0],), "float"), ((n,), "float"), ((m,), "float"), ((2,), "int"))
    cost, (flows, u, v, info) = call_host(host_fn, (values, a, b), xp, dtype, device, specs)
    keep = flows > 0
    plan = torch_sparse_coo(flows[keep], indices[0][keep], indices[1][keep], (n, m), like=flows)
    code, n_iter = (int(x) for x in to_numpy(info, dtype=np.int64))
    log = {
        "cost": stop_gradient(cost, xp),
        "u": u,
        "v": v,
        "warning": RESULT_MESSAGES.get(code),
        "result_code": code,
        "n_iter": n_iter,
    }
    return cost, plan, log


def _torch_weights(w, size, name, against, xp, dtype, device):
    if w is None or (hasattr(w, "__len__") and len(w) == 0):
        return xp.full((size,), 1.0 / size, dtype=dtype, device=device)
    w = as_backend(w, xp, dtype, device)
    if tuple(w.shape) != (size,):
        raise ValueError(f"{name}.shape == {tuple(w.shape)}, expected ({size},) to match {against}")
    return w


def _solve(a, b, M, num_iter_max, check_marginals, center_dual, potentials_init, stacklevel=4):
    if potentials_init is not None:
        raise ValueError("potentials_init is not supported with a sparse M")
    coo = M.tocoo(copy=True)
    coo.sum_duplicates()
    n, m = coo.shape
    if n == 0 or m == 0:
        raise ValueError(f"M is empty (shape {coo.shape}); nothing to transport")
    a = _weights(a, n, "a", "M.shape[0]")
    b = _weights(b, m, "b", "M.shape[1]")
    costs = np.asarray(coo.data, dtype=np.float64)
    check_finite(costs, "M")
    check_nonnegative_weights(a, "a")
    check_nonnegative_weights(b, "b")
    if check_marginals:
        check_equal_mass(a, b, mass_tolerance(np.float64, max(n, m)))
    b = b * (a.sum() / b.sum())
    solver = SparseNetworkSimplex(a, b)
    solver.add_arcs(coo.row, coo.col, costs)
    status = solver.solve(num_iter_max) if costs.size else INFEASIBLE
    if status == INFEASIBLE:
        rows = cols = np.empty(0, np.int64)
        flows, u, v, cost = np.empty(0), np.zeros(n), np.zeros(m), 0.0
    else:
        rows, cols, flows = solver.plan()
        u, v = solver.duals()
        keys = coo.row.astype(np.int64) * m + coo.col
        order = np.argsort(keys)
        where = order[np.searchsorted(keys[order], rows * m + cols)]
        cost = float(flows @ costs[where])
        if center_dual:
            shift = (b @ v - a @ u) / (a.sum() + b.sum())
            u, v = u + shift, v - shift
    message = RESULT_MESSAGES.get(int(status))
    if status != OPTIMAL:
        warnings.warn(message, UserWarning, stacklevel=stacklevel)
    G = sp.coo_array((flows, (rows, cols)), shape=(n, m))
    log = {
        "cost": cost,
        "u": u,
        "v": v,
        "warning": message,
        "result_code": int(status),
        "n_iter": int(solver.n_pivots),
    }
    return G, cost, log


def _weights(w, size, name, against):
    if w is None or (hasattr(w, "__len__") and len(w) == 0):
        return np.full(size, 1.0 / size)
    if not isinstance(w, (np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a NumPy array or a list with a scipy.sparse M")
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (size,):
        raise ValueError(f"{name}.shape == {w.shape}, expected ({size},) to match {against}")
    return w


def emd_sparse(
    a,
    b,
    M,
    numItermax=100000,
    log=False,
    center_dual=True,
    check_marginals=True,
    potentials_init=None,
):
    r"""Optimal plan of the transport problem restricted to the stored entries of a sparse M.

    Parameters
    ----------
    a : (n,) array or list
        Source weights (empty means uniform).
    b : (m,) array or list
        Target weights, same mass (empty means uniform).
    M : (n, m) scipy.sparse matrix or array, or torch sparse COO/CSR tensor
        Costs of the allowed arcs (any sparse format; explicit zeros are arcs of cost 0).
        With a torch ``M``, ``a`` and ``b`` may be torch tensors and the results are torch.
    numItermax : int, default=100000
        Maximum number of pivots.
    log : bool, default=False
        Also return a dict: ``cost``, ``u``, ``v`` (feasible on the stored arcs), ``warning``,
        ``result_code`` (1 optimal, 0 infeasible on these arcs, 3 numItermax reached),
        ``n_iter``.
    center_dual, check_marginals : bool, default=True
        As :func:`otkit.emd`.
    potentials_init : None
        Warm starts are not supported with a sparse M (a ``ValueError``).

    Returns
    -------
    gamma : scipy.sparse.coo_array or torch sparse COO tensor, shape (n, m)
        The optimal plan's positive entries (at most n + m - 1).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> M = sp.coo_array(([0.0, 1.0, 1.0], ([0, 0, 1], [0, 1, 0])), shape=(2, 2))
    >>> emd_sparse([0.5, 0.5], [0.5, 0.5], M).toarray()
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    if _is_torch(M):
        _, G, log_dict = _torch_solve(a, b, M, numItermax, check_marginals, center_dual,
                                      potentials_init)  # fmt: skip
        return (G, log_dict) if log else G
    G, _, log_dict = _solve(a, b, M, numItermax, check_marginals, center_dual, potentials_init)
    return (G, log_dict) if log else G


def emd2_sparse(
    a,
    b,
    M,
    numItermax=100000,
    log=False,
    return_matrix=False,
    center_dual=True,
    check_marginals=True,
    potentials_init=None,
):
    r"""Optimal cost of the transport problem restricted to the stored entries of a sparse M.

    Parameters and log as :func:`emd_sparse`; ``return_matrix`` puts the plan in the log under
    ``"G"``.

    Returns
    -------
    cost : float or 0-d torch tensor
        :math:`\sum_{(i,j) \in E} \gamma_{ij} M_{ij}` (0 when infeasible, as POT); a torch
        ``M`` gives a differentiable tensor (gradients in the module's docstring); with
        ``log`` or ``return_matrix`` the list ``[cost, log]``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> M = sp.coo_array(([0.0, 1.0, 1.0], ([0, 0, 1], [0, 1, 0])), shape=(2, 2))
    >>> float(emd2_sparse([0.5, 0.5], [0.5, 0.5], M))
    1.0
    """
    if _is_torch(M):
        cost, G, log_dict = _torch_solve(a, b, M, numItermax, check_marginals, center_dual,
                                         potentials_init)  # fmt: skip
        if return_matrix:
            log_dict["G"] = G
        return [cost, log_dict] if log or return_matrix else cost
    G, cost, log_dict = _solve(a, b, M, numItermax, check_marginals, center_dual, potentials_init)
    if return_matrix:
        log_dict["G"] = G
    if log or return_matrix:
        return [np.float64(cost), log_dict]
    return np.float64(cost)
