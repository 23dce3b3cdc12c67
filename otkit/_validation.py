"""Boundary checks with messages that name the argument and the expected shape.

Shape checks work on any array (also JAX tracers); value checks take host NumPy arrays
and run where the values are known (eagerly, or inside the host callback under ``jax.jit``).

Scalar options (``reg``, ``stopThr``, ``numItermax``, ``p``, ``seed``, ...) go through one
vocabulary: :func:`check_real`, :func:`check_integer` and :func:`check_choice`. They accept
Python numbers, NumPy scalars and 0-d arrays of any library (torch, JAX, ...), reject
bools, strings and None (unless allowed), enforce the range and name the argument; a JAX
tracer passes through unchecked (its value is unknown: the callers turn invalid traced
values into NaN outputs).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import get_namespace, is_traced

__all__ = [
    "LOW_PRECISION_EPS",
    "MAX_INTEGER",
    "balance_low_precision_masses",
    "check_choice",
    "check_equal_mass",
    "check_finite",
    "check_integer",
    "check_ndim",
    "check_nonnegative_weights",
    "check_not_empty",
    "check_real",
    "check_sums_to_one",
    "check_transport_values",
    "downcast_low_precision",
    "low_precision_eps",
    "mass_tolerance",
    "nan_unless",
    "traced_validity",
    "upcast_low_precision",
]

# Largest integer option accepted: beyond it a count cannot be meant (and would overflow
# the C integers of compiled loops); ``check_integer`` names the argument instead.
MAX_INTEGER = 2**62


def _kind_of_scalar(value, name: str, expected: str):
    """``value`` as a Python int or float, or a TypeError naming ``name``.

    Accepts Python and NumPy integers and floats and 0-d (or one-element) real arrays of any
    library; rejects bools (also boolean arrays), strings, None, complex numbers and arrays
    of several entries.
    """
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        shape = tuple(value.shape)
        if math.prod(shape) != 1 or len(shape) > 1:
            raise TypeError(f"{name} must be {expected}, got an array of shape {shape}")
        if hasattr(value, "item"):
            # The Python scalar of a NumPy, torch or JAX array (also bfloat16, which torch
            # cannot convert to NumPy).
            return _kind_of_scalar(value.item(), name, expected)
        # Other array-API arrays: the standard's __bool__ / __int__ / __float__ on 0-d.
        scalar = value if len(shape) == 0 else value[0]
        kind = str(value.dtype)
        if "bool" in kind or "complex" in kind:
            raise TypeError(f"{name} must be {expected}, got an array of dtype {kind}")
        return int(scalar) if "int" in kind else float(scalar)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{name} must be {expected}, got {type(value).__name__}")


def _describe_range(minimum, maximum, inclusive) -> str:
    low = "" if minimum is None else (">= " if inclusive[0] else "> ") + f"{minimum:g}"
    high = "" if maximum is None else ("<= " if inclusive[1] else "< ") + f"{maximum:g}"
    if low and high:
        left = "[" if inclusive[0] else "("
        right = "]" if inclusive[1] else ")"
        return f"in {left}{minimum:g}, {maximum:g}{right}"
    return low or high


def check_real(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    inclusive: tuple[bool, bool] = (True, True),
    allow_inf: bool = False,
    allow_none: bool = False,
    allow_traced: bool = True,
):
    """``value`` as a Python float, or an error naming ``name``.

    Parameters
    ----------
    value : int, float, NumPy scalar, 0-d array or None
        The option. A JAX tracer is returned unchanged (when ``allow_traced``).
    name : str
        The argument's name, for the messages.
    minimum, maximum : float, optional
        Bounds of the accepted range (None: unbounded on that side).
    inclusive : (bool, bool), default=(True, True)
        Whether ``minimum`` and ``maximum`` themselves are accepted.
    allow_inf : bool, default=False
        Accept ``+inf`` and ``-inf`` (within the range); NaN is always rejected.
    allow_none : bool, default=False
        Return None for None instead of raising.
    allow_traced : bool, default=True
        Return a JAX tracer unchanged; with False, a tracer is a TypeError.

    Returns
    -------
    value : float, None or the tracer

    Raises
    ------
    TypeError
        A bool, a string, None (unless ``allow_none``), a complex number or an array of
        several entries.
    ValueError
        NaN, an infinity (unless ``allow_inf``) or a value outside the range; the message
        reads e.g. ``"stopThr must be a finite real number >= 0, got -1"``.

    Examples
    --------
    >>> import numpy as np
    >>> check_real(np.float32(0.5), "stopThr", minimum=0)
    0.5
    >>> check_real(-1, "stopThr", minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: stopThr must be a finite real number >= 0, got -1
    """
    if value is None and allow_none:
        return None
    if is_traced(value):
        if allow_traced:
            return value
        raise TypeError(f"{name} must be a concrete number (not traced by jax.jit)")
    span = _describe_range(minimum, maximum, inclusive)
    finite = "" if allow_inf else "finite "
    expected = f"a {finite}real number" + (f" {span}" if span else "")
    number = _kind_of_scalar(value, name, "a real number" + (" or None" if allow_none else ""))
    result = float(number)
    ok = not math.isnan(result) and (allow_inf or math.isfinite(result))
    if minimum is not None:
        ok = ok and (result >= minimum if inclusive[0] else result > minimum)
    if maximum is not None:
        ok = ok and (result <= maximum if inclusive[1] else result < maximum)
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {number!r}")
    return result


def check_integer(
    value,
    name: str,
    *,
    minimum: int | None = 0,
    maximum: int | None = MAX_INTEGER,
    allow_none: bool = False,
    allow_traced: bool = True,
    integral_floats: bool = True,
):
    """``value`` as a Python int, or an error naming ``name``.

    Integral floats (``1e3``, ``np.float64(100.0)``) are accepted as the integer they
    hold (POT's loops compare ``ii < numItermax`` and take them) unless
    ``integral_floats=False`` (random seeds: a TypeError); other floats are a ValueError. Values beyond ``maximum`` (default ``2**62``) are a ValueError rather than
    an ``OverflowError`` further down.

    Parameters
    ----------
    value : int, integral float, NumPy scalar, 0-d array or None
        The option. A JAX tracer is returned unchanged (when ``allow_traced``).
    name : str
        The argument's name, for the messages.
    minimum, maximum : int or None, default=0, 2**62
        Inclusive bounds (None: unbounded on that side).
    allow_none : bool, default=False
        Return None for None instead of raising.
    allow_traced : bool, default=True
        Return a JAX tracer unchanged; with False, a tracer is a TypeError.
    integral_floats : bool, default=True
        Accept floats that hold an integer.

    Returns
    -------
    value : int, None or the tracer

    Examples
    --------
    >>> check_integer(1e3, "numItermax")
    1000
    >>> check_integer(10**20, "numItermax")
    Traceback (most recent call last):
    ...
    ValueError: numItermax must be an integer <= 2**62, got 100000000000000000000
    """
    if value is None and allow_none:
        return None
    if is_traced(value):
        if allow_traced:
            return value
        raise TypeError(f"{name} must be a concrete integer (not traced by jax.jit)")
    number = _kind_of_scalar(value, name, "an integer" + (" or None" if allow_none else ""))
    if isinstance(number, float):
        if not integral_floats:
            raise TypeError(f"{name} must be an integer, got {value!r}")
        if not (math.isfinite(number) and number.is_integer()):
            raise ValueError(f"{name} must be an integer, got {number!r}")
        number = int(number)
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number!r}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be an integer <= {_power_of_two(maximum)}, got {number!r}")
    return number


def _power_of_two(bound: int) -> str:
    """``2**k`` or ``2**k - 1`` for large powers of two (readable bounds), else the digits."""
    for offset, suffix in ((0, ""), (1, " - 1")):
        k = (bound + offset).bit_length() - 1
        if bound > 2**16 and bound + offset == 2**k:
            return f"2**{k}{suffix}"
    return str(bound)


def check_choice(value, name: str, choices, *, case_sensitive: bool = False):
    """``value`` if it is one of ``choices`` (strings lower-cased: POT's names are
    case-insensitive), else a ValueError listing them.

    ``choices`` may hold non-strings (None, True, ...), matched by equality; they are
    listed as given. With ``case_sensitive=False`` the choices themselves are expected in
    lower case.

    Examples
    --------
    >>> check_choice("Sinkhorn_Log", "method", ("sinkhorn", "sinkhorn_log"))
    'sinkhorn_log'
    """
    key = value.lower() if isinstance(value, str) and not case_sensitive else value
    for choice in choices:
        if isinstance(key, str) != isinstance(choice, str) or isinstance(choice, bool) != (
            isinstance(key, bool)
        ):
            continue
        if key == choice:
            return choice
    raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_ndim(x, name: str, ndims) -> None:
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ndims:
        wanted = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be a {wanted} array, got shape {tuple(x.shape)}")


def check_not_empty(x, name: str) -> None:
    if type(x) is np.ndarray:
        empty = x.size == 0
    else:
        empty = any(int(s) == 0 for s in x.shape)
    if empty:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); nothing to transport")


def check_finite(x: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); all entries must be finite"
        )


def check_nonnegative_weights(x: np.ndarray, name: str) -> None:
    check_finite(x, name)
    if np.any(x < 0):
        raise ValueError(f"{name} has negative entries (min {x.min():.3g}); weights must be >= 0")
    if not np.all(np.sum(x, axis=0) > 0):
        raise ValueError(f"{name} sums to zero; weights must have positive total mass")


def mass_tolerance(dtype, size: int) -> float:
    """Relative tolerance on a difference of total masses given in ``dtype``.

    Weights normalised in low precision carry a rounding error that grows like
    sqrt(size) * eps; 1e-6 is the floor (POT checks masses to 6 decimals).
    """
    eps = _EPS_BY_DTYPE.get(dtype)
    if eps is None:
        eps = float(np.finfo(dtype).eps) if np.issubdtype(np.dtype(dtype), np.floating) else 0.0
        _EPS_BY_DTYPE[dtype] = eps
    return max(1e-6, 10.0 * np.sqrt(size) * eps)


_EPS_BY_DTYPE: dict = {}  # machine epsilon by dtype (np.finfo costs microseconds per call)


def check_sums_to_one(x: np.ndarray, name: str, dtype) -> None:
    """Weights on the simplex: their sum is 1 up to the rounding of ``dtype``."""
    total = float(np.sum(x))
    if abs(total - 1.0) > mass_tolerance(dtype, max(int(np.size(x)), 1)):
        raise ValueError(f"{name} must sum to 1, got sum({name}) = {total!r}")


def check_equal_mass(
    a: np.ndarray,
    b: np.ndarray,
    rtol: float,
    names=("a", "b"),
    remedy="normalise them or pass check_marginals=False",
) -> None:
    mass_a = float(np.sum(a))
    mass_b = np.sum(b, axis=0)
    if np.any(np.abs(mass_a - mass_b) > rtol * np.maximum(mass_a, mass_b)):
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same total mass: "
            f"sum({names[0]}) = {mass_a!r}, sum({names[1]}) = {np.asarray(mass_b).tolist()!r} "
            f"(relative tolerance {rtol:.1e}); {remedy}"
        )


def check_transport_values(
    a: np.ndarray,
    b: np.ndarray,
    M: np.ndarray,
    input_dtype,
    check_marginals=True,
    cost_known_finite=False,
):
    """Value checks of a transport problem ``(a, b, M)`` given as host NumPy arrays: finite
    costs, non-negative finite weights of positive mass and, if ``check_marginals``, equal
    masses (``b`` may hold several histograms in columns).

    ``cost_known_finite=True`` skips the finiteness pass over ``M`` (a caller that already
    found a finite sum of ``|M|`` knows it). Each check first runs as one or two reductions
    that prove it passes; only when they cannot does the full check run (and raise with its
    message), so the errors are those of the checks named above."""
    if not (cost_known_finite or _all_finite(M)):
        check_finite(M, "M")
    mass_a = _checked_mass(a, "a")
    mass_b = _checked_mass(b, "b")
    if check_marginals:
        rtol = mass_tolerance(input_dtype, max(M.shape))
        if (
            mass_a is None
            or mass_b is None
            or not (abs(mass_a - mass_b) <= rtol * max(mass_a, mass_b))
        ):
            check_equal_mass(a, b, rtol)


def _all_finite(x: np.ndarray) -> bool:
    """The test of :func:`check_finite` without NumPy's Python wrappers."""
    return bool(np.logical_and.reduce(np.isfinite(x), axis=None))


def _checked_mass(w: np.ndarray, name: str):
    """Mass of the weights ``w`` as a float when it is finite and positive and no entry is
    negative (one min and one sum prove that for a 1-D ``w``); otherwise None after
    :func:`check_nonnegative_weights` (which raises on bad weights)."""
    # NaN fails the first test (min propagates it), +inf the second; -inf never reaches the
    # sum (which could then warn of an invalid inf - inf that the full check never computes)
    if w.ndim == 1 and w.size and np.minimum.reduce(w) >= 0:
        total = float(np.add.reduce(w))
        if 0.0 < total < math.inf:
            return total
    check_nonnegative_weights(w, name)
    return None


def traced_validity(xp, *, finite=(), weights=(), positive=(), same_mass=None, mass_axis=0):
    """The value checks above as one boolean 0-d array, for traced inputs.

    Under ``jax.jit``, ``jax.vmap`` or ``jax.grad`` Python cannot raise on values; the
    public functions then compute this flag (one pass over the inputs) and turn their
    outputs to NaN with :func:`nan_unless` when it is False.

    Parameters
    ----------
    xp : module
        Array namespace of the arrays.
    finite : sequence of arrays
        Arrays whose entries must all be finite (costs, points, projections).
    weights : sequence of arrays or None
        Weights: finite, non-negative, of positive total mass along ``mass_axis`` (None
        entries are uniform weights and skipped).
    positive : sequence of arrays
        Scalars that must be finite and > 0 (``reg``).
    same_mass : (a, b, rtol) or None
        Weights (None: uniform, mass 1) whose totals along ``mass_axis`` must agree to the
        relative tolerance ``rtol``, as :func:`check_equal_mass`.
    mass_axis : int, default=0
        Axis along which the weights sum to their mass.

    Returns
    -------
    valid : 0-d boolean array
    """
    checks = [xp.all(xp.isfinite(x)) for x in finite]
    for w in weights:
        if w is None:
            continue
        checks += [xp.all(xp.isfinite(w)), xp.all(w >= 0), xp.all(xp.sum(w, axis=mass_axis) > 0)]
    checks += [xp.isfinite(r) & (r > 0) for r in positive]
    if same_mass is not None:
        a, b, rtol = same_mass
        if a is not None or b is not None:
            mass_a = 1.0 if a is None else xp.sum(a, axis=mass_axis)
            mass_b = 1.0 if b is None else xp.sum(b, axis=mass_axis)
            gap = xp.abs(mass_a - mass_b)
            # NaN masses compare False: invalid.
            checks.append(xp.all(gap <= rtol * xp.maximum(mass_a, mass_b)))
    valid = checks[0]
    for check in checks[1:]:
        valid = valid & check
    return valid


def nan_unless(valid, arrays, xp):
    """Each of ``arrays`` unchanged where ``valid`` (a boolean 0-d array), all NaN otherwise.

    The arrays are multiplied by 1 or NaN rather than selected with ``where``: a ``where``
    gives the untaken branch a zero gradient, while the product also makes the gradient
    with respect to each array NaN when ``valid`` is False (and leaves it exact when True).
    Applied to a function's inputs, it poisons its outputs and their gradients; applied to
    its outputs, it covers the steps that map NaN to a number (a ``where``, a clip).
    None entries are passed through.
    """
    out = []
    for x in arrays:
        if x is None:
            out.append(None)
            continue
        one = xp.asarray(1.0, dtype=x.dtype)
        out.append(x * xp.where(valid, one, xp.asarray(float("nan"), dtype=x.dtype)))
    return tuple(out)


LOW_PRECISION = ("float16", "bfloat16")


def _dtype_name(x):
    dtype = getattr(x, "dtype", None)
    return None if dtype is None else str(getattr(dtype, "name", dtype)).rsplit(".", 1)[-1]


# Machine epsilon of the 2-byte floats (NumPy's finfo does not know bfloat16).
LOW_PRECISION_EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7}


def _maybe_low(x):
    """Cheap pre-test: a 2-byte dtype (reading dtype names costs microseconds)."""
    return getattr(getattr(x, "dtype", None), "itemsize", 0) == 2


def upcast_low_precision(*arrays):
    """float16 and bfloat16 arrays among ``arrays`` cast to float32.

    Three significant digits do not carry a stopping test, a mass check or a sum over many
    terms, so solvers compute in float32 and return their results in the input's low
    precision (:func:`downcast_low_precision`). Each array is cast in its own namespace
    (NumPy weights may accompany torch or JAX points).

    Returns
    -------
    low : dtype or None
        The dtype of the first array if it is float16 or bfloat16 and no other non-empty
        array is of a wider floating dtype (the results follow it), else None.
    xp : module or None
        The namespace of the first low-precision array (None when there is none).
    arrays : tuple
        The arrays, the low-precision ones as float32; others (lists, None) unchanged.
    """
    if not any(_maybe_low(x) for x in arrays):
        return None, None, arrays
    low_arrays = [x for x in arrays if _dtype_name(x) in LOW_PRECISION]
    if not low_arrays:
        return None, None, arrays
    xp = get_namespace(x=low_arrays[0])
    # Empty arrays (POT's uniform weights) do not decide the precision, nor do NumPy arrays
    # beside another library's (they follow its dtype, as in result_float_dtype).
    foreign = not isinstance(arrays[0], (np.ndarray, np.generic)) and hasattr(arrays[0], "dtype")
    names = [
        _dtype_name(x)
        for x in arrays[1:]
        if math.prod(getattr(x, "shape", (1,))) > 0
        and not (foreign and isinstance(x, (np.ndarray, np.generic)))
    ]
    wider = any(n is not None and "float" in n and n not in LOW_PRECISION for n in names)
    low = arrays[0].dtype if _dtype_name(arrays[0]) in LOW_PRECISION and not wider else None
    upcast = tuple(
        get_namespace(x=x).astype(x, get_namespace(x=x).float32)
        if _dtype_name(x) in LOW_PRECISION
        else x
        for x in arrays
    )
    return low, xp, upcast


def low_precision_eps(*weights) -> float:
    """Largest machine epsilon among the float16/bfloat16 arrays of ``weights`` (0.0: none)."""
    if not any(_maybe_low(w) for w in weights):
        return 0.0
    return max((LOW_PRECISION_EPS.get(_dtype_name(w), 0.0) for w in weights), default=0.0)


def balance_low_precision_masses(a, b, low_eps):
    """``(a, b)`` with ``b`` scaled to the mass of ``a`` when the weights were given in a
    2-byte float (machine epsilon ``low_eps`` > 0) and their masses differ by at most
    ``4 low_eps`` relative: the rounding of normalized weights to that precision (at most
    eps / 2 per vector, 1.5 eps measured when normalized in it), which a balanced solver in
    float32 would otherwise report as different masses or fail to converge on. Larger
    differences are left for the mass check to report. ``b`` may hold histograms in
    columns; works under tracing (no Python branch on values)."""
    if not low_eps or a is None or b is None:
        return a, b
    if not (hasattr(a, "shape") and hasattr(b, "shape")) or 0 in (*a.shape, *b.shape):
        return a, b
    try:
        xp = get_namespace(a=a, b=b)
    except TypeError:  # weights from two libraries: the mass check handles them
        return a, b
    mass_a, mass_b = xp.sum(a), xp.sum(b, axis=0)
    close = xp.abs(mass_a - mass_b) <= 4.0 * low_eps * xp.maximum(mass_a, mass_b)
    safe_b = xp.where(mass_b > 0, mass_b, xp.ones_like(mass_b))
    return a, b * xp.where(close, mass_a / safe_b, xp.ones_like(mass_b))


def downcast_low_precision(result, low, xp):
    """``result`` (an array, or a tuple, list or dict of them) with its float32 arrays cast
    to ``low`` (nothing when ``low`` is None)."""
    if low is None:
        return result
    if isinstance(result, (tuple, list)):
        return type(result)(downcast_low_precision(x, low, xp) for x in result)
    if isinstance(result, dict):
        return {key: downcast_low_precision(x, low, xp) for key, x in result.items()}
    if _dtype_name(result) == "float32":
        return xp.astype(result, low)
    return result
