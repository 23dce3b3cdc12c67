"""Boundary checks with messages that name the argument and the expected shape.

Shape checks work on any array (also JAX tracers); value checks take host NumPy arrays
and run where the values are known (eagerly, or inside the host callback under ``jax.jit``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "check_equal_mass",
    "check_finite",
    "check_ndim",
    "check_nonnegative_weights",
    "check_not_empty",
    "check_sums_to_one",
    "check_transport_values",
    "mass_tolerance",
    "nan_unless",
    "traced_validity",
]


def check_ndim(x, name: str, ndims) -> None:
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ndims:
        wanted = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be a {wanted} array, got shape {tuple(x.shape)}")


def check_not_empty(x, name: str) -> None:
    if any(int(s) == 0 for s in x.shape):
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
    eps = float(np.finfo(dtype).eps) if np.issubdtype(np.dtype(dtype), np.floating) else 0.0
    return max(1e-6, 10.0 * np.sqrt(size) * eps)


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
    a: np.ndarray, b: np.ndarray, M: np.ndarray, input_dtype, check_marginals=True
):
    """Value checks of a transport problem ``(a, b, M)`` given as host NumPy arrays: finite
    costs, non-negative finite weights of positive mass and, if ``check_marginals``, equal
    masses (``b`` may hold several histograms in columns)."""
    check_finite(M, "M")
    check_nonnegative_weights(a, "a")
    check_nonnegative_weights(b, "b")
    if check_marginals:
        check_equal_mass(a, b, mass_tolerance(input_dtype, max(M.shape)))


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
