"""Euclidean projections (simplex, PSD cone) and the centring of dual potentials."""

from __future__ import annotations

import numbers

from .._validation import check_ndim
from ..backend import get_namespace, is_traced, to_numpy
from ._arguments import as_float, check_backend, float_dtype_and_device

__all__ = ["center_ot_dual", "proj_SDP", "proj_simplex"]


def proj_simplex(v, z=1):
    r"""Euclidean projection onto the simplex of total mass ``z``.

    .. math::
        \mathcal{P}(v) = \mathop{\arg\min}_{\gamma \ge 0,\ \mathbf{1}^\top \gamma = z}
        \|\gamma - v\|_2 = \max(v - \tau, 0)

    where the threshold is :math:`\tau = \max_k (\sum_{i \le k} u_i - z) / k` for the entries
    :math:`u_1 \ge u_2 \ge \dots` of :math:`v` sorted in decreasing order (Duchi et al.
    2008; Condat 2016). A 2-D ``v`` is projected column by column, as POT.

    Parameters
    ----------
    v : (n,) or (n, d) array_like
        Vector, or matrix whose columns are projected.
    z : float or array, default=1
        Total mass of the simplex (``z >= 0``); for a 2-D ``v``, also a (d,) array of one mass
        per column. An array of the library of ``v`` receives a gradient.

    Returns
    -------
    h : array of the shape of ``v``
        Non-negative, each column summing to ``z``; in the library, floating dtype and device
        of ``v``. Differentiable (torch, JAX) almost everywhere, with the Jacobian
        :math:`I - \mathbf{1}\mathbf{1}^\top / |S|` on the support :math:`S` of the result.

    References
    ----------
    .. [1] J. Duchi, S. Shalev-Shwartz, Y. Singer, T. Chandra. Efficient projections onto the
       l1-ball for learning in high dimensions. ICML 2008.
    .. [2] L. Condat. Fast projection onto the simplex and the l1 ball. Mathematical
       Programming 158, 575-585, 2016.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.proj_simplex(np.array([0.5, 1.5, -1.0]))
    array([0., 1., 0.])
    >>> ot.utils.proj_simplex(np.array([[0.2, 3.0], [0.4, 1.0]]), z=2)
    array([[0.9, 2. ],
           [1.1, 0. ]])
    """
    xp = get_namespace(v=v, z=z)
    dtype, device = float_dtype_and_device(xp, v, z)
    v = as_float(v, xp, dtype, device)
    check_ndim(v, "v", (1, 2))
    if v.shape[0] == 0:
        raise ValueError(f"v is empty (shape {tuple(v.shape)}); the simplex needs one entry")
    z = _mass(z, v, xp, dtype, device)
    columns = v[:, None] if v.ndim == 1 else v
    descending = xp.sort(columns, axis=0, descending=True)
    ranks = xp.arange(1, columns.shape[0] + 1, dtype=dtype, device=device)[:, None]
    # (sum of the k largest - z) / k rises while the k-th largest stays above it, then
    # falls: its maximum over k is the threshold (no data-dependent index is needed).
    threshold = xp.max((xp.cumulative_sum(descending, axis=0) - z) / ranks, axis=0)
    projected = xp.clip(columns - threshold, min=0.0)
    return projected[:, 0] if v.ndim == 1 else projected


def _mass(z, v, xp, dtype, device):
    """The mass ``z`` as a number or an array broadcasting against the columns of ``v``."""
    if isinstance(z, numbers.Real) and not isinstance(z, bool):
        if not z >= 0:
            raise ValueError(f"z must be >= 0 (the mass of the simplex), got {z!r}")
        return float(z)
    z = as_float(z, xp, dtype, device)
    n_columns = 1 if v.ndim == 1 else v.shape[1]
    if z.ndim > 1 or (z.ndim == 1 and (v.ndim == 1 or z.shape[0] != n_columns)):
        raise ValueError(
            f"z.shape == {tuple(z.shape)}, expected () or ({n_columns},) to match the columns "
            f"of v (v.shape == {tuple(v.shape)})"
        )
    if not is_traced(z) and (to_numpy(z) < 0).any():
        raise ValueError("z must be >= 0 (the mass of the simplex)")
    return z


