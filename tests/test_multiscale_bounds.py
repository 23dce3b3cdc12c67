"""The truncation bounds of ``SamplesLoss(backend='multiscale')`` (``otkit.geomloss._clusters``).

Oracle: brute force. For every pair of blocks, the bound that ``block_bounds`` yields must not
exceed the true minimum of the reduced cost C(x_i, y_j) - f_i - g_j over the block pair,
computed from the n x m matrix, whatever the potentials: random, spiky, shifted by large
constants, exact c-transforms (the bound is then tight to 0 on some pairs), exact
unregularized potentials of a translation, and converged entropic potentials (balanced and
unbalanced). The bounds only take NumPy arrays (they run on the host), hence no ``xp``.
"""

from __future__ import annotations

import numpy as np
import pytest

from otkit.geomloss._clusters import (
    block_bounds,
    default_cluster_scale,
    grid_clusters,
    keep_mask,
    point_blocks,
)


def _blocks(points, scale=None):
    """Sorted points and their blocks, as the multiscale engine builds them."""
    origin = points.min(axis=0)
    span = float(np.ptp(points, axis=0).max())
    scale = default_cluster_scale(span, points.shape[1]) if scale is None else scale
    clusters = grid_clusters(points, np.ones(points.shape[0]), scale, origin)
    sorted_points = points[clusters.order]
    return sorted_points, point_blocks(clusters, sorted_points)


def _cost(x, y, p):
    return np.sqrt(np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=2)) ** p


def _bounds(rows, cols, f, g, p, budget=None):
    """The (nb_rows, nb_cols) bounds, gathered from the chunks."""
    kwargs = {} if budget is None else {"budget": budget}
    lower = np.full((rows.centers.shape[0], cols.centers.shape[0]), np.nan)
    for start, stop, chunk in block_bounds(rows, cols, f, g, p, **kwargs):
        lower[start:stop] = chunk
    assert not np.isnan(lower).any()  # the chunks cover every row block
    return lower


def _true_minima(x, y, rows, cols, f, g, p):
    reduced = _cost(x, y, p) - f[:, None] - g[None, :]
    reduced = np.minimum.reduceat(reduced, rows.offsets[:-1], axis=0)
    return np.minimum.reduceat(reduced, cols.offsets[:-1], axis=1)


def _check(x, y, rows, cols, f, g, p, budget=None):
    lower = _bounds(rows, cols, f, g, p, budget)
    true = _true_minima(x, y, rows, cols, f, g, p)
    assert np.all(lower <= true), float(np.max(lower - true))
    return lower, true


def _sinkhorn(x, y, eps, rho=None, iterations=3000):
    """Converged dense log-domain potentials of uniform weights (cost |x - y|^2)."""
    cost = _cost(x, y, 2)
    log_a, log_b = -np.log(x.shape[0]), -np.log(y.shape[0])
    lam = 1.0 if rho is None else rho / (rho + eps)
    f, g = np.zeros(x.shape[0]), np.zeros(y.shape[0])

    def softmin(h, matrix):
        z = (h[None, :] - matrix) / eps
        top = z.max(axis=1)
        return -eps * (top + np.log(np.sum(np.exp(z - top[:, None]), axis=1)))

    for _ in range(iterations):
        g = lam * softmin(f + eps * log_a, cost.T)
        f = lam * softmin(g + eps * log_b, cost)
    return f, g


