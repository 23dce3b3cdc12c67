"""Numerical scales of the point-cloud divergences: which epsilon a dtype resolves, when
float32 input is solved in float64, and the exact power-of-two rescaling of the problem.

The solve (:mod:`otkit.bregman._divergence_core`) works on points divided by a power of two
so that the cost range is at most DIAMETER_p; the parameters follow (``scaled_parameter``),
the results are scaled back exactly (``unscale``), and ``check_scales`` refuses what no
floating type available can resolve.
"""

from __future__ import annotations

import math
import warnings

from ..backend import is_numpy_namespace, is_torch_namespace

__all__ = [
    "SMALL_EPS",
    "check_scales",
    "has_float64",
    "large_eps_threshold",
    "point_scale",
    "promote_float32",
    "scaled_parameter",
    "solve_dtype",
    "times_power_of_two",
    "unscale",
]


# Working epsilon (in units of the scaled cost, whose range is at most DIAMETER_p) below
# SMALL_EPS * u * D: the rounding of the potentials (a few u D) would be a sizeable fraction
# of eps in exp((f + g - C) / eps), and the plan meaningless; a ValueError names the parameter.
SMALL_EPS = 2.0**10


def large_eps_threshold(u):
    """eps / D beyond which the expansion in 1 / eps replaces the Sinkhorn loop (balanced).

    The log-sum-exp of the loop rounds the potentials to about eps u (each exponent is
    (g - C) / eps, added to log-weights of size 1), while the first-order expansion errs by
    about D (D / eps)^2; both are about D u^(2/3) at eps = D u^(-1/3) (1.6e5 D in float64,
    2.6e2 D in float32).
    """
    return u ** (-1.0 / 3.0)


def scaled_parameter(value, name, exponent, log2_scale, in_points):
    """``value`` in the units of the scaled problem (points divided by 2**log2_scale).

    ``in_points``: ``value`` is a length (blur, reach), mapped to p (value / s)^p; otherwise
    it is in cost units (reg, rho), divided by s^p. Overflow gives inf (the caller decides);
    a result that underflows to 0 is a ValueError naming the parameter.
    """
    try:
        if in_points:
            scaled = exponent * (math.ldexp(value, -log2_scale)) ** exponent
        else:
            scaled = times_power_of_two(value, -exponent * log2_scale)
    except OverflowError:
        scaled = math.inf
    if not scaled > 0:
        raise ValueError(
            f"{name}={value!r} is too small for the scale of the points: the entropic or "
            "marginal parameter underflows to 0"
        )
    return scaled


def point_scale(x, y, spec, traced, xp):
    """log2 of a power of two near max |x - center| (0 for cosine or while tracing)."""
    if traced or spec.kind == "cosine":
        return 0
    largest = max(float(xp.max(xp.abs(x))), float(xp.max(xp.abs(y))))
    if not 0 < largest < math.inf:
        return 0
    return math.frexp(largest)[1]


def has_float64(xp):
    """Whether the namespace computes in float64 (JAX only with ``jax_enable_x64``)."""
    if is_numpy_namespace(xp) or is_torch_namespace(xp):
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (JAX without x64 warns and returns float32)
        return xp.zeros((), dtype=xp.float64).dtype == xp.float64


def solve_dtype(dtype, xp):
    """The dtype whose resolution bounds the solve: float64 for float32 input where the
    namespace has it (:func:`promote_float32` may move the solve there), else ``dtype``."""
    if dtype == xp.float32 and has_float64(xp):
        return xp.float64
    return dtype


