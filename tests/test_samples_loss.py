"""SamplesLoss means what GeomLoss's means: values, gradients, potentials, losses, batches."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot

RNG = np.random.default_rng(3)
X = RNG.uniform(size=(30, 2))
Y = RNG.uniform(size=(40, 2)) + 0.2
A = RNG.uniform(0.5, 1.5, size=30)
A /= A.sum()
B = RNG.uniform(0.5, 1.5, size=40)
B /= B.sum()
TIGHT = {"stopThr": 1e-12, "numItermax": 100000}
# GeomLoss stops after one iteration per annealing stage: at scaling 0.995 (about 500
# stages here) its value is within 3e-4 of the converged one and its gradients within 2%
# (measured: 0.4% at p = 1, 1.1% at p = 2; they shrink as scaling -> 1).
GEOMLOSS_SCALING = 0.995


def _kernel(name, blur, x, y):
    r = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    return {"energy": -r, "gaussian": np.exp(-(r**2) / (2 * blur**2)),
            "laplacian": np.exp(-r / blur)}[name]  # fmt: skip


def dense_mmd(name, blur, a, x, b, y):
    """Brute force 1/2 <a - b, k (a - b)> with the n x m kernel matrices."""
    return (
        0.5 * a @ _kernel(name, blur, x, x) @ a
        + 0.5 * b @ _kernel(name, blur, y, y) @ b
        - a @ _kernel(name, blur, x, y) @ b
    )


def _torch_inputs(*arrays):
    torch = pytest.importorskip("torch")
    return [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in arrays]


def _max_rel(p, q):
    return float(np.abs(p - q).max() / np.abs(q).max())


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reach", [None, 0.3])
@pytest.mark.parametrize("debias", [True, False])
def test_sinkhorn_matches_geomloss(p, reach, debias):
    geomloss = pytest.importorskip("geomloss")
    b = B * 1.3 if reach is not None else B  # unbalanced: unequal masses
    kwargs = {"p": p, "blur": 0.1, "reach": reach, "debias": debias}
    ours = _torch_inputs(A, X, b, Y)
    theirs = _torch_inputs(A, X, b, Y)
    value = ot.SamplesLoss("sinkhorn", **kwargs, **TIGHT)(*ours)
    reference = geomloss.SamplesLoss("sinkhorn", scaling=GEOMLOSS_SCALING, **kwargs)(*theirs)
    np.testing.assert_allclose(float(value), float(reference), rtol=1e-3)
    value.backward()
    reference.backward()
    for mine, its in zip(ours[1::2], theirs[1::2]):  # point gradients
        grad, expected = mine.grad.numpy(), its.grad.numpy()
        if reach is not None:
            # GeomLoss's gradient is (rho + eps/2) / (rho + eps) times that of its value
            eps, rho = 0.1**p, reach**p
            grad = grad * (rho + eps / 2) / (rho + eps)
        assert _max_rel(grad, expected) < 2e-2
    f, g = ot.SamplesLoss("sinkhorn", potentials=True, **kwargs, **TIGHT)(A, X, b, Y)
    F, G = geomloss.SamplesLoss("sinkhorn", potentials=True, scaling=GEOMLOSS_SCALING, **kwargs)(
        *_torch_inputs(A, X, b, Y)
    )
    assert f.shape == F.shape == (1, 30) and g.shape == G.shape == (1, 40)
    # balanced potentials: up to (F + c, G - c); GeomLoss's c is path-dependent (< 2%)
    assert _max_rel(f, F.detach().numpy()) < 2e-2 and _max_rel(g, G.detach().numpy()) < 2e-2


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("debias", [True, False])
def test_reach_gradient_is_the_gradient_of_geomloss_value(p, debias):
    """With reach, GeomLoss's own gradient is not that of its value: ours is."""
    geomloss = pytest.importorskip("geomloss")
    kwargs = {"p": p, "blur": 0.1, "reach": 0.3, "debias": debias}
    reference = geomloss.SamplesLoss("sinkhorn", scaling=0.998, diameter=2.0, **kwargs)
    a, x, b, y = _torch_inputs(A, X, B * 1.3, Y)
    ot.SamplesLoss("sinkhorn", diameter=2.0, **kwargs, **TIGHT)(a, x, b, y).backward()
    h = 1e-6
    for i in range(2):
        step = np.zeros(30)
        step[i] = h
        up, down = _torch_inputs(A + step, A - step)
        rest = (x.detach(), b.detach(), y.detach())
        fd = (float(reference(up, rest[0], rest[1], rest[2]))
              - float(reference(down, rest[0], rest[1], rest[2]))) / (2 * h)  # fmt: skip
        np.testing.assert_allclose(float(a.grad[i]), fd, rtol=1e-3)


