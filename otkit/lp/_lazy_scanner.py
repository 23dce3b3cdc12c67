r"""The certificate scan of the lazy solver, compiled and threaded.

:class:`CertificateScanner` checks dual feasibility :math:`c(x_i, y_j) - u_i - v_j \ge
-\tau_{ij}` on all n m pairs, with the tolerance of otkit's dense certificate,
:math:`\tau_{ij} = 32\,\epsilon\,(|c_{ij}| + |u_i| + |v_j|)` plus the solver's dual accuracy,
and returns the ``per_row`` most negative violators of each row, as
:func:`otkit.lp._lazy_certificate.dual_violations` does, in the C kernel of
:mod:`otkit.lp._lazy_scan` (no n x m storage; blocks of rows on two threads).

The targets are arranged once into the cells of a kd partition (chunks of at most 64
consecutive targets).  For the squared Euclidean cost, with :math:`f_i = |x_i|^2 - u_i` and
:math:`g_j = |y_j|^2 - v_j` (centred points), a chunk Q of centre q, radius
:math:`\rho \ge |y_j - q|` and anchor z satisfies, by Cauchy-Schwarz,

.. math::

    c(x_i, y_j) - u_i - v_j = f_i + g_j - 2 x_i \cdot y_j \ge
    f_i + \min_{j \in Q} (g_j - 2 z \cdot y_j) - 2 (x_i - z) \cdot q - 2 \rho |x_i - z|,

so a whole chunk is skipped when that bound exceeds its rounding margin.  The anchor is the
flow-weighted mean of the sources the plan sends to Q, where the bound is tight: each row then
evaluates the few chunks near its transport target only, and the scan costs O(n m / 64 +
n K) instead of O(n m).  Other costs scan every pair (compiled, vectorized).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._certificate import DUAL_ULPS
from ._hierarchy import kd_codes
from ._lazy_scan import ScanKernel

__all__ = ["CertificateScanner"]

_EPS = float(np.finfo(np.float64).eps)
_CHUNK = 64  # targets per chunk (a kd cell holds 32 to 64)
_ROW_BLOCK = 256  # rows per task (a multiple of _ROW_GROUP)
_ROW_GROUP = 16  # consecutive rows that test the chunks together first
_BOUND_NAMES = (
    "q",
    "z",
    "bound_const",
    "radius",
    "margin",
    "w",
    "anchor",
    "sigma",
    "block_low",
    "block_margin",
)


class CertificateScanner:
    """Scan of all reduced costs between fixed clouds X (n, d) and Y (m, d), NumPy float64.

    Parameters
    ----------
    cost : PointCost
        The ground cost.
    X, Y : (n, d), (m, d) arrays
    prune : bool, default=True
        Skip chunks by the bound above (squared Euclidean cost only).
    threads : int, optional
        Threads scanning blocks of rows (default: 2, or 1 on a single CPU).
    """

    def __init__(self, cost, X, Y, *, prune=True, threads=None):
        self.cost = cost
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        n, m = self.X.shape[0], Y.shape[0]
        self.d = self.X.shape[1]
        depth = max(0, int(np.ceil(np.log2(max(m, 1) / _CHUNK))))
        codes = kd_codes(np.asarray(Y, dtype=np.float64), depth)
        self.order = np.argsort(codes, kind="stable")
        self.Y = np.ascontiguousarray(Y[self.order], dtype=np.float64)
        sorted_codes = codes[self.order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        self.chunk_start = _split_long(np.r_[starts, m].astype(np.int64), 256)
        self.chunk_of = np.repeat(np.arange(self.chunk_start.size - 1), np.diff(self.chunk_start))
        self.sq = cost.metric == "sqeuclidean" and cost.power == 1.0
        self.prune = bool(prune) and self.sq and m > 0
        self.threads = threads or min(2, os.cpu_count() or 1)
        if self.sq:
            center = 0.5 * (self.X.mean(axis=0) + self.Y.mean(axis=0)) if n and m else 0.0
            self.Xc = np.ascontiguousarray(self.X - center)
            Yc = self.Y - center
            self.Yc = np.ascontiguousarray(Yc.T)
            self.xx = np.einsum("nd,nd->n", self.Xc, self.Xc)
            self.yy = np.einsum("md,md->m", Yc, Yc)
            self.x_norm = np.sqrt(self.xx)
            self.y_norm = float(np.sqrt(self.yy.max())) if m else 0.0
            if self.prune:
                low = np.minimum.reduceat(Yc, self.chunk_start[:-1], axis=0)
                high = np.maximum.reduceat(Yc, self.chunk_start[:-1], axis=0)
                self.q = 0.5 * (low + high)
                spread = np.sqrt(
                    np.einsum("md,md->m", Yc - self.q[self.chunk_of], Yc - self.q[self.chunk_of])
                )
                radius = np.maximum.reduceat(spread, self.chunk_start[:-1])
                # rounded up: above the exact radius of the centred points
                self.radius = radius * (1.0 + 8.0 * (self.d + 2) * _EPS) + 1e-300
                self.Yc_aos = Yc
        else:
            self.Ys = np.ascontiguousarray(self.Y.T)

    def violations(self, u, v, extra_tol=0.0, per_row=4, plan=None):
        """``(rows, cols, reduced_costs, n_evaluated)``: the ``per_row`` most negative
        violators of each row (rows ascending, then reduced costs ascending) and the pairs
        the kernel evaluated (the others were pruned).

        ``plan`` = (rows, cols, flows) of the current solution anchors the pruning bound."""
        n, d = self.X.shape[0], self.d
        u = np.ascontiguousarray(u, dtype=np.float64)
        v_perm = np.ascontiguousarray(np.asarray(v, dtype=np.float64)[self.order])
        if not (np.isfinite(u).all() and np.isfinite(v_perm).all()):
            # every comparison with NaN is False: the scan would find no violator
            raise FloatingPointError("certificate scan: the duals u, v must be finite")
        arguments = {
            "metric": self.cost.metric,
            "p": self.cost.p,
            "power": self.cost.power,
            "dual_rel": DUAL_ULPS * _EPS,
            "extra_tol": float(extra_tol),
            "per_row": max(1, int(per_row)),
            "X": self.X,
            "Y": self.Y,
            "Ys": None,
            "u": u,
            "v": v_perm,
            "Xc": None,
            "Yc": None,
            "f": None,
            "g": None,
            "row_err": None,
            "chunk_start": self.chunk_start,
            "prune": self.prune and n > 0,
            "row_block": _ROW_GROUP,
        }
        arguments.update(dict.fromkeys(_BOUND_NAMES))
        if self.sq:
            f = self.xx - u
            g = self.yy - v_perm
            x_n, y_n = self.x_norm, self.y_norm
            # bounds every partial sum of the expansion, for its rounding
            scale = (
                self.xx
                + np.abs(u)
                + np.abs(f)
                + 2.0 * x_n * y_n
                + y_n**2
                + float(np.max(np.abs(v_perm), initial=0.0))
                + float(np.max(np.abs(g), initial=0.0))
                + (x_n + y_n) ** 2
            )
            row_err = 4.0 * (d + 4) * _EPS * scale
            arguments.update(Xc=self.Xc, Yc=self.Yc, f=f, g=g, row_err=row_err)
            if arguments["prune"]:
                arguments.update(self._bounds(f, g, plan, scale))
        else:
            arguments["Ys"] = self.Ys
        kernel = ScanKernel(**arguments)
        per_row = arguments["per_row"]
        blocks = [(s, min(n, s + _ROW_BLOCK)) for s in range(0, n, _ROW_BLOCK)]
        if self.threads > 1 and len(blocks) > 1:
            with ThreadPoolExecutor(self.threads) as pool:
                evaluated = sum(pool.map(lambda block: kernel.scan(*block), blocks))
        else:
            evaluated = sum(kernel.scan(*block) for block in blocks)
        kept = np.minimum(kernel.out_count, per_row)
        mask = np.arange(per_row)[None, :] < kept[:, None]
        rows = np.repeat(np.arange(n, dtype=np.int64), kept)
        cols = self.order[kernel.out_cols[mask]]
        return rows, cols, kernel.out_rc[mask], int(evaluated)

    def _bounds(self, f, g, plan, scale):
        """Per-chunk constants of the pruning bound and the per-row margin."""
        d, nc = self.d, self.chunk_start.size - 1
        z = self.q.copy()
        n = self.X.shape[0]
        block_of = np.arange(n) // _ROW_GROUP
        block_start = np.arange(0, n, _ROW_GROUP)
        n_blocks = block_start.size
        counts = np.diff(np.r_[block_start, n])
        w = np.add.reduceat(self.Xc, block_start, axis=0) / counts[:, None]
        anchor = w.copy()
        if plan is not None and len(plan[0]):
            rows, cols, flows = plan
            inverse = np.empty_like(self.order)
            inverse[self.order] = np.arange(self.order.size)
            # the anchor of a row block: the mean target of its rows in the plan
            targets = self.Yc_aos[inverse[cols]]
            weight = np.bincount(block_of[rows], weights=flows, minlength=n_blocks)
            has = weight > 0
            for k in range(d):
                total = np.bincount(
                    block_of[rows], weights=flows * targets[:, k], minlength=n_blocks
                )
                anchor[has, k] = total[has] / weight[has]
            chunk = self.chunk_of[inverse[cols]]
            weight = np.bincount(chunk, weights=flows, minlength=nc)
            has = weight > 0
            for k in range(d):
                total = np.bincount(chunk, weights=flows * self.Xc[rows, k], minlength=nc)
                z[has, k] = total[has] / weight[has]
        shifted = g - 2.0 * np.einsum("md,md->m", z[self.chunk_of], self.Yc_aos)
        bound_const = np.minimum.reduceat(shifted, self.chunk_start[:-1])
        bound_const += 2.0 * np.einsum("cd,cd->c", z, self.q)
        z_n = float(np.sqrt(np.max(np.einsum("cd,cd->c", z, z))))
        y_n, x_n = self.y_norm, self.x_norm
        big = scale + 4.0 * z_n * y_n + 4.0 * y_n * (x_n + z_n) + float(np.max(np.abs(bound_const)))
        margin = 8.0 * (d + 6) * _EPS * big
        gap = self.Xc - w[block_of]
        sigma = np.sqrt(np.maximum.reduceat(np.einsum("nd,nd->n", gap, gap), block_start))
        sigma = sigma * (1.0 + 8.0 * (d + 2) * _EPS) + 1e-300  # rounded up
        shifted_rows = f - 2.0 * np.einsum("nd,nd->n", self.Xc, anchor[block_of])
        block_low = np.minimum.reduceat(shifted_rows, block_start)
        w_n = np.sqrt(np.einsum("bd,bd->b", w, w))
        s_n = np.sqrt(np.einsum("bd,bd->b", anchor, anchor))
        q_n = float(np.sqrt(np.max(np.einsum("cd,cd->c", self.q, self.q))))
        block_big = (
            np.maximum.reduceat(big + 2.0 * x_n * s_n[block_of] + np.abs(shifted_rows), block_start)
            + 4.0 * (w_n + sigma) * (q_n + s_n)
            + 4.0 * float(np.max(self.radius)) * (w_n + z_n + sigma)
            + 2.0 * float(np.max(np.abs(bound_const)))
        )
        block_margin = 8.0 * (d + 8) * _EPS * block_big
        bounds = {
            "w": w.T,
            "anchor": anchor.T,
            "sigma": sigma,
            "block_low": block_low,
            "block_margin": block_margin,
            "q": self.q.T,
            "z": z.T,
            "bound_const": bound_const,
            "radius": self.radius,
            "margin": margin,
        }
        return {name: np.ascontiguousarray(value) for name, value in bounds.items()}


def _split_long(starts, longest):
    """Chunk boundaries with no chunk longer than ``longest``."""
    pieces = [np.arange(lo, hi, longest) for lo, hi in itertools.pairwise(starts)]
    return np.r_[np.concatenate(pieces) if pieces else np.empty(0, np.int64), starts[-1]].astype(
        np.int64
    )
