"""Uniform weights and ground-cost matrices, with POT's names and semantics."""

from __future__ import annotations

import math
import sys

import numpy as np

from .._validation import check_ndim, check_real
from ..backend import (
    from_numpy,
    get_namespace,
    is_numpy_namespace,
    is_traced,
    numpy_namespace,
    stop_gradient,
    to_numpy,
)
from ._arguments import as_float, check_backend, float_dtype_and_device, library_name

__all__ = ["METRICS", "SCIPY_METRICS", "dist", "unif"]

# Metrics that otkit computes itself, on every library, differentiably.
METRICS = (
    "sqeuclidean",
    "euclidean",
    "cityblock",
    "minkowski",
    "cosine",
    "correlation",
    "chebyshev",
)
# Metrics of scipy.spatial.distance.cdist that POT forwards to SciPy on NumPy arrays (names
# that the installed SciPy has removed are reported by name when used).
SCIPY_METRICS = (
    "braycurtis",
    "canberra",
    "dice",
    "hamming",
    "jaccard",
    "jensenshannon",
    "kulczynski1",
    "mahalanobis",
    "matching",
    "rogerstanimoto",
    "russellrao",
    "seuclidean",
    "sokalmichener",
    "sokalsneath",
    "yule",
)
# SciPy metrics whose cdist takes no feature weights ``w``.
_UNWEIGHTED_SCIPY_METRICS = ("jensenshannon", "mahalanobis", "seuclidean")
_BACKEND_NAMES = ("auto", "scipy")
# NumPy input of at most this many n * m * d entries takes direct differences for the
# squared Euclidean cost (512 KiB of float64 temporaries): see _small_numpy_sqeuclidean.
_DIRECT_MAX_SIZE = 2**16
_DIRECT_METRICS = ("sqeuclidean", "euclidean")
_NUMPY_BACKENDS = ("auto", "numpy")
# torch: the direct form pays off below ~4e3 entries (its (n, m, d) temporaries cost more
# than a matrix product above; measured 0.2x POT's time at n = m = 10, d = 2)
_TORCH_DIRECT_MAX_SIZE = 2**12
_TORCH_PLANES_MAX_DIM = 3  # from 4 features on, the expansion below is faster
_TORCH_BACKENDS = ("auto", "torch")