def _clouds(n, m, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = 0.7 * rng.random((m, d)) + 0.2 + shift
    return x, y


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_bound_below_brute_force_random_potentials(p, seed):
    rng = np.random.default_rng(seed)
    d = 2 + seed % 2
    x, y = _clouds(300 + 17 * seed, 260, d, seed)
    x, rows = _blocks(x)
    y, cols = _blocks(y)
    size = 0.3 * float(np.mean(_cost(x[:50], y[:50], p)))
    cases = [
        (size * rng.standard_normal(x.shape[0]), size * rng.standard_normal(y.shape[0])),
        # spiky: a few very large potentials in otherwise flat ones
        (np.where(rng.random(x.shape[0]) < 0.02, 50.0 * size, 0.0), np.zeros(y.shape[0])),
        # large constant offsets: the rounding allowance
        (1e6 + size * rng.random(x.shape[0]), -1e6 + size * rng.random(y.shape[0])),
    ]
    # exact c-transforms: min_j (C - f - g) = 0 on every row, the bound is tight there
    g = size * rng.standard_normal(y.shape[0])
    cases.append((np.min(_cost(x, y, p) - g[None, :], axis=1), g))
    for f, g in cases:
        _check(x, y, rows, cols, f, g, p)


@pytest.mark.parametrize("seed", range(3))
def test_quadratic_bound_adversarial_potentials(seed):
    """Potentials whose |x|^2 - f is a sharp quadratic or a kinked function (the slope the
    bound guesses is wrong), far clouds (large |x|^2 against small reduced costs)."""
    rng = np.random.default_rng(10 + seed)
    x, y = _clouds(280, 240, 3, seed, shift=1e3 * seed)
    x, rows = _blocks(x)
    y, cols = _blocks(y)
    slope = 5.0 * rng.standard_normal(3)
    sq_x, sq_y = np.sum(x**2, axis=1), np.sum(y**2, axis=1)
    cases = [
        (sq_x - 40.0 * np.sum((x - x.mean(0)) ** 2, axis=1), sq_y - y @ slope),
        (sq_x - np.abs((x - x.mean(0)) @ slope), sq_y + 3.0 * np.abs(y[:, 0] - y[0, 0])),
        (sq_x - x @ slope + rng.random(x.shape[0]), sq_y + y @ slope),
    ]
    for f, g in cases:
        g = np.min(_cost(x, y, 2) - f[:, None], axis=0)  # (a tight pair)
        _check(x, y, rows, cols, f, g, 2, budget=5000)  # (small chunks)


@pytest.mark.parametrize("rho", [None, 0.3])
def test_bound_below_brute_force_converged_potentials(rho):
    x, y = _clouds(240, 220, 2, 3)
    x, rows = _blocks(x)
    y, cols = _blocks(y)
    f, g = _sinkhorn(x, y, 0.005, rho, iterations=400)
    lower, true = _check(x, y, rows, cols, f, g, 2)
    # the block pairs where the plan is not negligible keep bounds near their minima
    near = true <= 0.01
    assert np.any(near)
    assert np.max(true[near] - lower[near]) < 0.05


def test_translation_exact_potentials_tight_and_fewer_kept():
    """y = x + t: f(x) = -2 <x, t>, g(y) = 2 <y, t> - |t|^2 are optimal and the reduced cost
    is |x + t - y|^2, zero on the transport. The quadratic bound keeps nearly only the block
    pairs that hold a pair below the threshold (here the neighbouring blocks: 30% of the
    pairs), the box bound of the former engine (block maxima of the potentials) all of
    them."""
    rng = np.random.default_rng(7)
    x = rng.random((2000, 2))
    t = np.array([3.0, 1.0])
    x, rows = _blocks(x)
    y, cols = _blocks(x + t)
    f, g = -2.0 * x @ t, 2.0 * y @ t - t @ t
    _, true = _check(x, y, rows, cols, f, g, 2)
    threshold = 5.0 * 1e-3  # truncate = 5 at eps = 1e-3
    keep = keep_mask(rows, cols, f, g, threshold, 2)
    assert np.all(keep[true <= threshold])  # (the kept set covers every pair below it)
    row_max = np.maximum.reduceat(f, rows.offsets[:-1])
    col_max = np.maximum.reduceat(g, cols.offsets[:-1])
    gap = np.sqrt(np.sum((rows.centers[:, None] - cols.centers[None]) ** 2, axis=2))
    gap = np.maximum(gap - rows.radii[:, None] - cols.radii[None], 0.0)
    old = gap**2 - row_max[:, None] - col_max[None, :] <= threshold
    needed = np.mean(true <= threshold)
    assert keep.mean() <= 1.2 * needed, (keep.mean(), needed)
    assert keep.mean() < 0.5 * old.mean(), (keep.mean(), old.mean())
    assert keep.any(axis=0).all() and keep.any(axis=1).all()
