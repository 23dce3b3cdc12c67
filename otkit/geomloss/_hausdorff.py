r"""The entropic Hausdorff divergence between weighted point clouds, block by block.

With the soft-min :math:`S_\alpha(x) = -\varepsilon \log \sum_k \alpha_k
\exp((p_k - C(x, x_k)) / \varepsilon)` and the self-transport potential :math:`p` of
:math:`\alpha` (the fixed point :math:`p = \lambda S_\alpha` on the points of
:math:`\alpha`, :math:`\lambda = \rho / (\rho + \varepsilon)`, 1 when balanced), extended to
the whole space by :math:`s_\alpha = \lambda S_\alpha`, the divergence is the symmetric
Bregman divergence of the convex :math:`F(\alpha) = -\frac12 \mathrm{OT}_\varepsilon(\alpha,
\alpha)` (Feydy et al. 2019, sec. 3):

.. math::
    H_\varepsilon(\alpha, \beta) = \tfrac12 \langle \alpha - \beta,
    \psi(s_\beta) - \psi(s_\alpha) \rangle,

with :math:`\psi(s) = s` (balanced) or :math:`(\rho + \varepsilon)(1 - e^{-s/\rho})` (the
first variation of the unbalanced self-transport cost). Everything here is in otkit's cost
units (:math:`\|x - y\|^p`); the caller divides by p.

The gradients are exact, in closed form: the soft-mins are differentiated as plans, and the
self potentials (which the value is not stationary in) by implicit differentiation of the
fixed point: conjugate gradient on the symmetrized adjoint system
:math:`(I + \lambda\,\sqrt{\alpha r}\,\tilde K \sqrt{\alpha r})\,z = \ldots`, with
:math:`\tilde K_{ik} = \exp((p_i + p_k - C_{ik}) / \varepsilon)` and :math:`r = e^{p/\rho}`.
Every pass over the costs is a block of rows recomputed from the points (no n x m matrix).
"""

from __future__ import annotations

import functools
import warnings

from .._validation import check_real
from ..backend import (
    device_of,
    is_jax_namespace,
    is_numpy_namespace,
    is_traced,
    jit,
    requires_grad,
    stop_gradient,
    to_numpy,
)
from ..bregman._divergence_core import attach_gradients
from ..bregman._pointcloud import (
    CostSpec,
    cost_and_squared,
    map_row_blocks,
    online_softmin,
    transport_pass,
    weighted_cost_gradient,
)
from ..bregman._sinkhorn_loop import iterate, log_weights, symmetric_log_loop

__all__ = ["hausdorff_loss", "hausdorff_terms", "kernel_pass", "tolerance"]

# The exponents of the kernel passes are at most log(1 / smallest weight); the clip only
# guards against garbage in padded rows under JAX tracing.
_MAX_EXPONENT = 700.0
# The adjoint matrix has its eigenvalues in [1, 1 + lam] (condition number <= 2): conjugate
# gradient gains about a factor 6 per iteration.
_CG_ITER_MAX = 100


def kernel_pass(rows, cols, row_log, col_log, weights, eps, spec, xp, gradients=True):
    r"""Sums over ``cols`` of :math:`w_{jk} E_{ij}` and :math:`w_{jk} E_{ij} \nabla_1
    C(r_i, c_j)`, with :math:`E_{ij} = \exp(\mathrm{row\_log}_i + \mathrm{col\_log}_j -
    C(r_i, c_j) / \varepsilon)`, block by block.

    ``weights`` is (m, k) (any sign). Returns ``sums`` (n, k) and ``grads`` (a list of k
    (n, d) arrays; None without ``gradients``).
    """
    n, d = rows.shape
    k = weights.shape[1]
    cols_sq = xp.sum(cols * cols, axis=1)
    stacked = xp.concat([rows, row_log[:, None]], axis=1)

    def block(chunk):
        points, offsets = chunk[:, :d], chunk[:, d]
        cost, squared = cost_and_squared(points, cols, cols_sq, spec, xp)
        exponent = offsets[:, None] + col_log[None, :] - cost / eps
        kernel = xp.exp(xp.clip(exponent, max=_MAX_EXPONENT))
        sums = xp.matmul(kernel, weights)
        if not gradients:
            return sums
        parts = [sums]
        for j in range(k):
            weighted = kernel * weights[:, j][None, :]
            parts.append(weighted_cost_gradient(weighted, points, cols, squared, spec, xp))
        return xp.concat(parts, axis=1)

    width = k * (1 + d) if gradients else k
    out = map_row_blocks(block, stacked, spec.rows_per_block(n, cols.shape[0]), width, xp)
    if not gradients:
        return out, None
    return out[:, :k], [out[:, k + j * d : k + (j + 1) * d] for j in range(k)]


