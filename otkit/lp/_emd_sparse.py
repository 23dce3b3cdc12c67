r"""Exact OT restricted to the stored entries of a sparse cost matrix (``emd``/``emd2`` with a
``scipy.sparse`` ``M``, as POT 0.9.7).

A sparse ``M`` lists the allowed arcs: the problem is

.. math::
    \min_{\gamma \ge 0} \sum_{(i, j) \in E} \gamma_{ij} M_{ij}
    \quad\text{s.t.}\quad \gamma \mathbf{1} = a,\; \gamma^\top \mathbf{1} = b,\;
    \gamma_{ij} = 0 \text{ off } E,

with E the stored entries (explicit zeros included: an arc of cost 0; duplicates summed, as
scipy does).  The plan comes back as a ``scipy.sparse.coo_array``; the duals are feasible on E
only (:math:`M_{ij} - u_i - v_j \ge 0` for :math:`(i, j) \in E`).  A problem that E cannot
carry (a positive row without arcs, say) is infeasible: result code 0, a warning, cost 0 and
zero duals, as POT.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from .._validation import check_equal_mass, check_finite, check_nonnegative_weights, mass_tolerance
from ._emd import RESULT_MESSAGES
from ._sparse_simplex import INFEASIBLE, OPTIMAL, SparseNetworkSimplex

__all__ = ["emd2_sparse", "emd_sparse", "is_sparse_cost"]


def is_sparse_cost(M) -> bool:
    """True for a ``scipy.sparse`` matrix or array (the inputs :func:`emd_sparse` takes)."""
    # by the type's module, so that this check does not import scipy
    return type(M).__module__.startswith("scipy.sparse") and sp.issparse(M)


def _solve(a, b, M, num_iter_max, check_marginals, center_dual, potentials_init):
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
        warnings.warn(message, UserWarning, stacklevel=4)
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
    M : (n, m) scipy.sparse matrix or array
        Costs of the allowed arcs (any sparse format; explicit zeros are arcs of cost 0).
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
    gamma : scipy.sparse.coo_array, shape (n, m)
        The optimal plan's positive entries (at most n + m - 1).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> M = sp.coo_array(([0.0, 1.0, 1.0], ([0, 0, 1], [0, 1, 0])), shape=(2, 2))
    >>> emd_sparse([0.5, 0.5], [0.5, 0.5], M).toarray()
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
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
    cost : float
        :math:`\sum_{(i,j) \in E} \gamma_{ij} M_{ij}` (0 when infeasible, as POT); with
        ``log`` or ``return_matrix`` the list ``[cost, log]``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> M = sp.coo_array(([0.0, 1.0, 1.0], ([0, 0, 1], [0, 1, 0])), shape=(2, 2))
    >>> float(emd2_sparse([0.5, 0.5], [0.5, 0.5], M))
    1.0
    """
    G, cost, log_dict = _solve(a, b, M, numItermax, check_marginals, center_dual, potentials_init)
    if return_matrix:
        log_dict["G"] = G
    if log or return_matrix:
        return [np.float64(cost), log_dict]
    return np.float64(cost)