def unif(n: int, type_as=None):
    """Uniform histogram of length ``n``.

    Parameters
    ----------
    n : int
        Number of bins.
    type_as : array, optional
        The result takes this array's library, floating dtype and device (NumPy float64
        when omitted).

    Returns
    -------
    h : (n,) array
        ``h_i = 1 / n``.

    Examples
    --------
    >>> import otkit as ot
    >>> ot.unif(4)
    array([0.25, 0.25, 0.25, 0.25])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if type_as is None:
        return np.full(int(n), 1.0 / int(n))
    xp = get_namespace(type_as=type_as)
    dtype, device = float_dtype_and_device(xp, type_as)
    return xp.full((int(n),), 1.0 / int(n), dtype=dtype, device=device)


def dist(
    x1,
    x2=None,
    metric="sqeuclidean",
    p: float = 2,
    w=None,
    backend: str = "auto",
    nx=None,
    use_tensor: bool = False,
):
    r"""Matrix of ground costs between the rows of ``x1`` and ``x2``.

    .. math::
        M_{ij} = c(x^1_i, x^2_j)

    with, for non-negative feature weights :math:`w` (all ones by default),

    - ``"sqeuclidean"``: :math:`\sum_k w_k (x_k - y_k)^2` (no factor 1/2, as POT and OTT);
    - ``"euclidean"``: its square root, with gradient 0 (not NaN) where two points coincide;
    - ``"cityblock"``: :math:`\sum_k w_k |x_k - y_k|`;
    - ``"minkowski"``: :math:`(\sum_k w_k |x_k - y_k|^p)^{1/p}`, and for ``p = inf`` the
      largest :math:`|x_k - y_k|` over the features with :math:`w_k > 0` (as SciPy);
    - ``"chebyshev"``: that largest :math:`|x_k - y_k|`, whatever ``p``;
    - ``"cosine"``: :math:`1 - \langle x, y\rangle_w / (\|x\|_w \|y\|_w)` (a zero vector is at
      distance 1 from everything, with a finite gradient);
    - ``"correlation"``: the cosine distance between :math:`x - \bar x` and :math:`y - \bar y`,
      where :math:`\bar x = \sum_k w_k x_k / \sum_k w_k` (each point centred on its own mean).

    These are computed by otkit on every library (``otkit.METRICS``). The other metrics of
    :func:`scipy.spatial.distance.cdist` (``otkit.utils.SCIPY_METRICS``: 'braycurtis',
    'canberra', 'hamming', 'jaccard', ...) and a callable ``metric(u, v)`` are passed to SciPy,
    on NumPy input only. The weights and names follow SciPy.

    Parameters
    ----------
    x1 : (n, d) array_like
        First point cloud.
    x2 : (m, d) array_like, optional
        Second point cloud; ``x1`` when omitted.
    metric : str or callable, default="sqeuclidean"
        One of ``otkit.METRICS`` (any library), of ``otkit.utils.SCIPY_METRICS`` or a callable
        (NumPy, or any library with ``backend="scipy"``).
    p : float, default=2
        Exponent of ``"minkowski"`` (``1 <= p <= inf``); ignored by the other metrics.
    w : (d,) array_like, optional
        Non-negative feature weights (a NumPy array or a list is accepted beside torch or JAX
        point clouds).
    backend : {"auto", "scipy"}, default="auto"
        ``"scipy"`` computes the matrix with :func:`scipy.spatial.distance.cdist` on the host
        and returns it in the input's library, without gradient (not under ``jax.jit``). The
        name of the input's own library (``"numpy"``, ``"torch"``, ``"jax"``) means
        ``"auto"``.
    nx : POT backend, array namespace or None, default=None
        Accepted for POT compatibility when it matches the library of the points (otkit finds
        the library from the arrays); a different library is an error.
    use_tensor : bool, default=False
        Accepted for POT compatibility: otkit computes ``"cityblock"`` and ``"minkowski"`` one
        feature at a time in O(n m) memory either way, with the same values.

    Returns
    -------
    M : (n, m) array
        In the library and device of ``x1`` (of ``x2`` when ``x1`` is a list), in the
        promoted floating dtype of ``x1`` and ``x2`` (the default float for integer input);
        differentiable on torch and JAX for the metrics of ``otkit.METRICS``.

    Raises
    ------
    ValueError
        An unknown ``metric`` or ``backend``, ``p < 1`` for ``"minkowski"``, bad shapes, or
        weights ``w`` that are negative or that the SciPy metric does not take.
    NotImplementedError
        A SciPy metric or a callable on torch, JAX or other non-NumPy arrays without
        ``backend="scipy"``.

    Notes
    -----
    ``"sqeuclidean"``, ``"euclidean"``, ``"cosine"`` and ``"correlation"`` use matrix products,
    except small problems on NumPy: for float32 or float64 arrays with
    :math:`n m d \le 2^{16}`, the first two sum the squared differences
    :math:`(x_k - y_k)^2` over the features instead (exact up to the rounding of that sum,
    and a few NumPy calls: the per-call time matters where many small problems are solved).
    Otherwise, for the first two, both clouds are first shifted by the mean :math:`c` of
    their union (O((n + m) d); translation does not change the distances), and
    :math:`\|x - c\|^2 + \|y - c\|^2 - 2\langle x - c, y - c\rangle` rounds to a few ulps of
    :math:`\|x - c\|^2 + \|y - c\|^2`: far from the origin the distances keep their
    precision (``dist([[1e8]], [[1e8 + 1]])`` is 1), but a squared distance much smaller than
    the spread of the clouds around :math:`c` still loses relative precision
    (``metric="minkowski"`` with ``p=2`` computes the Euclidean distance from direct
    differences, one feature at a time, if that matters).
    The diagonal of ``dist(x)``, ``dist(x, x)`` and of ``dist(x, y)`` where rows
    ``x[i] == y[i]`` is exactly 0 for the first two.
    ``"cityblock"``, ``"minkowski"`` and ``"chebyshev"`` work one feature at a time in
    O(n m) memory.

    ``w`` weights every metric that takes weights; POT passes it on for ``"minkowski"``
    only and ignores it otherwise.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.dist(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))
    array([[25.]])
    >>> ot.dist(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), metric="euclidean")
    array([[5.]])
    >>> ot.dist(np.array([[1.0, 0.0]]), np.array([[3.0, 4.0]]), metric="braycurtis")
    array([[0.75]])
    """
    if (
        type(x1) is np.ndarray
        and (x2 is None or type(x2) is np.ndarray)
        and w is None
        and type(metric) is str
        and metric in _DIRECT_METRICS
        and type(backend) is str
        and backend in _NUMPY_BACKENDS
        and type(use_tensor) is bool
    ):
        costs = _small_numpy_sqeuclidean(x1, x1 if x2 is None else x2)
        if costs is not None:
            check_backend(nx, numpy_namespace())
            return costs if metric == "sqeuclidean" else _safe_root(costs, 2.0, np)
    elif (
        w is None
        and type(metric) is str
        and metric in _DIRECT_METRICS
        and type(backend) is str
        and backend in _TORCH_BACKENDS
        and type(use_tensor) is bool
    ):
        costs = _small_torch_sqeuclidean(x1, x1 if x2 is None else x2)
        if costs is not None:
            xp = get_namespace(x1=x1)
            check_backend(nx, xp)
            return costs if metric == "sqeuclidean" else _safe_root(costs, 2.0, xp)
    native = _check_metric(metric)
    if metric == "minkowski":
        p = check_real(p, "p", minimum=1, allow_inf=True, allow_traced=False)
    if not isinstance(use_tensor, (bool, np.bool_)):
        raise TypeError(f"use_tensor must be a bool, got {use_tensor!r}")
    same_cloud = x2 is None or x2 is x1
    if x2 is None:
        x2 = x1
    xp = get_namespace(x1=x1, x2=x2, w=w)
    check_backend(nx, xp)
    on_host = _uses_scipy(backend, xp)
    if not native and not on_host and not is_numpy_namespace(xp):
        raise NotImplementedError(
            f"metric {_metric_name(metric)} is computed by scipy.spatial.distance.cdist, on "
            f"NumPy arrays only; on {library_name(xp)} arrays dist supports {METRICS} (or pass "
            "backend='scipy' to compute on the host, without gradient)"
        )
    dtype, device = float_dtype_and_device(xp, x1, x2)
    x1 = as_float(x1, xp, dtype, device)
    x2 = x1 if same_cloud else as_float(x2, xp, dtype, device)
    check_ndim(x1, "x1", 2)
    check_ndim(x2, "x2", 2)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(
            f"x1 and x2 must have the same number of features: x1.shape == {tuple(x1.shape)}, "
            f"x2.shape == {tuple(x2.shape)}"
        )
    if w is not None:
        w = as_float(w, xp, dtype, device)
        _check_feature_weights(w, x1.shape[1], xp)
    if on_host or not native:
        return _scipy_cdist(x1, x2, metric, p, w, xp, dtype, device)
    if metric in ("sqeuclidean", "euclidean"):
        costs = _sqeuclidean(x1, x2, w, xp, same_cloud)
        if same_cloud:
            costs = _zero_diagonal(costs, xp, device)
        else:
            costs = _zero_equal_rows(costs, x1, x2, xp, device)
        return costs if metric == "sqeuclidean" else _safe_root(costs, 2.0, xp)
    if metric == "cityblock":
        return _sum_abs_power(x1, x2, w, 1.0, xp, device)
    if metric == "chebyshev" or (metric == "minkowski" and float(p) == math.inf):
        return _chebyshev(x1, x2, w, xp, device)
    if metric == "minkowski":
        p = float(p)
        return _safe_root(_sum_abs_power(x1, x2, w, p, xp, device), p, xp)
    if metric == "correlation":
        x1 = _centered(x1, w, xp)
        x2 = x1 if same_cloud else _centered(x2, w, xp)
    return _cosine(x1, x2, w, xp)


def _small_numpy_sqeuclidean(x1, x2):
    """Squared distances of small float NumPy clouds from direct differences, or None.

    None (the general path then decides, and raises on bad input) unless both clouds are 2-D
    float32 or float64 arrays of the same dtype and width with n m d <= _DIRECT_MAX_SIZE.
    The (d, n, m) differences are squared and summed over the features in order: exact up
    to that sum's rounding, never negative, 0 between equal points, symmetric; a few NumPy
    calls in all, where the matrix-product form needs a dozen on tiny inputs.
    """
    dtype = x1.dtype
    if (
        x1.ndim != 2
        or x2.ndim != 2
        or x2.dtype != dtype
        or dtype.char not in "fd"
        or x1.shape[1] != x2.shape[1]
        or x1.shape[0] * x2.shape[0] * x1.shape[1] > _DIRECT_MAX_SIZE
    ):
        return None
    # features first, contiguous: the sum below then adds whole (n, m) planes
    differences = np.ascontiguousarray(x1.T)[:, :, None] - np.ascontiguousarray(x2.T)[:, None, :]
    np.square(differences, out=differences)
    return np.add.reduce(differences, axis=0)


def _small_torch_sqeuclidean(x1, x2):
    """The direct-difference form of :func:`_small_numpy_sqeuclidean` for small torch
    tensors (float32/float64, same dtype and device, n m d <= _TORCH_DIRECT_MAX_SIZE), or None.

    Three torch calls, differentiable (the gradient 2 (x - y) is exact), where the general
    path makes some twenty through the array-API layer: the per-call time of small problems.
    Up to n m d <= _DIRECT_MAX_SIZE with d <= 3, the same from (n, m) planes, one feature at
    a time (as the NumPy path: the same values). Above that size, the matrix-product expansion in native torch calls when no shift is
    needed (see :func:`_sqeuclidean`), else None.
    """
    torch = sys.modules.get("torch")
    if torch is None or type(x1) is not torch.Tensor or type(x2) is not torch.Tensor:
        return None
    if (
        x1.dtype not in (torch.float32, torch.float64)
        or x2.dtype != x1.dtype
        or x2.device != x1.device
        or x1.ndim != 2
        or x2.ndim != 2
        or x1.shape[1] != x2.shape[1]
    ):
        return None
    n, m, d = x1.shape[0], x2.shape[0], x1.shape[1]
    if n * m * d <= _TORCH_DIRECT_MAX_SIZE:
        differences = x1[:, None, :] - x2[None, :, :]
        return (differences * differences).sum(dim=-1)
    if n * m * d <= _DIRECT_MAX_SIZE and d <= _TORCH_PLANES_MAX_DIM:
        # (n, m) planes summed over the features in order, as on NumPy: a torch sum over a
        # last axis of 2 or 3 runs 4-5 times slower than these few whole-plane operations
        # (100 x 100 points in 2-D: 74 us against 167 us for the expansion below)
        costs = None
        for k in range(d):
            plane = x1[:, k, None] - x2[None, :, k]
            plane = plane * plane
            costs = plane if costs is None else costs + plane
        return costs
    # Larger: the expansion of _sqeuclidean in native calls, when the clouds need no shift
    # (their mean within their spread of the origin); otherwise None (the general path).
    if x1.numel() == 0 or x2.numel() == 0:
        return None
    both = x1 if x2 is x1 else torch.cat((x1, x2))
    low, high = both.amin(dim=0), both.amax(dim=0)  # (torch.aminmax: 8 ms on (200, 2))
    if not bool((both.mean(dim=0).abs() <= high - low).all()):
        return None
    norms1 = (x1 * x1).sum(dim=1)
    norms2 = norms1 if x2 is x1 else (x2 * x2).sum(dim=1)
    costs = torch.addmm(norms1[:, None] + norms2[None, :], x1, x2.T, alpha=-2.0).clamp(min=0.0)
    # an exact 0 where a point meets itself (as _zero_diagonal / _zero_equal_rows)
    k = min(x1.shape[0], x2.shape[0])
    equal = (
        torch.ones(k, dtype=torch.bool, device=x1.device)
        if x2 is x1
        else (x1[:k] == x2[:k]).all(dim=1)
    )
    if bool(equal.any()):
        mask = torch.zeros(costs.shape, dtype=torch.bool, device=x1.device)
        mask.diagonal()[:k] = equal
        costs = costs.masked_fill(mask, 0.0)
    return costs


def _check_metric(metric) -> bool:
    """True for a metric of METRICS, False for SciPy's; an unknown metric is an error."""
    if isinstance(metric, str):
        if metric in METRICS:
            return True
        if metric in SCIPY_METRICS:
            return False
    elif callable(metric):
        return False
    raise ValueError(
        f"metric must be one of {METRICS + SCIPY_METRICS} or a callable, got {metric!r}"
    )


