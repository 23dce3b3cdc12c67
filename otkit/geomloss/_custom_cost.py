r"""``SamplesLoss(..., cost=function)``: GeomLoss's 'tensorized' convention, batched.

The function takes (B, N, D) and (B, M, D) arrays and returns the (B, N, M) cost matrix, in
GeomLoss's units: :math:`\varepsilon = \mathrm{blur}^p` and :math:`\rho = \mathrm{reach}^p`
are compared with its values directly (GeomLoss's defaults are
:math:`\|x - y\|^p / p`). The cost matrices :math:`C(x, y)`, :math:`C(x, x)`,
:math:`C(y, y)` are computed once, the whole batch is solved at once in the log domain on
detached copies, and the gradients (torch, JAX) come from one differentiable evaluation at
the solution, by autodiff through the user's function: the envelope theorem for the
Sinkhorn dual value, and the implicit adjoint of the self-transport fixed points for the
Hausdorff divergence. The cost is assumed symmetric, :math:`C(y, x) = C(x, y)^\top`, as
GeomLoss's symmetric solver does.
"""

from __future__ import annotations

import functools
import math
import warnings

from ..backend import (
    device_of,
    is_jax_namespace,
    is_traced,
    jit,
    logsumexp,
    stop_gradient,
    to_numpy,
)
from ..bregman._sinkhorn_loop import iterate, log_weights
from ._hausdorff import _conjugate_gradient, _psi, _psi_slope, tolerance

__all__ = ["custom_cost_loss"]


def _cost(function, u, v, xp):
    out = function(u, v)
    expected = (u.shape[0], u.shape[1], v.shape[1])
    if not hasattr(out, "shape") or tuple(out.shape) != expected:
        shape = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
        raise ValueError(
            f"cost(x, y) must return the (B, N, M) = {expected} cost matrix, got {shape}"
        )
    # (no asarray of a tensor: torch warns when it requires a gradient)
    return xp.astype(out if hasattr(out, "ndim") else xp.asarray(out), u.dtype)


def _softmin(cost, h, eps, xp):
    """-eps log sum_j exp(h_j - C_ij / eps): (B, N) from (B, N, M) and (B, M)."""
    return -eps * logsumexp(h[:, None, :] - cost / eps, axis=2, xp=xp)


def _transpose(c, xp):
    return xp.permute_dims(c, (0, 2, 1))


def _phi(f, rho, xp):
    return f if rho is None else -rho * xp.expm1(-f / rho)


def _residual(weights, f, f_next, eps, xp):
    """Size of the marginal error of the state f whose next update is f_next."""
    gap = weights * xp.expm1(xp.clip((f - f_next) / eps, max=50.0))
    return xp.sqrt(xp.sum(gap * gap))


def custom_cost_loss(loss, a, x, b, y, xp, batched):
    """The value ((B,) or 0-d) or potentials of ``loss`` (a SamplesLoss) with its ``cost``."""
    if not batched:
        x, y = x[None, ...], y[None, ...]
        a = None if a is None else a[None, :]
        b = None if b is None else b[None, :]
    batch, n, m = x.shape[0], x.shape[1], y.shape[1]
    user_a, user_b = a, b
    if a is None:
        a = xp.ones((batch, n), dtype=x.dtype, device=device_of(x)) / n
    if b is None:
        b = xp.ones((batch, m), dtype=y.dtype, device=device_of(y)) / m
    solver = _sinkhorn if loss.loss == "sinkhorn" else _hausdorff
    out = solver(loss, a, x, b, y, user_a, user_b, xp)
    if batched:
        return out
    if loss.potentials:
        return out[0][0, ...], out[1][0, ...]
    return out[0, ...]


def _matrices(loss, x, y, self_terms, xp):
    c_xy = _cost(loss.cost, x, y, xp)
    c_xx = _cost(loss.cost, x, x, xp) if self_terms else None
    c_yy = _cost(loss.cost, y, y, xp) if self_terms else None
    return c_xy, c_xx, c_yy


