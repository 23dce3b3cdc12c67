r"""Grid clusters and truncated (block-sparse) c-transforms for the multiscale Sinkhorn engine.

A cloud is cut by a grid of cell size ``s`` (the cluster scale): the points of a cell form
a cluster, the points are sorted by cluster (clusters are contiguous row ranges) and each
cluster is summarized by its mass, its weighted centroid and its radius (largest distance of
its points to the centroid). The clustering runs once on the host (NumPy).

Kernel truncation (Schmitzer 2019; Feydy 2020, sec. 3.3) acts on blocks: consecutive runs
of sorted points (the clusters are sorted along a bisection tree of the grid cells, whose
leaves hold at most ``BLOCK_POINTS`` points: a block is a compact run of clusters). Each
block is cut into about ``TILES`` tiles (the leaves of a finer tree), each inside a ball of
center :math:`c_A` (the mean of its points) and radius :math:`r_A`. With potentials (f, g)
the plan entry is :math:`\pi_{ij} = a_i b_j \exp((f_i + g_j - C_{ij}) / \varepsilon)`, and
the pair of blocks (I, J) is kept when a lower bound :math:`L_{IJ}` of the reduced cost
:math:`C_{ij} - f_i - g_j` over its point pairs is at most :math:`\tau \varepsilon`
(τ = ``truncate``): every neglected entry then has :math:`\pi_{ij} < a_i b_j e^{-\tau}`.
:math:`L_{IJ}` is the smallest bound over the tile pairs (A, B) of I x J (every point pair
lies in one), and the bound of a tile pair is, for the cost :math:`\|x - y\|^p`:

* the box bound, for every p: :math:`\|x_i - y_j\| \ge \|c_A - c_B\| - r_A - r_B`, so

  .. math::
      C_{ij} - f_i - g_j \ \ge\ \max(\|c_A - c_B\| - r_A - r_B, 0)^p
      - \max_{i \in A} f_i - \max_{j \in B} g_j ;

* for p = 2, also the quadratic bound (the larger of the two is used). Write
  :math:`x_i = c_A + u_i`, :math:`y_j = c_B + v_j` (:math:`\|u_i\| \le r_A`,
  :math:`\|v_j\| \le r_B`). Expanding :math:`\langle x_i, y_j\rangle = \langle x_i, c_B
  \rangle + \langle c_A, y_j\rangle - \langle c_A, c_B\rangle + \langle u_i, v_j\rangle`
  gives the identity

  .. math::
      C_{ij} - f_i - g_j = \underbrace{\|x_i\|^2 - f_i - 2\langle x_i, c_B\rangle}_{
      \ge \alpha_{AB}}
      + \underbrace{\|y_j\|^2 - g_j - 2\langle y_j, c_A\rangle}_{\ge \beta_{AB}}
      + 2\langle c_A, c_B\rangle - 2\langle u_i, v_j\rangle ,

  with :math:`\alpha_{AB} = \min_{i \in A} (\|x_i\|^2 - f_i - 2\langle x_i, c_B\rangle)`,
  :math:`\beta_{AB} = \min_{j \in B} (\|y_j\|^2 - g_j - 2\langle y_j, c_A\rangle)` (exact
  minima over the points) and, by Cauchy-Schwarz, :math:`\langle u_i, v_j\rangle \le r_A
  r_B`:

  .. math::
      C_{ij} - f_i - g_j \ \ge\ \alpha_{AB} + \beta_{AB} + 2\langle c_A, c_B\rangle
      - 2 r_A r_B .

  It assumes nothing of the potentials. Near the optimum :math:`\|x\|^2 - f` is nearly
  convex with gradient :math:`2 T(x)` (T the entropic barycentric map), so the slope
  :math:`2 c_B` matches it on the tiles A that B receives from: there the minima lose only
  the curvature over A and B, and the bound is nearly tight exactly where the plan is
  not negligible. The box bound, which subtracts the largest potentials, loses the spread
  of f over A (about :math:`2 r_A \|T(c_A) - c_A\|`), far above ε at small blurs.

Both bounds are computed in float64 less a rounding allowance (64 ulps of the magnitudes
:math:`\max |f| + \max |g| + 4 D^p`, D the largest norm of a point on both sides). A row
block reads exactly the column blocks it keeps, so the row and column c-transforms are those
of one truncated problem (its Sinkhorn iteration converges).
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
    "block_bounds",
    "block_size",
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
# Tiles per block in the truncation bounds (finer tiles: tighter bounds, more work).
TILES = 8
# Float64 temporaries of one chunk of the truncation bounds (32 MiB).
BOUND_ELEMENTS = 2**22


@dataclasses.dataclass(frozen=True)
class Clusters:
    """A cloud sorted by grid cell: ``order`` (n,) the original index of each sorted point,
    ``offsets`` (K + 1,) the row range of each cluster, ``labels`` (n,) the cluster of each
    sorted point, ``centroids`` (K, d), ``masses`` (K,), ``radii`` (K,) (float64) and
    ``leaves`` (L + 1,) the row ranges of the leaves of the bisection tree (runs of clusters),
    ``tiles`` those of the finer tree that splits each leaf into about ``TILES`` parts."""

    order: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray
    masses: np.ndarray
    radii: np.ndarray
    leaves: np.ndarray
    tiles: np.ndarray


def default_cluster_scale(diameter: float, dimension: int) -> float:
    """GeomLoss's default: diameter / (sqrt(D) 2000^(1/D)), about 2000 cells in the box."""
    return diameter / (np.sqrt(dimension) * 2000.0 ** (1.0 / dimension))