def _metric_name(metric) -> str:
    return repr(metric) if isinstance(metric, str) else "given as a callable"


def _uses_scipy(backend, xp) -> bool:
    """Whether ``backend`` asks for SciPy's cdist on the host."""
    if backend in _BACKEND_NAMES:
        return backend == "scipy"
    if isinstance(backend, str) and backend == library_name(xp):
        return False
    raise ValueError(
        f"backend must be 'auto', 'scipy' or the library of the points "
        f"({library_name(xp)!r}), got {backend!r}"
    )


def _scipy_cdist(x1, x2, metric, p, w, xp, dtype, device):
    """``scipy.spatial.distance.cdist`` on host copies, returned in ``xp`` (no gradient)."""
    from scipy.spatial.distance import cdist

    if is_traced(x1, x2, w):
        raise NotImplementedError(
            f"metric {_metric_name(metric)} (or backend='scipy') runs SciPy on the host and "
            "needs concrete values: it cannot run under jax.jit or jax.grad"
        )
    options = {}
    if w is not None:
        if metric in _UNWEIGHTED_SCIPY_METRICS:
            raise ValueError(f"w: metric {metric!r} takes no feature weights")
        options["w"] = to_numpy(w)
    if metric == "minkowski":
        options["p"] = float(p)
    try:
        costs = cdist(to_numpy(x1), to_numpy(x2), metric=metric, **options)
    except ValueError as error:
        if isinstance(metric, str) and "Unknown Distance Metric" in str(error):
            import scipy

            raise ValueError(
                f"metric {metric!r} is not available in the installed SciPy {scipy.__version__}"
            ) from None
        raise
    return from_numpy(np.asarray(costs, dtype=np.float64), xp, dtype=dtype, device=device)


