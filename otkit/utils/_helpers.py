"""Small helpers of POT's ``ot.utils``: timers, argument conversion and checks, labels."""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np

from .._validation import check_ndim
from ..backend import device_of, from_numpy, get_namespace, is_traced
from ._arguments import as_float, check_backend, float_dtype_and_device

__all__ = [
    "check_params",
    "check_random_state",
    "get_coordinate_circle",
    "get_parameter_pair",
    "is_all_finite",
    "label_normalization",
    "labels_to_masks",
    "list_to_array",
    "parmap",
    "tic",
    "toc",
    "toq",
]

# The start of the running timer (tic), shared by tic, toc and toq as in Matlab.
_timer_start = time.perf_counter()


def tic() -> None:
    """Start the timer read by :func:`toc` and :func:`toq` (Matlab's ``tic``).

    Examples
    --------
    >>> import otkit as ot
    >>> ot.tic()
    >>> ot.toq() >= 0
    True
    """
    global _timer_start
    _timer_start = time.perf_counter()


def toc(message: str = "Elapsed time : {} s") -> float:
    """Print and return the seconds since the last :func:`tic` (Matlab's ``toc``).

    Parameters
    ----------
    message : str, default='Elapsed time : {} s'
        Printed after ``message.format(seconds)``.

    Returns
    -------
    seconds : float
        Wall-clock seconds since the last :func:`tic` (since the import of otkit when
        :func:`tic` was never called).

    Examples
    --------
    >>> import otkit as ot
    >>> ot.tic()
    >>> seconds = ot.toc("took {:.0f} s")
    took 0 s
    """
    elapsed = time.perf_counter() - _timer_start
    print(message.format(elapsed))
    return elapsed


def toq() -> float:
    """Seconds since the last :func:`tic`, without printing (Julia's ``toq``).

    Returns
    -------
    seconds : float

    Examples
    --------
    >>> import otkit as ot
    >>> ot.tic()
    >>> ot.toq() < 60
    True
    """
    return time.perf_counter() - _timer_start


def list_to_array(*lst, nx=None):
    r"""Python lists among the arguments as arrays of the library of the other arguments.

    Each list becomes an array of the library, floating dtype and device of the first
    non-empty array argument (NumPy float64 when there is none); other arguments are
    returned unchanged. POT uses it to accept ``a=[]`` (uniform weights) beside arrays.

    Parameters
    ----------
    *lst : arrays or lists
    nx : POT backend, array namespace or None, default=None
        Accepted for POT compatibility when it matches the library of the arrays.

    Returns
    -------
    arrays : array, or list of arrays
        One array for one argument, else a list in the order of the arguments.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> a, b, M = ot.utils.list_to_array([], [0.5, 0.5], np.ones((0, 2), dtype=np.float32))
    >>> a.shape, b.dtype
    ((0,), dtype('float64'))
    """
    if not lst:
        raise ValueError("list_to_array needs at least one argument")
    arrays = {f"lst[{i}]": x for i, x in enumerate(lst) if not isinstance(x, list)}
    xp = get_namespace(**arrays)
    check_backend(nx, xp)
    like = [x for x in arrays.values() if hasattr(x, "shape") and _size(x) > 0]
    if like:
        dtype, device = like[0].dtype, device_of(like[0])
        if not xp.isdtype(dtype, "real floating"):
            dtype, device = float_dtype_and_device(xp, like[0])
    else:
        dtype, device = float_dtype_and_device(xp)
    converted = [
        from_numpy(np.asarray(x, dtype=np.float64), xp, dtype=dtype, device=device)
        if isinstance(x, list)
        else x
        for x in lst
    ]
    return converted[0] if len(lst) == 1 else converted


def _size(x) -> int:
    return math.prod(int(s) for s in x.shape)


def check_random_state(seed):
    """A :class:`numpy.random.RandomState` from ``seed``, as scikit-learn and POT.

    Parameters
    ----------
    seed : None, int or numpy.random.RandomState
        None (or the module ``numpy.random``): NumPy's global RandomState; an int: a new
        RandomState seeded with it; a RandomState: itself.

    Returns
    -------
    random_state : numpy.random.RandomState

    Examples
    --------
    >>> import otkit as ot
    >>> ot.utils.check_random_state(0).randint(10)
    5
    """
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"seed must be None, an int or a numpy.random.RandomState, got {seed!r}")


def check_params(**kwargs) -> bool:
    """True when no keyword argument is None; otherwise a warning names the missing ones.

    Returns
    -------
    complete : bool

    Examples
    --------
    >>> import otkit as ot
    >>> ot.utils.check_params(reg=0.1, M=[[0.0]])
    True
    """
    missing = [name for name, value in kwargs.items() if value is None]
    if missing:
        warnings.warn(f"missing parameters (None): {', '.join(missing)}", UserWarning, 2)
    return not missing


