"""emd2_lazy against the dense network simplex on thousands of random problems (issue 15).

Each test draws 500 problems of one dimension d (1, 2, 3, 10): sizes n != m from 1 to 40,
uniform, clustered, duplicated and integer-grid clouds (ties everywhere), uniform weights or
random weights with zeros, and engine settings that exercise every part of the multiscale
solver (tiny coarse levels, few neighbours, so that certificate rounds must add arcs; both
hierarchies, kd-tree and grid).  The
oracle is ``emd2`` on the full cost matrix; the duals must be feasible on every pair."""

from __future__ import annotations

import numpy as np
import pytest

import otkit as ot
from otkit.lp import emd2_lazy

# Two LP optima computed from the same costs (direct differences vs dist's expansion): equal
# to rounding (~1e-15 observed), far below the gaps between vertices of these problems.
RTOL = 1e-10
PROBLEMS_PER_DIMENSION = 500


def _cloud(rng, n, d, kind):
    if kind == "clustered":
        centers = rng.normal(scale=4.0, size=(3, d))
        return centers[rng.integers(0, 3, n)] + 0.1 * rng.normal(size=(n, d))
    if kind == "duplicates":
        base = rng.uniform(size=(max(n // 3, 1), d))
        return base[rng.integers(0, base.shape[0], n)]
    if kind == "grid":  # integer coordinates: many equal costs, degenerate bases
        return rng.integers(0, 3, size=(n, d)).astype(float)
    return rng.uniform(size=(n, d))


def _weights(rng, n, kind):
    if kind == "uniform":
        return np.full(n, 1.0 / n)
    w = rng.random(n)
    w[rng.random(n) < 0.25] = 0.0
    w[rng.integers(n)] += 0.1  # never all zero
    return w / w.sum()


@pytest.mark.parametrize("d", [1, 2, 3, 10])
def test_many_random_problems_equal_dense_emd2(d):
    rng = np.random.default_rng(1000 + d)
    clouds = ("uniform", "clustered", "duplicates", "grid")
    failures = []
    for k in range(PROBLEMS_PER_DIMENSION):
        n, m = (int(s) for s in rng.integers(1, 41, size=2))
        kind = clouds[k % len(clouds)]
        X, Y = _cloud(rng, n, d, kind), _cloud(rng, m, d, kind)
        a = _weights(rng, n, "uniform" if k % 3 == 0 else "random")
        b = _weights(rng, m, "uniform" if k % 5 == 0 else "random")
        options = {
            "coarse_size": int(rng.choice([2, 4, 8])),
            "neighbors": int(rng.choice([1, 3])),
            "hierarchy": ("kd", "grid")[(k // 4) % 2],  # both, on every kind of cloud
        }
        cost, log = emd2_lazy(X, Y, a, b, return_matrix=False, log=True, **options)
        M = ot.dist(X, Y)
        expected = ot.emd2(a, b, M)
        scale = max(np.abs(M).max(), 1e-300)
        reduced = M - log["u"][:, None] - log["v"][None, :]
        if (
            log["result_code"] != 1
            or abs(cost - expected) > RTOL * abs(expected) + 1e-15 * scale
            or reduced.min() < -1e-12 * scale
        ):
            failures.append((k, n, m, kind, options, float(cost), float(expected)))
    assert not failures, f"{len(failures)} of {PROBLEMS_PER_DIMENSION} differ: {failures[:3]}"
