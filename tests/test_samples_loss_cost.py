"""SamplesLoss(cost=function): GeomLoss's 'tensorized' cost convention, (B, N, M) matrices."""

from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace
from conftest import assert_same_backend, is_backend, to_np, to_xp

import otkit as ot

RNG = np.random.default_rng(7)
X = RNG.uniform(size=(20, 2))
Y = RNG.uniform(size=(25, 2)) + 0.2
A = RNG.uniform(0.5, 1.5, size=20)
A /= A.sum()
B = RNG.uniform(0.5, 1.5, size=25)
B /= B.sum()
TIGHT = {"stopThr": 1e-12, "numItermax": 100000}


def half_squared(x, y):
    """GeomLoss's default p = 2 cost |x - y|^2 / 2, written for any array library."""
    xp = array_namespace(x, y)
    return xp.sum((x[:, :, None, :] - y[:, None, :, :]) ** 2, axis=-1) / 2


def distance(x, y):
    """|x - y| with GeomLoss's safe square root (its default p = 1 cost, up to 1e-30)."""
    xp = array_namespace(x, y)
    return xp.sqrt(xp.sum((x[:, :, None, :] - y[:, None, :, :]) ** 2, axis=-1) + 1e-30)


def scaled(x, y):
    """A cost in its own units: 0.7 |x - y|^2."""
    return 1.4 * half_squared(x, y)


@pytest.mark.parametrize("loss", ["sinkhorn", "hausdorff"])
def test_default_cost_as_a_function_on_every_backend(xp, loss):
    if loss == "hausdorff" and is_backend(xp, "jax"):
        pytest.skip("the same array operations as on NumPy, eagerly (JAX compile time)")
    a, x, b, y = (to_xp(xp, v) for v in (A, X, B, Y))
    value = ot.SamplesLoss(loss, blur=0.2, cost=half_squared, **TIGHT)(a, x, b, y)
    assert_same_backend(value, x)
    assert value.shape == ()
    expected = ot.SamplesLoss(loss, blur=0.2, **TIGHT)(A, X, B, Y)
    np.testing.assert_allclose(to_np(value), float(expected), rtol=1e-9)


@pytest.mark.parametrize("loss", ["sinkhorn", "hausdorff"])
@pytest.mark.parametrize(("p", "cost"), [(2, half_squared), (1, distance)])
@pytest.mark.parametrize("reach", [None, 0.3])
def test_default_cost_as_a_function_gives_the_same_gradients(loss, p, cost, reach):
    torch = pytest.importorskip("torch")
    b = B * 1.3 if reach else B
    kwargs = {"p": p, "blur": 0.1, "reach": reach, **TIGHT}
    ours = [torch.tensor(v, requires_grad=True) for v in (A, X, b, Y)]
    reference = [torch.tensor(v, requires_grad=True) for v in (A, X, b, Y)]
    value = ot.SamplesLoss(loss, cost=cost, **kwargs)(*ours)
    expected = ot.SamplesLoss(loss, **kwargs)(*reference)
    np.testing.assert_allclose(float(value), float(expected), rtol=1e-9)
    value.backward()
    expected.backward()
    for mine, its in zip(ours, reference):
        np.testing.assert_allclose(mine.grad.numpy(), its.grad.numpy(), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("reach", [None, 0.3])
def test_sinkhorn_cost_function_matches_geomloss(reach):
    geomloss = pytest.importorskip("geomloss")
    torch = pytest.importorskip("torch")
    b = B * 1.3 if reach else B
    kwargs = {"p": 2, "blur": 0.2, "reach": reach, "cost": scaled}
    ours = [torch.tensor(v, requires_grad=True) for v in (A, X, b, Y)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (A, X, b, Y)]
    value = ot.SamplesLoss("sinkhorn", **kwargs, **TIGHT)(*ours)
    # GeomLoss: one iteration per annealing stage; at scaling 0.995 its value is within
    # 2e-4 of the converged one, its gradients within 3%
    reference = geomloss.SamplesLoss("sinkhorn", scaling=0.995, **kwargs)(*theirs)
    np.testing.assert_allclose(float(value), float(reference), rtol=1e-3)
    value.backward()
    reference.backward()
    factor = 1.0
    if reach is not None:  # GeomLoss's gradient is (rho + eps/2) / (rho + eps) times ours
        eps, rho = 0.2**2, reach**2
        factor = (rho + eps / 2) / (rho + eps)
    for mine, its in zip(ours[1::2], theirs[1::2]):
        grad, expected = mine.grad.numpy() * factor, its.grad.numpy()
        assert np.abs(grad - expected).max() < 3e-2 * np.abs(expected).max()


def test_cost_function_batches_in_one_solve():
    x = np.stack([X, X[::-1] * 0.5])
    y = np.stack([Y, Y + 0.3])
    a = np.stack([A, np.full(20, 1 / 20)])
    b = np.stack([B, B])
    for loss in ("sinkhorn", "hausdorff"):
        samples_loss = ot.SamplesLoss(loss, blur=0.2, cost=half_squared, **TIGHT)
        values = samples_loss(a, x, b, y)
        assert values.shape == (2,)
        for k in range(2):
            np.testing.assert_allclose(values[k], float(samples_loss(a[k], x[k], b[k], y[k])),
                                       rtol=1e-9)  # fmt: skip
        f, g = ot.SamplesLoss(loss, blur=0.2, cost=half_squared, potentials=True)(a, x, b, y)
        assert f.shape == (2, 20) and g.shape == (2, 25)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cost": "SqDist(X,Y) / IntCst(2)"}, ValueError, "KeOps formula"),
        ({"cost": 2.0}, TypeError, "cost must be a function"),
        ({"loss": "energy", "cost": half_squared}, ValueError, "no meaning"),
        ({"cost": half_squared, "backend": "online"}, ValueError, "tensorized"),
    ],
)
def test_bad_costs(kwargs, error, match):
    with pytest.raises(error, match=match):
        ot.SamplesLoss(**kwargs)


def test_cost_of_the_wrong_shape():
    loss = ot.SamplesLoss(cost=lambda x, y: half_squared(x, y)[0])
    with pytest.raises(ValueError, match=r"\(B, N, M\)"):
        loss(X, Y)