def _psi(s, eps, rho, xp):
    return s if rho is None else -(rho + eps) * xp.expm1(-s / rho)


def _psi_slope(s, eps, rho, xp):
    return xp.ones_like(s) if rho is None else ((rho + eps) / rho) * xp.exp(-s / rho)


def _self_potential(points, weights, eps, lam, spec, tol, num_iter_max, traced, xp):
    """The fixed point p = lam S(p) on one cloud, by the averaged update from p = 0.

    Its linearization (I - lam Pi) / 2 has eigenvalues in [0, 1/2] for the kernels
    exp(-|x - y|^p / eps), p <= 2 (Pi is similar to a positive semi-definite matrix), so
    the iteration contracts at least twofold per step without annealing.
    """
    log_w = log_weights(weights, xp)

    def softmin(h):
        return online_softmin(points, points, log_w + h / eps, eps, spec, xp)

    start = xp.zeros(weights.shape, dtype=weights.dtype, device=device_of(weights))
    potential, n_iter, err, _ = symmetric_log_loop(
        weights, eps, start, num_iter_max, tol, xp, softmin, lam, traced
    )
    return potential, n_iter, err


def hausdorff_terms(a, x, b, y, *, eps, rho, debias, spec, tol, num_iter_max, gradients,
                    traced, xp):  # fmt: skip
    """The value and, with ``gradients``, its partial derivatives (x, y, a, b).

    Inputs are detached (n,) / (n, d) arrays in otkit's cost units. Returns a dict with
    'value', 'n_iter', 'err' and, with ``gradients``, 'grad_x', 'grad_y', 'grad_a',
    'grad_b'.
    """
    lam = 1.0 if rho is None else rho / (rho + eps)
    p, iter_p, err_p = _self_potential(x, a, eps, lam, spec, tol, num_iter_max, traced, xp)
    q, iter_q, err_q = _self_potential(y, b, eps, lam, spec, tol, num_iter_max, traced, xp)
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)
    if gradients:
        soft_bx, grad_bx, _ = transport_pass(x, y, log_b + q / eps, eps, spec, xp)
        soft_ay, grad_ay, _ = transport_pass(y, x, log_a + p / eps, eps, spec, xp)
    else:
        soft_bx = online_softmin(x, y, log_b + q / eps, eps, spec, xp)
        soft_ay = online_softmin(y, x, log_a + p / eps, eps, spec, xp)
    s_b, s_a = lam * soft_bx, lam * soft_ay
    value = 0.5 * (xp.sum(a * _psi(s_b, eps, rho, xp)) + xp.sum(b * _psi(s_a, eps, rho, xp)))
    if debias:
        value = value - 0.5 * (
            xp.sum(a * _psi(p, eps, rho, xp)) + xp.sum(b * _psi(q, eps, rho, xp))
        )
    out = {"value": value, "n_iter": (iter_p, iter_q), "err": (err_p, err_q), "p": p, "q": q}
    if not gradients:
        return out
    # Cotangents of the two cross soft-mins, then their derivatives as plans: rows (the
    # points where they are evaluated), columns (points, weights, potentials).
    u_x = (0.5 * lam) * a * _psi_slope(s_b, eps, rho, xp)
    u_y = (0.5 * lam) * b * _psi_slope(s_a, eps, rho, xp)
    grad_x = u_x[:, None] * grad_bx
    grad_y = u_y[:, None] * grad_ay
    sums_y, (cols_y,) = kernel_pass(y, x, q / eps, soft_bx / eps, u_x[:, None], eps, spec, xp)
    sums_x, (cols_x,) = kernel_pass(x, y, p / eps, soft_ay / eps, u_y[:, None], eps, spec, xp)
    grad_a = 0.5 * _psi(s_b, eps, rho, xp) - eps * sums_x[:, 0]
    grad_b = 0.5 * _psi(s_a, eps, rho, xp) - eps * sums_y[:, 0]
    grad_x = grad_x + a[:, None] * cols_x
    grad_y = grad_y + b[:, None] * cols_y
    # cotangents of the self potentials, per unit weight (the cotangent is weights * this)
    cot_p, cot_q = -sums_x[:, 0], -sums_y[:, 0]
    if debias:
        grad_a = grad_a - 0.5 * _psi(p, eps, rho, xp)
        grad_b = grad_b - 0.5 * _psi(q, eps, rho, xp)
        cot_p = cot_p - 0.5 * _psi_slope(p, eps, rho, xp)
        cot_q = cot_q - 0.5 * _psi_slope(q, eps, rho, xp)
    for points, weights, potential, cot, name in ((x, a, p, cot_p, "x"), (y, b, q, cot_q, "y")):
        d_points, d_weights = _implicit(points, weights, potential, cot, eps, rho, lam, spec,
                                        tol, traced, xp)  # fmt: skip
        if name == "x":
            grad_x, grad_a = grad_x + d_points, grad_a + d_weights
        else:
            grad_y, grad_b = grad_y + d_points, grad_b + d_weights
    out.update(grad_x=grad_x, grad_y=grad_y, grad_a=grad_a, grad_b=grad_b)
    return out