def _centered(x, w, xp):
    """Each row of ``x`` minus its (``w``-weighted) mean."""
    if w is None:
        return x - xp.mean(x, axis=1, keepdims=True)
    return x - xp.sum(x * w, axis=1, keepdims=True) / xp.sum(w)


def _check_feature_weights(w, n_features: int, xp) -> None:
    if w.ndim != 1 or w.shape[0] != n_features:
        raise ValueError(
            f"w.shape == {tuple(w.shape)}, expected ({n_features},) to match x1.shape[1]"
        )
    # The values are unknown while JAX traces; checking them eagerly costs one reduction.
    if not is_traced(w) and bool(xp.any(w < 0)):
        raise ValueError(
            f"w has negative entries (min {float(xp.min(w)):.3g}); weights must be >= 0"
        )


def _sqeuclidean(x1, x2, w, xp, same_cloud=False):
    """sum_k w_k (x1_ik - x2_jk)^2 through one matrix product, clipped at 0.

    Both clouds are first shifted by the mean of their union (a constant for autodiff: the
    cost is translation invariant). The expansion ||x||^2 + ||y||^2 - 2<x, y> then rounds
    to a few ulps of the squared distances to that centre instead of to the origin: without
    the shift, dist([[1e8]], [[1e8 + 1]]) would be 0 (1e4 in float32).
    """
    center = _union_mean(x1, None if same_cloud else x2, xp)
    if center is not None:
        center = stop_gradient(center, xp)
        x1 = x1 - center
        x2 = x1 if same_cloud else x2 - center
    weighted_x1 = x1 if w is None else x1 * w
    weighted_x2 = x2 if w is None else x2 * w
    if is_numpy_namespace(xp):  # in place: no n x m temporaries, few calls on tiny inputs
        costs = weighted_x1 @ x2.T
        costs *= -2.0
        costs += np.einsum("ij,ij->i", weighted_x1, x1)[:, None]
        costs += np.einsum("ij,ij->i", weighted_x2, x2)[None, :]
        return np.maximum(costs, 0.0, out=costs)
    squared_norms1 = xp.sum(weighted_x1 * x1, axis=1)[:, None]
    squared_norms2 = xp.sum(weighted_x2 * x2, axis=1)[None, :]
    cross = xp.matmul(weighted_x1, xp.matrix_transpose(x2))
    return xp.clip(squared_norms1 + squared_norms2 - 2.0 * cross, min=0.0)


