"""solve_sample(..., lazy=True) for exact OT: emd2_lazy behind the OTResult of the dense
exact method, without the (n, m) cost; against the dense solve_sample, POT, and gradients of
the dense value.

Both paths return LP optima computed from the same costs up to last-bit rounding (the lazy
solver evaluates c(x_i, y_j) itself, the dense one through otkit.dist): equal to 1e-10
relative, far tighter than the gap between two vertices of these random problems (~1e-3).
Positive random weights make the optimal basis, hence the centred duals, unique."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot

RTOL = 1e-10


def _problem(seed=0, n=12, m=9, d=2):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5, a / a.sum(), b / b.sum()


def test_lazy_exact_equals_dense_on_every_backend(xp):
    x, y, a, b = _problem()
    args = [to_xp(xp, v) for v in (x, y, a, b)]
    lazy = ot.solve_sample(*args, lazy=True)
    dense = ot.solve_sample(x, y, a, b)
    assert_same_backend(lazy.value, args[0])
    np.testing.assert_allclose(to_np(lazy.value), dense.value, rtol=RTOL)
    np.testing.assert_allclose(to_np(lazy.value_linear), dense.value, rtol=RTOL)
    for got, want in zip(lazy.potentials, dense.potentials):
        assert_same_backend(got, args[0])
        np.testing.assert_allclose(to_np(got), want, rtol=RTOL, atol=1e-12)
    assert_same_backend(lazy.plan, args[0])
    np.testing.assert_allclose(to_np(lazy.plan), dense.plan, atol=1e-14)
    for got, want in zip(lazy.marginals, (a, b)):
        np.testing.assert_allclose(to_np(got), want, atol=1e-14)
    np.testing.assert_allclose(to_np(lazy.a_to_b), dense.a_to_b, atol=1e-12)
    np.testing.assert_allclose(to_np(lazy.b_to_a), dense.b_to_a, atol=1e-12)
    assert lazy.status == "optimal" and lazy.converged
    assert lazy.lazy_plan is None


def test_sparse_plan_format(xp):
    x, y, a, b = _problem(1)
    res = ot.solve_sample(to_xp(xp, x), to_xp(xp, y), to_xp(xp, a), to_xp(xp, b), lazy=True)
    sparse = res.sparse_plan
    if xp.__name__ == "numpy" or xp.__name__.endswith(".numpy") and "jax" not in xp.__name__:
        assert type(sparse).__name__ == "coo_array"
        dense = sparse.toarray()
    elif is_backend(xp, "torch"):
        import torch

        assert sparse.layout == torch.sparse_coo
        assert sparse._nnz() <= x.shape[0] + y.shape[0] - 1
        dense = to_np(sparse.to_dense())
    else:  # JAX and array_api_strict: otkit.lp.SparsePlan of the n + m - 1 basis cells
        assert isinstance(sparse, ot.lp.SparsePlan)
        dense = np.zeros(sparse.shape)
        np.add.at(dense, (to_np(sparse.rows).astype(int), to_np(sparse.cols).astype(int)),
                  to_np(sparse.data))  # fmt: skip
    np.testing.assert_allclose(dense, ot.solve_sample(x, y, a, b).plan, atol=1e-14)


def test_multiscale_levels_equal_dense():
    # 600 x 580 pairs: a coarse level, a sparse refinement and the certificate all run
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=(600, 2)), rng.uniform(size=(580, 2))
    lazy = ot.solve_sample(x, y, lazy=True)
    assert lazy.log["levels"] > 1 and lazy.log["n_arcs"] < 600 * 580 // 10
    np.testing.assert_allclose(lazy.value, ot.solve_sample(x, y).value, rtol=RTOL)


@pytest.mark.parametrize(
    ("metric", "p"), [("euclidean", 2), ("cityblock", 2), ("minkowski", 3), ("SQEuclidean", 2)]
)
def test_metrics_equal_dense(metric, p):
    x, y, a, b = _problem(2, d=3)
    lazy = ot.solve_sample(x, y, a, b, metric=metric, p=p, lazy=True)
    dense = ot.solve_sample(x, y, a, b, metric=metric.lower(), p=p)
    np.testing.assert_allclose(lazy.value, dense.value, rtol=RTOL)


@pytest.mark.parametrize("method", ["exact", "emd", "EXACT"])
def test_exact_method_names(method):
    x, y, a, b = _problem(4)
    res = ot.solve_sample(x, y, a, b, method=method, lazy=True)
    assert res.method == "emd_lazy"
    np.testing.assert_allclose(res.value, ot.solve_sample(x, y, a, b).value, rtol=RTOL)


def test_uniform_weights_and_potentials_init():
    x, y, _, _ = _problem(5)
    dense = ot.solve_sample(x, y)
    warm = ot.solve_sample(x, y, lazy=True, potentials_init=dense.potentials)
    np.testing.assert_allclose(warm.value, dense.value, rtol=RTOL)


def test_torch_gradients_equal_dense():
    torch = pytest.importorskip("torch")
    x, y, a, b = _problem(6)
    grads = []
    for lazy in (True, False):
        xt, at = torch.tensor(x, requires_grad=True), torch.tensor(a, requires_grad=True)
        ot.solve_sample(xt, torch.tensor(y), at, torch.tensor(b), lazy=lazy).value.backward()
        grads.append((xt.grad.numpy(), at.grad.numpy()))
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    xt = torch.tensor(x, requires_grad=True)
    detached = ot.solve_sample(xt, torch.tensor(y), lazy=True, grad="detach").value
    assert not detached.requires_grad


def test_jax_gradients_under_jit():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x, y, a, b = _problem(7)

    def value(X, w, lazy):
        return ot.solve_sample(X, jnp.asarray(y), w, jnp.asarray(b), lazy=lazy).value

    got = jax.jit(jax.grad(lambda X, w: value(X, w, True), argnums=(0, 1)))(
        jnp.asarray(x), jnp.asarray(a)
    )
    want = jax.grad(lambda X, w: value(X, w, False), argnums=(0, 1))(jnp.asarray(x), jnp.asarray(a))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-12)
    plan = jax.jit(lambda X: ot.solve_sample(X, jnp.asarray(y), lazy=True).plan)(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(plan), ot.solve_sample(x, y).plan, atol=1e-14)


def test_matches_pot():
    pot = pytest.importorskip("ot")
    x, y, a, b = _problem(8)
    mine = ot.solve_sample(x, y, a, b, lazy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pot.solve_sample(x, y, a, b, lazy=True)
    np.testing.assert_allclose(mine.value, theirs.value, rtol=RTOL)
    np.testing.assert_allclose(mine.sparse_plan.toarray(), theirs.sparse_plan.toarray(),
                               atol=1e-14)  # fmt: skip
    for got, want in zip(mine.potentials, theirs.potentials):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


def test_entropic_lazy_path_unchanged():
    x, y, _, _ = _problem(9)
    res = ot.solve_sample(x, y, reg=1.0, lazy=True)
    assert res.method == "online" and res.lazy_plan is not None and res.plan is None


def test_bad_options():
    x, y, _, _ = _problem(10)
    with pytest.raises(NotImplementedError, match="metric"):
        ot.solve_sample(x, y, metric="cosine", lazy=True)
    with pytest.raises(NotImplementedError, match="lazy"):
        ot.solve_sample(x, y, method="exact", unbalanced=1.0, lazy=True)
    with pytest.raises(NotImplementedError, match="lazy"):
        ot.solve_sample(x, y, method="exact", reg=1.0, lazy=True)
    with pytest.raises(ValueError, match="X_a"):
        ot.solve_sample(x, y[:, :1], lazy=True)
