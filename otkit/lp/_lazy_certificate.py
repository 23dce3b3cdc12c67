r"""Ground costs between point clouds and the lazy optimality certificate.

:class:`PointCost` evaluates :math:`c(x, y) = d(x, y)^s` (``d`` one of otkit's metrics,
``s`` the ``power``) on chosen pairs, on blocks of rows, and its gradient in ``x``.

:func:`dual_violations` (the NumPy reference of the compiled scan that the solver runs,
:mod:`otkit.lp._lazy_scanner`) checks dual feasibility :math:`c(x_i, y_j) - u_i - v_j \ge -\tau_{ij}`
on all n m pairs without storing them: the reduced costs are computed block by block of rows
(for ``sqeuclidean`` one BLAS product per block, on the augmented points
:math:`[x, |x|^2 - u, 1]` and :math:`[-2y, 1, |y|^2 - v]`, whose rounding is bounded per row),
the pairs that may violate are recomputed exactly from the coordinates, and the most negative
few per row are returned.  The tolerance is the one of otkit's dense certificate,
:math:`\tau_{ij} = 32\,\epsilon\,(|c_{ij}| + |u_i| + |v_j|)`, plus the solver's own dual
accuracy.
"""

from __future__ import annotations

import numpy as np

from ._certificate import DUAL_ULPS

__all__ = ["METRICS", "PointCost", "dual_violations", "row_c_transform"]

METRICS = ("sqeuclidean", "euclidean", "cityblock", "minkowski")
_EPS = float(np.finfo(np.float64).eps)
_BLOCK = 1 << 21  # reduced costs per block (16 MiB)
# Rounding of the augmented BLAS product: (d + 2) products and sums per entry, each at most
# half an ulp of the largest partial sum; this factor leaves a margin of 4 on that bound.
_BLAS_ULPS = 4.0


class PointCost:
    """The ground cost ``dist(x, y, metric, p) ** power`` on pairs and blocks (NumPy float64)."""

    def __init__(self, metric="sqeuclidean", p=2.0, power=1.0):
        self.metric, self.p, self.power = metric, float(p), float(power)
        self.minkowski_p = {"sqeuclidean": 2.0, "euclidean": 2.0, "cityblock": 1.0}.get(
            metric, self.p
        )

    def _finish(self, base):
        return base if self.power == 1.0 else base**self.power

    def pairs(self, X, Y, rows, cols):
        """c(X[rows[k]], Y[cols[k]]) from the coordinates (no cancellation)."""
        diff = X[rows] - Y[cols]
        return self._finish(self._base(diff))

    def _base(self, diff):
        if self.metric == "sqeuclidean":
            return np.einsum("kd,kd->k", diff, diff)
        if self.metric == "euclidean":
            return np.sqrt(np.einsum("kd,kd->k", diff, diff))
        if self.metric == "cityblock":
            return np.abs(diff).sum(axis=1)
        return (np.abs(diff) ** self.p).sum(axis=1) ** (1.0 / self.p)

    def block(self, X, Y):
        """(len(X), len(Y)) costs by scipy's cdist (direct differences)."""
        from scipy.spatial.distance import cdist  # not imported by `import otkit`

        if self.metric == "minkowski":
            base = cdist(X, Y, "minkowski", p=self.p)
        else:
            base = cdist(X, Y, self.metric)
        return self._finish(base)

    def grad_points(self, X, Y, rows, cols, weights):
        r"""Gradients of :math:`\sum_k w_k c(X_{r_k}, Y_{c_k})` in X and in Y (the costs are
        functions of x - y, so the Y terms are minus the X terms)."""
        diff = X[rows] - Y[cols]
        if self.metric == "sqeuclidean":
            base = np.einsum("kd,kd->k", diff, diff)
            direction = 2.0 * diff
        else:
            base = self._base(diff)
            with np.errstate(divide="ignore", invalid="ignore"):
                if self.metric == "cityblock":
                    direction = np.sign(diff)
                else:
                    q = 2.0 if self.metric == "euclidean" else self.p
                    direction = (
                        np.sign(diff) * np.abs(diff) ** (q - 1.0) / base[:, None] ** (q - 1.0)
                    )
            direction[~np.isfinite(direction)] = 0.0  # the zero subgradient at x = y
        if self.power != 1.0:
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = self.power * base ** (self.power - 1.0)
            factor[~np.isfinite(factor)] = 0.0
            direction = direction * factor[:, None]
        terms = weights[:, None] * direction
        grad_x, grad_y = np.zeros(X.shape), np.zeros(Y.shape)
        for k in range(X.shape[1]):
            grad_x[:, k] = np.bincount(rows, weights=terms[:, k], minlength=X.shape[0])
            grad_y[:, k] = -np.bincount(cols, weights=terms[:, k], minlength=Y.shape[0])
        return grad_x, grad_y