def _union_mean(x1, x2, xp):
    """(1, d) centre of the rows of ``x1`` and ``x2`` together (of ``x1`` when ``x2`` is None),
    or None when every feature's mean is within its spread of the origin (no shift needed).

    The mean of the union, rounded per feature to a multiple of 2^-10 times a power of two
    below the feature's spread (max - min), so that ``x - center`` is exact for data with few
    significant bits (integer input keeps exact integer distances). Each cloud is averaged
    first, so that no sum of many far-away coordinates can overflow.
    """
    if is_numpy_namespace(xp):  # fewer calls: this runs on every dist, also on tiny inputs
        both = x1 if x2 is None else np.concatenate((x1, x2))
        low = np.minimum.reduce(both, axis=0, keepdims=True)
        high = np.maximum.reduce(both, axis=0, keepdims=True)
        mean = np.add.reduce(both * (1.0 / both.shape[0]), axis=0, keepdims=True)
        if np.all(np.abs(mean) <= high - low):
            return None
        x2 = None  # the statistics above already cover both clouds
        x1 = both
    mean = xp.mean(x1, axis=0, keepdims=True)
    low = xp.min(x1, axis=0, keepdims=True)
    high = xp.max(x1, axis=0, keepdims=True)
    if x2 is not None:
        n, m = x1.shape[0], x2.shape[0]
        mean = (n / (n + m)) * mean + (m / (n + m)) * xp.mean(x2, axis=0, keepdims=True)
        low = xp.minimum(low, xp.min(x2, axis=0, keepdims=True))
        high = xp.maximum(high, xp.max(x2, axis=0, keepdims=True))
    spread = high - low
    if not is_traced(x1, x2) and bool(xp.all(xp.abs(mean) <= spread)):
        # centred enough already: the shift would gain less than a factor ~4 in the
        # rounding bound, not worth its O((n + m) d) passes on small problems
        return None
    usable = (spread > 0) & (spread < xp.finfo(x1.dtype).max)
    quantum = 2.0 ** (xp.floor(xp.log2(xp.where(usable, spread, xp.ones_like(spread)))) - 10.0)
    rounded = xp.round(mean / quantum) * quantum
    return xp.where(usable, rounded, xp.where(spread > 0, mean, low))


