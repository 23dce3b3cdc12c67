r"""The entropic dual objective of a family of problems on one cost matrix (NumPy, host).

For histograms ``a`` (rows of ``A``) and ``b`` on the supports of an (n, m) cost ``M``, the
row potential ``f`` determines the best column potential by the c-transform

.. math::
    g_j = -\varepsilon \log \sum_i a_i e^{(f_i - M_{ij})/\varepsilon},

and the dual objective :math:`J(f) = \langle f, a\rangle + \langle g, b\rangle` is at most
the regularized OT cost, with equality at the optimum: what :class:`MetaInitializer`
maximizes (Amos et al., Meta Optimal Transport, ICML 2023).
"""

from __future__ import annotations

import numpy as np

__all__ = ["c_transform", "dual_gradient", "dual_objective"]

# Largest number of (problem, i, j) entries a NumPy c-transform holds at once (128 MiB).
_CHUNK_ENTRIES = 2**24


def _logsumexp(X, axis):
    top = np.max(X, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(X - top), axis=axis)) + np.squeeze(top, axis=axis)


def _log_weights(W):
    with np.errstate(divide="ignore"):
        return np.log(W)  # -inf on zero-weight bins: they drop out of the softmin


def c_transform(f, A, M, reg):
    r"""Column potentials :math:`g_j = -\varepsilon \log \sum_i a_i e^{(f_i - M_{ij})/\varepsilon}`.

    ``f`` (N, n), ``A`` (N, n), ``M`` (n, m) float64 NumPy arrays -> ``g`` (N, m). Bins with
    :math:`a_i = 0` are left out of the sum, whatever ``f_i`` is.
    """
    N, (n, m) = A.shape[0], M.shape
    g = np.empty((N, m))
    step = max(1, _CHUNK_ENTRIES // (n * m))
    for start in range(0, N, step):
        rows = slice(start, start + step)
        X = _log_weights(A[rows])[:, :, None] + (f[rows][:, :, None] - M[None]) / reg
        g[rows] = -reg * _logsumexp(X, axis=1)
    return g


def dual_objective(f, A, B, M, reg):
    r"""Entropic dual objective :math:`J(f) = \langle f, a\rangle + \langle g, b\rangle` of each
    problem, ``g`` the c-transform of ``f`` (float64 NumPy arrays; returns (N,))."""
    g = c_transform(f, A, M, reg)
    return np.sum(np.where(A > 0, A * f, 0.0), axis=1) + np.sum(B * g, axis=1)


def dual_gradient(f, A, B, M, reg):
    r"""Gradient of :func:`dual_objective` with respect to ``f``: :math:`a - P\mathbf 1`, with
    :math:`P_{ij} = a_i b_j e^{(f_i + g_j - M_{ij})/\varepsilon}` (the envelope theorem: ``g``
    is optimal for ``f``)."""
    g = c_transform(f, A, M, reg)
    log_plan = (
        _log_weights(A)[:, :, None]
        + _log_weights(B)[:, None, :]
        + (f[:, :, None] + g[:, None, :] - M[None]) / reg
    )
    return A - np.sum(np.exp(log_plan), axis=2)