def _implicit(points, weights, potential, cot, eps, rho, lam, spec, tol, traced, xp):
    """Gradients (points, weights) of <weights * cot, p> through the fixed point p.

    With T the soft-min on the cloud, p = lam T(p) and dT/dp = -Pi (Pi = diag(r) K diag(w),
    K_ik = exp((p_i + p_k - C_ik) / eps)), the adjoint mu solves (I + lam Pi^T) mu =
    w * cot; with mu = sqrt(w / r) z this is the symmetric positive definite system
    (I + lam V K V) z = v * cot, v = sqrt(w r), solved by conjugate gradient. The gradient
    is then that of <lam mu, T> at fixed p.
    """
    r = xp.ones_like(potential) if rho is None else xp.exp(potential / rho)
    v = xp.sqrt(weights * r)
    log_k = potential / eps
    rhs = v * cot

    def matvec(z):
        sums, _ = kernel_pass(points, points, log_k, log_k, (v * z)[:, None], eps, spec, xp,
                              gradients=False)  # fmt: skip
        return z + lam * v * sums[:, 0]

    z = _conjugate_gradient(matvec, rhs, tol, traced, xp)
    u_r = lam * v * z  # (the cotangent lam mu on T) times r
    sums, (grad_w, grad_u) = kernel_pass(
        points, points, log_k, log_k, xp.stack([weights, u_r], axis=1), eps, spec, xp
    )
    d_points = u_r[:, None] * grad_w + weights[:, None] * grad_u
    return d_points, -eps * sums[:, 1]


def _conjugate_gradient(matvec, rhs, tol, traced, xp):
    """Solve A z = rhs (A symmetric positive definite) to a relative residual below tol."""
    scale = xp.sqrt(xp.sum(rhs * rhs))
    tiny = float(xp.finfo(rhs.dtype).smallest_normal)
    scale = xp.where(scale > tiny, scale, xp.ones_like(scale))
    # the adjoint's accuracy is the gradient's: ask for more than the solve's tolerance
    target = min(tol, 1e-10 if rhs.dtype == xp.float64 else 1e-5)

    def advance(state):
        z, residual, direction, rr = state
        image = matvec(direction)
        curvature = xp.sum(direction * image)
        step = rr / xp.where(curvature > 0, curvature, xp.ones_like(curvature))
        z = z + step * direction
        residual = residual - step * image
        rr_next = xp.sum(residual * residual)
        ratio = rr_next / xp.where(rr > 0, rr, xp.ones_like(rr))
        direction = residual + ratio * direction
        return (z, residual, direction, rr_next), xp.sqrt(rr_next) / scale

    rr = xp.sum(rhs * rhs)
    start = (xp.zeros_like(rhs), rhs, rhs, rr)
    state, _, _, _ = iterate(advance, start, xp.sqrt(rr) / scale, _CG_ITER_MAX, target, xp, traced)
    return stop_gradient(state[0], xp)


