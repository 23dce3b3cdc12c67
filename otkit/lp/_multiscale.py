r"""Multiscale exact optimal transport between point clouds, with an optimality certificate.

The engine behind :func:`otkit.lp.emd2_lazy` (Schmitzer 2016; Gottschlich & Schuhmacher 2014
for the shortlist idea).  Both clouds are partitioned into a hierarchy of cells
(:mod:`otkit.lp._hierarchy`); the problem between the coarsest cells (masses summed, positions
the weighted means) is solved dense by otkit's network simplex, then at every finer level on
sparse candidate arcs only:

- the children of the coarser plan's support (every pair of a child of cell p and a child of
  cell q for each arc p -> q carrying mass): the refined coarse plan is feasible on them, so
  the restricted problem is always feasible;
- the ``neighbors`` nearest targets of each source (a kd-tree query);

solved by a sparse-arc solver warm-started from the coarser potentials.  At the finest level
the result is the optimum of the restricted problem only, so every one of the n m reduced
costs :math:`c(x_i, y_j) - u_i - v_j` is checked block by block
(:func:`otkit.lp._lazy_certificate.dual_violations`, no n x m storage); the most negative few
of each row are added as arcs and the solve resumes, until no pair violates dual feasibility.
Then (u, v) is dual feasible on the full problem and complementary to the plan: the plan is
optimal for the full problem.  Memory is O((n + m) k) for k arcs per point.

References
----------
.. [1] B. Schmitzer. A sparse multiscale algorithm for dense optimal transport. J. Math.
   Imaging Vis. 56, 2016.
.. [2] C. Gottschlich, D. Schuhmacher. The shortlist method for fast computation of the Earth
   Mover's Distance and finding optimal solutions to transportation problems. PLoS ONE 9, 2014.
"""

from __future__ import annotations

import time
import warnings
from typing import NamedTuple

import numpy as np

from ._hierarchy import build_levels
from ._lazy_certificate import PointCost, dual_violations, row_c_transform
from ._sparse_simplex import OPTIMAL, SparseNetworkSimplex

__all__ = ["NOT_CERTIFIED", "MultiscaleResult", "solve_multiscale"]

NOT_CERTIFIED = 4  # as otkit.lp.emd: the certificate could not close


class MultiscaleResult(NamedTuple):
    """Sparse optimal plan (rows, cols, flows), duals u, v, cost, status, pivots and log."""

    rows: np.ndarray
    cols: np.ndarray
    flows: np.ndarray
    u: np.ndarray
    v: np.ndarray
    cost: float
    status: int
    n_iter: int
    log: dict


