"""Sinkhorn divergences: invariances, limits, closed forms (Gaussians included), envelope
gradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot

RNG = np.random.default_rng(3)
X = RNG.normal(size=(25, 2))
Y = RNG.normal(size=(20, 2)) + np.array([1.0, 0.5])
A = RNG.uniform(0.5, 1.5, 25)
A /= A.sum()
B = RNG.uniform(0.5, 1.5, 20)
B /= B.sum()
TIGHT = {"stopThr": 1e-12, "numItermax": 20000}


def test_value_backend_dtype_and_device(xp, dtype_name):
    x, y = to_xp(xp, X, dtype_name), to_xp(xp, Y, dtype_name)
    value = ot.sinkhorn_divergence(x, y, blur=0.5)
    assert_same_backend(value, x)
    expected = ot.sinkhorn_divergence(X, Y, blur=0.5, **TIGHT)
    np.testing.assert_allclose(
        float(value), float(expected), rtol=1e-3 if dtype_name == "float32" else 1e-6
    )


def test_self_divergence_is_zero(xp):
    x = to_xp(xp, X)
    assert float(ot.sinkhorn_divergence(x, x, blur=0.1)) == 0.0


def test_positive_and_symmetric():
    forward = float(ot.sinkhorn_divergence(X, Y, A, B, blur=0.3, **TIGHT))
    backward = float(ot.sinkhorn_divergence(Y, X, B, A, blur=0.3, **TIGHT))
    assert forward > 0
    np.testing.assert_allclose(forward, backward, rtol=1e-9)


def test_translation_invariance():
    shift = np.array([100.0, -30.0])
    base = float(ot.sinkhorn_divergence(X, Y, blur=0.3, **TIGHT))
    moved = float(ot.sinkhorn_divergence(X + shift, Y + shift, blur=0.3, **TIGHT))
    np.testing.assert_allclose(moved, base, rtol=1e-9)


def test_tends_to_wasserstein_as_blur_vanishes():
    # S_eps - W_2^2 = O(eps log(1/eps)) on finitely many points; eps = 8e-4 here.
    x, y = X[:8], Y[:8]
    w2 = float(ot.emd2(None, None, ot.dist(x, y)))
    s = float(ot.sinkhorn_divergence(x, y, blur=0.02, stopThr=1e-8, numItermax=100000))
    np.testing.assert_allclose(s, w2, rtol=5e-3)


def test_tends_to_energy_distance_for_p1():
    # S_eps -> E|X-Y| - E|X-X'|/2 - E|Y-Y'|/2 as eps -> inf, with an O(diameter / eps) error.
    def mean_dist(u, v):
        return float(np.mean(np.sqrt(((u[:, None] - v[None]) ** 2).sum(-1))))

    energy = mean_dist(X, Y) - 0.5 * mean_dist(X, X) - 0.5 * mean_dist(Y, Y)
    s = float(ot.sinkhorn_divergence(X, Y, p=1, reg=1e5, **TIGHT))
    np.testing.assert_allclose(s, energy, rtol=1e-3)


def test_online_equals_dense_sinkhorn_values():
    eps = 0.2
    _, log = ot.sinkhorn_divergence(X, Y, A, B, reg=eps, log=True, batch_size=3, **TIGHT)
    dense = [
        ot.sinkhorn2(u, v, ot.dist(p, q), eps, log=True, stopThr=1e-13, numItermax=20000)[1][
            "reg_value"
        ]
        for (u, p), (v, q) in (((A, X), (B, Y)), ((A, X), (A, X)), ((B, Y), (B, Y)))
    ]
    got = [float(log[k]) for k in ("ot_ab", "ot_aa", "ot_bb")]
    np.testing.assert_allclose(got[0], dense[0], rtol=1e-10)
    # The dense alternating loop is slow on self-transport (plan near the identity): it
    # stops ~1e-8 away, where the symmetric loop of the self terms is exact.
    np.testing.assert_allclose(got[1:], dense[1:], rtol=1e-6)


def test_stored_cost_loop_equals_online_loop(xp):
    """Without batch_size, eager NumPy/torch solve the (a, b) problem on the stored cost by
    the stabilized scaling loop; with it, the online log-domain loop: same divergence and
    gradients (both over-relaxed, both converged to 1e-11)."""
    args = [to_xp(xp, v) for v in (X, Y, A, B)]
    tight = {"blur": 0.3, "stopThr": 1e-11, "numItermax": 100000}
    stored = ot.sinkhorn_divergence(*args, **tight)
    online = ot.sinkhorn_divergence(*args, batch_size=4, **tight)
    np.testing.assert_allclose(to_np(stored), to_np(online), rtol=1e-10)
    if xp.__name__.endswith("torch"):
        import torch

        x = args[0].clone().requires_grad_(True)
        grads = [
            torch.autograd.grad(ot.sinkhorn_divergence(x, *args[1:], **tight, **extra), x)[0]
            for extra in ({}, {"batch_size": 4})
        ]
        np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), atol=1e-9)


def _ot_two_diracs(ma, mb, c, eps, rho):
    # min_pi pi c + eps KL(pi | ma mb) + rho KL(pi | ma) + rho KL(pi | mb), KL(p|q)=p log(p/q)-p+q
    log_pi = (eps * math.log(ma * mb) + rho * math.log(ma) + rho * math.log(mb) - c) / (
        eps + 2 * rho
    )
    pi = math.exp(log_pi)

    def kl(p, q):
        return p * math.log(p / q) - p + q

    return pi * c + eps * kl(pi, ma * mb) + rho * kl(pi, ma) + rho * kl(pi, mb)


def test_unbalanced_two_diracs_closed_form():
    ma, mb, eps, rho = 0.7, 1.6, 0.3, 0.8
    x, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.5]])
    c = 1.25
    expected = (
        _ot_two_diracs(ma, mb, c, eps, rho)
        - 0.5 * _ot_two_diracs(ma, ma, 0.0, eps, rho)
        - 0.5 * _ot_two_diracs(mb, mb, 0.0, eps, rho)
        + 0.5 * eps * (ma - mb) ** 2
    )
    got = ot.sinkhorn_divergence(x, y, [ma], [mb], reg=eps, rho=rho, **TIGHT)
    np.testing.assert_allclose(float(got), expected, rtol=1e-9)


def test_reach_is_rho_p_reach_to_the_p():
    a_value = ot.sinkhorn_divergence(X, Y, blur=0.3, reach=0.7, **TIGHT)
    b_value = ot.sinkhorn_divergence(X, Y, blur=0.3, rho=2 * 0.7**2, **TIGHT)
    np.testing.assert_allclose(float(a_value), float(b_value), rtol=1e-12)


def _spd_sqrt(M):
    values, vectors = np.linalg.eigh(M)
    return (vectors * np.sqrt(values)) @ vectors.T


def _gaussian_entropic_ot(mean_a, cov_a, mean_b, cov_b, eps):
    """OT_eps(N(mean_a, cov_a), N(mean_b, cov_b)) = min <C, P> + eps KL(P | a x b), C = |x - y|^2.

    Janati et al. 2020, Theorem 1 (balanced), whose problem is ours with sigma^2 = eps / 2:

        |m_a - m_b|^2 + tr A + tr B - tr D + d s (1 - log 2s) + s log det(D + s I),
        D = (4 A^1/2 B A^1/2 + s^2 I)^1/2,   s = sigma^2 = eps / 2.

    (Derivation in our units: the optimal plan is Gaussian with cross-covariance K; in 1-D
    the value is m^2 + a + b - 2K - (eps / 2) log(1 - K^2 / (a b)), stationary at
    K = (D - s) / 2, which gives the formula.)
    """
    d = len(mean_a)
    s = eps / 2.0
    root_a = _spd_sqrt(cov_a)
    D = _spd_sqrt(4.0 * root_a @ cov_b @ root_a + s * s * np.eye(d))
    return (
        np.sum((mean_a - mean_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - np.trace(D)
        + d * s * (1.0 - math.log(2.0 * s))
        + s * np.linalg.slogdet(D + s * np.eye(d))[1]
    )


def _standard_normal_grid(k, dim):
    """k^dim points that discretize N(0, I_dim): products of the midpoint quantiles
    Phi^-1((i + 1/2) / k), rescaled to unit variance (deterministic: no Monte Carlo error)."""
    from scipy.special import ndtri

    quantiles = ndtri((np.arange(k) + 0.5) / k)
    quantiles /= np.sqrt(np.mean(quantiles**2))
    return np.stack(np.meshgrid(*[quantiles] * dim), axis=-1).reshape(-1, dim)


GAUSSIANS = {  # dim: (mean_a, cov_a, mean_b, cov_b, grid size k, rtol of S, rtol of OT)
    1: (np.zeros(1), np.eye(1), np.ones(1), np.full((1, 1), 0.36), 1000, 2e-5, 6e-5),
    2: (
        np.zeros(2),
        np.array([[1.0, 0.3], [0.3, 0.5]]),
        np.array([1.0, -0.5]),
        np.array([[0.6, -0.2], [-0.2, 0.8]]),  # does not commute with cov_a
        30,
        3e-4,
        5e-3,
    ),
}


def _gaussian_samples(dim):
    mean_a, cov_a, mean_b, cov_b, k, _, _ = GAUSSIANS[dim]
    z = _standard_normal_grid(k, dim)
    return mean_a + z @ _spd_sqrt(cov_a), mean_b + z @ _spd_sqrt(cov_b)


# The samples are quantile grids, so the gap to the population value is a deterministic
# discretization error: measured ~ 3.7e-3 / n for S in 1-D (7.7e-6, 3.7e-6, 1.8e-6 at
# n = 500, 1000, 2000) and ~ 2.8e-3 / k on a k x k grid in 2-D (k = 20, 40); OT_eps's is 4x
# (1-D) to 20x (2-D) larger, as the debiasing cancels most of it. The tolerances are 3 to 5
# times the errors at these sizes. A slip in the conventions moves the values by far more:
# eps = sigma^2 instead of 2 sigma^2 changes S by 2e-3 and OT_eps by 1e-1.
@pytest.mark.parametrize("dim", [1, 2])
def test_debiased_divergence_matches_gaussian_closed_form(dim):
    mean_a, cov_a, mean_b, cov_b, _, rtol, _ = GAUSSIANS[dim]
    eps = 0.5
    expected = (
        _gaussian_entropic_ot(mean_a, cov_a, mean_b, cov_b, eps)
        - 0.5 * _gaussian_entropic_ot(mean_a, cov_a, mean_a, cov_a, eps)
        - 0.5 * _gaussian_entropic_ot(mean_b, cov_b, mean_b, cov_b, eps)
    )
    x, y = _gaussian_samples(dim)
    got = float(ot.sinkhorn_divergence(x, y, reg=eps, stopThr=1e-10))
    np.testing.assert_allclose(got, expected, rtol=rtol)


@pytest.mark.parametrize("dim", [1, 2])
def test_entropic_ot_matches_gaussian_closed_form(dim):
    mean_a, cov_a, mean_b, cov_b, _, _, rtol = GAUSSIANS[dim]
    eps = 0.5
    x, y = _gaussian_samples(dim)
    got = float(ot.sinkhorn_divergence(x, y, reg=eps, debias=False, stopThr=1e-10))
    expected = _gaussian_entropic_ot(mean_a, cov_a, mean_b, cov_b, eps)
    np.testing.assert_allclose(got, expected, rtol=rtol)


def test_jax_jit_grad_with_a_given_diameter():
    # With diameter= the number of stages is static, but the points are still traced.
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    options = {"blur": 0.3, "diameter": 5.0, "stopThr": 1e-10}
    y = jnp.asarray(Y[:5])
    got = jax.jit(jax.grad(lambda x: ot.sinkhorn_divergence(x, y, **options)))(jnp.asarray(X[:6]))
    x = torch.tensor(X[:6], requires_grad=True)
    ot.sinkhorn_divergence(x, torch.tensor(Y[:5]), **options).backward()
    np.testing.assert_allclose(np.asarray(got), x.grad.numpy(), atol=1e-8)


def test_jax_vmap_over_clouds_matches_a_loop():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    clouds = np.stack([X[:10], X[10:20] + 1.0, X[5:15] * 0.5])
    y = jnp.asarray(Y[:8])
    got = jax.vmap(lambda x: ot.sinkhorn_divergence(x, y, blur=0.3, stopThr=1e-8))(
        jnp.asarray(clouds)
    )
    expected = [float(ot.sinkhorn_divergence(c, Y[:8], blur=0.3, stopThr=1e-8)) for c in clouds]
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-8)


@pytest.mark.parametrize("reach", [None, 0.8])
@pytest.mark.parametrize("debias", [True, False])
def test_torch_gradcheck_points_and_weights(reach, debias):
    # Envelope gradients: exact at the optimum, so finite differences agree to the tolerance.
    torch = pytest.importorskip("torch")
    scale = 1.0 if reach is None else 1.3  # unbalanced: any masses
    x = torch.tensor(X[:6], requires_grad=True)
    y = torch.tensor(Y[:5], requires_grad=True)
    a = torch.tensor(A[:6] / A[:6].sum() * scale, requires_grad=reach is not None)
    b = torch.tensor(B[:5] / B[:5].sum(), requires_grad=reach is not None)

    def value(x, y, a, b):
        return ot.sinkhorn_divergence(x, y, a, b, blur=0.4, reach=reach, debias=debias, **TIGHT)

    assert torch.autograd.gradcheck(value, (x, y, a, b), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_balanced_weight_gradient_along_the_simplex():
    torch = pytest.importorskip("torch")
    a = torch.tensor(A, requires_grad=True)
    ot.sinkhorn_divergence(
        torch.tensor(X), torch.tensor(Y), a, torch.tensor(B), blur=0.4, **TIGHT
    ).backward()
    direction = RNG.normal(size=A.size)
    direction -= direction.mean()
    h = 1e-6
    fd = (
        float(ot.sinkhorn_divergence(X, Y, A + h * direction, B, blur=0.4, **TIGHT))
        - float(ot.sinkhorn_divergence(X, Y, A - h * direction, B, blur=0.4, **TIGHT))
    ) / (2 * h)
    np.testing.assert_allclose(a.grad.numpy() @ direction, fd, rtol=1e-6)


def test_jax_grad_and_jit_match_torch():
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    y = jnp.asarray(Y)

    def value(x):
        return ot.sinkhorn_divergence(x, y, blur=0.3, reach=1.0, **TIGHT)

    g_eager = jax.grad(value)(jnp.asarray(X))
    g_jit = jax.jit(jax.grad(value))(jnp.asarray(X))
    xt = torch.tensor(X, requires_grad=True)
    ot.sinkhorn_divergence(xt, torch.tensor(Y), blur=0.3, reach=1.0, **TIGHT).backward()
    np.testing.assert_allclose(np.asarray(g_eager), xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(np.asarray(g_jit), xt.grad.numpy(), atol=1e-8)


def test_gradient_flow_reaches_translated_copy():
    # grad_x S / a_i is the displacement at small blur: a few steps move x onto x + shift.
    torch = pytest.importorskip("torch")
    shift = np.array([0.6, -0.4])
    x = torch.tensor(X[:15].copy(), requires_grad=True)
    target = torch.tensor(X[:15] + shift)
    for _ in range(5):
        value = ot.sinkhorn_divergence(x, target, blur=0.02, stopThr=1e-5, numItermax=5000)
        (grad,) = torch.autograd.grad(value, [x])
        with torch.no_grad():
            x -= 0.5 * grad * 15  # step 1/2 of the displacement grad / a_i
    np.testing.assert_allclose(x.detach().numpy(), X[:15] + shift, atol=2e-2)


def test_single_point_against_itself_and_duplicates():
    point = np.array([[1.0, 2.0]])
    assert float(ot.sinkhorn_divergence(point, point)) == 0.0
    doubled = np.concatenate([X[:5], X[:5]])
    value = float(ot.sinkhorn_divergence(doubled, X[:5], blur=0.2, **TIGHT))
    np.testing.assert_allclose(value, 0.0, atol=1e-7)  # the marginal tolerance, not exact


def test_default_epsilon_is_five_percent_of_the_cost_std():
    _, log = ot.sinkhorn_divergence(X, Y, log=True)
    np.testing.assert_allclose(log["reg"], 0.05 * np.std(ot.dist(X, Y)), rtol=1e-10)


def test_samples_loss_is_the_divergence_in_geomloss_units(xp):
    x, y = to_xp(xp, X), to_xp(xp, Y)
    loss = ot.SamplesLoss("sinkhorn", p=2, blur=0.3)
    value = loss(x, y)
    assert_same_backend(value, x)
    # GeomLoss's cost is |x - y|^2 / 2: half of otkit's divergence (same plans)
    np.testing.assert_allclose(
        to_np(value), float(ot.sinkhorn_divergence(X, Y, blur=0.3)) / 2, rtol=1e-8
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"blur": -1.0}, "blur"),
        ({"blur": 0.1, "reach": 0.0}, "reach"),
        ({"blur": 0.1, "reg": 0.1}, "not both"),
        ({"metric": "sqeuclidean", "p": 1}, "p="),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ot.sinkhorn_divergence(X, Y, **kwargs)


def test_bad_points_and_weights():
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X_s"):
        ot.sinkhorn_divergence(bad, Y)
    with pytest.raises(ValueError, match="dimension"):
        ot.sinkhorn_divergence(X, Y[:, :1])
    with pytest.raises(ValueError, match="negative"):
        ot.sinkhorn_divergence(X, Y, -A, B)
    with pytest.raises(ValueError, match="same total mass"):
        ot.sinkhorn_divergence(X, Y, 2 * A, B)


def test_zero_weights_on_the_stored_cost_path(xp):
    """A zero weight on a problem of more than 4,096 pairs (the stored-cost scaling loop):
    no warning (the test config turns them into errors), the value of the same problem
    without those points (both solved to a marginal error of 1e-11), finite gradients."""
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(140, 2)), rng.normal(size=(170, 2)) + 0.5
    a, b = np.full(140, 1.0 / 139), np.full(170, 1.0 / 169)
    a[5] = b[0] = 0.0
    tight = {"stopThr": 1e-11, "numItermax": 20000}
    value = ot.sinkhorn_divergence(to_xp(xp, x), to_xp(xp, y), to_xp(xp, a), to_xp(xp, b),
                                   reg=0.2, **tight)  # fmt: skip
    expected = ot.sinkhorn_divergence(np.delete(x, 5, 0), y[1:], np.delete(a, 5), b[1:],
                                      reg=0.2, **tight)  # fmt: skip
    np.testing.assert_allclose(float(value), float(expected), rtol=1e-9)
    if xp.__name__.startswith("torch"):
        import torch

        xt, bt = torch.tensor(x, requires_grad=True), torch.tensor(b, requires_grad=True)
        ot.sinkhorn_divergence(xt, torch.tensor(y), torch.tensor(a), bt, reg=0.2).backward()
        assert torch.isfinite(xt.grad).all() and torch.isfinite(bt.grad).all()