def promote_float32(eps, cost_range, weight_norm, tol):
    """Whether a float32 solve runs in float64 instead (the one rule of the promotion).

    In float32 the potentials (of size up to the cost range D) are rounded to about u D
    (u = 1.2e-7), so each exponent (f + g - C) / eps errs by about u D / eps. The solve is
    moved to float64 when either

    - eps < ``SMALL_EPS`` u D: the plan's entries are off by more than about 1e-3 relative;
    - ``weight_norm`` u D / eps > tol / 2: the marginal error, an L2 norm of the weights
      (``weight_norm``: the larger of ||a||_2, ||b||_2) times those relative errors, has a
      floor of about ``weight_norm`` u D / eps (measured: 0.7 times it), and the loop
      would stall above ``stopThr`` = ``tol`` (at blur 0.01 on ten points of the unit
      interval it stalls at 1.3e-4 > 1e-4).

    Only the computation changes: the points, weights and eps are cast to float64 on
    their device, the potentials and log-sum-exps computed there, and the values,
    potentials and gradients cast back to float32 (differentiable through the cast).
    """
    u = float(2.0**-23)
    if not 0 < cost_range < math.inf:
        return False
    noise = u * cost_range / eps
    return eps < SMALL_EPS * u * cost_range or weight_norm * noise > 0.5 * tol


def check_scales(eps, rho, cost_range, eps_name, rho_name, dtype, xp):
    """True when eps is so large that the expansion in 1 / eps is used (balanced only).

    ``cost_range`` bounds the costs of the (scaled) problem. Raises a ValueError naming the
    parameter when eps is below what the log-domain loop resolves (``SMALL_EPS``) even in
    float64 (float32 input is solved in float64 there: :func:`promote_float32`), when rho
    overflows, or when an unbalanced eps exceeds ``u**-0.5`` times the cost range (the
    loop's rounding, about eps u, would exceed sqrt(u) times the costs; there is no
    expansion for the unbalanced case).
    """
    finfo = xp.finfo(dtype)
    u = float(finfo.eps)
    scale = float(cost_range)
    if not 0 < scale < math.inf:
        scale = 1.0
    finest = xp.finfo(solve_dtype(dtype, xp))
    if eps < SMALL_EPS * float(finest.eps) * scale:
        hint = "" if finest.bits == 64 else " (or pass float64 input)"
        raise ValueError(
            f"{eps_name}: epsilon is {eps / scale:.3g} times the range of the costs, below the "
            f"{SMALL_EPS * float(finest.eps):.3g} that {finest.dtype} can resolve (the "
            f"potentials round to more than eps; float32 input is solved in float64 where "
            f"that helps, and this is beyond it); use a larger {eps_name}{hint}, or "
            "otkit.emd2 for the eps -> 0 limit W_p^p"
        )
    if rho is None:
        return eps > scale * large_eps_threshold(u)
    if rho == math.inf:
        raise ValueError(
            f"{rho_name}: rho overflows {finfo.dtype} at the scale of the points; for an "
            f"infinite {rho_name} pass {rho_name}=None (balanced transport)"
        )
    if eps > scale * u**-0.5:
        raise ValueError(
            f"{eps_name}: epsilon is {eps / scale:.3g} times the range of the costs; unbalanced "
            f"divergences are computed up to {u**-0.5:.3g} times that range"
        )
    return False


def times_power_of_two(value, log2_factor):
    """value * 2**log2_factor as a float: exact for an integer exponent, inf on overflow."""
    if value == 0 or not log2_factor:
        return value
    try:
        if float(log2_factor).is_integer():
            return math.ldexp(value, int(log2_factor))
        return math.exp(math.log(value) + log2_factor * math.log(2.0))
    except OverflowError:
        return math.inf


def unscale(total, grads, log2_factor, log2_scale, xp):
    """Values and gradients of the scaled problem back in the caller's units (x s^p, s^(p-1))."""
    if not log2_factor:  # (0 whenever the values are unknown: see point_scale)
        return total, grads
    value_factor = times_power_of_two(1.0, log2_factor)
    point_factor = times_power_of_two(1.0, log2_factor - log2_scale)
    if value_factor == math.inf:  # (only the exact zero survives; the check above raises)
        total = xp.where(total == 0, total, total * value_factor)
    else:
        total = total * value_factor
    grad_x, grad_y, grad_a, grad_b = grads
    return total, (
        grad_x * point_factor,
        grad_y * point_factor,
        grad_a * value_factor,
        grad_b * value_factor,
    )
