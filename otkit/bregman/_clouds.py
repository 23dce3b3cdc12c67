"""Point-cloud problems before the solve: cost, parameters, inputs, rescaling; the solve.

Shared by :func:`otkit.sinkhorn_divergence` and POT's ``empirical_sinkhorn*``: the (metric,
p) pair as a :class:`CostSpec`, the checks of the points, weights and positive parameters
(eagerly a ``ValueError``; traced, NaN), and :func:`solve_clouds`, which solves on centred
points divided by a power of two so that neither overflows nor underflows.
"""

from __future__ import annotations

import math

import numpy as np

from .._boundary import as_backend, weights_or_uniform
from .._validation import (
    check_equal_mass,
    check_finite,
    check_nonnegative_weights,
    check_real,
    nan_unless,
    traced_validity,
)
from ..backend import (
    device_of,
    get_namespace,
    is_numpy_namespace,
    is_traced,
    result_float_dtype,
    stop_gradient,
    to_numpy,
)
from ._divergence_core import (
    SolveConfig,
    check_scales,
    epsilon_stages,
    point_scale,
    scaled_parameter,
    solve_divergence,
    use_dense_cost,
)
from ._pointcloud import CostSpec, cost_std, diameter

__all__ = ["cost_spec", "positive_parameter", "prepare_clouds", "solve_clouds"]


def cost_spec(metric, p, block=0):
    """(CostSpec, exponent of the blur rule) from the (metric, p) pair."""
    if metric is None:
        p = 2.0 if p is None else p
        p = check_real(p, "p", minimum=0, inclusive=(False, True), allow_traced=False)
        return CostSpec("power", p, block), p
    implied = {"sqeuclidean": 2.0, "euclidean": 1.0}
    if metric in implied:
        if p is not None and float(p) != implied[metric]:
            raise ValueError(
                f"metric={metric!r} is the cost ||x - y||^{implied[metric]:g}, but p={p!r}; "
                "pass metric=None to use ||x - y||^p"
            )
        return CostSpec("power", implied[metric], block), implied[metric]
    if metric == "cosine":
        if p is not None:
            raise ValueError("p has no meaning for metric='cosine'")
        return CostSpec("cosine", 1.0, block), 1.0
    raise ValueError(f"metric must be None, 'sqeuclidean', 'euclidean' or 'cosine', got {metric!r}")


def positive_parameter(value, name):
    """A finite number > 0 (None passes through; a traced value that is not finite and > 0
    becomes NaN, so that every output and gradient computed from it is NaN)."""
    value = check_real(value, name, minimum=0, inclusive=(False, True), allow_none=True)
    if is_traced(value):
        xp = get_namespace(value=value)
        (value,) = nan_unless(traced_validity(xp, positive=(value,)), (value,), xp)
    return value


def _points(X, name, xp, dtype, device):
    X = as_backend(X, xp, dtype, device)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{name} must be an (n, d) array of points, got shape {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(X.shape)}); nothing to transport")
    return X


def prepare_clouds(X_s, X_t, a, b, balanced, check_mass=True):
    """Namespace, dtype, device, (n, d) points and weights; value checks when eager."""
    xp = get_namespace(X_s=X_s, X_t=X_t, a=a, b=b)
    device = next((device_of(v) for v in (X_s, X_t, a, b) if device_of(v) is not None), None)
    dtype = result_float_dtype(xp, X_s, X_t, a, b, device=device)
    X_s = _points(X_s, "X_s", xp, dtype, device)
    X_t = _points(X_t, "X_t", xp, dtype, device)
    if X_s.shape[1] != X_t.shape[1]:
        raise ValueError(
            f"X_s and X_t must have the same dimension: X_s.shape == {tuple(X_s.shape)}, "
            f"X_t.shape == {tuple(X_t.shape)}"
        )
    n, m = X_s.shape[0], X_t.shape[0]
    a = weights_or_uniform(a, n, xp, dtype, device)
    b = weights_or_uniform(b, m, xp, dtype, device)
    for w, name, size, points in ((a, "a", n, "X_s"), (b, "b", m, "X_t")):
        if tuple(w.shape) != (size,):
            raise ValueError(
                f"{name}.shape == {tuple(w.shape)}, expected ({size},) to match {points}.shape[0]"
            )
    rtol = 1e-6 if dtype == xp.float64 else 1e-4
    if not is_traced(X_s, X_t, a, b):
        check_finite(to_numpy(X_s), "X_s")
        check_finite(to_numpy(X_t), "X_t")
        a_np, b_np = to_numpy(a), to_numpy(b)
        check_nonnegative_weights(a_np, "a")
        check_nonnegative_weights(b_np, "b")
        if balanced and check_mass:
            check_equal_mass(a_np, b_np, rtol)
    else:
        # Values unknown (jax.jit, vmap, grad): the same checks as one flag, and all four
        # arrays NaN when it fails, so that every output and gradient is NaN.
        valid = traced_validity(
            xp,
            finite=(X_s, X_t),
            weights=(a, b),
            same_mass=(a, b, rtol) if balanced and check_mass else None,
        )
        X_s, X_t, a, b = nan_unless(valid, (X_s, X_t, a, b), xp)
    return xp, dtype, device, X_s, X_t, a, b


def _working_copies(X_s, X_t, a, b, spec, xp, means=None):
    """Detached float64 (NumPy) copies; centred (translation-invariant costs) or normalized;
    ``means``: the clouds' means when the caller has them."""
    if is_numpy_namespace(xp):
        X_s, X_t, a, b = (np.asarray(v, dtype=np.float64) for v in (X_s, X_t, a, b))
    X_s, X_t, a, b = (stop_gradient(v, xp) for v in (X_s, X_t, a, b))
    if spec.kind == "cosine":
        return _normalized(X_s, xp), _normalized(X_t, xp), a, b, None
    mean_s, mean_t = (xp.mean(X_s, axis=0), xp.mean(X_t, axis=0)) if means is None else means
    center = (mean_s + mean_t) / 2.0
    return X_s - center, X_t - center, a, b, center


