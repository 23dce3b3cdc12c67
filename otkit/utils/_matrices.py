"""Cost-matrix helpers of POT's ``ot.utils``: standard costs, kernels, normalization."""

from __future__ import annotations

import functools

import numpy as np

from .._validation import check_ndim
from ..backend import get_namespace, is_traced
from ._arguments import as_float, float_dtype_and_device
from ._costs import dist

__all__ = [
    "clean_zeros",
    "cost_normalization",
    "dist0",
    "dots",
    "euclidean_distances",
    "kernel",
    "laplacian",
]

_COST_NORMS = ("median", "max", "log", "loglog")
_GAUSSIAN_NAMES = ("gaussian", "gauss", "rbf")


def dist0(n: int, method: str = "lin_square"):
    r"""Standard (n, n) cost matrix between the points 0, 1, ..., n - 1 of the real line.

    .. math::
        M_{ij} = (i - j)^2 \quad \text{(method 'lin_square')}

    Parameters
    ----------
    n : int
        Number of points.
    method : {'lin_square'}, default='lin_square'
        The cost: squared distance between the equispaced points.

    Returns
    -------
    M : (n, n) numpy.ndarray of float64

    Examples
    --------
    >>> import otkit as ot
    >>> ot.utils.dist0(3)
    array([[0., 1., 4.],
           [1., 0., 1.],
           [4., 1., 0.]])
    """
    if method != "lin_square":
        raise ValueError(f"method must be 'lin_square', got {method!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    positions = np.arange(int(n), dtype=np.float64)
    return (positions[:, None] - positions[None, :]) ** 2


def euclidean_distances(X, Y, squared: bool = False, nx=None):
    r"""Euclidean distances between the rows of ``X`` and ``Y``.

    .. math::
        D_{ij} = \|x_i - y_j\|_2 \quad \text{(or } \|x_i - y_j\|_2^2 \text{ if squared)}

    :func:`otkit.dist` with metric 'euclidean' or 'sqeuclidean' (its accuracy notes apply);
    the diagonal is exactly 0 when ``Y`` is ``X``.

    Parameters
    ----------
    X : (n, d) array_like
    Y : (m, d) array_like
    squared : bool, default=False
        Return squared distances.
    nx : POT backend, array namespace or None, default=None
        Accepted for POT compatibility when it matches the library of the points.

    Returns
    -------
    D : (n, m) array
        In the library, floating dtype and device of the points; differentiable, with a zero
        (not NaN) gradient where two points coincide.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.euclidean_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))
    array([[5.]])
    """
    return dist(X, Y, metric="sqeuclidean" if squared else "euclidean", nx=nx)


def kernel(x1, x2, method: str = "gaussian", sigma: float = 1):
    r"""Kernel matrix between the rows of ``x1`` and ``x2``.

    .. math::
        K_{ij} = \exp\left(-\frac{\|x^1_i - x^2_j\|^2}{2 \sigma^2}\right)
        \quad \text{(Gaussian)}

    Parameters
    ----------
    x1 : (n, d) array_like
    x2 : (m, d) array_like
    method : {'gaussian', 'gauss', 'rbf'}, default='gaussian'
        The kernel (the three names are the Gaussian kernel; case-insensitive).
    sigma : float, default=1
        Bandwidth.

    Returns
    -------
    K : (n, m) array
        In the library, floating dtype and device of the points; differentiable.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.kernel(np.array([[0.0]]), np.array([[0.0], [2.0]]))
    array([[1.        , 0.13533528]])
    """
    if not isinstance(method, str) or method.lower() not in _GAUSSIAN_NAMES:
        raise ValueError(f"method must be one of {_GAUSSIAN_NAMES}, got {method!r}")
    costs = dist(x1, x2)
    xp = get_namespace(costs=costs)
    return xp.exp(costs / (-2.0 * sigma**2))


def cost_normalization(C, norm=None, return_value: bool = False, value=None):
    r"""Cost matrix rescaled or compressed.

    - ``'median'``: :math:`C / \mathrm{median}(C)`; ``'max'``: :math:`C / \max C` (``value``
      replaces the median or maximum when given);
    - ``'log'``: :math:`\log(1 + C)`; ``'loglog'``: :math:`\log(1 + \log(1 + C))`;
    - None: ``C`` unchanged.

    Parameters
    ----------
    C : (n, m) array
        The cost matrix (not modified).
    norm : {None, 'median', 'max', 'log', 'loglog'}, default=None
    return_value : bool, default=False
        Also return the divisor (``value``, or the median or maximum computed).
    value : float or 0-d array, optional
        Divisor of 'median' and 'max' (for example that of a reference matrix).

    Returns
    -------
    C : (n, m) array
        In the library, floating dtype and device of ``C``.
    value : 0-d array, float or None
        Only with ``return_value``: the divisor used (None for None, 'log' and 'loglog'
        unless given).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.cost_normalization(np.array([[1.0, 2.0], [3.0, 4.0]]), "max")
    array([[0.25, 0.5 ],
           [0.75, 1.  ]])
    """
    if norm is not None and norm not in _COST_NORMS:
        raise ValueError(f"norm must be None or one of {_COST_NORMS}, got {norm!r}")
    xp = get_namespace(C=C)
    dtype, device = float_dtype_and_device(xp, C)
    C = as_float(C, xp, dtype, device)
    if norm == "median":
        value = _median(C, xp) if value is None else value
        C = C / value
    elif norm == "max":
        value = xp.max(C) if value is None else value
        C = C / value
    elif norm == "log":
        C = xp.log1p(C)
    elif norm == "loglog":
        C = xp.log1p(xp.log1p(C))
    return (C, value) if return_value else C


def _median(x, xp):
    """Median of all entries (the mean of the two middle ones for an even count, as NumPy)."""
    flat = xp.sort(xp.reshape(x, (-1,)))
    size = flat.shape[0]
    if size == 0:
        raise ValueError("C is empty: its median is undefined")
    return (flat[(size - 1) // 2] + flat[size // 2]) / 2


def laplacian(x):
    r"""Laplacian of the graph of (symmetric) adjacency matrix ``x``.

    .. math::
        L = \mathrm{diag}(\mathbf{1}^\top x) - x

    Parameters
    ----------
    x : (n, n) array
        Adjacency (weight) matrix.

    Returns
    -------
    L : (n, n) array
        In the library, floating dtype and device of ``x``; its rows sum to 0 when ``x`` is
        symmetric.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.laplacian(np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    xp = get_namespace(x=x)
    dtype, device = float_dtype_and_device(xp, x)
    x = as_float(x, xp, dtype, device)
    check_ndim(x, "x", 2)
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"x must be a square matrix, got shape {tuple(x.shape)}")
    degrees = xp.sum(x, axis=0)
    return xp.eye(x.shape[0], dtype=dtype, device=device) * degrees[None, :] - x


def dots(*args):
    r"""Product of matrices, from left to right: ``args[0] @ args[1] @ ...``.

    Parameters
    ----------
    *args : arrays of one library
        Matrices (or vectors at the ends) of compatible shapes.

    Returns
    -------
    product : array

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.dots(np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0]))
    array([3., 7.])
    """
    if not args:
        raise ValueError("dots needs at least one matrix")
    xp = get_namespace(**{f"args[{i}]": x for i, x in enumerate(args)})
    return functools.reduce(xp.matmul, args)


def clean_zeros(a, b, M):
    r"""The problem ``(a, b, M)`` without the zero-weight bins.

    Parameters
    ----------
    a : (n,) array
        Source weights.
    b : (m,) array
        Target weights.
    M : (n, m) array
        Cost matrix.

    Returns
    -------
    a : (n',) array
        The positive entries of ``a``.
    b : (m',) array
        The positive entries of ``b``.
    M : (n', m') array
        The rows and columns of ``M`` of those entries (a new array).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> a, b, M = ot.utils.clean_zeros(np.array([0.5, 0.0, 0.5]), np.array([1.0]),
    ...                                np.arange(3.0)[:, None])
    >>> a, b, M
    (array([0.5, 0.5]), array([1.]), array([[0.],
           [2.]]))
    """
    xp = get_namespace(a=a, b=b, M=M)
    check_ndim(a, "a", 1)
    check_ndim(b, "b", 1)
    check_ndim(M, "M", 2)
    if tuple(M.shape) != (a.shape[0], b.shape[0]):
        raise ValueError(
            f"M.shape == {tuple(M.shape)}, expected ({a.shape[0]}, {b.shape[0]}) to match a and b"
        )
    if is_traced(a, b):
        raise NotImplementedError("clean_zeros gives data-dependent shapes: not under jax.jit")
    rows = xp.nonzero(a > 0)[0]
    columns = xp.nonzero(b > 0)[0]
    kept = xp.take(xp.take(M, rows, axis=0), columns, axis=1)
    return xp.take(a, rows, axis=0), xp.take(b, columns, axis=0), kept
