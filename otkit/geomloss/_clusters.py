r"""Grid clusters and truncated (block-sparse) c-transforms for the multiscale Sinkhorn engine.

A cloud is cut by a grid of cell size ``s`` (the cluster scale): the points of a cell form
a cluster, the points are sorted by cluster (clusters are contiguous row ranges) and each
cluster is summarized by its mass, its weighted centroid and its radius (largest distance of
its points to the centroid). The clustering runs once on the host (NumPy).

Kernel truncation (Schmitzer 2019; Feydy 2020, sec. 3.3) acts on blocks: consecutive runs
of sorted points (whole clusters in Z order, at most ``BLOCK_POINTS`` points), each inside
a ball of center :math:`c_I` and radius :math:`r_I`. With potentials (f, g) the plan entry is
:math:`\pi_{ij} = a_i b_j \exp((f_i + g_j - C_{ij}) / \varepsilon)`, and for i in block I,
j in block J (cost :math:`\|x - y\|^p`)

.. math::
    C_{ij} - f_i - g_j \ \ge\ L_{IJ} = \max(\|c_I - c_J\| - r_I - r_J, 0)^p
    - \max_{i \in I} f_i - \max_{j \in J} g_j .

The pair (I, J) is kept when :math:`L_{IJ} \le \tau \varepsilon` (τ = ``truncate``); every
neglected entry then has :math:`\pi_{ij} < a_i b_j e^{-\tau}`. A row block reads exactly the
column blocks it keeps, so the row and column c-transforms are those of one truncated
problem (its Sinkhorn iteration converges).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..backend import from_numpy
from ..bregman._pointcloud import online_softmin, transport_pass

__all__ = [
    "BlockPlan",
    "Blocks",
    "Clusters",
    "default_cluster_scale",
    "grid_clusters",
    "keep_mask",
    "plan_from_mask",
    "planned_softmin",
    "planned_transport",
    "point_blocks",
]

# Elements (rows x columns) of a group of row clusters: groups are closed beyond this size,
# which bounds the work of one call (the memory of a call is bounded by the block loop of
# online_softmin in any case).
GROUP_ELEMENTS = 2**20
# Points per tile of the truncation (a block of consecutive clusters): small tiles bound
# the reduced cost tightly, large ones cost fewer calls.
BLOCK_POINTS = 128
# Cell coordinates are clipped to this magnitude (a tiny cluster scale cannot overflow int64).
_MAX_CELL = 2.0**52


@dataclasses.dataclass(frozen=True)
class Clusters:
    """A cloud sorted by grid cell: ``order`` (n,) the original index of each sorted point,
    ``offsets`` (K + 1,) the row range of each cluster, ``labels`` (n,) the cluster of each
    sorted point, ``centroids`` (K, d), ``masses`` (K,), ``radii`` (K,) (float64)."""

    order: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray
    masses: np.ndarray
    radii: np.ndarray


def default_cluster_scale(diameter: float, dimension: int) -> float:
    """GeomLoss's default: diameter / (sqrt(D) 2000^(1/D)), about 2000 cells in the box."""
    return diameter / (np.sqrt(dimension) * 2000.0 ** (1.0 / dimension))


def _morton(cells):
    """Z-order keys of non-negative integer cells (K, d); lexicographic where they overflow."""
    d = cells.shape[1]
    bits = 63 // d
    if cells.max(initial=0) >= 2**bits:
        return np.lexsort(cells.T[::-1])
    code = np.zeros(cells.shape[0], dtype=np.int64)
    for bit in range(bits):
        for axis in range(d):
            code |= ((cells[:, axis] >> bit) & 1) << (bit * d + axis)
    return code