def _normalized(X, xp):
    squared = xp.sum(X * X, axis=1)[:, None]
    positive = squared > 0
    scale = xp.where(positive, 1.0 / xp.sqrt(xp.where(positive, squared, 1.0)), 0.0)
    return X * scale


def solve_clouds(
    X_s,
    X_t,
    a,
    b,
    *,
    spec,
    exponent,
    reg,
    blur,
    rho,
    debias,
    scaling,
    num_iter_max,
    reach=None,
    tol,
    xp,
    dtype,
    device,
    diameter_value=None,
    summaries=None,
    value_only=False,
):
    """Solve on prepared inputs, on points divided by a power of two s (eagerly).

    The costs are positively homogeneous (C(s x, s y) = s^p C(x, y)), so the problem is
    solved at eps / s^p on points of size about 1 and the values are multiplied back by
    ``2**log2_factor`` = s^p by the caller: points at 1e150 or 1e-150 neither overflow nor
    underflow. Returns (eps, out, config, log2_factor, log2_scale) with eps scaled; ``out``
    is the core's result dict, or the working (x, y, a, b) when eps is so large that the
    expansion in 1 / eps is to be used instead (see ``check_scales``).

    ``summaries``: ``(mean_s, mean_t, box_s, box_t)`` of float64 NumPy clouds of a
    translation-invariant cost, computed once per cloud by a caller that solves many pairs
    (:mod:`otkit.bregman._divergence_pairs`; ``box``: the rows min_i x_ik and max_i x_ik):
    the centre comes from the means, the rescaling and the diameter from the centred boxes,
    which hold the extremes of the centred, rescaled points exactly (rounding is monotone),
    so the result is that of the points, bit for bit. ``value_only``: the caller reads the
    (x, y) problem's value only (``SolveConfig.value_only``).
    """
    means = None if summaries is None else summaries[:2]
    x, y, wa, wb, center = _working_copies(X_s, X_t, a, b, spec, xp, means)
    traced = is_traced(x, y, wa, wb, reg, blur, rho, reach)
    # the points, or their boxes, centred: the extremes that the scale and diameter read
    extremes = (x, y) if summaries is None else (summaries[2] - center, summaries[3] - center)
    log2_scale = point_scale(*extremes, spec, traced, xp)
    if log2_scale:
        x, y = x * 2.0**-log2_scale, y * 2.0**-log2_scale
        extremes = (x, y) if summaries is None else tuple(e * 2.0**-log2_scale for e in extremes)
    if reg is not None:
        eps = reg if traced else scaled_parameter(reg, "reg", exponent, log2_scale, False)
    elif blur is not None:
        eps = (
            exponent * blur**exponent
            if traced
            else scaled_parameter(blur, "blur", exponent, log2_scale, True)
        )
    else:
        eps = 0.05 * cost_std(x, y, spec, xp)
        if not traced:
            eps = float(eps)
            if not eps > 0:  # every pair at the same cost: any eps gives the same answer
                eps = 1.0
    work_dtype = x.dtype
    # The number of stages is exact when the diameter and eps are concrete, even under jit.
    stages_traced = traced
    if diameter_value is None:
        diameter_p = diameter(*extremes, spec, xp)
    else:
        if log2_scale:
            diameter_value = math.ldexp(diameter_value, -log2_scale)
        diameter_p = diameter_value**exponent
        stages_traced = traced and is_traced(diameter_p, eps)
    if tol is None:
        tol = 1e-6 if work_dtype == xp.float64 else 1e-4
    same = not traced and _same_clouds(X_s, X_t, a, b, xp)
    itemsize = 4 if work_dtype == xp.float32 else 8
    if reach is not None:
        rho = (
            exponent * reach**exponent
            if traced
            else scaled_parameter(reach, "reach", exponent, log2_scale, True)
        )
    elif rho is not None and not traced:
        rho = scaled_parameter(rho, "rho", exponent, log2_scale, False)
    dense = use_dense_cost(x.shape[0], y.shape[0], itemsize, rho is None, spec, traced, xp)
    expand = False
    if not traced:
        eps_name = "reg" if reg is not None else "blur" if blur is not None else "reg (default)"
        rho_name = "reach" if reach is not None else "rho"
        cost_range = diameter(*extremes, spec, xp) if diameter_value is not None else diameter_p
        expand = check_scales(eps, rho, cost_range, eps_name, rho_name, work_dtype, xp)
    n_stages = 0
    if not expand:
        stages, n_stages = epsilon_stages(
            diameter_p, eps, scaling, exponent, xp, work_dtype, device, stages_traced
        )
    config = SolveConfig(
        spec, rho is None, debias, n_stages, int(num_iter_max), float(tol), same, dense,
        value_only=value_only,
    )  # fmt: skip
    factor = exponent * log2_scale
    if expand:
        return eps, (x, y, wa, wb), config, factor, log2_scale
    out = solve_divergence(x, y, wa, wb, eps, rho, stages, config, xp)
    out = {**out, "working": (x, y, rho)}  # what the implicit gradient re-passes over
    return eps, out, config, factor, log2_scale


def _same_clouds(X_s, X_t, a, b, xp):
    """True when both measures are the same (same points, same weights, same order)."""
    if X_s is X_t and a is b:
        return True
    if X_s.shape != X_t.shape:
        return False
    return bool(xp.all(X_s == X_t)) and bool(xp.all(a == b))