def _zero_diagonal(costs, xp, device):
    """``costs`` with an exact 0 (and a zero gradient) on the diagonal.

    The matrix-product expansion leaves rounding residues of a few ulps of the squared norms
    where a point meets itself; their square root would be both wrong and steep.
    """
    diagonal = xp.eye(costs.shape[0], dtype=xp.bool, device=device)
    return xp.where(diagonal, xp.zeros_like(costs), costs)


def _zero_equal_rows(costs, x1, x2, xp, device):
    """``costs`` with an exact 0 at (i, i) wherever ``x1[i]`` and ``x2[i]`` are equal.

    ``dist(x, x.copy())`` then has the exact zero diagonal of ``dist(x, x)``. The test is
    O(n d); the O(n m) masked pass runs only when some row matches (always while JAX
    traces, where the values are unknown).
    """
    k = min(x1.shape[0], x2.shape[0])
    if k == 0:
        return costs
    equal = xp.all(x1[:k, :] == x2[:k, :], axis=1)
    if not is_traced(x1, x2) and not bool(xp.any(equal)):
        return costs
    rows = xp.arange(costs.shape[0], device=device)[:, None]
    cols = xp.arange(costs.shape[1], device=device)[None, :]
    padded = xp.concat([equal, xp.zeros((costs.shape[0] - k,), dtype=xp.bool, device=device)])
    return xp.where((rows == cols) & padded[:, None], xp.zeros_like(costs), costs)


