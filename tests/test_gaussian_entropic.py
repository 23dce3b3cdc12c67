"""Entropic OT between Gaussians: otkit against the closed form of Janati et al. (2020).

Janati, Muzellec, Peyre, Cuturi, "Entropic optimal transport between unbalanced Gaussian
measures has a closed form" (NeurIPS 2020), Theorem 1 (balanced case): for
alpha = N(a, A), beta = N(b, B) in R^d and

    OT_sigma(alpha, beta) = min_pi  int |x - y|^2 dpi + 2 sigma^2 KL(pi | alpha (x) beta),

with D = (4 A^1/2 B A^1/2 + sigma^4 I)^1/2,

    OT_sigma = |a - b|^2 + Tr A + Tr B - Tr D + d sigma^2 (1 - log 2 sigma^2)
               + sigma^2 log det(D + sigma^2 I).

otkit's OT_eps = min <P, C> + eps KL(P | a (x) b) with C = |x - y|^2 (no 1/2) is the same
problem with eps = 2 sigma^2. In 1-D the Gaussian couplings have covariance [[A, c], [c, B]],
KL = -log(1 - c^2 / AB) / 2, and minimizing |a - b|^2 + A + B - 2c - (eps / 2) log(1 - c^2 / AB)
gives 2c^2 + eps c = 2AB, c = (D - sigma^2) / 2: substituting back gives the formula above
(with AB - c^2 = sigma^2 c). The grid tests below check it numerically (1-D and 2-D with
non-commuting covariances) before the sample tests rely on it.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import to_np, to_xp

import otkit as ot

MEAN_A, COV_A = np.array([0.0, 0.0]), np.array([[1.0, 0.3], [0.3, 0.5]])
MEAN_B, COV_B = np.array([1.0, 0.5]), np.array([[0.7, -0.2], [-0.2, 1.2]])


def _sqrtm_psd(S):
    values, vectors = np.linalg.eigh(S)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def entropic_gaussian_ot(a, A, b, B, eps):
    """OT_eps(N(a, A), N(b, B)) in otkit's convention (cost |x - y|^2, eps KL(P | a (x) b))."""
    a, b, A, B = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, b, A, B))
    A, B = np.atleast_2d(A), np.atleast_2d(B)
    d = a.shape[0]
    s2 = eps / 2.0  # Janati et al.'s sigma^2
    root_A = _sqrtm_psd(A)
    D = _sqrtm_psd(4.0 * root_A @ B @ root_A + s2**2 * np.eye(d))
    _, logdet = np.linalg.slogdet(D + s2 * np.eye(d))
    return (
        np.sum((a - b) ** 2)
        + np.trace(A)
        + np.trace(B)
        - np.trace(D)
        + d * s2 * (1.0 - np.log(2.0 * s2))
        + s2 * logdet
    )


def entropic_gaussian_divergence(a, A, b, B, eps):
    """S_eps = OT_eps(alpha, beta) - (OT_eps(alpha, alpha) + OT_eps(beta, beta)) / 2."""
    return entropic_gaussian_ot(a, A, b, B, eps) - 0.5 * (
        entropic_gaussian_ot(a, A, a, A, eps) + entropic_gaussian_ot(b, B, b, B, eps)
    )


def _gaussian_weights(points, mean, cov):
    centred = points - mean
    h = np.exp(-0.5 * np.einsum("ij,jk,ik->i", centred, np.linalg.inv(cov), centred))
    return h / h.sum()