def _parameters(loss, x, xp):
    eps = float(loss.blur) ** loss.p
    rho = None if loss.reach is None else float(loss.reach) ** loss.p
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"blur={loss.blur!r} gives eps = blur^p = {eps!r}: not > 0 and finite")
    tol = tolerance(loss.options, x.dtype, xp)
    return eps, rho, tol, loss.options.get("numItermax", 1000)


def _stages(loss, c_xy, eps, traced, xp):
    """Annealing values of eps (cost units) from the largest cost (or diameter^p) down."""
    if loss.scaling is None or traced:
        return []
    if loss.diameter is not None:
        start = float(loss.diameter) ** loss.p
    else:
        start = float(to_numpy(xp.max(stop_gradient(c_xy, xp))))
    ratio = float(loss.scaling) ** loss.p
    stages = []
    while start > eps and len(stages) < 1000:
        stages.append(start)
        start *= ratio
    return stages


def _warn(name, err, tol, num_iter_max, verbose, n_iter):
    if verbose:
        print(f"SamplesLoss({name!r}, cost=...): {n_iter} iterations, marginal error {err:.2e}")
    if not err <= tol:
        warnings.warn(
            f"SamplesLoss({name!r}, cost=...) did not converge: marginal error {err:.3e} > "
            f"stopThr={tol:g} after {num_iter_max} iterations; increase numItermax or the blur",
            UserWarning,
            stacklevel=5,
        )


def _self_loop(weights, cost, eps, lam, tol, num_iter_max, traced, xp):
    """Symmetric fixed point p = lam S(p) on one cloud, by the averaged update."""
    log_w = log_weights(weights, xp)

    def advance(state):
        (p,) = state
        update = lam * _softmin(cost, log_w + p / eps, eps, xp)
        p_next = 0.5 * (p + update)
        return (p_next,), _residual(weights, p, update, eps, xp)

    start = (xp.zeros_like(weights),)
    (p,), n_iter, err, _ = iterate(advance, start, xp.asarray(math.inf, dtype=weights.dtype),
                                   num_iter_max, tol, xp, traced)  # fmt: skip
    return p, n_iter, err


def _sinkhorn_solve(config, traced, xp, da, db, dc, c_xx, c_yy, stages):
    """Potentials (f, g) of OT(a, b) and the self ones (p, q; None without debias)."""
    eps, rho, tol, num_iter_max, debias, n_stages = config
    lam = 1.0 if rho is None else rho / (rho + eps)
    log_a, log_b = log_weights(da, xp), log_weights(db, xp)
    f, g = xp.zeros_like(da), xp.zeros_like(db)
    for t in range(n_stages):  # GeomLoss's symmetric annealing updates
        e = stages[t]
        lam_e = 1.0 if rho is None else rho / (rho + e)
        f, g = (
            0.5 * (f + lam_e * _softmin(dc, log_b + g / e, e, xp)),
            0.5 * (g + lam_e * _softmin(_transpose(dc, xp), log_a + f / e, e, xp)),
        )

    def advance(state):
        f, g = state
        g = lam * _softmin(_transpose(dc, xp), log_a + f / eps, eps, xp)
        f_next = lam * _softmin(dc, log_b + g / eps, eps, xp)
        return (f_next, g), _residual(da, f, f_next, eps, xp)

    start_err = xp.asarray(math.inf, dtype=f.dtype)
    (f, g), n_iter, err, _ = iterate(advance, (f, g), start_err, num_iter_max, tol, xp, traced)
    errors = [err]
    p = q = None
    if debias:
        p, _, err_p = _self_loop(da, c_xx, eps, lam, tol, num_iter_max, traced, xp)
        q, _, err_q = _self_loop(db, c_yy, eps, lam, tol, num_iter_max, traced, xp)
        errors += [err_p, err_q]
    return f, g, p, q, n_iter, errors


@functools.lru_cache(maxsize=32)
def _jitted_sinkhorn(config, xp):
    def run(*arrays):
        return _sinkhorn_solve(config, True, xp, *arrays)

    return jit(run, xp)