def grid_clusters(points: np.ndarray, weights: np.ndarray, scale: float, origin) -> Clusters:
    """The clusters of ``points`` (n, d) with ``weights`` (n,) on the grid of cell ``scale``
    anchored at ``origin`` (d,). Zero-mass clusters take the plain mean as centroid."""
    cells = np.clip(np.floor((points - origin) / scale), 0, _MAX_CELL).astype(np.int64)
    occupied, labels = np.unique(cells, axis=0, return_inverse=True)
    # Clusters in Z order (Morton): consecutive clusters are neighbours in space, so a group
    # of them reads few more columns than each of its clusters.
    rank = np.empty(occupied.shape[0], dtype=np.int64)
    rank[np.argsort(_morton(occupied), kind="stable")] = np.arange(occupied.shape[0])
    labels = rank[labels.reshape(-1)]
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    counts = np.bincount(sorted_labels)
    k = counts.shape[0]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    masses = np.bincount(labels, weights=weights, minlength=k)
    d = points.shape[1]
    weighted = np.stack(
        [np.bincount(labels, weights=weights * points[:, c], minlength=k) for c in range(d)], 1
    )
    plain = np.stack([np.bincount(labels, weights=points[:, c], minlength=k) for c in range(d)], 1)
    positive = masses > 0
    centroids = np.where(
        positive[:, None],
        weighted / np.where(positive, masses, 1.0)[:, None],
        plain / counts[:, None],
    )
    distances = np.sqrt(np.sum((points[order] - centroids[sorted_labels]) ** 2, axis=1))
    radii = np.maximum.reduceat(distances, offsets[:-1])
    return Clusters(order, offsets, sorted_labels, centroids, masses, radii)


def keep_mask(rows: Blocks, cols: Blocks, row_max, col_max, threshold, p, chunk=256):
    """(nb_rows, nb_cols) bool: the block pairs whose lower bound of the reduced cost
    (module note) is at most ``threshold``; each row and each column keeps at least its
    smallest bound (no empty c-transform)."""
    k_rows, k_cols = rows.centers.shape[0], cols.centers.shape[0]
    keep = np.empty((k_rows, k_cols), dtype=bool)
    col_sq = np.sum(cols.centers**2, axis=1)
    best_value = np.full(k_cols, np.inf)
    best_row = np.zeros(k_cols, dtype=np.int64)
    for start in range(0, k_rows, chunk):
        stop = min(start + chunk, k_rows)
        centers = rows.centers[start:stop]
        squared = (
            np.sum(centers**2, axis=1)[:, None] + col_sq[None, :] - 2.0 * centers @ cols.centers.T
        )
        gap = np.sqrt(np.maximum(squared, 0.0)) - rows.radii[start:stop, None] - cols.radii
        lower = np.maximum(gap, 0.0) ** p - row_max[start:stop, None] - col_max[None, :]
        block = lower <= threshold
        block[np.arange(stop - start), np.argmin(lower, axis=1)] = True
        keep[start:stop] = block
        smallest = np.min(lower, axis=0)
        better = smallest < best_value
        best_value[better] = smallest[better]
        best_row[better] = start + np.argmin(lower, axis=0)[better]
    keep[best_row, np.arange(k_cols)] = True  # (and each column its smallest bound)
    return keep


@dataclasses.dataclass(frozen=True)
class Blocks:
    """Tiles of the truncation: consecutive runs of sorted points (whole clusters of at most
    ``BLOCK_POINTS`` points together, a larger cluster cut into runs of that size), with
    ``offsets`` (nb + 1,), ``labels`` (n,) the block of each sorted point, ``centers``
    (nb, d) and ``radii`` (nb,) of balls that hold them."""

    offsets: np.ndarray
    labels: np.ndarray
    centers: np.ndarray
    radii: np.ndarray

    def segment_max(self, values: np.ndarray) -> np.ndarray:
        """(nb,) largest value of each block, for (n,) values in sorted order."""
        return np.maximum.reduceat(values, self.offsets[:-1])