@pytest.mark.parametrize("name", ["energy", "gaussian", "laplacian"])
def test_kernel_losses_match_geomloss(name):
    geomloss = pytest.importorskip("geomloss")
    ours = _torch_inputs(A, X, B, Y)
    theirs = _torch_inputs(A, X, B, Y)
    value = ot.SamplesLoss(name, blur=0.3)(*ours)
    reference = geomloss.SamplesLoss(name, blur=0.3)(*theirs)
    # GeomLoss's distances are sqrt(max(r^2, 1e-8)): k(x, x) is off by 1e-4 on the diagonal
    np.testing.assert_allclose(float(value), float(reference), rtol=3e-4)
    value.backward()
    reference.backward()
    for mine, its in zip(ours, theirs):
        assert _max_rel(mine.grad.numpy(), its.grad.numpy()) < 3e-4
    f, g = ot.SamplesLoss(name, blur=0.3, potentials=True)(*_torch_inputs(A, X, B, Y))
    F, G = geomloss.SamplesLoss(name, blur=0.3, potentials=True)(*_torch_inputs(A, X, B, Y))
    assert f.shape == F.shape and g.shape == G.shape
    assert _max_rel(to_np(f), F.detach().numpy()) < 3e-4


@pytest.mark.parametrize("name", ["energy", "gaussian", "laplacian"])
def test_kernel_losses_are_the_dense_mmd(xp, name):
    a, x, b, y = (to_xp(xp, v) for v in (A, X, B, Y))
    loss = ot.SamplesLoss(name, blur=0.3, batch_size=32)  # three blocks
    value = loss(a, x, b, y)
    assert_same_backend(value, x)
    assert value.shape == ()
    # the value cancels terms 10 times larger: rounding of about 1e-15 relative per term
    np.testing.assert_allclose(to_np(value), dense_mmd(name, 0.3, A, X, B, Y), rtol=1e-9)
    f, g = ot.SamplesLoss(name, blur=0.3, potentials=True)(a, x, b, y)
    kx = _kernel(name, 0.3, X, X) @ A - _kernel(name, 0.3, X, Y) @ B
    np.testing.assert_allclose(to_np(f)[0], kx, rtol=1e-10, atol=1e-14)
    assert tuple(g.shape) == (1, 40)


@pytest.mark.parametrize("name", ["sinkhorn", "energy", "gaussian", "laplacian"])
def test_gradients_are_finite_differences_of_the_value(name):
    # p = 2: at p = 1 the value carries sqrt(rounding) ~ 1e-9 from the zero self-distances
    # of the debiased terms, which finite differences with h = 1e-6 amplify
    reach = 0.5 if name == "sinkhorn" else None
    b = B * 1.2 if reach else B
    loss = ot.SamplesLoss(name, p=2, blur=0.2, reach=reach, **TIGHT)
    a_t, x_t, b_t, y_t = _torch_inputs(A, X, b, Y)
    loss(a_t, x_t, b_t, y_t).backward()
    h = 1e-6
    for i, d in [(0, 0), (7, 1), (29, 0)]:
        step = np.zeros_like(X)
        step[i, d] = h
        fd = (float(loss(A, X + step, b, Y)) - float(loss(A, X - step, b, Y))) / (2 * h)
        np.testing.assert_allclose(float(x_t.grad[i, d]), fd, rtol=1e-4, atol=1e-9)
        if name != "sinkhorn" or reach:  # balanced weight gradients: up to a constant
            da = np.zeros_like(A)
            da[i] = h
            fd = (float(loss(A + da, X, b, Y)) - float(loss(A - da, X, b, Y))) / (2 * h)
            np.testing.assert_allclose(float(a_t.grad[i]), fd, rtol=1e-4, atol=1e-9)


