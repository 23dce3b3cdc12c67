"""Exact Wasserstein barycenter of histograms on a fixed support, as one linear program."""

from __future__ import annotations

import numpy as np

from .._validation import check_finite, check_ndim, check_nonnegative_weights, check_not_empty
from ..backend import device_of, from_numpy, get_namespace, result_float_dtype, to_numpy

__all__ = ["barycenter"]

_SOLVERS = ("highs", "highs-ipm", "highs-ds", "interior-point")


def barycenter(A, M, weights=None, verbose=False, log=False, solver="highs-ipm"):
    r"""Exact Wasserstein barycenter of histograms on a common support (linear program).

    Solves

    .. math::
        \min_{b \in \Sigma_d,\ \gamma_1, \dots, \gamma_K \ge 0}
        \sum_{k=1}^K w_k \langle \gamma_k, M \rangle
        \quad\text{s.t.}\quad \gamma_k \mathbf{1} = b,\;
        \gamma_k^\top \mathbf{1} = a_k \quad (k = 1, \dots, K)

    over the barycenter ``b`` and the K transport plans jointly, with scipy's HiGHS solver
    (Agueh & Carlier 2011). The LP has K d² + d variables: it suits d up to a few hundred.

    Parameters
    ----------
    A : (d, K) array
        The K input histograms, in columns (each non-negative, summing to 1).
    M : (d, d) array
        Ground cost between the support points.
    weights : (K,) array, optional
        Barycentric weights (non-negative, summing to 1); uniform by default.
    verbose : bool, default=False
        Print HiGHS's progress.
    log : bool, default=False
        Also return a dict with ``fun`` (the optimal value), ``plans`` ((K, d, d), the plans
        from the barycenter to each input), ``status`` and ``message`` (HiGHS's).
    solver : {"highs-ipm", "highs-ds", "highs"}, default="highs-ipm"
        HiGHS method (interior point, dual simplex, or HiGHS's choice). ``"interior-point"``
        (POT's old name) means ``"highs-ipm"``.

    Returns
    -------
    b : (d,) array
        The barycenter, in the library, dtype and device of ``A`` (no gradient: the LP runs
        on the host).
    log : dict
        Only if ``log=True``.

    References
    ----------
    .. [1] M. Agueh, G. Carlier. Barycenters in the Wasserstein space. SIAM J. Math. Anal.
       43(2), 2011.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.arange(5.0)[:, None]
    >>> A = np.zeros((5, 2)); A[0, 0] = A[4, 1] = 1.0
    >>> np.round(ot.lp.barycenter(A, ot.dist(x, x), solver="highs-ds"), 6)
    array([0., 0., 1., 0., 0.])
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, hstack, vstack

    if solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {_SOLVERS}, got {solver!r}")
    xp = get_namespace(A=A, M=M, weights=weights)
    device = device_of(A) if device_of(A) is not None else device_of(M)
    dtype = result_float_dtype(xp, A, M, device=device)
    A_np, M_np = to_numpy(A), to_numpy(M)
    check_ndim(A_np, "A", 2)
    check_not_empty(A_np, "A")
    d, K = A_np.shape
    if M_np.shape != (d, d):
        raise ValueError(f"M.shape == {M_np.shape}, expected ({d}, {d}) to match A.shape[0]")
    check_finite(M_np, "M")
    check_nonnegative_weights(A_np, "A")
    _check_on_simplex(A_np.sum(axis=0), "A (each column)")
    w = np.full(K, 1.0 / K) if weights is None else to_numpy(weights)
    if w.shape != (K,):
        raise ValueError(f"weights.shape == {w.shape}, expected ({K},) to match A.shape[1]")
    check_nonnegative_weights(w, "weights")
    _check_on_simplex(np.array([w.sum()]), "weights")

    # Variables: the K plans (row-major, d*d each) then b.  Row sums of plan k minus b are
    # zero; column sums of plan k equal a_k.  Each plan's 2d constraints hold one redundancy
    # (its row and column sums have the same total): with the masses of a_1 and a_k pinned
    # both, the LP is inconsistent by rounding when they differ by an ulp (1 - 2e-16 against
    # 1 + 2e-16), and HiGHS reports it infeasible.  The first plan fixes the mass of b; for
    # k > 1 the column constraint at the largest entry of a_k is left out, so that column
    # takes the rounding (an ulp of a mass >= 1/d, never negative).
    n_plan = d * d
    ones = np.ones(n_plan)
    idx = np.arange(n_plan)
    row_sum = coo_matrix((ones, (idx // d, idx)), shape=(d, n_plan))
    col_sum = coo_matrix((ones, (idx % d, idx)), shape=(d, n_plan)).tocsr()
    blocks_rows, blocks_cols, targets = [], [], []
    for k in range(K):
        before = coo_matrix((d, k * n_plan))
        after = coo_matrix((d, (K - 1 - k) * n_plan))
        kept = np.arange(d) if k == 0 else np.flatnonzero(np.arange(d) != np.argmax(A_np[:, k]))
        blocks_rows.append(hstack([before, row_sum, after, -_identity(d)]))
        blocks_cols.append(
            hstack(
                [
                    coo_matrix((kept.size, k * n_plan)),
                    col_sum[kept],
                    coo_matrix((kept.size, (K - 1 - k) * n_plan)),
                    coo_matrix((kept.size, d)),
                ]
            )
        )
        targets.append(A_np[kept, k])
    A_eq = vstack(blocks_rows + blocks_cols).tocsr()
    b_eq = np.concatenate([np.zeros(K * d)] + targets)
    cost = np.concatenate([wk * M_np.ravel() for wk in w] + [np.zeros(d)])
    method = "highs-ipm" if solver == "interior-point" else solver
    result = linprog(
        cost,
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method=method,
        # HiGHS's default feasibility tolerance (1e-7) is absolute: it would round small
        # histogram entries away.
        options={
            "disp": verbose,
            "primal_feasibility_tolerance": 1e-10,
            "dual_feasibility_tolerance": 1e-10,
        },
    )
    if result.status != 0:
        raise RuntimeError(f"the barycenter LP failed: {result.message}")
    bary = np.clip(result.x[-d:], 0.0, None)
    out = from_numpy(bary, xp, dtype=dtype, device=device)
    if not log:
        return out
    plans = result.x[: K * n_plan].reshape(K, d, d)
    return out, {
        "fun": float(result.fun),
        "plans": from_numpy(plans, xp, dtype=dtype, device=device),
        "status": int(result.status),
        "message": result.message,
    }


def _identity(d):
    from scipy.sparse import identity

    return identity(d, format="coo")


def _check_on_simplex(sums: np.ndarray, name: str) -> None:
    if np.any(np.abs(sums - 1.0) > 1e-6):
        raise ValueError(f"{name} must sum to 1, got sums {np.round(sums, 8).tolist()}")