def block_size(n: int) -> int:
    """Points per block for a cloud of n points: ``BLOCK_POINTS``, less on small clouds (at
    least 16 blocks, so that truncation can act)."""
    return min(BLOCK_POINTS, max(8, n // 16))


def _tree_order(cells, counts, leaf, node=None):
    """Bisection tree of K cells (K, d) holding ``counts`` (K,) points: each node with more
    than ``leaf`` points and more than one cell splits its cells along its widest axis, the
    first child taking about ceil(q / 2) / q of its points (q = ceil(points / leaf): both
    children fill their blocks alike) and at least 1/16 of its cells.

    ``node`` (K,): the leaf of each cell in a tree already built (dense labels in depth-first
    order; default: one root), refined here. Returns the leaf of each cell in the same form.
    """
    k = cells.shape[0]
    node = np.zeros(k, dtype=np.int64) if node is None else node
    counts = counts.astype(np.float64)
    while True:
        sizes, totals = np.bincount(node), np.bincount(node, weights=counts)
        split = (sizes > 1) & (totals > leaf)
        if not np.any(split):
            break
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        grouped = cells[np.argsort(node, kind="stable")]
        extent = np.maximum.reduceat(grouped, starts) - np.minimum.reduceat(grouped, starts)
        axis = np.argmax(extent, axis=1)[node]
        order = np.lexsort((cells[np.arange(k), axis], node))
        owner, weight = node[order], counts[order]
        before = np.cumsum(weight) - weight
        before -= before[starts][owner]
        pieces = np.ceil(totals / leaf)
        target = totals * np.ceil(pieces / 2) / pieces
        left = np.bincount(owner, weights=before + 0.5 * weight < target[owner],
                           minlength=sizes.shape[0])  # fmt: skip
        least = np.maximum(sizes // 16, 1)
        left = np.clip(left, least, np.maximum(sizes - least, least))
        child = 2 * owner + ((np.arange(k) - starts[owner] >= left[owner]) & split[owner])
        node = np.empty(k, dtype=np.int64)
        node[order] = np.unique(child, return_inverse=True)[1].reshape(-1)
    return node


def grid_clusters(points: np.ndarray, weights: np.ndarray, scale: float, origin,
                  leaf=None) -> Clusters:  # fmt: skip
    """The clusters of ``points`` (n, d) with ``weights`` (n,) on the grid of cell ``scale``
    anchored at ``origin`` (d,), in the order of a bisection tree with leaves of at most
    ``leaf`` points (default :func:`block_size`) or one cluster. Zero-mass clusters take the
    plain mean as centroid."""
    cells = np.clip(np.floor((points - origin) / scale), 0, _MAX_CELL).astype(np.int64)
    occupied, labels = np.unique(cells, axis=0, return_inverse=True)
    # Clusters in the order of a bisection tree: its leaves (runs of consecutive clusters,
    # the truncation blocks) and their subtrees (the tiles of the bounds) are compact.
    labels = labels.reshape(-1)
    leaf = block_size(points.shape[0]) if leaf is None else leaf
    per_cell = np.bincount(labels, minlength=occupied.shape[0])
    block_of = _tree_order(occupied, per_cell, leaf)
    tile_of = _tree_order(occupied, per_cell, max(1, leaf // TILES), block_of.copy())
    by_tile = np.argsort(tile_of, kind="stable")
    rank = np.empty_like(by_tile)
    rank[by_tile] = np.arange(by_tile.shape[0])
    labels = rank[labels]
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
    leaves = [np.flatnonzero(np.diff(v[by_tile], prepend=-1)) for v in (block_of, tile_of)]
    return Clusters(order, offsets, sorted_labels, centroids, masses, radii,
                    *(np.append(offsets[start], offsets[-1]) for start in leaves))  # fmt: skip


def keep_mask(rows: Blocks, cols: Blocks, f, g, threshold, p, budget=BOUND_ELEMENTS):
    """(nb_rows, nb_cols) bool: the block pairs whose lower bound of the reduced cost
    :math:`C(x_i, y_j) - f_i - g_j` (:func:`block_bounds`) is at most ``threshold``; each row
    and each column keeps at least its smallest bound (no empty c-transform). ``f`` (n,) and
    ``g`` (m,) are the potentials in sorted order."""
    k_rows, k_cols = rows.centers.shape[0], cols.centers.shape[0]
    keep = np.empty((k_rows, k_cols), dtype=bool)
    best_value = np.full(k_cols, np.inf)
    best_row = np.zeros(k_cols, dtype=np.int64)
    for start, stop, lower in block_bounds(rows, cols, f, g, p, budget):
        block = lower <= threshold
        block[np.arange(stop - start), np.argmin(lower, axis=1)] = True
        keep[start:stop] = block
        smallest = np.min(lower, axis=0)
        better = smallest < best_value
        best_value[better] = smallest[better]
        best_row[better] = start + np.argmin(lower, axis=0)[better]
    keep[best_row, np.arange(k_cols)] = True  # (and each column its smallest bound)
    return keep


def block_bounds(rows: Blocks, cols: Blocks, f, g, p, budget=BOUND_ELEMENTS):
    """Lower bounds of the reduced cost :math:`C(x_i, y_j) - f_i - g_j` over block pairs.

    Yields ``(start, stop, lower)``: ``lower`` (stop - start, nb_cols) bounds the reduced cost
    of every point pair of the row blocks ``start:stop`` and each column block; the chunks
    cover the row blocks in order, each with about ``budget`` float64 temporaries at most.
    The bound of a block pair is the smallest bound of its tile pairs; that of a tile pair
    is the box bound of the module note, and for p = 2 the larger of it and the quadratic
    bound, less a rounding allowance (64 float64 ulps of the magnitudes).
    """
    f, g = np.asarray(f, dtype=np.float64), np.asarray(g, dtype=np.float64)
    row_max = np.maximum.reduceat(f, rows.tile_offsets[:-1])
    col_max = np.maximum.reduceat(g, cols.tile_offsets[:-1])
    col_sq = np.sum(cols.tile_centers**2, axis=1)
    # (contiguous transposed factors: NumPy's matmul with a strided one is 30 times slower)
    col_centers = np.ascontiguousarray(cols.tile_centers.T)
    row_points_sq, col_points_sq = np.sum(rows.points**2, axis=1), np.sum(cols.points**2, axis=1)
    span = np.sqrt(np.max(row_points_sq, initial=0.0)) + np.sqrt(np.max(col_points_sq, initial=0.0))
    slack = 64.0 * np.finfo(np.float64).eps * (_finite_max(f) + _finite_max(g) + 4.0 * span**p)
    quadratic = p == 2
    if quadratic:
        phi, psi = row_points_sq - f, col_points_sq - g
    k_rows, n_tiles = rows.centers.shape[0], col_sq.shape[0]
    widest = int(np.max(np.diff(rows.offsets), initial=1))
    most = int(np.max(np.diff(rows.block_tiles), initial=1))
    chunk = max(1, budget // (max(n_tiles, cols.points.shape[0]) * max(widest, most)))
    for start in range(0, k_rows, chunk):
        stop = min(start + chunk, k_rows)
        first, last = int(rows.block_tiles[start]), int(rows.block_tiles[stop])
        centers, radii = rows.tile_centers[first:last], rows.tile_radii[first:last, None]
        centers_t = np.ascontiguousarray(centers.T)
        products = centers @ col_centers
        squared = np.sum(centers**2, axis=1)[:, None] + col_sq[None, :] - 2.0 * products
        gap = np.sqrt(np.maximum(squared, 0.0)) - radii - cols.tile_radii[None, :]
        lower = np.maximum(gap, 0.0) ** p - row_max[first:last, None] - col_max[None, :] - slack
        if quadratic:
            # min_{i in A} (phi_i - 2 <x_i, c_B>) + min_{j in B} (psi_j - 2 <y_j, c_A>)
            # + 2 <c_A, c_B> - 2 r_A r_B over tiles A, B
            lo, hi = int(rows.tile_offsets[first]), int(rows.tile_offsets[last])
            row_part = phi[lo:hi, None] - 2.0 * (rows.points[lo:hi] @ col_centers)
            row_part = np.minimum.reduceat(row_part, rows.tile_offsets[first:last] - lo, axis=0)
            col_part = psi[:, None] - 2.0 * (cols.points @ centers_t)
            col_part = np.minimum.reduceat(col_part, cols.tile_offsets[:-1], axis=0).T
            cross = 2.0 * (products - radii * cols.tile_radii[None, :])
            lower = np.fmax(lower, row_part + col_part + cross - slack)
        lower = np.minimum.reduceat(lower, rows.block_tiles[start:stop] - first, axis=0)
        yield start, stop, np.minimum.reduceat(lower, cols.block_tiles[:-1], axis=1)


def _finite_max(values):
    """Largest finite absolute value (0 if none): infinite potentials make their own bounds
    infinite, they need no allowance."""
    values = np.abs(values)
    return float(np.max(values, initial=0.0, where=np.isfinite(values)))


@dataclasses.dataclass(frozen=True)
class Blocks:
    """Blocks of the truncation: consecutive runs of sorted points (the leaves of the
    clusters' bisection tree, a leaf of one large cluster cut into runs of the block size),
    with ``offsets`` (nb + 1,), ``labels`` (n,) the block of each sorted point, ``centers``
    (nb, d) and ``radii`` (nb,) of balls that hold them, the sorted ``points`` (n, d), and
    the finer tiles that the bounds use: ``tile_offsets`` (nt + 1,), ``tile_centers``
    (nt, d), ``tile_radii`` (nt,) and ``block_tiles`` (nb + 1,) the tiles of each block (all
    arrays float64 or int64)."""

    offsets: np.ndarray
    labels: np.ndarray
    centers: np.ndarray
    radii: np.ndarray
    points: np.ndarray
    tile_offsets: np.ndarray
    tile_centers: np.ndarray
    tile_radii: np.ndarray
    block_tiles: np.ndarray


def _runs(leaves, size):
    """Offsets of the runs of at most ``size`` points that cut the ranges ``leaves``."""
    runs = -(-np.diff(leaves) // size)  # (runs per leaf)
    first = np.repeat(np.cumsum(runs) - runs, runs)
    starts = np.repeat(leaves[:-1], runs) + size * (np.arange(first.shape[0]) - first)
    return np.concatenate([starts, leaves[-1:]]).astype(np.int64)


def _balls(points, offsets):
    """Centers (mean) and radii of the runs ``offsets`` of ``points``."""
    counts = np.diff(offsets).astype(np.float64)
    labels = np.repeat(np.arange(counts.shape[0]), np.diff(offsets))
    centers = np.add.reduceat(points, offsets[:-1], axis=0) / counts[:, None]
    distances = np.sqrt(np.sum((points - centers[labels]) ** 2, axis=1))
    return labels, centers, np.maximum.reduceat(distances, offsets[:-1])


def point_blocks(clusters: Clusters, sorted_points: np.ndarray, size=None) -> Blocks:
    """The :class:`Blocks` of a cloud sorted by ``clusters``: blocks of at most ``size``
    points (default :func:`block_size`), tiles of at most ``size // TILES``."""
    size = block_size(int(clusters.leaves[-1])) if size is None else size
    points = np.asarray(sorted_points, dtype=np.float64)
    offsets = _runs(clusters.leaves, size)
    tile_offsets = np.union1d(offsets, _runs(clusters.tiles, max(1, size // TILES)))
    labels, centers, radii = _balls(points, offsets)
    _, tile_centers, tile_radii = _balls(points, tile_offsets)
    block_tiles = np.searchsorted(tile_offsets, offsets)
    return Blocks(offsets, labels, centers, radii, points, tile_offsets, tile_centers,
                  tile_radii, block_tiles)  # fmt: skip


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
