r"""``solve_sample(..., method='gaussian')``: the Wasserstein distance between the Gaussian
fits of two samples, in closed form (Bures-Wasserstein).

For :math:`\mathcal N(m_a, \Sigma_a)` and :math:`\mathcal N(m_b, \Sigma_b)`,

.. math::
    W_2^2 = \|m_a - m_b\|^2 + \operatorname{tr}\Sigma_a + \operatorname{tr}\Sigma_b
    - 2 \operatorname{tr}\big(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}\big)^{1/2}

(Dowson and Landau 1982; Gelbrich 1990 for any measures with these moments: a lower
bound of their :math:`W_2^2`). The trace term is computed without a matrix square root of
:math:`\Sigma_a`: with the Cholesky factor :math:`\Sigma_a = L L^\top`, the symmetric
:math:`S = L^\top \Sigma_b L` is similar to :math:`\Sigma_a\Sigma_b`, so the trace is
:math:`\sum_k \sqrt{\lambda_k(S)}`, a spectral function whose gradient
:math:`\tfrac12 V \Lambda^{-1/2} V^\top` is well defined even for repeated eigenvalues
(differentiating eigenvectors, as a square root by ``eigh`` would, is not). The Monge map
:math:`T(x) = m_b + A(x - m_a)`, :math:`A = L^{-\top} S^{1/2} L^{-1}` (the symmetric
positive solution of :math:`A\Sigma_a A = \Sigma_b`), gives the displacements ``a_to_b``.
"""

from __future__ import annotations

from ..backend import device_of, get_namespace, stop_gradient
from ..utils._result import OTResult
from ._citations import citation_for

__all__ = ["DEFAULT_COVARIANCE_REG", "solve_gaussian"]

DEFAULT_COVARIANCE_REG = 1e-6  # POT's default ridge for method='gaussian'


def _moments(X, w, reg, xp):
    """Weighted mean and covariance (weights normalized) plus ``reg`` on the diagonal."""
    n, d = X.shape
    device = device_of(X)
    if w is None:
        w = xp.full((n,), 1.0 / n, dtype=X.dtype, device=device)
    else:
        w = w / xp.sum(w)
    mean = xp.sum(w[:, None] * X, axis=0)
    centred = X - mean
    cov = xp.matmul(xp.matrix_transpose(w[:, None] * centred), centred)
    eye = xp.eye(d, dtype=X.dtype, device=device)
    return mean, (cov + xp.matrix_transpose(cov)) / 2.0 + reg * eye


def _sqrt_psd(S, xp, inverse=False):
    """S^{1/2} (or S^{-1/2}) of a symmetric positive semi-definite matrix, by ``eigh``."""
    eigenvalues, eigenvectors = xp.linalg.eigh(S)
    roots = xp.sqrt(xp.where(eigenvalues > 0, eigenvalues, xp.zeros_like(eigenvalues)))
    if inverse:
        roots = 1.0 / roots
    return xp.matmul(eigenvectors * roots[None, :], xp.matrix_transpose(eigenvectors))


def _monge_maps(mean_a, cov_a, mean_b, cov_b, xp):
    """Matrices A (a to b) and its inverse (b to a) of the linear Monge maps."""
    L = xp.linalg.cholesky(cov_a)
    L_inv = xp.linalg.inv(L)
    S = xp.matmul(xp.matmul(xp.matrix_transpose(L), cov_b), L)
    S = (S + xp.matrix_transpose(S)) / 2.0
    A = xp.matmul(xp.matmul(xp.matrix_transpose(L_inv), _sqrt_psd(S, xp)), L_inv)
    A_inv = xp.matmul(xp.matmul(L, _sqrt_psd(S, xp, inverse=True)), xp.matrix_transpose(L))
    return A, A_inv


def solve_gaussian(X, Y, a, b, reg, grad):
    r"""OTResult of the Bures-Wasserstein :math:`W_2^2` between the Gaussian fits.

    ``reg`` is added to the diagonal of both covariances (POT's; default 1e-6). The value
    is differentiable with respect to the points and the weights (torch, JAX).
    """
    xp = get_namespace(X=X)
    reg = DEFAULT_COVARIANCE_REG if reg is None else reg
    if grad == "detach":
        X, Y = stop_gradient(X, xp), stop_gradient(Y, xp)
        a = None if a is None else stop_gradient(a, xp)
        b = None if b is None else stop_gradient(b, xp)
    mean_a, cov_a = _moments(X, a, reg, xp)
    mean_b, cov_b = _moments(Y, b, reg, xp)
    L = xp.linalg.cholesky(cov_a)
    S = xp.matmul(xp.matmul(xp.matrix_transpose(L), cov_b), L)
    eigenvalues = xp.linalg.eigvalsh((S + xp.matrix_transpose(S)) / 2.0)
    eigenvalues = xp.where(eigenvalues > 0, eigenvalues, xp.zeros_like(eigenvalues))
    bures = xp.linalg.trace(cov_a) + xp.linalg.trace(cov_b) - 2.0 * xp.sum(xp.sqrt(eigenvalues))
    bures = xp.where(bures > 0, bures, xp.zeros_like(bures))  # rounding below 0
    shift = mean_a - mean_b
    value = xp.sum(shift * shift) + bures
    detached = [stop_gradient(v, xp) for v in (mean_a, cov_a, mean_b, cov_b)]

    def a_to_b():
        A, _ = _monge_maps(*detached, xp)
        mapped = detached[2] + xp.matmul(stop_gradient(X, xp) - detached[0], A)
        return mapped - stop_gradient(X, xp)

    def b_to_a():
        _, A_inv = _monge_maps(*detached, xp)
        mapped = detached[0] + xp.matmul(stop_gradient(Y, xp) - detached[2], A_inv)
        return mapped - stop_gradient(Y, xp)

    log = {
        "Cs12": _sqrt_psd(cov_a, xp),
        "Cs": cov_a,
        "Ct": cov_b,
        "mean_a": mean_a,
        "mean_b": mean_b,
        "bures": bures,
        "reg": reg,
    }
    return OTResult(
        value=value,
        value_linear=value,
        log=log,
        status="optimal",
        converged=True,
        n_iter=0,
        errors=[],
        method="gaussian",
        a_to_b=a_to_b,
        b_to_a=b_to_a,
        citation=citation_for("gaussian"),
    )