def _sinkhorn(loss, a, x, b, y, user_a, user_b, xp):
    eps, rho, tol, num_iter_max = _parameters(loss, x, xp)
    sg = stop_gradient
    traced = is_traced(x, y, a, b)
    c_xy, c_xx, c_yy = _matrices(loss, x, y, loss.debias, xp)
    da, db, dc = sg(a, xp), sg(b, xp), sg(c_xy, xp)
    stages = _stages(loss, dc, eps, traced, xp)
    config = (eps, rho, tol, int(num_iter_max), bool(loss.debias), len(stages))
    self_costs = (sg(c_xx, xp), sg(c_yy, xp)) if loss.debias else (dc, dc)
    arrays = (da, db, dc, *self_costs, xp.asarray(stages or [eps], dtype=dc.dtype))
    if is_jax_namespace(xp):  # one compiled solve per setting (eager JAX is op by op)
        f, g, p, q, n_iter, errors = _jitted_sinkhorn(config, xp)(*arrays)
    else:
        f, g, p, q, n_iter, errors = _sinkhorn_solve(config, traced, xp, *arrays)
    if not traced:
        worst = max(float(to_numpy(e)) for e in errors)
        _warn("sinkhorn", worst, tol, num_iter_max, loss.verbose, int(n_iter))
    mass_a, mass_b = xp.sum(a, axis=1), xp.sum(b, axis=1)

    def dual(u, v, f, g, cost, mass_u, mass_v):
        plan = xp.exp((f[:, :, None] + g[:, None, :] - cost) / eps)
        coupling = xp.sum(u[:, :, None] * v[:, None, :] * plan, axis=(1, 2))
        linear = xp.sum(u * _phi(f, rho, xp), axis=1) + xp.sum(v * _phi(g, rho, xp), axis=1)
        return linear - eps * (coupling - mass_u * mass_v)

    # Dual values at the (detached) solution: differentiable in the weights and costs, with
    # the envelope gradients (the potentials are optimal).
    value = dual(a, b, f, g, c_xy, mass_a, mass_b)
    if loss.debias:
        value = value - 0.5 * dual(a, a, p, p, c_xx, mass_a, mass_a)
        value = value - 0.5 * dual(b, b, q, q, c_yy, mass_b, mass_b)
        value = value + 0.5 * eps * (mass_a - mass_b) ** 2
    else:
        term = eps * ((mass_a + mass_b) / 2 - mass_a * mass_b)
        value = value + (sg(term, xp) if rho is None else term)
    big_f, big_g = (f - p, g - q) if loss.debias else (f, g)
    if rho is None:
        # Balanced potentials are defined up to (F + c, G - c): the symmetric choice
        # <a, F> = <b, G>, and the same constant in the weight gradients (as the online path)
        shift = (xp.sum(db * big_g, axis=1) - xp.sum(da * big_f, axis=1)) / (
            xp.sum(da, axis=1) + xp.sum(db, axis=1)
        )
        big_f, big_g = big_f + shift[:, None], big_g - shift[:, None]
        change_a = xp.sum(a, axis=1) - sg(xp.sum(a, axis=1), xp)
        change_b = xp.sum(b, axis=1) - sg(xp.sum(b, axis=1), xp)
        value = value + shift * (change_a - change_b)
    if loss.potentials:
        return big_f, big_g
    return value


