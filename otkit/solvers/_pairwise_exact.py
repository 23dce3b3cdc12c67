"""'exact' in :func:`otkit.pairwise`: by the compiled batch solver
(:mod:`otkit.lp._simplex_batch`), histograms on a shared support and point clouds with the
(squared) Euclidean cost; each value certified as ``emd2`` certifies it (what is not is
solved again by ``emd2``, as are pairs large enough for ``emd2``'s shortlist method and
pairs of clouds with other costs)."""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..lp import emd2
from ..lp._certificate import DUAL_ULPS, PRIMAL_ULPS, certify_solution
from ..lp._emd import _MAX_COST, _center_duals, takes_shortlist
from ..lp._network_simplex import OPTIMAL, network_simplex
from ..lp._simplex_batch import CERTIFIED, solve_cloud_pairs, solve_pairs
from ..utils import dist

__all__ = ["ExactSolver"]


def _exact_pair(a, b, M, num_iter_max):
    """W_p^p of one pair on the host (float64, validated): the network simplex on the
    nonzero weights, certified as in ``emd2``; anything short of a certified optimum, and
    pairs for ``emd2``'s shortlist method, are solved by ``emd2`` (its retries and
    warnings)."""
    rows, cols = np.flatnonzero(a), np.flatnonzero(b)
    if takes_shortlist(rows.size, cols.size):
        return float(emd2(a, b, M, numItermax=num_iter_max, check_marginals=False))
    a_sub, b_sub = a[rows], b[cols]
    b_sub = b_sub * (a_sub.sum() / b_sub.sum())
    M_sub = np.ascontiguousarray(M[np.ix_(rows, cols)])
    if np.max(np.abs(M_sub)) <= _MAX_COST:
        tree_rows, tree_cols, flows, u, v, status, _, art, _ = network_simplex(
            a_sub, b_sub, M_sub, num_iter_max
        )
        if status == OPTIMAL:
            u, v = _center_duals(u, v, a_sub, b_sub)
            if (
                certify_solution(a_sub, b_sub, M_sub, tree_rows, tree_cols, flows, u, v, art)
                is None
            ):
                return float(np.dot(flows, M_sub[tree_rows, tree_cols]))
    return float(emd2(a, b, M, numItermax=num_iter_max, check_marginals=False))


# certify_solution's tolerances (per node of the primal; dual: relative, floor)
_EPS = float(np.finfo(np.float64).eps)
_CERTIFICATE = (
    PRIMAL_ULPS * _EPS,
    DUAL_ULPS * _EPS,
    DUAL_ULPS * float(np.finfo(np.float64).smallest_subnormal),
)


# Costs of point clouds computed by the batch solver
_BATCH_METRICS = ("sqeuclidean", "euclidean")


def _nonzero_bins(H):
    """The nonzero bins of each row of H (float64), row by row: (starts, bins, weights)."""
    mask = H > 0
    starts = np.zeros(H.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(mask, axis=1), out=starts[1:])
    return starts, np.nonzero(mask)[1].astype(np.int64), np.ascontiguousarray(H[mask])


def _packed_clouds(points, weights):
    """The points of positive weight of each cloud, one cloud after the other (float64, one
    row per point): (starts, points, weights)."""
    kept = [w > 0 for w in weights]
    starts = np.zeros(len(points) + 1, dtype=np.int64)
    np.cumsum([np.count_nonzero(k) for k in kept], out=starts[1:])
    rows = [np.asarray(x, dtype=np.float64).reshape(len(x), -1)[k] for x, k in zip(points, kept)]
    packed = np.ascontiguousarray(np.concatenate(rows))
    return (
        starts,
        packed,
        np.concatenate([np.asarray(w, np.float64)[k] for w, k in zip(weights, kept)]),
    )