def dual_violations(cost, X, Y, u, v, extra_tol=0.0, per_row=4):
    """Pairs (i, j) with c(x_i, y_j) - u_i - v_j < -tau_ij, the ``per_row`` most negative of
    each row; returns ``(rows, cols, reduced_costs, n_checked)``."""
    n, m = X.shape[0], Y.shape[0]
    found = ([], [], [])
    step = max(1, _BLOCK // max(m, 1))
    if cost.metric == "sqeuclidean" and cost.power == 1.0:
        center = 0.5 * (X.mean(axis=0) + Y.mean(axis=0))  # costs are translation invariant
        Xc, Yc = X - center, Y - center
        xx = np.einsum("nd,nd->n", Xc, Xc)
        yy = np.einsum("md,md->m", Yc, Yc)
        left = np.hstack([Xc, (xx - u)[:, None], np.ones((n, 1))])
        right = np.hstack([-2.0 * Yc, np.ones((m, 1)), (yy - v)[:, None]]).T.copy()
        y_norm = float(np.sqrt(yy.max()))
        y_part = float(np.max(np.abs(yy - v)))
        row_err = (
            _BLAS_ULPS
            * (X.shape[1] + 2)
            * _EPS
            * (2.0 * np.sqrt(xx) * y_norm + np.abs(xx - u) + y_part)
        )
        for start in range(0, n, step):
            stop = min(n, start + step)
            reduced = left[start:stop] @ right
            # every true violator lies below the rounding bound; recheck those exactly
            i, j = np.nonzero(reduced < row_err[start:stop, None])
            _keep_violations(cost, X, Y, u, v, start + i, j, extra_tol, found)
    else:
        for start in range(0, n, step):
            stop = min(n, start + step)
            reduced = cost.block(X[start:stop], Y)
            reduced -= u[start:stop, None]
            reduced -= v[None, :]
            i, j = np.nonzero(reduced < 0.0)
            _keep_violations(cost, X, Y, u, v, start + i, j, extra_tol, found)
    rows, cols, rc = (np.concatenate(x) if x else np.empty(0) for x in found)
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    if rows.size and per_row is not None:
        order = np.lexsort((rc, rows))
        rows, cols, rc = rows[order], cols[order], rc[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        rank = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
        keep = rank < per_row
        rows, cols, rc = rows[keep], cols[keep], rc[keep]
    return rows, cols, rc, n * m


def _keep_violations(cost, X, Y, u, v, i, j, extra_tol, found):
    if i.size == 0:
        return
    c = cost.pairs(X, Y, i, j)
    reduced = c - u[i] - v[j]
    tol = DUAL_ULPS * _EPS * (np.abs(c) + np.abs(u[i]) + np.abs(v[j])) + extra_tol
    bad = reduced < -tol
    if bad.any():
        found[0].append(i[bad])
        found[1].append(j[bad])
        found[2].append(reduced[bad])


def row_c_transform(cost, X, Y, v):
    r""":math:`\min_j c(x_i, y_j) - v_j` for every row i, block by block (exact costs)."""
    out = np.empty(X.shape[0])
    step = max(1, _BLOCK // max(Y.shape[0], 1))
    for start in range(0, X.shape[0], step):
        block = cost.block(X[start : start + step], Y)
        block -= v[None, :]
        out[start : start + step] = block.min(axis=1)
    return out