def center_ot_dual(u, v, a=None, b=None):
    r"""Shift dual potentials by a constant so that :math:`a^\top u = b^\top v`.

    .. math::
        c = \frac{b^\top v - a^\top u}{\mathbf{1}^\top a + \mathbf{1}^\top b}, \qquad
        (u, v) \mapsto (u + c, v - c)

    When :math:`\mathbf{1}^\top a = \mathbf{1}^\top b`, :math:`(u + c, v - c)` is feasible
    and has the objective :math:`a^\top u + b^\top v` of :math:`(u, v)` for every :math:`c`;
    this choice splits it evenly between the two sides and makes the duals unique.

    Parameters
    ----------
    u : (n,) or (n, k) array
        Source potentials (k problems in columns).
    v : (m,) or (m, k) array
        Target potentials.
    a : (n,) or (n, k) array_like, optional
        Source weights; uniform (``1 / n``) when None or empty.
    b : (m,) or (m, k) array_like, optional
        Target weights; uniform (``1 / m``) when None or empty.

    Returns
    -------
    u, v : arrays
        The shifted potentials, in the library, floating dtype and device of ``u``.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> u, v = ot.utils.center_ot_dual(np.array([0.0, 2.0]), np.array([1.0, 1.0]))
    >>> u, v
    (array([0., 2.]), array([1., 1.]))
    >>> ot.utils.center_ot_dual(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    (array([0.5, 2.5]), array([1.5, 1.5]))
    """
    xp = get_namespace(u=u, v=v, a=a, b=b)
    dtype, device = float_dtype_and_device(xp, u, v)
    u = as_float(u, xp, dtype, device)
    v = as_float(v, xp, dtype, device)
    check_ndim(u, "u", (1, 2))
    check_ndim(v, "v", (1, 2))
    a = _dual_weights(a, u, "a", "u", xp, dtype, device)
    b = _dual_weights(b, v, "b", "v", xp, dtype, device)
    shift = (xp.sum(b * v, axis=0) - xp.sum(a * u, axis=0)) / (
        xp.sum(a, axis=0) + xp.sum(b, axis=0)
    )
    return u + shift, v - shift


def _dual_weights(weights, potentials, name, potentials_name, xp, dtype, device):
    """Weights of the shape of ``potentials`` (uniform when None or empty)."""
    size = potentials.shape[0]
    if weights is None or (isinstance(weights, (list, tuple)) and len(weights) == 0):
        return xp.full(
            (size,) + (1,) * (potentials.ndim - 1), 1.0 / size, dtype=dtype, device=device
        )
    weights = as_float(weights, xp, dtype, device)
    if weights.ndim == 1 and potentials.ndim == 2:
        weights = weights[:, None]
    if weights.ndim != potentials.ndim or weights.shape[0] != size:
        raise ValueError(
            f"{name}.shape == {tuple(weights.shape)}, expected ({size},) to match "
            f"{potentials_name}.shape == {tuple(potentials.shape)}"
        )
    return weights


def proj_SDP(S, nx=None, vmin=0.0):
    r"""Projection of symmetric matrices onto the positive semi-definite matrices.

    .. math::
        \mathcal{P}(S) = U \max(\Lambda, v_{\min}) U^\top
        \quad \text{for } S = U \Lambda U^\top

    the eigenvalues below ``vmin`` being raised to ``vmin`` (the Frobenius projection onto
    the PSD cone for ``vmin = 0``).

    Parameters
    ----------
    S : (d, d) or (k, d, d) array
        Symmetric matrix, or a batch of them.
    nx : POT backend, array namespace or None, default=None
        Accepted for POT compatibility when it matches the library of ``S``.
    vmin : float, default=0.0
        Smallest eigenvalue of the result.

    Returns
    -------
    P : array of the shape of ``S``
        In the library, floating dtype and device of ``S``.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.proj_SDP(np.array([[1.0, 0.0], [0.0, -2.0]]))
    array([[1., 0.],
           [0., 0.]])
    """
    xp = get_namespace(S=S)
    check_backend(nx, xp)
    dtype, device = float_dtype_and_device(xp, S)
    S = as_float(S, xp, dtype, device)
    check_ndim(S, "S", (2, 3))
    if S.shape[-1] != S.shape[-2]:
        raise ValueError(f"S must hold square matrices, got shape {tuple(S.shape)}")
    eigenvalues, eigenvectors = xp.linalg.eigh(S)
    clipped = xp.clip(eigenvalues, min=float(vmin))
    return xp.matmul(eigenvectors * clipped[..., None, :], xp.matrix_transpose(eigenvectors))
