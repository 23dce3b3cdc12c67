"""Sinkhorn initializers as objects (``init=``): same solution, fewer iterations, any backend.

Oracles: the cold-start solution (Sinkhorn's fixed point is unique up to the shift (c, -c),
so the plan from any start must agree to the stopping tolerance), iteration counts of the
cold start on problems where each start is informative (Gaussian clouds for the Gaussian
start, 1D for sorting, a subsample of a large problem), and the potentials' defining
property (g the exact c-transform of the extended f: one half step leaves it unchanged).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot

RNG = np.random.default_rng(5)
N = 120
X = RNG.normal(size=(N, 2))
Y = 0.6 * RNG.normal(size=(N, 2)) + 1.0
M = ot.dist(X, Y)
REG = 0.5
SOLVE = {"method": "sinkhorn_log", "stopThr": 1e-9, "numItermax": 5000, "log": True}
INITIALIZERS = {
    "zero": ot.ZeroInitializer(),
    "gaussian": ot.GaussianInitializer(X, Y),
    "subsample": ot.SubsampleInitializer(40, seed=1),
}


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_the_start_never_changes_the_solution(xp, name):
    plan, log = ot.sinkhorn(None, None, to_xp(xp, M), REG, init=INITIALIZERS[name], **SOLVE)
    cold, _ = ot.sinkhorn(None, None, M, REG, **SOLVE)
    assert_same_backend(plan, to_xp(xp, M))
    assert bool(log["converged"])
    np.testing.assert_allclose(to_np(plan), cold, atol=1e-9)


@pytest.mark.parametrize("name", ["gaussian", "subsample"])
def test_informed_starts_save_iterations(name):
    _, cold = ot.sinkhorn(None, None, M, REG, **SOLVE)
    _, warm = ot.sinkhorn(None, None, M, REG, init=INITIALIZERS[name], **SOLVE)
    assert warm["n_iter"] < cold["n_iter"], (warm["n_iter"], cold["n_iter"])


def test_sorting_start_saves_iterations_in_1d():
    x, y = np.sort(RNG.normal(size=80)), RNG.normal(size=80) + 1.0
    cost = ot.dist(x[:, None], y[:, None])
    _, cold = ot.sinkhorn(None, None, cost, 0.1, **SOLVE)
    _, warm = ot.sinkhorn(None, None, cost, 0.1, init=ot.SortingInitializer(x, y), **SOLVE)
    assert warm["n_iter"] < 0.9 * cold["n_iter"], (warm["n_iter"], cold["n_iter"])


def test_subsample_potentials_are_c_transforms():
    f, g = ot.SubsampleInitializer(30, seed=2).init_potentials(None, None, M, REG)
    a, b = ot.unif(N), ot.unif(N)
    # g is the c-transform of f with the weights a: the column marginal is exactly b
    plan = a[:, None] * b[None, :] * np.exp((f[:, None] + g[None, :] - M) / REG)
    np.testing.assert_allclose(plan.sum(axis=0), b, rtol=1e-10)


def test_subsample_is_deterministic_from_its_seed():
    first = ot.SubsampleInitializer(30, seed=3).init_potentials(None, None, M, REG)
    again = ot.SubsampleInitializer(30, seed=3).init_potentials(None, None, M, REG)
    other = ot.SubsampleInitializer(30, seed=4).init_potentials(None, None, M, REG)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_two_dimensional_b(name):
    b = np.stack([ot.unif(N), RNG.dirichlet(np.ones(N))], axis=1)
    f, g = INITIALIZERS[name].init_potentials(ot.unif(N), b, M, REG)
    assert f.shape == (N, 2) and g.shape == (N, 2)
    values = ot.sinkhorn2(ot.unif(N), b, M, REG, init=INITIALIZERS[name], stopThr=1e-9)
    expected = ot.sinkhorn2(ot.unif(N), b, M, REG, stopThr=1e-9)
    np.testing.assert_allclose(values, expected, rtol=1e-8)


def test_meta_initializer_as_init():
    pytest.importorskip("torch")
    grid = np.linspace(0.0, 1.0, 12)
    cost = ot.dist(grid[:, None], grid[:, None])

    def bumps(rng, count):
        centres = rng.uniform(0.2, 0.8, size=(count, 1))
        h = np.exp(-((grid[None, :] - centres) ** 2) / 0.02) + 1e-3
        return h / h.sum(axis=1, keepdims=True)

    rng = np.random.default_rng(0)
    model = ot.MetaInitializer(cost, 0.05, hidden_sizes=(16,), framework="torch", seed=0)
    model.fit(bumps(rng, 64), bumps(rng, 64), n_iter=20, batch_size=16)
    a, b = bumps(rng, 1)[0], bumps(rng, 1)[0]
    plan = ot.sinkhorn(a, b, cost, 0.05, init=model, stopThr=1e-10, numItermax=5000)
    np.testing.assert_allclose(plan, ot.sinkhorn(a, b, cost, 0.05, stopThr=1e-10), atol=1e-9)
    with pytest.raises(ValueError, match="M differs"):
        ot.sinkhorn(a, b, 2.0 * cost, 0.05, init=model)
    with pytest.raises(ValueError, match="reg"):
        ot.sinkhorn(a, b, cost, 0.1, init=model)


def test_bad_init_arguments():
    with pytest.raises(TypeError, match="init must be an initializer"):
        ot.sinkhorn(None, None, M, REG, init="gaussian")
    with pytest.raises(ValueError, match="not both"):
        ot.sinkhorn2(None, None, M, REG, init=ot.ZeroInitializer(), warmstart=(X[:, 0], Y[:, 0]))
    with pytest.raises(ValueError, match="warmstart_type"):
        ot.sinkhorn(None, None, M, REG, init=ot.ZeroInitializer(), warmstart_type="log_scalings")
    with pytest.raises(ValueError, match="points"):
        ot.sinkhorn(None, None, M, REG, init=ot.GaussianInitializer(X[:10], Y))
    with pytest.raises(ValueError, match="n_samples"):
        ot.SubsampleInitializer(0)


def test_solve_takes_an_initializer_as_potentials_init():
    result = ot.solve(M, reg=REG, potentials_init=INITIALIZERS["gaussian"], tol=1e-9)
    cold = ot.solve(M, reg=REG, tol=1e-9)
    np.testing.assert_allclose(result.plan, cold.plan, atol=1e-9)
    exact = ot.solve(M, potentials_init=INITIALIZERS["subsample"])
    assert float(exact.value) == pytest.approx(float(ot.emd2(None, None, M)), rel=1e-12)