def _hausdorff(loss, a, x, b, y, user_a, user_b, xp):
    eps, rho, tol, num_iter_max = _parameters(loss, x, xp)
    sg = stop_gradient
    traced = is_traced(x, y, a, b)
    c_xy, c_xx, c_yy = _matrices(loss, x, y, True, xp)
    lam = 1.0 if rho is None else rho / (rho + eps)
    da, db = sg(a, xp), sg(b, xp)
    dxy, dxx, dyy = (sg(c, xp) for c in (c_xy, c_xx, c_yy))
    p, iter_p, err_p = _self_loop(da, dxx, eps, lam, tol, num_iter_max, traced, xp)
    q, iter_q, err_q = _self_loop(db, dyy, eps, lam, tol, num_iter_max, traced, xp)
    if not traced:
        worst = max(float(to_numpy(err_p)), float(to_numpy(err_q)))
        _warn("hausdorff", worst, tol, num_iter_max, loss.verbose, (int(iter_p), int(iter_q)))
    log_a, log_b = log_weights(da, xp), log_weights(db, xp)
    soft_bx = _softmin(dxy, log_b + q / eps, eps, xp)
    soft_ay = _softmin(_transpose(dxy, xp), log_a + p / eps, eps, xp)
    u_x = (0.5 * lam) * da * _psi_slope(lam * soft_bx, eps, rho, xp)
    u_y = (0.5 * lam) * db * _psi_slope(lam * soft_ay, eps, rho, xp)
    # column sums of the two cross plans (per unit weight), then the self adjoints
    k_x = xp.sum(xp.exp((p[:, :, None] + soft_ay[:, None, :] - dxy) / eps) * u_y[:, None, :],
                 axis=2)  # fmt: skip
    k_y = xp.sum(xp.exp((soft_bx[:, :, None] + q[:, None, :] - dxy) / eps) * u_x[:, :, None],
                 axis=1)  # fmt: skip
    cot_p, cot_q = -k_x, -k_y
    if loss.debias:
        cot_p = cot_p - 0.5 * _psi_slope(p, eps, rho, xp)
        cot_q = cot_q - 0.5 * _psi_slope(q, eps, rho, xp)
    mu_p, ur_p = _adjoint(da, p, dxx, cot_p, eps, rho, lam, tol, traced, xp)
    mu_q, ur_q = _adjoint(db, q, dyy, cot_q, eps, rho, lam, tol, traced, xp)

    def psi(s):
        return _psi(s, eps, rho, xp)

    def surrogate(a, b, c_xy, c_xx, c_yy):
        # exact value at the fixed points; its gradient is the implicit one
        log_a, log_b = log_weights(a, xp), log_weights(b, xp)
        s_b = lam * _softmin(c_xy, log_b + q / eps, eps, xp)
        s_a = lam * _softmin(_transpose(c_xy, xp), log_a + p / eps, eps, xp)
        value = 0.5 * (xp.sum(a * psi(s_b), axis=1) + xp.sum(b * psi(s_a), axis=1))
        if loss.debias:
            value = value - 0.5 * (xp.sum(a * psi(p), axis=1) + xp.sum(b * psi(q), axis=1))
        t_p = lam * _softmin(c_xx, log_a + p / eps, eps, xp)
        t_q = lam * _softmin(c_yy, log_b + q / eps, eps, xp)
        adjoint = xp.sum(mu_p * t_p, axis=1) + xp.sum(mu_q * t_q, axis=1)
        return value + adjoint - sg(adjoint, xp)

    if loss.potentials:
        grad_a = 0.5 * psi(lam * soft_bx) - eps * k_x - eps * _kernel_times(p, dxx, ur_p, eps, xp)
        grad_b = 0.5 * psi(lam * soft_ay) - eps * k_y - eps * _kernel_times(q, dyy, ur_q, eps, xp)
        if loss.debias:
            grad_a, grad_b = grad_a - 0.5 * psi(p), grad_b - 0.5 * psi(q)
        return grad_a, grad_b
    return surrogate(a, b, c_xy, c_xx, c_yy)


def _kernel_times(potential, cost, vector, eps, xp):
    """K v with K_ik = exp((p_i + p_k - C_ik) / eps), batched."""
    kernel = xp.exp((potential[:, :, None] + potential[:, None, :] - cost) / eps)
    return xp.sum(kernel * vector[:, None, :], axis=2)


def _adjoint(weights, potential, cost, cot, eps, rho, lam, tol, traced, xp):
    """mu solving (I + lam Pi^T) mu = weights * cot at the fixed point, and lam mu r.

    See :func:`otkit.geomloss._hausdorff._implicit`: mu = sqrt(w / r) z with
    (I + lam V K V) z = v cot, v = sqrt(w r), by conjugate gradient over the whole batch
    (a block-diagonal positive definite system).
    """
    r = xp.ones_like(potential) if rho is None else xp.exp(potential / rho)
    v = xp.sqrt(weights * r)

    def matvec(z):
        return z + lam * v * _kernel_times(potential, cost, v * z, eps, xp)

    z = _conjugate_gradient(matvec, v * cot, tol, traced, xp)
    return v * z / r, lam * v * z
