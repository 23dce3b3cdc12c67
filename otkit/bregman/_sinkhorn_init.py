"""Initial potentials for Sinkhorn: Gaussian (squared Euclidean) and sorting (1D).

Both return potentials ``(f, g)`` in cost units, to be passed as
``sinkhorn(..., warmstart=(f, g), warmstart_type="potentials")``.  They are computed on the
host (small dense linear algebra or a sort) and returned in the caller's namespace, dtype and
device, without gradient.
"""

from __future__ import annotations

import numpy as np

from ..backend import device_of, from_numpy, get_namespace, result_float_dtype, to_numpy

__all__ = ["sinkhorn_init_gaussian", "sinkhorn_init_sorting"]


def _weights(w, size):
    if w is None or np.size(w) == 0:
        return np.full(size, 1.0 / size)
    w = to_numpy(w)
    if w.shape != (size,) or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError(f"weights must be a non-negative finite ({size},) array")
    return w / w.sum()


def _psd_sqrt(S):
    values, vectors = np.linalg.eigh((S + S.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _back(arrays, xp, like):
    device = next((device_of(x) for x in like if device_of(x) is not None), None)
    dtype = result_float_dtype(xp, *like, device=device)
    return tuple(from_numpy(x, xp, dtype=dtype, device=device) for x in arrays)


def sinkhorn_init_gaussian(a, b, x, y, reg_jitter=1e-8):
    r"""Potentials of the Gaussian approximation, for the cost :math:`\|x - y\|^2`.

    Following Thornton & Cuturi (2022), both measures are replaced by Gaussians with their
    (weighted) means and covariances. Between Gaussians the optimal map is affine,
    :math:`T(x) = \mu_y + A (x - \mu_x)` with
    :math:`A = \Sigma_x^{-1/2} (\Sigma_x^{1/2} \Sigma_y \Sigma_x^{1/2})^{1/2} \Sigma_x^{-1/2}`,
    the gradient of :math:`\varphi(x) = \tfrac12 x^\top A x + (\mu_y - A\mu_x)^\top x`; the
    Kantorovich potential of the squared Euclidean cost is :math:`f = \|x\|^2 - 2\varphi` and
    ``g`` is its c-transform on the support of ``b`` (exact, in the log-free limit).

    Parameters
    ----------
    a, b : (n,), (m,) array or None
        Weights (None or empty: uniform).
    x, y : (n, d), (m, d) array
        Support points.
    reg_jitter : float, default=1e-8
        Added to the diagonal of the source covariance before inverting its square root.

    Returns
    -------
    f, g : (n,), (m,) arrays
        Potentials in cost units, in the namespace, dtype and device of ``x``.

    References
    ----------
    .. [1] J. Thornton, M. Cuturi. Rethinking initialization of the Sinkhorn algorithm.
       AISTATS 2023 (arXiv:2206.07630, 2022).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.random.default_rng(0).normal(size=(5, 2)); y = x + 1.0
    >>> f, g = ot.sinkhorn_init_gaussian(None, None, x, y)
    >>> f.shape, g.shape
    ((5,), (5,))
    """
    xp = get_namespace(x=x, y=y, a=a, b=b)
    X, Y = to_numpy(x), to_numpy(y)
    if X.ndim == 1:
        X, Y = X[:, None], Y[:, None]
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"x and y must be (n, d) and (m, d) arrays, got {X.shape} and {Y.shape}")
    wa, wb = _weights(a, X.shape[0]), _weights(b, Y.shape[0])
    mu_x, mu_y = wa @ X, wb @ Y
    cov_x = (X - mu_x).T @ ((X - mu_x) * wa[:, None]) + reg_jitter * np.eye(X.shape[1])
    cov_y = (Y - mu_y).T @ ((Y - mu_y) * wb[:, None])
    root_x = _psd_sqrt(cov_x)
    inv_root_x = np.linalg.inv(root_x)
    A = inv_root_x @ _psd_sqrt(root_x @ cov_y @ root_x) @ inv_root_x
    shift = mu_y - A @ mu_x
    f = np.sum(X * X, axis=1) - np.einsum("id,de,ie->i", X, A, X) - 2.0 * X @ shift
    C = np.sum(X * X, 1)[:, None] + np.sum(Y * Y, 1)[None, :] - 2.0 * X @ Y.T
    g = np.min(C - f[:, None], axis=0)
    return _back((f, g), xp, (x, y))


def sinkhorn_init_sorting(a, b, x, y, p=2):
    r"""Exact 1D dual potentials for the cost :math:`|x - y|^p` (p >= 1), by sorting.

    The optimal 1D plan is the monotone (north-west corner) coupling of the sorted supports;
    along its staircase :math:`f_i + g_j = |x_i - y_j|^p` fixes the potentials, which are the
    unregularized solution Sinkhorn converges to as reg -> 0.

    Parameters
    ----------
    a, b : (n,), (m,) array or None
        Weights (None or empty: uniform).
    x, y : (n,), (m,) array
        1D supports.
    p : float, default=2
        Exponent of the cost.

    Returns
    -------
    f, g : (n,), (m,) arrays in cost units.

    Examples
    --------
    >>> import otkit as ot
    >>> f, g = ot.sinkhorn_init_sorting(None, None, [0.0, 1.0], [0.5, 2.0])
    >>> [float(v) for v in f + g]
    [0.25, 1.0]
    """
    xp = get_namespace(x=x, y=y, a=a, b=b)
    X, Y = to_numpy(x).reshape(-1), to_numpy(y).reshape(-1)
    wa, wb = _weights(a, X.size), _weights(b, Y.size)
    order_x, order_y = np.argsort(X, kind="stable"), np.argsort(Y, kind="stable")
    f = np.zeros(X.size)
    g = np.zeros(Y.size)
    i = j = 0
    left_a, left_b = wa[order_x[0]], wb[order_y[0]]
    ii, jj = order_x[0], order_y[0]
    f[ii] = 0.0
    g[jj] = abs(X[ii] - Y[jj]) ** p
    while i < X.size - 1 or j < Y.size - 1:
        move_row = j == Y.size - 1 or (i < X.size - 1 and left_a <= left_b)
        if move_row:
            left_b -= left_a
            i += 1
            ii = order_x[i]
            left_a = wa[ii]
            f[ii] = abs(X[ii] - Y[jj]) ** p - g[jj]
        else:
            left_a -= left_b
            j += 1
            jj = order_y[j]
            left_b = wb[jj]
            g[jj] = abs(X[ii] - Y[jj]) ** p - f[ii]
    return _back((f, g), xp, (x, y))