def test_jax_gradients_and_jit():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x, y = jnp.asarray(X), jnp.asarray(Y)
    loss = ot.SamplesLoss("gaussian", blur=0.3)
    grad = jax.jit(jax.grad(lambda x: loss(x, y)))(x)
    torch_x, torch_y = _torch_inputs(X, Y)
    loss(torch_x, torch_y).backward()
    np.testing.assert_allclose(np.asarray(grad), torch_x.grad.numpy(), rtol=1e-12)


def test_sinkhorn_is_the_otkit_divergence_over_p(xp):
    x, y = to_xp(xp, X), to_xp(xp, Y)
    for p in (1,) if is_backend(xp, "jax") else (1, 2):  # (JAX compiles per p: 6 s each)
        value = ot.SamplesLoss("sinkhorn", p=p, blur=0.3)(x, y)
        assert_same_backend(value, x)
        expected = float(ot.sinkhorn_divergence(X, Y, p=p, blur=0.3)) / p
        np.testing.assert_allclose(to_np(value), expected, rtol=1e-8)


@pytest.mark.parametrize("name", ["sinkhorn", "energy", "laplacian"])
def test_batches_are_the_values_of_each_problem(xp, name):
    """A batched 'sinkhorn' is one solve (batched c-transforms on NumPy and torch, the
    annealing from the batch's diameter; one vmapped solve on JAX, traced: no eager
    rescaling), equal to the separate solves to their tolerance."""
    rtol = 1e-6 if name == "sinkhorn" else 1e-9
    x = np.stack([X, X[::-1] * 0.5])
    y = np.stack([Y, Y + 0.3])
    a = np.stack([A, np.full(30, 1 / 30)])
    loss = ot.SamplesLoss(name, blur=0.3)
    values = loss(to_xp(xp, a), to_xp(xp, x), to_xp(xp, np.stack([B, B])), to_xp(xp, y))
    assert tuple(values.shape) == (2,)
    for k in range(2):
        np.testing.assert_allclose(to_np(values)[k], float(loss(a[k], x[k], B, y[k])), rtol=rtol)
    f, g = ot.SamplesLoss(name, blur=0.3, potentials=True)(to_xp(xp, x), to_xp(xp, y))
    assert tuple(f.shape) == (2, 30) and tuple(g.shape) == (2, 40)


def test_backends_and_weight_shapes():
    reference = float(ot.SamplesLoss(blur=0.2)(A, X, B, Y))
    for backend in ("auto", "tensorized", "online", "multiscale"):
        value = ot.SamplesLoss(blur=0.2, backend=backend)(A[:, None], X, B[:, None], Y)
        np.testing.assert_allclose(float(value), reference, rtol=1e-6)
    f, _ = ot.SamplesLoss(blur=0.2, backend="multiscale", potentials=True)(X, Y)
    assert f.shape == (30,)  # GeomLoss's multiscale potentials have the weights' shape
    labels = np.zeros(30), np.zeros(40)
    six = ot.SamplesLoss(blur=0.2)(labels[0], A, X, labels[1], B, Y)
    np.testing.assert_allclose(float(six), reference, rtol=1e-12)


def test_custom_kernel_for_hausdorff_and_kernel_losses():
    def gaussian(x, y, blur):
        d2 = ((x[:, :, None, :] - y[:, None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * blur**2))

    value = ot.SamplesLoss("hausdorff", blur=0.3, kernel=gaussian)(A, X, B, Y)
    np.testing.assert_allclose(float(value), dense_mmd("gaussian", 0.3, A, X, B, Y), rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss": "wasserstein"}, ValueError, "loss must be one of"),
        ({"backend": "keops"}, ValueError, "backend must be one of"),
        ({"cost": "SqDist(X,Y)"}, ValueError, "KeOps"),
        ({"loss": "hausdorff", "p": 3}, ValueError, "p must be"),
        ({"loss": "energy", "reach": 0.5}, ValueError, "reach"),
        ({"tolerance": 1e-3}, TypeError, "tolerance"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        ot.SamplesLoss(**kwargs)


def test_bad_calls():
    loss = ot.SamplesLoss()
    with pytest.raises(TypeError, match="loss\\(x, y\\)"):
        loss(X)
    with pytest.raises(ValueError, match="a.shape"):
        loss(A[:10], X, B, Y)
    with pytest.raises(ValueError, match="batch"):
        loss(X[None], np.stack([Y, Y]))
