"""The faster per-call paths of SamplesLoss: kernel blocks from augmented products, small
float32 CPU torch divergences on the host.

Kernel losses: the gradients are central finite differences of the value returned (also at
coincident points, where the subgradient 0 of |x - z| is the central difference), the value
of equal measures is 0 up to rounding, and float32 stays within float32 rounding of a float64 oracle
far from the origin (the block is centred). Float32 host path: the numbers of the torch path
it replaces (the same float64 solve from the same float32 data, float32's stopThr), and
float32's large-eps rules kept.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import to_np, to_xp

import otkit as ot
import otkit.bregman._divergence as divergence_module

RNG = np.random.default_rng(5)
X = RNG.uniform(size=(9, 2))
Y = RNG.uniform(size=(7, 2)) * 0.8 + 0.3
Y[:3] = X[:3]  # coincident points across the clouds
X[4] = X[5]  # and within one


def _dense(name, blur, x, y):
    r = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    if name == "gaussian":
        return np.exp(-(r**2) / (2 * blur**2))
    return np.exp(-r / blur) if name == "laplacian" else -r


def _oracle(name, blur, x, y):
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    z, w = np.vstack([x, y]), np.concatenate([a, -b])
    return 0.5 * w @ _dense(name, blur, z, z) @ w


@pytest.mark.parametrize("name", ["energy", "gaussian", "laplacian"])
def test_kernel_gradients_are_finite_differences_at_coincident_points(name):
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    y = torch.tensor(Y, requires_grad=True)
    value = ot.SamplesLoss(name, blur=0.4)(x, y)
    np.testing.assert_allclose(float(value), _oracle(name, 0.4, X, Y), rtol=1e-12)
    grad_x, grad_y = torch.autograd.grad(value, [x, y])
    h = 1e-6
    for points, grad, which in ((X, grad_x, 0), (Y, grad_y, 1)):
        for i in (0, 4, 6):
            for k in range(2):
                up, down = points.copy(), points.copy()
                up[i, k] += h
                down[i, k] -= h
                args_up = (up, Y) if which == 0 else (X, up)
                args_down = (down, Y) if which == 0 else (X, down)
                fd = (_oracle(name, 0.4, *args_up) - _oracle(name, 0.4, *args_down)) / (2 * h)
                # central differences of smooth terms: O(h^2) + rounding 1e-16 / h
                assert abs(float(grad[i, k]) - fd) < 1e-8, (which, i, k)


@pytest.mark.parametrize("name", ["energy", "gaussian", "laplacian"])
def test_kernel_loss_of_equal_measures_is_zero_far_from_the_origin(xp, name):
    x = to_xp(xp, X + 1e3)
    # terms of size 0.1 cancel to rounding; the zero distances stay zero (as sqrt(rounding of
    # |x|^2 + |z|^2 - 2 <x, z>) they would be 1e-5 here, and the value 1e-6)
    assert abs(float(to_np(ot.SamplesLoss(name, blur=0.4)(x, x)))) < 1e-14


@pytest.mark.parametrize("name", ["energy", "gaussian", "laplacian"])
def test_kernel_loss_float32_is_float32_rounding_of_the_float64_value(name):
    torch = pytest.importorskip("torch")
    x64, y64 = RNG.uniform(size=(300, 2)) + 10.0, RNG.uniform(size=(200, 2)) + 10.3
    reference = _oracle(name, 0.2, x64, y64)
    x = torch.tensor(x64, dtype=torch.float32, requires_grad=True)
    value = ot.SamplesLoss(name, blur=0.2)(x, torch.tensor(y64, dtype=torch.float32))
    assert value.dtype == torch.float32
    # the float32 data itself moves the value by about u |grad| |x| ~ 1e-6 relative here;
    # uncentred blocks at |x| = 10 erred by up to 4e-3 (laplacian)
    np.testing.assert_allclose(float(value), reference, rtol=2e-5)
    (grad,) = torch.autograd.grad(value, [x])
    x_ref = torch.tensor(x64.astype(np.float32).astype(np.float64), requires_grad=True)
    value_ref = ot.SamplesLoss(name, blur=0.2)(x_ref, torch.tensor(y64))
    (grad_ref,) = torch.autograd.grad(value_ref, [x_ref])
    scale = float(grad_ref.abs().max())
    assert float((grad.double() - grad_ref).abs().max()) < 2e-3 * scale


@pytest.mark.parametrize("reach", [None, 0.5])
def test_float32_host_path_gives_the_torch_path_numbers(monkeypatch, reach):
    torch = pytest.importorskip("torch")
    x0, y0 = X.astype(np.float32), Y[3:].astype(np.float32)

    def run():
        x = torch.tensor(x0, requires_grad=True)
        y = torch.tensor(y0, requires_grad=True)
        value, log = ot.sinkhorn_divergence(x, y, blur=0.05, reach=reach, log=True)
        value.backward()
        return value, log, x.grad, y.grad

    host = run()
    monkeypatch.setattr(divergence_module, "host_problem", lambda *args: None)
    general = run()
    assert host[0].dtype == torch.float32 and host[2].dtype == torch.float32
    # float32's default stopThr 1e-4, not float64's 1e-6 (the first error below 1e-4 is
    # 5e-5 here: an iteration divides it by less than 2)
    assert 1e-6 < host[1]["err"] <= 1e-4 and general[1]["err"] <= 1e-4
    # the same float64 solve; the data centred and scaled in float64 on one path, in float32
    # on the other: float32 rounding
    torch.testing.assert_close(host[0], general[0], rtol=2e-6, atol=1e-7)
    for got, expected in zip(host[2:], general[2:]):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("blur, reach", [(100.0, None), (1e3, 1.0)])
def test_float32_host_path_keeps_float32_large_eps_rules(blur, reach):
    """Beyond float32's large-eps limits the torch path is taken (expansion, or the error)."""
    torch = pytest.importorskip("torch")
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    if reach is not None:
        with pytest.raises(ValueError, match="unbalanced"):
            ot.sinkhorn_divergence(x, y, blur=blur, reach=reach)
        return
    _, log = ot.sinkhorn_divergence(x, y, blur=blur, log=True)
    assert log["expansion"]
    _, log64 = ot.sinkhorn_divergence(x.double(), y.double(), blur=blur, log=True)
    assert not log64["expansion"]  # float64's limit is 600 times further
