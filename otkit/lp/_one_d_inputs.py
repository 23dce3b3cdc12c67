"""Input checks and preparation of the 1D solvers: exponents, weights, shapes, masses."""

from __future__ import annotations

import numpy as np

from .._boundary import as_backend, input_float_dtype
from .._validation import check_finite, check_not_empty, check_real, mass_tolerance
from ..backend import (
    device_of,
    get_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
    result_float_dtype,
    to_numpy,
)

METRICS_1D = ("sqeuclidean", "euclidean", "cityblock", "minkowski")


def check_exponent(p, name: str = "p") -> float:
    """``p`` as a float, or a ValueError unless 1 <= p < inf (the monotone coupling is
    optimal only for convex costs |x - y|^p)."""
    return check_real(p, name, minimum=1, allow_traced=False)


def _exponent_of_metric(metric: str, p) -> float:
    """The exponent q of the 1D cost |x - y|^q that ``metric`` denotes (as POT)."""
    if metric == "sqeuclidean":
        return 2.0
    if metric in ("euclidean", "cityblock"):
        return 1.0
    if metric == "minkowski":
        return check_exponent(p)
    raise ValueError(f"metric must be one of {METRICS_1D} for 1D transport, got {metric!r}")


def _is_uniform(w) -> bool:
    """None, an empty list or an empty array means uniform weights (as POT)."""
    if w is None:
        return True
    if isinstance(w, (list, tuple)):
        return len(w) == 0
    shape = getattr(w, "shape", None)
    return shape is not None and len(shape) == 1 and int(shape[0]) == 0


def _for_checks(x, xp):
    """(namespace, array) in which to check the values of ``x``: NumPy on the host for NumPy
    and JAX arrays (eager JAX would compile every reduction for every new shape), the
    array's own library otherwise (no device-to-host copy for torch on a GPU)."""
    if is_numpy_namespace(xp) or is_jax_namespace(xp):
        return np, to_numpy(x, dtype=None)
    return xp, x


def check_values(x, name: str, xp) -> None:
    """ValueError naming ``x`` when it holds NaN or infinities."""
    ns, values = _for_checks(x, xp)
    if not bool(ns.all(ns.isfinite(values))):
        check_finite(to_numpy(x), name)


def check_weights(w, name: str, xp) -> None:
    """ValueError naming ``w`` unless it is finite, non-negative and of positive mass along
    its last axis."""
    check_values(w, name, xp)
    ns, values = _for_checks(w, xp)
    if bool(ns.any(values < 0)):
        raise ValueError(
            f"{name} has negative entries (min {float(ns.min(values)):.3g}); weights must be >= 0"
        )
    if not bool(ns.all(ns.sum(values, axis=-1) > 0)):
        raise ValueError(f"{name} sums to zero; weights must have positive total mass")


def check_same_mass(a, b, names, rtol: float, xp, hint: str = "") -> None:
    """ValueError unless the weights ``a`` and ``b`` (None: uniform, mass 1) have the same
    total mass along the last axis, to a relative tolerance ``rtol``."""
    if a is None and b is None:
        return
    mass_a = 1.0 if a is None else to_numpy(_total(a, xp))
    mass_b = 1.0 if b is None else to_numpy(_total(b, xp))
    mass_a, mass_b = np.broadcast_arrays(mass_a, mass_b)
    bad = np.abs(mass_a - mass_b) > rtol * np.maximum(mass_a, mass_b)
    if np.any(bad):
        where = np.argwhere(bad)[0]
        at = f" (first at batch index {tuple(int(i) for i in where)})" if where.size else ""
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same total mass: "
            f"sum({names[0]}) = {float(mass_a[tuple(where)])!r}, "
            f"sum({names[1]}) = {float(mass_b[tuple(where)])!r}{at} "
            f"(relative tolerance {rtol:.1e}){hint}"
        )


def mass_rtol(a, b, size: int, low_eps: float = 0.0) -> float:
    """Relative tolerance of the same-mass check of ``a`` and ``b``: that of their dtype
    (:func:`otkit._validation.mass_tolerance`), or ``4 * low_eps`` for weights given in a
    2-byte float of machine epsilon ``low_eps`` and summed in float32.

    Rounding a normalised vector to that precision moves its mass by at most eps / 2, and
    normalising it in that precision (``w / w.sum()``) moved it by 1.5 eps at most in our
    measurements (NumPy, torch, JAX; n up to 1e5 in float16, 1e6 in bfloat16): 4 eps covers
    both sides. The sqrt(size) growth of ``mass_tolerance`` would let a wrong mass through
    (a 49% tolerance for 40 bfloat16 weights)."""
    rtol = mass_tolerance(input_float_dtype(a, b), size)
    return max(rtol, 4.0 * low_eps)


def _total(w, xp):
    ns, values = _for_checks(w, xp)
    return ns.sum(values, axis=-1)


def namespace_dtype_device(named: dict):
    """Namespace, result dtype and device of the named arguments, positions listed first
    (so that NumPy weights beside torch/JAX positions follow the positions' device)."""
    xp = get_namespace(**named)
    device = next((device_of(v) for v in named.values() if device_of(v) is not None), None)
    dtype = result_float_dtype(xp, *named.values(), device=device)
    return xp, dtype, device