def point_blocks(clusters: Clusters, sorted_points: np.ndarray, size=None) -> Blocks:
    """The :class:`Blocks` of a cloud sorted by ``clusters``."""
    n = int(clusters.offsets[-1])
    if size is None:  # (at least 16 blocks on small clouds, so that truncation can act)
        size = min(BLOCK_POINTS, max(8, n // 16))
    cuts, start = [0], 0
    for stop in clusters.offsets[1:]:
        stop = int(stop)
        if stop - cuts[-1] > size and start > cuts[-1]:
            cuts.append(start)  # close the block before this cluster
        while stop - cuts[-1] > size:
            cuts.append(cuts[-1] + size)  # a cluster larger than a block: cut it
        start = stop
    if cuts[-1] < start:
        cuts.append(start)
    offsets = np.asarray(cuts, dtype=np.int64)
    labels = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets))
    counts = np.diff(offsets).astype(np.float64)
    centers = np.add.reduceat(sorted_points, offsets[:-1], axis=0) / counts[:, None]
    distances = np.sqrt(np.sum((sorted_points - centers[labels]) ** 2, axis=1))
    return Blocks(offsets, labels, centers, np.maximum.reduceat(distances, offsets[:-1]))


@dataclasses.dataclass
class BlockPlan:
    """Row blocks ``(start, stop, cols)`` over sorted rows: ``cols`` the sorted column indices
    read (an integer array of the namespace, or None: all columns); ``largest`` the largest
    rows x columns of a block; ``kept`` the fraction of the n x m pairs read."""

    groups: list
    largest: int
    kept: float


def plan_from_mask(keep, rows: Blocks, cols: Blocks, xp, device, elements=GROUP_ELEMENTS):
    """The :class:`BlockPlan` of the rows of ``keep`` (None: every pair is kept).

    Row block R reads exactly the column blocks that ``keep[R]`` holds, so the plans of
    ``keep`` and ``keep.T`` read the same pairs: the row and column c-transforms are those
    of one truncated problem.
    """
    n, m = int(rows.offsets[-1]), int(cols.offsets[-1])
    if keep is None:
        step = max(1, elements // max(m, 1))
        groups = [(s, min(s + step, n), None) for s in range(0, n, step)]
        return BlockPlan(groups, min(step, n) * m, 1.0)
    col_sizes = np.diff(cols.offsets)
    groups, largest, read = [], 0, 0
    for block in range(keep.shape[0]):
        start, stop = int(rows.offsets[block]), int(rows.offsets[block + 1])
        n_cols = int(col_sizes[keep[block]].sum())
        index = None if n_cols == m else np.nonzero(keep[block][cols.labels])[0]
        groups.append(
            (start, stop, None if index is None else from_numpy(index, xp, device=device))
        )
        largest = max(largest, (stop - start) * n_cols)
        read += (stop - start) * n_cols
    return BlockPlan(groups, largest, read / max(n * m, 1))


def _gathered(y, h, cols, xp):
    if cols is None:
        return y, h
    return xp.take(y, cols, axis=0), xp.take(h, cols, axis=0)


def planned_softmin(x, y, h, eps, spec, plan, xp):
    """:func:`online_softmin` restricted to the pairs that ``plan`` reads: (n,)."""
    parts = []
    for start, stop, cols in plan.groups:
        yb, hb = _gathered(y, h, cols, xp)
        parts.append(online_softmin(x[start:stop, :], yb, hb, eps, spec, xp))
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def planned_transport(x, y, h, eps, spec, plan, xp):
    """:func:`transport_pass` restricted to the pairs that ``plan`` reads."""
    parts = []
    for start, stop, cols in plan.groups:
        yb, hb = _gathered(y, h, cols, xp)
        parts.append(transport_pass(x[start:stop, :], yb, hb, eps, spec, xp))
    if len(parts) == 1:
        return parts[0]
    return tuple(xp.concat([part[k] for part in parts], axis=0) for k in range(3))