def tolerance(options, dtype, xp):
    """``stopThr`` of the options, else 1e-9 (float64) or 1e-5 (float32): the self-transport
    loops converge at least twofold per iteration, so a tight default costs little."""
    tol = options.get("stopThr")
    if tol is None:
        return 1e-9 if dtype == xp.float64 else 1e-5
    return check_real(tol, "stopThr", minimum=0, allow_traced=False)


def _terms(config, xp, a, x, b, y, eps, rho, traced):
    debias, spec, tol, num_iter_max, gradients, balanced = config
    return hausdorff_terms(
        a, x, b, y, eps=eps, rho=None if balanced else rho, debias=debias, spec=spec, tol=tol,
        num_iter_max=num_iter_max, gradients=gradients, traced=traced, xp=xp,
    )  # fmt: skip


@functools.lru_cache(maxsize=32)
def _jitted(config, xp):
    def run(a, x, b, y, eps, rho):
        return _terms(config, xp, a, x, b, y, eps, rho, True)

    return jit(run, xp)


def hausdorff_loss(a, x, b, y, *, p, blur, reach, debias, potentials, batch_size, verbose,
                   options, xp):  # fmt: skip
    """GeomLoss-units value (0-d) or potentials ((n,), (m,)) of one (x, y) problem.

    ``a``, ``b`` are None (uniform) or (n,), (m,) weights. The potentials are the
    derivatives of the value with respect to the weights.
    """
    dtype = x.dtype
    n, m = x.shape[0], y.shape[0]
    weights_a = xp.ones((n,), dtype=dtype, device=device_of(x)) / n if a is None else a
    weights_b = xp.ones((m,), dtype=dtype, device=device_of(y)) / m if b is None else b
    sg = stop_gradient
    traced = is_traced(x, y, a, b)
    eps = p * blur**p
    rho = None if reach is None else p * reach**p
    inputs = [sg(v, xp) for v in (weights_a, x, weights_b, y)]
    center = 0.5 * (xp.mean(inputs[1], axis=0) + xp.mean(inputs[3], axis=0))
    inputs[1], inputs[3] = inputs[1] - center, inputs[3] - center
    gradients = potentials or (not is_numpy_namespace(xp) and (traced or requires_grad(x, y, a, b)))
    num_iter_max = options.get("numItermax", 1000)
    tol = tolerance(options, dtype, xp)
    config = (debias, CostSpec("power", float(p), batch_size), tol, int(num_iter_max), gradients,
              rho is None)  # fmt: skip
    if is_jax_namespace(xp):  # one compiled program per setting
        eps_rho = (
            xp.asarray(eps, dtype=dtype),
            xp.asarray(1.0 if rho is None else rho, dtype=dtype),
        )
        out = _jitted(config, xp)(*inputs, *eps_rho)
    else:
        out = _terms(config, xp, *inputs, eps, rho, traced)
    if not traced:
        err = max(float(to_numpy(e)) for e in out["err"])
        if verbose:
            print(
                f"SamplesLoss('hausdorff'): eps = {blur**p:.3g} (blur^p), self-transport "
                f"iterations {tuple(int(i) for i in out['n_iter'])}, marginal error {err:.2e}"
            )
        if not err <= tol:
            warnings.warn(
                f"SamplesLoss('hausdorff'): the self-transport potentials did not converge "
                f"(marginal error {err:.3e} > stopThr={tol:g} after {num_iter_max} "
                "iterations); increase numItermax or the blur",
                UserWarning,
                stacklevel=4,
            )
    if potentials:
        return out["grad_a"] / p, out["grad_b"] / p
    value = out["value"] / p
    if debias:
        # H >= 0 exactly (F is convex for the kernels exp(-|x - y|^p / eps), p <= 2): a
        # negative value is rounding of the terms (-1e-17 at alpha = beta); gradient kept
        value = xp.clip(value, min=0.0)
    if not gradients:
        return value
    pairs = [(out["grad_x"] / p, x), (out["grad_y"] / p, y)]
    if a is not None:
        pairs.append((out["grad_a"] / p, a))
    if b is not None:
        pairs.append((out["grad_b"] / p, b))
    return attach_gradients(value, pairs, xp)
