r"""Multiscale exact optimal transport between point clouds, with an optimality certificate.

The engine behind :func:`otkit.lp.emd2_lazy` (Schmitzer 2016; Gottschlich & Schuhmacher 2014
for the shortlist idea).  Both clouds are partitioned into a hierarchy of cells
(:mod:`otkit.lp._hierarchy`); the problem between the coarsest cells (masses summed, positions
the weighted means) is solved dense by otkit's network simplex, then at every finer level on
sparse candidate arcs only:

- the children of the coarser plan's support (every pair of a child of cell p and a child of
  cell q for each arc p -> q carrying mass): the refined coarse plan is feasible on them, so
  the restricted problem is always feasible;
- the ``neighbors`` nearest targets of where the coarse plan sends each point's cell (the
  point moved by its cell's barycentric displacement :math:`\sum_q P_{pq} (y_q - x_p) /
  \sum_q P_{pq}`; a kd-tree query): on clouds transported far (clusters that exchange mass)
  these are the arcs the optimum needs, where the neighbours of the point itself are not;

solved by a sparse-arc solver warm-started from the coarser potentials.  The optimum on
these arcs is only the optimum of the restricted problem, so every one of the n m reduced
costs :math:`c(x_i, y_j) - u_i - v_j` is checked (:mod:`otkit.lp._lazy_scanner`: compiled,
two threads, whole blocks of targets skipped by a bound, no n x m storage); the most negative
few of each row are added as arcs and the solve resumes, until no pair violates dual
feasibility.  Then (u, v) is dual feasible on the full problem and complementary to the plan:
the plan is optimal for the full problem.  This certificate runs at every level
(``certify_levels``), not only the finest: the refined plan of a level's true optimum leaves
the next level fewer violations to repair (at n = 10^4, 2D, a third of the pivots).  The
points are numbered along the kd partition, so that the potentials that pricing and pivots
read for nearby points lie nearby in memory.  Memory is O((n + m) k) for k arcs per point.

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

from ._hierarchy import build_levels, grid_codes, kd_codes
from ._lazy_certificate import PointCost, row_c_transform
from ._lazy_scanner import CertificateScanner
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
    certify_levels=True,
    depth_step=2,
    hierarchy="kd",
):
    """Exact OT between weighted clouds (NumPy float64, validated, same total mass up to
    rounding: ``b`` is rescaled to the mass of ``a``).  Returns a :class:`MultiscaleResult`.

    ``certify_levels``: run the certificate at every level (else at the finest only);
    ``depth_step``: cuts between levels (2: about 4 times more cells per level);
    ``hierarchy``: 'kd' (median cuts, any d) or 'grid' (midpoint cuts of the common bounding
    box, a quadtree in 2-D).  The log
    holds per level the arcs, pivots and seconds of the first solve, the certificate rounds
    of the coarse levels (``level_rounds``) and of the points, the pivots of each round
    (``round_pivots``), the pairs certified and those the scan evaluated (not pruned)."""
    timings = {"hierarchy": 0.0, "candidates": 0.0, "solve": 0.0, "certificate": 0.0}
    b = b * (a.sum() / b.sum())
    rows_pos, cols_pos = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
    Xp, Yp, ap, bp = X[rows_pos], Y[cols_pos], a[rows_pos], b[cols_pos]
    n, m = Xp.shape[0], Yp.shape[0]
    warm = None
    if potentials_init is not None:
        warm = (potentials_init[0][rows_pos], potentials_init[1][cols_pos])
    log = {
        "levels": 1,
        "arcs": [],
        "pivots": [],
        "level_seconds": [],
        "certificate_rounds": 0,
        "pairs_checked": 0,
        "pairs_evaluated": 0,
    }
    top_depth = int(np.ceil(np.log2(max(n, m))))
    coarse_depth = max(1, int(np.ceil(np.log2(max(coarse_size, 2)))))
    # counted down from the points: the last coarse level has about 2**depth_step points
    # per cell, whatever n
    depths = sorted(range(top_depth - depth_step, coarse_depth - 1, -depth_step))
    status, n_iter = OPTIMAL, 0
    if not depths or n * m <= coarse_size**2 or min(n, m) == 1:
        rows, cols, flows, u, v, status, n_iter = _dense(Xp, Yp, ap, bp, cost, num_iter_max, warm)
        log["arcs"].append(n * m)
        log["pivots"].append(n_iter)
    else:
        clock = time.perf_counter()
        # points numbered along the kd partition: the potentials that pricing and pivots
        # read for nearby points lie nearby in memory
        if hierarchy == "grid":
            low = np.minimum(Xp.min(axis=0), Yp.min(axis=0))
            span = np.maximum(Xp.max(axis=0), Yp.max(axis=0)) - low
            codes_x = grid_codes(Xp, depths[-1], low, span)
            codes_y = grid_codes(Yp, depths[-1], low, span)
        else:
            codes_x, codes_y = kd_codes(Xp, depths[-1]), kd_codes(Yp, depths[-1])
        order_x = np.argsort(codes_x, kind="stable")
        order_y = np.argsort(codes_y, kind="stable")
        rows_pos, cols_pos = rows_pos[order_x], cols_pos[order_y]
        Xp, Yp, ap, bp = Xp[order_x], Yp[order_y], ap[order_x], bp[order_y]
        if warm is not None:
            warm = (warm[0][order_x], warm[1][order_y])
        levels_x = build_levels(Xp, ap, depths, codes_x[order_x])
        levels_y = build_levels(Yp, bp, depths, codes_y[order_y])
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
        worst = status
        for k in range(1, len(levels_x)):
            # a level stopped by num_iter_max still refines (the next solve starts from its
            # plan and duals), so that the result has the points' shapes; its status is kept
            fine_x, fine_y = levels_x[k], levels_y[k]
            finest = k == len(levels_x) - 1
            clock = time.perf_counter()
            new_rows, new_cols = _refine(rows, cols, fine_x.parent, fine_y.parent)
            coarse_x, coarse_y = levels_x[k - 1], levels_y[k - 1]
            # the nearest targets of where the coarse plan sends each point's cell
            moved = _displaced(rows, cols, flows, coarse_x, coarse_y)[fine_x.parent]
            near_rows, near_cols = _neighbors(
                fine_x.position + moved, fine_y.position, neighbors, cost
            )
            new_rows = np.concatenate([new_rows, near_rows])
            new_cols = np.concatenate([new_cols, near_cols])
            start = (u[fine_x.parent], v[fine_y.parent])
            if finest and warm is not None:
                start = warm
            # distinct arcs, by source then sink (the order pricing reads them in)
            new_rows, new_cols = np.divmod(
                np.unique(new_rows * fine_y.mass.size + new_cols), fine_y.mass.size
            )
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
            log["level_seconds"].append(round(time.perf_counter() - clock, 3))
            if status == OPTIMAL and not finest and certify_levels:
                # the optimum of this level (not only of its arcs): a better plan to refine
                status = _certify(
                    solver,
                    fine_x.position,
                    fine_y.position,
                    cost,
                    max_rounds,
                    per_row,
                    num_iter_max,
                    log,
                    timings,
                    final=False,
                )[0]
            rows, cols, flows = solver.plan()
            u, v = solver.duals()
            log["arcs"].append(solver.n_arcs)
            log["pivots"].append(solver.n_pivots)
            if status not in (OPTIMAL, NOT_CERTIFIED):
                worst = status
        status = worst
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


def _displaced(rows, cols, flows, coarse_x, coarse_y):
    r"""Displacement of each coarse source cell by the coarse plan: its barycentric target
    :math:`\sum_q P_{pq} y_q / \sum_q P_{pq}` minus its position."""
    cells, d = coarse_x.mass.size, coarse_x.position.shape[1]
    weight = np.bincount(rows, weights=flows, minlength=cells)
    moved = np.zeros((cells, d))
    has = weight > 0
    for k in range(d):
        target = np.bincount(rows, weights=flows * coarse_y.position[cols, k], minlength=cells)
        moved[has, k] = target[has] / weight[has] - coarse_x.position[has, k]
    return moved


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


def _certify(solver, X, Y, cost, max_rounds, per_row, num_iter_max, log, timings, final=True):
    """Add violating pairs and resume until every reduced cost is feasible (``final``: of
    the points, counted as certificate rounds; else of a coarse level, as level rounds)."""
    rounds_key = "certificate_rounds" if final else "level_rounds"
    status = OPTIMAL
    certified = False
    rounds_done = 0
    clock = time.perf_counter()
    scanner = CertificateScanner(cost, X, Y)
    timings["certificate"] += time.perf_counter() - clock
    for _ in range(max_rounds + 1):
        u, v = solver.duals()
        clock = time.perf_counter()
        tol = float(getattr(solver, "dual_tolerance", 0.0))
        bad_rows, bad_cols, _, evaluated = scanner.violations(
            u, v, tol, per_row, plan=solver.plan()
        )
        timings["certificate"] += time.perf_counter() - clock
        log["pairs_checked"] += X.shape[0] * Y.shape[0]
        log["pairs_evaluated"] += evaluated
        if bad_rows.size == 0:
            certified = True
            break
        if rounds_done == max_rounds:
            break
        rounds_done += 1
        log[rounds_key] = log.get(rounds_key, 0) + 1
        arcs_before = solver.n_arcs
        solver.add_arcs(bad_rows, bad_cols, cost.pairs(X, Y, bad_rows, bad_cols))
        if solver.n_arcs == arcs_before:
            break  # the violators are arcs of the solve already: the solver cannot improve
        clock = time.perf_counter()
        pivots_before = solver.n_pivots
        status = solver.solve(num_iter_max)
        timings["solve"] += time.perf_counter() - clock
        log.setdefault("round_pivots", []).append(solver.n_pivots - pivots_before)
        if status != OPTIMAL:
            break
    rows, cols, flows = solver.plan()
    u, v = solver.duals()
    if status == OPTIMAL and not certified:
        status = NOT_CERTIFIED
    if status == NOT_CERTIFIED and final:
        warnings.warn(
            f"emd_lazy: the optimality certificate did not close after "
            f"{rounds_done} rounds (max_rounds): the plan is optimal on "
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
