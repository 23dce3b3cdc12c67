"""``SamplesLoss(backend='multiscale')``: the coarse-to-fine engine with kernel truncation.

Oracles: the online engine (exact c-transforms over all pairs) and finite differences. The
truncation bound (documented in ``SamplesLoss``): every neglected plan entry is below
a_i b_j e^-truncate, so each OT_eps term moves by at most eps e^-truncate m_a m_b and the
debiased value by at most 2 eps e^-truncate (GeomLoss's eps = blur^p, probability weights).
"""

from __future__ import annotations

import math
import re
import tracemalloc
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot


def _clouds(n, m, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = 0.8 * rng.random((m, d)) + 0.15
    a = rng.random(n) + 0.2
    b = rng.random(m) + 0.2
    return a / a.sum(), x, b / b.sum(), y


def _read_fraction(text):
    """The share of the (x, y) pairs the final iterations read, from the verbose line."""
    return float(re.search(r"reading ([0-9.e+-]+)% of the", text).group(1)) / 100


@pytest.mark.parametrize(
    ("d", "p", "reach"), [(2, 1, None), (2, 2, 0.4), (3, 1, 0.4), (3, 2, None)]
)
def test_matches_online_within_truncation_bound(d, p, reach, capsys):
    a, x, b, y = _clouds(90, 111, d, seed=d + 3 * p)
    # three blobs far apart (next to the blur), of mass 1/3 each in both measures: the
    # truncation skips the pairs between them
    blob_x, blob_y = np.arange(90) % 3, np.arange(111) % 3
    x, y = x + 4.0 * blob_x[:, None], y + 4.0 * blob_y[:, None]
    a = a / (3 * np.bincount(blob_x, weights=a)[blob_x])
    b = b / (3 * np.bincount(blob_y, weights=b)[blob_y])
    blur, truncate = 0.1, 2.0
    kw = {"p": p, "blur": blur, "reach": reach, "stopThr": 1e-11}
    exact = float(ot.SamplesLoss(backend="online", **kw)(a, x, b, y))
    loss = ot.SamplesLoss(backend="multiscale", truncate=truncate, cluster_scale=0.2,
                          verbose=True, **kw)  # fmt: skip
    value = float(loss(a, x, b, y))
    assert _read_fraction(capsys.readouterr().out) < 0.8
    bound = 2 * blur**p * math.exp(-truncate)
    assert abs(value - exact) <= bound
    assert abs(value - exact) <= 1e-3 * abs(exact)  # (far below the bound in practice)


@pytest.mark.parametrize("debias", [True, False])
@pytest.mark.parametrize("cluster_scale", [1e-3, 10.0])
def test_exact_without_truncation(debias, cluster_scale):
    # truncate=None: the engine solves the exact problem, whatever the clusters (one cluster
    # per point, or a single cluster)
    a, x, b, y = _clouds(60, 70, 2, seed=1)
    kw = {"p": 2, "blur": 0.1, "debias": debias, "stopThr": 1e-12}
    exact = float(ot.SamplesLoss(backend="online", **kw)(a, x, b, y))
    loss = ot.SamplesLoss(backend="multiscale", truncate=None, cluster_scale=cluster_scale, **kw)
    assert float(loss(a, x, b, y)) == pytest.approx(exact, rel=1e-9, abs=1e-14)


def test_potentials_match_online():
    a, x, b, y = _clouds(80, 90, 2, seed=4)
    kw = {"p": 2, "blur": 0.05, "stopThr": 1e-11, "potentials": True}
    f0, g0 = ot.SamplesLoss(backend="online", **kw)(a, x, b, y)
    f, g = ot.SamplesLoss(backend="multiscale", truncate=None, **kw)(a, x, b, y)
    assert f.shape == (80,) and g.shape == (90,)  # GeomLoss's multiscale shapes
    np.testing.assert_allclose(f, f0[0], atol=1e-8)
    np.testing.assert_allclose(g, g0[0], atol=1e-8)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reach", [None, 0.4])
def test_torch_gradients_match_online(p, reach):
    torch = pytest.importorskip("torch")
    a, x, b, y = _clouds(70, 80, 3, seed=5)
    kw = {"p": p, "blur": 0.08, "reach": reach, "stopThr": 1e-11}

    def grads(backend, **extra):
        ta, tx = torch.tensor(a, requires_grad=True), torch.tensor(x, requires_grad=True)
        value = ot.SamplesLoss(backend=backend, **kw, **extra)(ta, tx, torch.tensor(b),
                                                               torch.tensor(y))  # fmt: skip
        value.backward()
        return float(value.detach()), tx.grad.numpy(), ta.grad.numpy()

    v0, gx0, ga0 = grads("online")
    v1, gx1, ga1 = grads("multiscale", cluster_scale=0.1, truncate=6)
    assert v1 == pytest.approx(v0, rel=1e-6)
    # truncation at e^-6 moves each row's plan by at most that share
    np.testing.assert_allclose(gx1, gx0, atol=3e-3 * np.abs(gx0).max())
    np.testing.assert_allclose(ga1, ga0, atol=3e-3 * np.abs(ga0).max())


def test_torch_gradient_matches_finite_differences():
    torch = pytest.importorskip("torch")
    a, x, b, y = _clouds(40, 50, 2, seed=6)
    loss = ot.SamplesLoss(backend="multiscale", blur=0.1, cluster_scale=0.1, stopThr=1e-12)
    tx = torch.tensor(x, requires_grad=True)
    loss(torch.tensor(a), tx, torch.tensor(b), torch.tensor(y)).backward()
    direction = np.random.default_rng(0).normal(size=x.shape)
    h = 1e-5
    plus = float(loss(a, x + h * direction, b, y))
    minus = float(loss(a, x - h * direction, b, y))
    slope = float(np.sum(tx.grad.numpy() * direction))
    # central differences: O(h^2) plus the solver's tolerance over h
    assert (plus - minus) / (2 * h) == pytest.approx(slope, rel=1e-4)


def test_backends_same_value(xp):
    a, x, b, y = _clouds(16, 18, 2, seed=7)  # small: JAX runs the engine eagerly
    kw = {"blur": 0.1, "cluster_scale": 0.1, "stopThr": 1e-10}
    exact = float(ot.SamplesLoss(backend="online", **kw)(a, x, b, y))
    args = [to_xp(xp, v) for v in (a, x, b, y)]
    value = ot.SamplesLoss(backend="multiscale", **kw)(*args)
    assert_same_backend(value, args[1])
    assert float(to_np(value)) == pytest.approx(exact, rel=1e-7)


def test_jax_jit_falls_back_to_online():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    a, x, b, y = _clouds(30, 35, 2, seed=8)
    loss = ot.SamplesLoss(backend="multiscale", blur=0.1, stopThr=1e-10)
    value = jax.jit(lambda *v: loss(*v))(*(jnp.asarray(v) for v in (a, x, b, y)))
    exact = ot.SamplesLoss(backend="online", blur=0.1, stopThr=1e-10)(a, x, b, y)
    assert float(value) == pytest.approx(float(exact), rel=1e-8)


def test_large_cloud_never_builds_n_by_n(capsys):
    # n = 8,000 points in 3-D: an n x n float64 block would be 512 MB
    rng = np.random.default_rng(9)
    n = 8000
    x, y = rng.random((n, 3)), rng.random((n, 3)) + 0.02
    loss = ot.SamplesLoss(backend="multiscale", blur=0.01, numItermax=2, verbose=True)  # fmt: skip
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # 2 iterations: not converged
            value = float(loss(x, y))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert math.isfinite(value)
    largest = int(re.search(r"largest block (\d+) pairs", capsys.readouterr().out).group(1))
    assert largest <= 128 * n  # at most one block of 128 rows against all the columns
    assert peak < 0.05 * n * n * 8


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_cluster_scale(bad):
    with pytest.raises(ValueError, match="cluster_scale"):
        ot.SamplesLoss(backend="multiscale", cluster_scale=bad)


def test_bad_truncate():
    with pytest.raises(ValueError, match="truncate"):
        ot.SamplesLoss(backend="multiscale", truncate=-1)


def test_batches_and_same_clouds_keep_working():
    _a, x, _b, y = _clouds(30, 30, 2, seed=10)
    loss = ot.SamplesLoss(backend="multiscale", blur=0.1)
    assert float(loss(x, x)) == 0.0
    batch = loss(np.stack([x, x]), np.stack([y, y]))
    assert batch.shape == (2,)
    assert float(batch[0]) == pytest.approx(float(loss(x, y)), rel=1e-5)


def test_torch_float32_device_and_dtype():
    torch = pytest.importorskip("torch")
    a, x, b, y = _clouds(50, 60, 2, seed=11)
    args = [torch.tensor(v, dtype=torch.float32) for v in (a, x, b, y)]
    value = ot.SamplesLoss(backend="multiscale", blur=0.05)(*args)
    exact = ot.SamplesLoss(backend="online", blur=0.05)(a, x, b, y)
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(float(exact), rel=1e-3)
    assert is_backend(torch, "torch")
