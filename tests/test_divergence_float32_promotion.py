"""Sinkhorn divergences where float32 cannot resolve eps, and unbalanced convergence (issue 14).

float32 input whose eps is below what float32 resolves is solved in float64 and returned in
float32: the oracle is the same call on float64 input, whose result must agree to float32
rounding (the two solves are the same float64 computation from the same data, converged to
a tight tolerance). The unbalanced iteration is checked against its fixed-point equation
f = lambda T(g), g = lambda T(f) on the dense cost, with an iteration budget.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, to_np, to_xp
from scipy.special import logsumexp

import otkit as ot

# GeomLoss's 1-D gradient flow (plot_gradient_flows_1D.py): ten points on [0, 0.2] and ten
# on [0.6, 1], float32 there.
T = np.linspace(0.0, 1.0, 10)[:, None]
X, Y = 0.2 * T, 0.4 * T + 0.6
# blur 0.001 (balanced) and 0.003 (reach 0.3): eps = 2 blur^2 is 2e-6 and 1.8e-5 times the
# cost range 1, below float32's 1024 u = 1.2e-4 (refused before); the tight stopThr (reached
# in 1 and about 360 iterations) makes both solves land on the same fixed point.
OPTIONS = {"p": 2, "blur": 0.001, "stopThr": 1e-10}
BLUR = {None: 0.001, 0.3: 0.003}
# float32 rounding of the results (values of order 0.1, gradients of order 0.1): a few ulps.
RTOL = 1e-5


def test_float32_below_its_resolution_gives_the_float64_result(xp):
    x32, y32 = to_xp(xp, X, "float32"), to_xp(xp, Y, "float32")
    x64, y64 = to_xp(xp, to_np(x32), "float64"), to_xp(xp, to_np(y32), "float64")
    value, log = ot.sinkhorn_divergence(x32, y32, log=True, **OPTIONS)
    expected, log64 = ot.sinkhorn_divergence(x64, y64, log=True, **OPTIONS)
    assert_same_backend(value, x32)
    assert log["converged"]
    np.testing.assert_allclose(to_np(value), to_np(expected), rtol=RTOL)
    for key in ("f", "g", "f_aa", "g_bb"):
        assert_same_backend(log[key], x32)
        np.testing.assert_allclose(to_np(log[key]), to_np(log64[key]), rtol=RTOL, atol=1e-6)


def test_samples_loss_float32_small_blur_runs_in_float64(xp):
    # GeomLoss's plot_wasserstein_barycenters_1D.py: float32, blur=0.001 (eps / range 2e-6)
    loss = ot.SamplesLoss("sinkhorn", p=2, blur=0.001, stopThr=1e-10)
    x32, y32 = to_xp(xp, X, "float32"), to_xp(xp, Y, "float32")
    value = loss(x32, y32)
    expected = loss(to_xp(xp, to_np(x32)), to_xp(xp, to_np(y32)))
    assert_same_backend(value, x32)
    np.testing.assert_allclose(to_np(value), to_np(expected), rtol=RTOL)


def _gradient(xp, x, y, reach):
    kwargs = {**OPTIONS, "reach": reach, "blur": BLUR[reach]}
    if is_backend(xp, "torch"):
        x = x.detach().clone().requires_grad_(True)
        ot.sinkhorn_divergence(x, y, **kwargs).backward()
        return x.grad
    import jax

    return jax.grad(lambda x: ot.sinkhorn_divergence(x, y, **kwargs))(x)


@pytest.mark.parametrize("reach", [None, 0.3])
def test_float32_gradient_is_the_float64_gradient(xp, reach):
    if not (is_backend(xp, "torch") or is_backend(xp, "jax")):
        pytest.skip("gradients need torch or JAX")
    x32, y32 = to_xp(xp, X, "float32"), to_xp(xp, Y, "float32")
    grad32 = _gradient(xp, x32, y32, reach)
    grad64 = _gradient(xp, to_xp(xp, to_np(x32)), to_xp(xp, to_np(y32)), reach)
    assert_same_backend(grad32, x32)
    scale = float(np.abs(to_np(grad64)).max())
    np.testing.assert_allclose(to_np(grad32), to_np(grad64), rtol=RTOL, atol=RTOL * scale)


def test_epsilon_below_float64_resolution_is_still_an_error():
    torch = pytest.importorskip("torch")
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    # eps / range = 2e-20, below 1024 u of float64 (2.3e-13)
    with pytest.raises(ValueError, match="blur.*float64"):
        ot.sinkhorn_divergence(x, y, blur=1e-10)


def test_batched_float32_small_blur_equals_separate_float64_solves():
    torch = pytest.importorskip("torch")
    xs, ys = np.stack([X, X + 0.05]), np.stack([Y, 0.8 * Y])  # (regular grids: fast)
    loss = ot.SamplesLoss("sinkhorn", p=2, blur=0.001, stopThr=1e-10)
    batch = loss(torch.tensor(xs, dtype=torch.float32), torch.tensor(ys, dtype=torch.float32))
    assert batch.dtype == torch.float32
    for k in range(2):
        x32 = torch.tensor(xs[k], dtype=torch.float32)
        y32 = torch.tensor(ys[k], dtype=torch.float32)
        expected = float(loss(x32.double(), y32.double()))
        np.testing.assert_allclose(float(batch[k]), expected, rtol=RTOL)


# ------------------------------------------------------------------------ unbalanced


def _softmin(cost, h, log_w, eps):
    """-eps log sum_j w_j exp((h_j - C_ij) / eps), along the rows of ``cost``."""
    return -eps * logsumexp(log_w[None, :] + (h[None, :] - cost) / eps, axis=1)


def test_unbalanced_small_blur_converges_in_few_iterations():
    # plot_gradient_flows_1D.py's reach=0.3, blur=0.01 flow: the plain unbalanced loop took
    # 11,512 iterations to a residual of 1e-12 (numItermax=1000 reached on every call);
    # with the best translation of the potentials at each step and over-relaxation, 270.
    blur, reach = 0.01, 0.3
    _, log = ot.sinkhorn_divergence(
        X, Y, blur=blur, reach=reach, stopThr=1e-12, numItermax=1000, log=True
    )
    assert log["converged"] and log["n_iter"] <= 500
    # The fixed point of the unbalanced dual (otkit's units: eps = 2 blur^2, rho = 2 reach^2)
    eps, rho = 2 * blur**2, 2 * reach**2
    lam = rho / (rho + eps)
    cost = (X - Y.T) ** 2
    log_w = np.full(10, -np.log(10.0))
    f, g = to_np(log["f"]), to_np(log["g"])
    np.testing.assert_allclose(f, lam * _softmin(cost, g, log_w, eps), atol=1e-10)
    np.testing.assert_allclose(g, lam * _softmin(cost.T, f, log_w, eps), atol=1e-10)