def get_parameter_pair(parameter):
    """``(parameter, parameter)`` for a scalar, the pair itself for a sequence of 1 or 2.

    Unbalanced solvers take one value per marginal this way (``reg_m=1`` or
    ``reg_m=(1, 2)``).

    Parameters
    ----------
    parameter : float, 0-d array or sequence of length 1 or 2

    Returns
    -------
    first, second

    Examples
    --------
    >>> import otkit as ot
    >>> ot.utils.get_parameter_pair(0.5), ot.utils.get_parameter_pair((1, 2))
    ((0.5, 0.5), (1, 2))
    """
    if isinstance(parameter, numbers.Number) or getattr(parameter, "ndim", None) == 0:
        return parameter, parameter
    try:
        length = len(parameter)
    except TypeError:
        raise ValueError(
            f"parameter must be a scalar or a sequence of length 1 or 2, got {parameter!r}"
        ) from None
    if length not in (1, 2):
        raise ValueError(
            f"parameter must be a scalar or a sequence of length 1 or 2, got length {length}"
        )
    return parameter[0], parameter[length - 1]


def is_all_finite(*args) -> bool:
    """True when every entry of every argument is finite (no NaN, no infinity).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.is_all_finite(np.ones(2), np.array([1.0, np.inf]))
    False
    """
    xp = get_namespace(**{f"args[{i}]": x for i, x in enumerate(args)})
    return all(bool(xp.all(xp.isfinite(xp.asarray(x)))) for x in args)


def label_normalization(y, start=0, nx=None):
    r"""Labels shifted so that the smallest is ``start``: :math:`y - \min y + \text{start}`.

    Parameters
    ----------
    y : (n,) array
        Labels (integer or floating).
    start : int, default=0
        The smallest label of the result.
    nx : POT backend, array namespace or None, default=None
        Accepted for POT compatibility when it matches the library of ``y``.

    Returns
    -------
    y : (n,) array
        ``y`` itself when its smallest label is already ``start``; otherwise a shifted array
        of its library and dtype.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.label_normalization(np.array([3, 1, 2]))
    array([2, 0, 1])
    """
    xp = get_namespace(y=y)
    check_backend(nx, xp)
    check_ndim(y, "y", 1)
    shift = xp.min(y) - start
    if not is_traced(y) and shift == 0:
        return y
    return y - shift


def labels_to_masks(y, type_as=None, nx=None):
    r"""One-hot masks of labels: :math:`m_{ik} = 1` when :math:`y_i` is the k-th smallest
    distinct label.

    Parameters
    ----------
    y : (n,) array
        Labels.
    type_as : array, optional
        The masks take its dtype and device (those of ``y`` when omitted).
    nx : POT backend, array namespace or None, default=None
        Accepted for POT compatibility when it matches the library of ``y``.

    Returns
    -------
    masks : (n, n_labels) array
        Zeros and ones, each row with a single one.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.labels_to_masks(np.array([2, 0, 2]))
    array([[0, 1],
           [1, 0],
           [0, 1]])
    """
    xp = get_namespace(y=y, type_as=type_as)
    check_backend(nx, xp)
    check_ndim(y, "y", 1)
    like = y if type_as is None else type_as
    labels, positions = xp.unique_inverse(y)
    identity = xp.eye(labels.shape[0], dtype=like.dtype, device=device_of(like))
    return xp.take(identity, xp.reshape(positions, (-1,)), axis=0)


def parmap(f, X, nprocs="default"):
    """``list(map(f, X))`` (POT deprecated its multiprocessing; ``nprocs`` is ignored).

    Examples
    --------
    >>> import otkit as ot
    >>> ot.utils.parmap(abs, [-1, 2])
    [1, 2]
    """
    return list(map(f, X))


def get_coordinate_circle(x):
    r"""Position in turns, in [0, 1), of points of the unit circle given in the plane.

    .. math::
        u = \frac{\pi + \operatorname{atan2}(-x_2, -x_1)}{2 \pi}

    Parameters
    ----------
    x : (n, 2) array
        Points :math:`(\cos 2\pi u, \sin 2\pi u)`.

    Returns
    -------
    u : (n,) array
        In the library, floating dtype and device of ``x``.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> ot.utils.get_coordinate_circle(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    array([0.  , 0.25, 0.5 ])
    """
    xp = get_namespace(x=x)
    dtype, device = float_dtype_and_device(xp, x)
    x = as_float(x, xp, dtype, device)
    check_ndim(x, "x", 2)
    if x.shape[1] != 2:
        raise ValueError(f"x must have 2 columns (points of the plane), got shape {x.shape}")
    return (math.pi + xp.atan2(-x[:, 1], -x[:, 0])) / (2 * math.pi)