def weights_or_none(w, name: str, size: int, batch_shape, xp, dtype, device, matches: str):
    """Weights with the transport axis last, or None for uniform. ``w`` has shape (size,)
    or (size, *batch_shape) (transport axis first, as the user passes it); ``matches``
    names the positions it must match, for the error message."""
    if _is_uniform(w):
        return None
    w = as_backend(w, xp, dtype, device)
    full = (size, *batch_shape)
    if tuple(w.shape) not in ((size,), full):
        expected = f"({size},)" if not batch_shape else f"({size},) or {full}"
        raise ValueError(
            f"{name}.shape == {tuple(w.shape)}, expected {expected} to match {matches}"
        )
    return w if w.ndim == 1 else xp.moveaxis(w, 0, -1)


def weights_need_gradient(xp, *weights) -> bool:
    """Whether a weight vector may be differentiated: a torch tensor that requires grad, or
    a JAX tracer (under ``jax.grad``/``jax.jit``). NumPy has no autodiff."""
    present = [w for w in weights if w is not None]
    if is_torch_namespace(xp):
        return any(bool(getattr(w, "requires_grad", False)) for w in present)
    if is_jax_namespace(xp):
        return is_traced(*present)
    return False


def as_result(x, xp):
    """A 0-d NumPy result as a NumPy scalar, as POT returns; other results unchanged."""
    if is_numpy_namespace(xp) and getattr(x, "ndim", None) == 0:
        return x[()]
    return x


# --- preparation at the public boundary ------------------------------------------------------


def _positions_1d(x, name: str, xp, dtype, device):
    """``x`` of shape (n,) or (n, 1) as a 1-D array of ``xp``."""
    x = as_backend(x, xp, dtype, device)
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)):
        raise ValueError(
            f"{name} must be a 1-D array or of shape (n, 1) (points on the real line), "
            f"got shape {tuple(x.shape)}"
        )
    check_not_empty(x, name)
    return xp.reshape(x, (x.shape[0],))


def _check_sorted(x, name: str, xp) -> None:
    ns, values = _for_checks(x, xp)
    if values.shape[-1] > 1 and not bool(ns.all(values[..., 1:] >= values[..., :-1])):
        raise ValueError(
            f"{name} must be sorted in increasing order along axis 0 when require_sort=False"
        )


def _prepare_emd_1d(x_a, x_b, a, b, metric, p, check_marginals, low_eps=0.0):
    exponent = _exponent_of_metric(metric, p)
    xp, dtype, device = namespace_dtype_device({"x_a": x_a, "x_b": x_b, "a": a, "b": b})
    x = _positions_1d(x_a, "x_a", xp, dtype, device)
    y = _positions_1d(x_b, "x_b", xp, dtype, device)
    a = weights_or_none(a, "a", x.shape[0], (), xp, dtype, device, "x_a")
    b = weights_or_none(b, "b", y.shape[0], (), xp, dtype, device, "x_b")
    if not is_traced(x, y, a, b):
        check_values(x, "x_a", xp)
        check_values(y, "x_b", xp)
        for w, name in ((a, "a"), (b, "b")):
            if w is not None:
                check_weights(w, name, xp)
        if check_marginals:
            rtol = mass_rtol(a, b, max(x.shape[0], y.shape[0]), low_eps)
            hint = "; normalise them or pass check_marginals=False"
            check_same_mass(a, b, ("a", "b"), rtol, xp, hint)
    return xp, x, y, a, b, exponent


def _prepare_batched(u_values, v_values, u_weights, v_weights, p, require_sort, low_eps=0.0):
    p = check_exponent(p)
    named = {"u_values": u_values, "v_values": v_values}
    xp, dtype, device = namespace_dtype_device(
        {**named, "u_weights": u_weights, "v_weights": v_weights}
    )
    x = as_backend(u_values, xp, dtype, device)
    y = as_backend(v_values, xp, dtype, device)
    for values, name in ((x, "u_values"), (y, "v_values")):
        if values.ndim == 0:
            raise ValueError(f"{name} must have at least one dimension, got shape ()")
        check_not_empty(values, name)
    if tuple(x.shape[1:]) != tuple(y.shape[1:]):
        raise ValueError(
            f"u_values.shape == {tuple(x.shape)} and v_values.shape == {tuple(y.shape)}: "
            "the batch dimensions after the first must agree"
        )
    batch = tuple(x.shape[1:])
    a = weights_or_none(u_weights, "u_weights", x.shape[0], batch, xp, dtype, device, "u_values")
    b = weights_or_none(v_weights, "v_weights", y.shape[0], batch, xp, dtype, device, "v_values")
    if x.ndim > 1:
        x, y = xp.moveaxis(x, 0, -1), xp.moveaxis(y, 0, -1)
    if not is_traced(x, y, a, b):
        check_values(x, "u_values", xp)
        check_values(y, "v_values", xp)
        for w, name in ((a, "u_weights"), (b, "v_weights")):
            if w is not None:
                check_weights(w, name, xp)
        rtol = mass_rtol(a, b, max(x.shape[-1], y.shape[-1]), low_eps)
        check_same_mass(a, b, ("u_weights", "v_weights"), rtol, xp)
        if not require_sort:
            _check_sorted(x, "u_values", xp)
            _check_sorted(y, "v_values", xp)
    return xp, x, y, a, b, p


# --- computations (pure functions of arrays, compiled once per setting on JAX) ----------------