def _moment_matched(rng, n, mean, cov):
    """n points whose empirical mean and covariance (1/n) are exactly ``mean``, ``cov``."""
    z = rng.normal(size=(n, mean.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(z.T @ z / n)).T
    return mean + z @ np.linalg.cholesky(cov).T


def test_closed_form_limits():
    # eps -> 0: W_2^2 = |a - b|^2 + (s_a - s_b)^2 in 1-D; the self term at eps -> 0 is 0.
    assert entropic_gaussian_ot(0.0, 1.0, 2.0, 0.36, 1e-12) == pytest.approx(4.16, abs=1e-9)
    assert entropic_gaussian_ot(0.0, 1.0, 0.0, 1.0, 1e-12) == pytest.approx(0.0, abs=1e-9)
    # The 1-D optimum over Gaussian couplings, by brute force over the correlation c.
    A, B, eps = 1.0, 0.36, 0.7
    c = np.linspace(-0.599, 0.599, 200001)
    objective = 4.0 + A + B - 2.0 * c - 0.5 * eps * np.log(1.0 - c**2 / (A * B))
    assert objective.min() == pytest.approx(entropic_gaussian_ot(0.0, A, 2.0, B, eps), abs=1e-9)


@pytest.mark.parametrize("eps", [0.2, 1.0])
def test_closed_form_matches_a_fine_1d_grid(eps):
    # Gaussian densities on a grid: the discrete problem's KL is relative to the product
    # of the discretized marginals, so its value converges to the continuous one, and the
    # trapezoid rule on Gaussians is spectrally accurate (measured error ~5e-9 at 400
    # points; Sinkhorn stops at a marginal error of 1e-10).
    x = np.linspace(-7.0, 9.0, 400)[:, None]
    p = _gaussian_weights(x, np.array([0.0]), np.array([[1.0]]))
    q = _gaussian_weights(x, np.array([2.0]), np.array([[0.36]]))
    result = ot.solve(ot.dist(x, x), p, q, reg=eps, tol=1e-10, max_iter=10000)
    expected = entropic_gaussian_ot(0.0, 1.0, 2.0, 0.36, eps)
    np.testing.assert_allclose(float(result.value), expected, atol=1e-7)


@pytest.mark.parametrize("eps", [0.5, 1.0])
def test_closed_form_matches_a_2d_grid(eps):
    # Non-commuting covariances check the matrix form (the order of the square roots).
    # 35 x 35 grid, spacing 0.35: measured error 5e-7 (from the grid and the cut tails).
    g = np.linspace(-5.5, 6.5, 35)
    points = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    p = _gaussian_weights(points, MEAN_A, COV_A)
    q = _gaussian_weights(points, MEAN_B, COV_B)
    result = ot.solve(ot.dist(points, points), p, q, reg=eps, tol=1e-10, max_iter=10000)
    expected = entropic_gaussian_ot(MEAN_A, COV_A, MEAN_B, COV_B, eps)
    np.testing.assert_allclose(float(result.value), expected, atol=1e-5)


# Samples. With i.i.d. samples the error of OT_eps(alpha_n, beta_n) is dominated by the
# linear term int f d(alpha_n - alpha) + int g d(beta_n - beta) (f, g the potentials; Mena &
# Niles-Weed 2019), of order std(f) / sqrt(n): ~0.1 at n = 2000 here, which would hide any
# convention error smaller than that. Between Gaussians the entropic potentials are
# quadratic (Janati et al. 2020), so that term vanishes for samples whose empirical mean and
# covariance are exactly those of the Gaussians; what is left is the second-order bias,
# O(1/n) (del Barrio, Gonzalez-Sanz, Loubes, Niles-Weed 2023). Measured over seeds and
# n = 500 ... 4000 at eps = 1: |error| <= 4 / n for OT_eps, and <= 10 / n for S_eps (its
# self terms OT_eps(alpha_n, alpha_n) reuse one sample on both sides). The tolerances
# 10 / n and 25 / n are far below what a wrong convention gives (eps <-> eps / 2 moves
# the value by 0.48, a cost with 1/2 by more than 1).

EPS = 1.0


def test_sample_value_matches_closed_form():
    n = 2000
    rng = np.random.default_rng(0)
    X = _moment_matched(rng, n, MEAN_A, COV_A)
    Y = _moment_matched(rng, n, MEAN_B, COV_B)
    value = float(ot.sinkhorn_divergence(X, Y, reg=EPS, debias=False))
    expected = entropic_gaussian_ot(MEAN_A, COV_A, MEAN_B, COV_B, EPS)
    assert abs(value - expected) < 10.0 / n, (value, expected)


def test_sample_divergence_matches_closed_form():
    n = 2000
    rng = np.random.default_rng(1)
    X = _moment_matched(rng, n, MEAN_A, COV_A)
    Y = _moment_matched(rng, n, MEAN_B, COV_B)
    value = float(ot.sinkhorn_divergence(X, Y, reg=EPS))
    expected = entropic_gaussian_divergence(MEAN_A, COV_A, MEAN_B, COV_B, EPS)
    assert abs(value - expected) < 25.0 / n, (value, expected)


def test_sample_value_on_every_backend(xp):
    n = 400
    rng = np.random.default_rng(2)
    X = _moment_matched(rng, n, MEAN_A, COV_A)
    Y = _moment_matched(rng, n, MEAN_B, COV_B)
    value = ot.sinkhorn_divergence(to_xp(xp, X), to_xp(xp, Y), reg=EPS, debias=False)
    expected = entropic_gaussian_ot(MEAN_A, COV_A, MEAN_B, COV_B, EPS)
    assert abs(float(to_np(value)) - expected) < 10.0 / n
