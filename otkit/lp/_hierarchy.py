r"""Multiscale partitions of a weighted point cloud (the hierarchy of the multiscale solver).

Two partitions, both binary: the top :math:`\ell` bits of a point's code name its cell at
depth :math:`\ell`.

A balanced kd-tree partition (``kd_codes``), for any dimension: at depth :math:`\ell + 1` every cell of depth
:math:`\ell` is cut in two at the median of its points along its widest coordinate, so depth
:math:`\ell` has at most :math:`2^\ell` cells, and cells adapt to clustered clouds (a uniform
grid would leave most cells empty).  Each level of the hierarchy stores, per cell, its mass
(the sum of its points' weights), its position (their weighted mean) and its parent cell at
the coarser level.  The cuts are vectorized over all the cells of a depth (one lexicographic
sort per depth): O(n d log n) time, O(n) memory per level.

A regular grid (``grid_codes``, for d <= 3): the quadtree (octree in 3-D) of a fixed box, cut
at the midpoints of its sides, one coordinate per depth in turn, so that depth
:math:`\ell d` is the grid of :math:`2^\ell` cells per side (a Morton / Z-order code).
Cells do not adapt to the points (clustered clouds leave many empty), but they align with
pixel grids and are the same for both clouds when they share the box.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Level", "build_levels", "grid_codes", "kd_codes"]


class Level(NamedTuple):
    """One level of a point hierarchy.

    ``label[i]``: cell of point ``i``; ``mass``, ``position``: per cell; ``parent[c]``: the
    cell of the next coarser level that contains cell ``c`` (None at the coarsest level)."""

    label: np.ndarray
    mass: np.ndarray
    position: np.ndarray
    parent: np.ndarray | None


def kd_codes(points: np.ndarray, depth: int) -> np.ndarray:
    """Cell codes of ``depth`` balanced median cuts: the top ``l`` bits of a code name its cell
    at depth ``l`` (a cell of one point is no longer cut: its lower bits stay 0)."""
    n = points.shape[0]
    codes = np.zeros(n, dtype=np.int64)
    for _ in range(depth):
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        sizes = np.diff(np.r_[starts, n])
        sorted_points = points[order]
        spread = np.maximum.reduceat(sorted_points, starts, axis=0) - np.minimum.reduceat(
            sorted_points, starts, axis=0
        )
        axis = np.argmax(spread, axis=1)  # widest coordinate of each cell
        cell = np.repeat(np.arange(starts.size), sizes)
        key = sorted_points[np.arange(n), axis[cell]]
        within = np.lexsort((key, cell))  # by cell, then along the cell's axis
        rank = np.empty(n, dtype=np.int64)
        rank[within] = np.arange(n) - starts[cell[within]]
        upper = rank >= sizes[cell] // 2
        codes[order] = 2 * sorted_codes + (upper & (sizes[cell] > 1))
    return codes


def grid_codes(points: np.ndarray, depth: int, low: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Morton codes of ``depth`` midpoint cuts of the box ``[low, low + span]`` (cut ``t``
    halves coordinate ``t % d``); points on the upper faces go to the upper cells."""
    n, d = points.shape
    bits = max(1, -(-depth // d))  # cuts per coordinate
    safe_span = np.where(span > 0, span, 1.0)
    cells = np.floor((points - low) / safe_span * 2.0**bits)
    cells = np.clip(cells, 0, 2**bits - 1).astype(np.int64)
    codes = np.zeros(n, dtype=np.int64)
    for t in range(depth):
        codes = 2 * codes + ((cells[:, t % d] >> (bits - 1 - t // d)) & 1)
    return codes


def build_levels(points: np.ndarray, weights: np.ndarray, depths, codes=None) -> list[Level]:
    """Levels of the kd partition at the given increasing ``depths``, coarse to fine, then the
    points themselves (the finest level, one cell per point).

    Parameters
    ----------
    points : (n, d) float64 array
    weights : (n,) float64 array, positive
    depths : sequence of int
        Cut depths of the coarse levels, increasing.
    codes : (n,) int64 array, optional
        ``kd_codes(points, depths[-1])`` when the caller has them already.
    """
    n = points.shape[0]
    depths = list(depths)
    if codes is None:
        codes = kd_codes(points, depths[-1]) if depths else np.zeros(n, dtype=np.int64)
    levels: list[Level] = []
    previous_label = None
    for depth in depths:
        _, label = np.unique(codes >> (depths[-1] - depth), return_inverse=True)
        levels.append(_level(points, weights, label, previous_label))
        previous_label = label
    finest = _level(points, weights, np.arange(n), previous_label)
    # the points themselves, not their weighted means (which may differ in the last bit)
    levels.append(finest._replace(position=points, mass=weights))
    return levels


def _level(points, weights, label, previous_label):
    cells = int(label.max()) + 1
    mass = np.bincount(label, weights=weights, minlength=cells)
    position = np.empty((cells, points.shape[1]))
    for k in range(points.shape[1]):
        position[:, k] = np.bincount(label, weights=weights * points[:, k], minlength=cells)
    position /= mass[:, None]
    parent = None
    if previous_label is not None:
        parent = np.empty(cells, dtype=np.int64)
        parent[label] = previous_label
    return Level(label, mass, position, parent)