def _sum_abs_power(x1, x2, w, p, xp, device):
    """sum_k w_k |x1_ik - x2_jk|^p, one feature at a time: O(n m) memory instead of O(n m d)."""
    total = xp.zeros((x1.shape[0], x2.shape[0]), dtype=x1.dtype, device=device)
    for k in range(x1.shape[1]):
        term = xp.abs(x1[:, k][:, None] - x2[:, k][None, :])
        if p != 1.0:
            term = term**p
        if w is not None:
            term = w[k] * term
        total = total + term
    return total


def _chebyshev(x1, x2, w, xp, device):
    """max_k |x1_ik - x2_jk| over the features of positive weight (minkowski with p = inf)."""
    largest = xp.zeros((x1.shape[0], x2.shape[0]), dtype=x1.dtype, device=device)
    for k in range(x1.shape[1]):
        term = xp.abs(x1[:, k][:, None] - x2[:, k][None, :])
        if w is not None:
            term = xp.where(w[k] > 0, term, xp.zeros_like(term))
        largest = xp.maximum(largest, term)
    return largest


def _safe_root(x, p, xp):
    """x ** (1/p) with a zero (not infinite) derivative at x = 0."""
    positive = x > 0
    safe = xp.where(positive, x, xp.ones_like(x))
    root = xp.sqrt(safe) if p == 2.0 else safe ** (1.0 / p)
    return xp.where(positive, root, xp.zeros_like(x))


def _cosine(x1, x2, w, xp):
    """1 - cosine similarity in the w-weighted inner product (1 next to a zero vector)."""
    x1 = x1 * _inverse_norm(x1, w, xp)[:, None]
    x2 = x2 * _inverse_norm(x2, w, xp)[:, None]
    weighted_x1 = x1 if w is None else x1 * w
    return 1.0 - xp.matmul(weighted_x1, xp.matrix_transpose(x2))


def _inverse_norm(x, w, xp):
    """1 / ||x_i||_w per row, and 0 for a zero row; the gradient is finite for both."""
    squared = xp.sum((x if w is None else x * w) * x, axis=1)
    positive = squared > 0
    safe = xp.where(positive, squared, xp.ones_like(squared))
    return xp.where(positive, 1.0 / xp.sqrt(safe), xp.zeros_like(squared))