def solve_multiscale(
    X,
    Y,
    a,
    b,
    cost: PointCost,
    *,
    num_iter_max=100000,
    potentials_init=None,
    coarse_size=256,
    neighbors=8,
    max_rounds=50,
    per_row=4,
    center_dual=True,
):
    """Exact OT between weighted clouds (NumPy float64, validated, same total mass up to
    rounding: ``b`` is rescaled to the mass of ``a``).  Returns a :class:`MultiscaleResult`."""
    timings = {"hierarchy": 0.0, "candidates": 0.0, "solve": 0.0, "certificate": 0.0}
    b = b * (a.sum() / b.sum())
    rows_pos, cols_pos = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
    Xp, Yp, ap, bp = X[rows_pos], Y[cols_pos], a[rows_pos], b[cols_pos]
    n, m = Xp.shape[0], Yp.shape[0]
    warm = None
    if potentials_init is not None:
        warm = (potentials_init[0][rows_pos], potentials_init[1][cols_pos])
    log = {"levels": 1, "arcs": [], "pivots": [], "certificate_rounds": 0, "pairs_checked": 0}
    top_depth = int(np.ceil(np.log2(max(n, m))))
    coarse_depth = max(1, int(np.ceil(np.log2(max(coarse_size, 2)))))
    depths = list(range(coarse_depth, top_depth, 2))
    status, n_iter = OPTIMAL, 0
    if not depths or n * m <= coarse_size**2 or min(n, m) == 1:
        rows, cols, flows, u, v, status, n_iter = _dense(Xp, Yp, ap, bp, cost, num_iter_max, warm)
        log["arcs"].append(n * m)
        log["pivots"].append(n_iter)
    else:
        clock = time.perf_counter()
        levels_x = build_levels(Xp, ap, depths)
        levels_y = build_levels(Yp, bp, depths)
        timings["hierarchy"] += time.perf_counter() - clock
        log["levels"] = len(levels_x)
        coarse_x, coarse_y = levels_x[0], levels_y[0]
        rows, cols, flows, u, v, status, n_iter = _dense(
            coarse_x.position,
            coarse_y.position,
            coarse_x.mass,
            coarse_y.mass,
            cost,
            num_iter_max,
            None,
        )
        log["arcs"].append(coarse_x.mass.size * coarse_y.mass.size)
        log["pivots"].append(n_iter)
        solver = None
        for k in range(1, len(levels_x)):
            if status != OPTIMAL:
                break
            fine_x, fine_y = levels_x[k], levels_y[k]
            finest = k == len(levels_x) - 1
            clock = time.perf_counter()
            new_rows, new_cols = _refine(rows, cols, fine_x.parent, fine_y.parent)
            near_rows, near_cols = _neighbors(fine_x.position, fine_y.position, neighbors, cost)
            new_rows = np.concatenate([new_rows, near_rows])
            new_cols = np.concatenate([new_cols, near_cols])
            start = (u[fine_x.parent], v[fine_y.parent])
            if finest and warm is not None:
                start = warm
            solver = SparseNetworkSimplex(
                fine_x.mass, fine_y.mass * _balance(fine_x, fine_y), start
            )
            solver.add_arcs(
                new_rows,
                new_cols,
                cost.pairs(fine_x.position, fine_y.position, new_rows, new_cols),
            )
            timings["candidates"] += time.perf_counter() - clock
            clock = time.perf_counter()
            status = solver.solve(num_iter_max)
            timings["solve"] += time.perf_counter() - clock
            rows, cols, flows = solver.plan()
            u, v = solver.duals()
            log["arcs"].append(solver.n_arcs)
            log["pivots"].append(solver.n_pivots)
        if solver is not None and status == OPTIMAL:
            status, rows, cols, flows, u, v = _certify(
                solver, Xp, Yp, cost, max_rounds, per_row, num_iter_max, log, timings
            )
            log["arcs"][-1] = solver.n_arcs
            log["pivots"][-1] = solver.n_pivots
        n_iter = int(sum(log["pivots"]))
    u, v = _complete_duals(X, Y, a, b, rows_pos, cols_pos, u, v, cost)
    if center_dual:
        shift = (b @ v - a @ u) / (a.sum() + b.sum())
        u, v = u + shift, v - shift
    rows, cols = rows_pos[rows], cols_pos[cols]
    total = float(flows @ cost.pairs(X, Y, rows, cols))
    log["timings"] = timings
    return MultiscaleResult(rows, cols, flows, u, v, total, int(status), int(n_iter), log)


def _balance(fine_x, fine_y):
    return fine_x.mass.sum() / fine_y.mass.sum()