class ExactSolver:
    """'exact' on the host, NumPy arrays only (cheap to send to worker processes).

    A block is solved by one call of the compiled batch solver (GIL released; each pair
    certified in C as ``emd2`` certifies it), and the pairs it could not certify by
    ``_exact_pair``: histograms, and point clouds under ``_BATCH_METRICS``, except pairs
    that ``emd2`` would solve by its shortlist method (``takes_shortlist``: the batch
    solver is the dense simplex, which on 64 x 64 images, ~3,000 nonzero bins, took 6
    times as long), which go to ``_exact_pair``; other pairs of clouds by
    ``_exact_pair`` on their cost ``dist(x, y, metric)``."""

    def __init__(self, first, second, M, metric, p, options):
        self.num_iter_max = int(options.get("numItermax", 100000))
        self.metric, self.p = metric, p
        if first.kind == "histograms":
            H = np.ascontiguousarray(first.host_weights, dtype=np.float64)
            H2 = H if second is first else np.ascontiguousarray(second.host_weights, np.float64)
            self.weights = (H, H2)
            self.points, self.M = None, np.ascontiguousarray(to_numpy(M), dtype=np.float64)
            bins = _nonzero_bins(H)
            self.bins = (bins, bins if H2 is H else _nonzero_bins(H2))
            self.sizes = tuple(np.diff(starts) for starts, _, _ in self.bins)
        else:
            (points_a, weights_a), (points_b, weights_b) = first.host(), second.host()
            self.points, self.weights, self.M = (points_a, points_b), (weights_a, weights_b), None
            self.sizes = tuple(np.array([len(x) for x in side]) for side in self.points)
            if metric in _BATCH_METRICS:
                packed = _packed_clouds(points_a, weights_a)
                self.packed = (
                    packed,
                    packed if second is first else _packed_clouds(points_b, weights_b),
                )
            else:
                self.packed = None

    def __call__(self, block):
        i, _, need = block
        if self.points is None:
            return i, need, self._histogram_block(i, need)
        values = np.full(need.size, np.nan)
        if self.packed is not None:
            batch = np.flatnonzero(~takes_shortlist(self.sizes[0][i], self.sizes[1][need]))
            columns = np.ascontiguousarray(need[batch], dtype=np.int64)
            values[batch], status, _ = solve_cloud_pairs(
                *self.packed[0],
                *self.packed[1],
                np.full(columns.size, i, dtype=np.int64),
                columns,
                self.metric,
                self.num_iter_max,
                _MAX_COST,
                *_CERTIFICATE,
            )
            values[batch[status != CERTIFIED]] = np.nan
        for k in np.flatnonzero(np.isnan(values)):  # emd2's path: its retries, warnings
            j = need[k]
            M = dist(self.points[0][i], self.points[1][j], metric=self.metric, p=self.p)
            values[k] = _exact_pair(self.weights[0][i], self.weights[1][j], M, self.num_iter_max)
        return i, need, values

    def _histogram_block(self, i, need):
        values = np.full(need.size, np.nan)
        batch = np.flatnonzero(~takes_shortlist(self.sizes[0][i], self.sizes[1][need]))
        if batch.size:
            columns = np.ascontiguousarray(need[batch], dtype=np.int64)
            values[batch], status, _ = solve_pairs(
                *self.bins[0],
                *self.bins[1],
                self.M,
                np.full(columns.size, i, dtype=np.int64),
                columns,
                self.num_iter_max,
                _MAX_COST,
                *_CERTIFICATE,
            )
            values[batch[status != CERTIFIED]] = np.nan
        for k in np.flatnonzero(np.isnan(values)):  # emd2's path: its retries, warnings
            a, b = self.weights[0][i], self.weights[1][need[k]]
            values[k] = _exact_pair(a, b, self.M, self.num_iter_max)
        return values

    def task_costs(self, tasks):
        """Relative costs of blocks (i, cols, need) for the parallel routes' chunks: on point
        clouds the sizes' products, on histograms the numbers of pairs."""
        if self.points is None:
            return [need.size for _, _, need in tasks]
        return [self.sizes[0][i] * np.sum(self.sizes[1][need]) for i, _, need in tasks]

    @staticmethod
    def preliminary(blocks):
        return []

    @staticmethod
    def ready(i, need):
        return True

    @staticmethod
    def finish(i, need, values):
        return values