def _dense(X, Y, a, b, cost, num_iter_max, warm):
    """Dense network simplex on a small problem (the coarsest level)."""
    from ._emd import _solve_host  # the dense solver with its certificate

    M = cost.block(X, Y)
    b = b * (a.sum() / b.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the status is reported by the caller
        G, u, v, _, status, n_iter = _solve_host(
            a,
            b,
            M,
            num_iter_max=num_iter_max,
            check_marginals=False,
            center_dual=True,
            potentials_init=warm,
            input_dtype=np.dtype(np.float64),
        )
    rows, cols = np.nonzero(G > 0)
    return rows, cols, G[rows, cols], u, v, status, n_iter


def _refine(rows, cols, parent_x, parent_y):
    """Every (child of rows[k], child of cols[k]) pair."""
    order_x, start_x, count_x = _children(parent_x)
    order_y, start_y, count_y = _children(parent_y)
    nx, ny = count_x[rows], count_y[cols]
    sizes = nx * ny
    arc = np.repeat(np.arange(rows.size), sizes)
    offset = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ix, iy = np.divmod(offset, ny[arc])
    return order_x[start_x[rows][arc] + ix], order_y[start_y[cols][arc] + iy]


def _children(parent):
    order = np.argsort(parent, kind="stable")
    count = np.bincount(parent, minlength=int(parent.max()) + 1)
    start = np.cumsum(count) - count
    return order, start, count


def _neighbors(X, Y, k, cost):
    """The k nearest targets of every source (in the metric of the cost)."""
    k = min(int(k), Y.shape[0])
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    from scipy.spatial import cKDTree  # not imported by `import otkit`

    _, cols = cKDTree(Y).query(X, k=k, p=cost.minkowski_p)
    cols = np.asarray(cols, dtype=np.int64).reshape(X.shape[0], k)
    return np.repeat(np.arange(X.shape[0]), k), cols.ravel()


def _certify(solver, X, Y, cost, max_rounds, per_row, num_iter_max, log, timings):
    """Add violating pairs and resume until every reduced cost is feasible."""
    status = OPTIMAL
    certified = False
    for _ in range(max_rounds + 1):
        u, v = solver.duals()
        clock = time.perf_counter()
        tol = float(getattr(solver, "dual_tolerance", 0.0))
        bad_rows, bad_cols, _, checked = dual_violations(cost, X, Y, u, v, tol, per_row)
        timings["certificate"] += time.perf_counter() - clock
        log["pairs_checked"] += checked
        if bad_rows.size == 0:
            certified = True
            break
        if log["certificate_rounds"] == max_rounds:
            break
        log["certificate_rounds"] += 1
        arcs_before = solver.n_arcs
        solver.add_arcs(bad_rows, bad_cols, cost.pairs(X, Y, bad_rows, bad_cols))
        if solver.n_arcs == arcs_before:
            break  # the violators are arcs of the solve already: the solver cannot improve
        clock = time.perf_counter()
        status = solver.solve(num_iter_max)
        timings["solve"] += time.perf_counter() - clock
        if status != OPTIMAL:
            break
    rows, cols, flows = solver.plan()
    u, v = solver.duals()
    if status == OPTIMAL and not certified:
        status = NOT_CERTIFIED
        warnings.warn(
            f"emd_lazy: the optimality certificate did not close after "
            f"{log['certificate_rounds']} rounds (max_rounds): the plan is optimal on "
            f"{solver.n_arcs} arcs but some pairs still have negative reduced costs, so the "
            "cost may be above the optimum. Increase max_rounds.",
            UserWarning,
            stacklevel=4,
        )
    return status, rows, cols, flows, u, v


def _complete_duals(X, Y, a, b, rows_pos, cols_pos, u_pos, v_pos, cost):
    """Duals of zero-weight points: the largest values that keep every reduced cost >= 0."""
    u = np.empty(a.size)
    v = np.empty(b.size)
    u[rows_pos], v[cols_pos] = u_pos, v_pos
    zero_cols = np.setdiff1d(np.arange(b.size), cols_pos)
    if zero_cols.size:  # the costs are symmetric: a c-transform with the roles swapped
        v[zero_cols] = row_c_transform(cost, Y[zero_cols], X[rows_pos], u_pos)
    zero_rows = np.setdiff1d(np.arange(a.size), rows_pos)
    if zero_rows.size:
        u[zero_rows] = row_c_transform(cost, X[zero_rows], Y, v)
    return u, v
