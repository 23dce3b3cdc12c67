r"""GeomLoss's Sinkhorn loss on a batch of problems, in one batched solve (NumPy, torch).

B problems :math:`(\alpha_b, \beta_b)` given as (B, N, D), (B, M, D) points and (B, N),
(B, M) weights are solved together: every c-transform is one batched log-sum-exp over
(B, rows, M) cost blocks (:mod:`._batched_geometry`), the ε-scaling runs the same stages for
all (from the batch's diameter, as GeomLoss), and at the final ε each problem iterates until
its own marginal error is below ``stopThr``: a problem that has converged is frozen (its
potentials no longer change, its iteration count stops) while the others go on, so every
problem ends at the fixed point that a separate solve reaches, to the same tolerance.

In GeomLoss's units (cost :math:`\tfrac1p\|x - y\|^p`, :math:`\varepsilon =
\mathrm{blur}^p`, :math:`\rho = \mathrm{reach}^p`, :math:`\lambda = \rho / (\rho +
\varepsilon)`, 1 when balanced): the (α, β) problem alternates :math:`g \leftarrow \lambda
T_{yx}(\log a + f/\varepsilon)`, :math:`f \leftarrow \lambda T_{xy}(\log b +
g/\varepsilon)`, the self terms average :math:`f \leftarrow \tfrac12 (f + \lambda
T_{xx}(\log a + f/\varepsilon))`; the error of a state is the L2 norm of
:math:`a (e^{(f - f')/\varepsilon} - 1)` with :math:`f'` its next row update (the marginal
error when balanced, the fixed-point residual in mass units otherwise), as in
:func:`otkit.sinkhorn_divergence`. The value is the dual objective at the potentials and
its gradients with respect to points and weights are the envelope ones (see
:mod:`otkit.bregman._divergence_core`), attached in one differentiable step per problem.
"""

from __future__ import annotations

import math
import warnings

from .._validation import check_equal_mass, check_finite, check_nonnegative_weights
from ..backend import is_numpy_namespace, stop_gradient, to_numpy
from ..bregman._divergence_core import (
    SMALL_EPS,
    has_float64,
    large_eps_threshold,
    promote_float32,
)
from ..bregman._relaxation import relax, schedule_start, schedule_step
from ..bregman._sinkhorn_loop import _finite_error, translation
from ._batched_geometry import BatchedPair, cost_range, log_weights, store_costs

__all__ = ["batched_sinkhorn_loss"]


def _phi(f, rho, xp):
    return f if rho is None else -rho * xp.expm1(-f / rho)


def _squared_residual(w, f, f_next, eps, xp):
    """Per problem, the squared L2 norm of w (exp((f - f_next) / eps) - 1)."""
    ratio = xp.exp(xp.clip((f - f_next) / eps, max=700.0)) - 1.0
    residual = xp.where(w > 0, w * ratio, xp.zeros_like(ratio))
    return xp.sum(residual * residual, axis=1)


def _residual(w, f, f_next, eps, xp):
    return _finite_error(_squared_residual(w, f, f_next, eps, xp), xp)


def _iterate(advance, state, err, num_iter_max, tol, xp):
    """``state, err = advance(state)`` for the problems whose error is not below ``tol``;
    the others are frozen. Returns the state, the (B,) errors and the iterations done."""
    n_iter = xp.zeros(err.shape, dtype=xp.int64, device=_device(err))
    for _ in range(num_iter_max):
        active = ~(err < tol)
        if not bool(xp.any(active)):
            break
        new_state, new_err = advance(state)
        state = tuple(
            xp.where(xp.reshape(active, (-1,) + (1,) * (old.ndim - 1)), new, old)
            for new, old in zip(new_state, state)
        )
        err = xp.where(active, new_err, err)
        n_iter = n_iter + xp.astype(active, xp.int64)
    return state, err, n_iter


def _device(x):
    from ..backend import device_of

    return device_of(x)


def _solve(x, y, a, b, eps, rho, stages, debias, num_iter_max, tol, store, block, p, xp):
    """Potentials and errors of the (B,) problems (x, y), (x, x), (y, y)."""
    pair = BatchedPair(x, y, p, xp, store=store, block=block)
    cols = pair.transposed()
    selves = (BatchedPair(x, x, p, xp, store=store, block=block),
              BatchedPair(y, y, p, xp, store=store, block=block))  # fmt: skip
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)

    def damping(e):
        return 1.0 if rho is None else rho / (rho + e)

    f = xp.zeros(a.shape, dtype=x.dtype, device=_device(x))
    f_aa, f_bb = f, xp.zeros(b.shape, dtype=x.dtype, device=_device(x))
    for e in stages:
        lam = damping(e)
        g = lam * cols.softmin(log_a + f / e, e)
        f = lam * pair.softmin(log_b + g / e, e)
        if debias:
            f_aa = 0.5 * (f_aa + lam * selves[0].softmin(log_a + f_aa / e, e))
            f_bb = 0.5 * (f_bb + lam * selves[1].softmin(log_b + f_bb / e, e))
    lam = damping(eps)

    def update_cols(f):
        return lam * cols.softmin(log_a + f / eps, eps)

    def update_rows(g):
        return lam * pair.softmin(log_b + g / eps, eps)

    g = update_cols(f)
    f_next = update_rows(g)
    err = _residual(a, f, f_next, eps, xp)
    step, state = _overrelaxed(update_cols, update_rows, a, b, eps, rho, xp, (f, g, f_next, err))
    state, err, n_iter = _iterate(step, state, err, num_iter_max, tol, xp)
    # End on the exact pair (f, T(f)) and its row update, as the per-problem loop does.
    f = state[0]
    g = update_cols(f)
    f_next = update_rows(g)
    err = xp.where(n_iter > 0, _residual(a, f, f_next, eps, xp), err)
    out = {"f": f_next, "g": g, "err": err, "n_iter": n_iter}
    if debias:
        for name, geometry, w, start in (
            ("f_aa", selves[0], a, f_aa),
            ("g_bb", selves[1], b, f_bb),
        ):
            log_w = log_weights(w, xp)

            def self_step(state, geometry=geometry, log_w=log_w, w=w):
                h = 0.5 * (state[0] + state[1])
                update = lam * geometry.softmin(log_w + h / eps, eps)
                return (h, update), _residual(w, h, update, eps, xp)

            update = lam * geometry.softmin(log_w + start / eps, eps)
            (h, _), self_err, self_iter = _iterate(
                self_step, (start, update), _residual(w, start, update, eps, xp),
                num_iter_max, tol, xp,
            )  # fmt: skip
            out[name] = h
            out["err"] = xp.maximum(out["err"], self_err)
            out["n_iter"] = xp.maximum(out["n_iter"], self_iter)
    return out, (pair, cols, selves)


def _overrelaxed(update_cols, update_rows, a, b, eps, rho, xp, start):
    """The (x, y) iteration over-relaxed with the adaptive factor of
    :mod:`otkit.bregman._relaxation`, one factor and schedule per problem (the error is
    that of the measured pair (f, g): rows and columns stacked). Unbalanced (``rho``), each
    step starts from the best translation (f + t, g - t) of the dual: without it the error
    along that direction shrinks only by (rho / (rho + eps))^2 per iteration."""
    f0, g, f_exact, err = start
    schedule = schedule_start(err, None, xp)
    log_a, log_b = log_weights(a, xp), log_weights(b, xp)

    def step(state):
        _, g_prev, f_relaxed, *schedule = state
        if rho is not None:
            shift = translation(log_a, log_b, f_relaxed, g_prev, rho, 1, xp)[:, None]
            f_relaxed, g_prev = f_relaxed + shift, g_prev - shift
        w = schedule[0][:, None]
        g_exact = update_cols(f_relaxed)
        g = relax(g_prev, g_exact, w, eps, xp)
        f_exact = update_rows(g)
        err = _finite_error(
            _squared_residual(a, f_relaxed, f_exact, eps, xp)
            + _squared_residual(b, g, g_exact, eps, xp),
            xp,
        )
        schedule = schedule_step(tuple(schedule), err, True, xp)
        return (f_relaxed, g, relax(f_relaxed, f_exact, schedule[0][:, None], eps, xp),
                *schedule), err  # fmt: skip

    w = schedule[0][:, None]
    return step, (f0, g, relax(f0, f_exact, w, eps, xp), *schedule)


def _pair_dual(pair, cols, a, b, f, g, eps, rho, xp):
    """Dual value (B,) of OT_eps(a, b) at (f, g) and its partial derivatives."""
    row_T, row_grad = pair.transport(log_weights(b, xp) + g / eps, eps)
    col_T, col_grad = cols.transport(log_weights(a, xp) + f / eps, eps)
    r = xp.exp(xp.clip((f - row_T) / eps, max=700.0))
    s = xp.exp(xp.clip((g - col_T) / eps, max=700.0))
    mass_a, mass_b = xp.sum(a, axis=1), xp.sum(b, axis=1)
    value = (
        xp.sum(a * _phi(f, rho, xp), axis=1)
        + xp.sum(b * _phi(g, rho, xp), axis=1)
        - eps * (xp.sum(a * r, axis=1) - mass_a * mass_b)
    )
    grads = [
        (a * r)[:, :, None] * row_grad,
        (b * s)[:, :, None] * col_grad,
        _phi(f, rho, xp) - eps * (r - mass_b[:, None]),
        _phi(g, rho, xp) - eps * (s - mass_a[:, None]),
    ]
    return value, grads


def _self_dual(geometry, w, f, eps, rho, xp):
    """The same for OT_eps(w, w) at the symmetric pair (f, f)."""
    T, grad = geometry.transport(log_weights(w, xp) + f / eps, eps)
    r = xp.exp(xp.clip((f - T) / eps, max=700.0))
    mass = xp.sum(w, axis=1)
    value = 2.0 * xp.sum(w * _phi(f, rho, xp), axis=1) - eps * (xp.sum(w * r, axis=1) - mass**2)
    return (
        value,
        2.0 * (w * r)[:, :, None] * grad,
        2.0 * (_phi(f, rho, xp) - eps * (r - mass[:, None])),
    )


def _validate(x, y, a, b, balanced, dtype, xp):
    """The checks of :func:`otkit.sinkhorn_divergence`, for each problem of the batch."""
    check_finite(to_numpy(x), "x")
    check_finite(to_numpy(y), "y")
    a_np, b_np = to_numpy(a), to_numpy(b)
    rtol = 1e-6 if dtype == xp.float64 else 1e-4
    for k in range(a_np.shape[0]):
        check_nonnegative_weights(a_np[k], "a")
        check_nonnegative_weights(b_np[k], "b")
        if balanced:
            check_equal_mass(a_np[k], b_np[k], rtol)


def _in_range(ranges, eps, rho, dtype, xp):
    """Whether every problem is in the range of scales the batched loop resolves without
    rescaling; otherwise the per-problem engine handles it (rescaling, its errors, the
    expansion in 1 / eps)."""
    u = float(xp.finfo(dtype).eps)
    ranges = [float(r) for r in to_numpy(ranges)]
    if not all(1e-100 < r < 1e100 for r in ranges) or not 0 < eps < math.inf:
        return False
    low, high = min(ranges), max(ranges)
    if eps < SMALL_EPS * u * high:
        return False
    if rho is None:
        return eps <= low * large_eps_threshold(u)
    return 0 < rho < math.inf and eps <= low * u**-0.5


def batched_sinkhorn_loss(a, x, b, y, *, p, blur, reach, debias, scaling, diameter,
                          potentials, verbose, options, block, store, xp):  # fmt: skip
    """GeomLoss's Sinkhorn loss of a batch: values (B,) or potentials ((B, N), (B, M)).

    Returns None when a problem is outside the scales that the batched loop resolves
    (extreme point coordinates, an ε near the limits of the dtype): the caller then solves
    the problems one by one with :func:`otkit.sinkhorn_divergence`, which handles them.
    ``store``: keep the (B, ., .) costs when they fit; ``block``: rows per cost block.
    """
    batch, n, m = x.shape[0], x.shape[1], y.shape[1]
    dtype = x.dtype
    if dtype not in (xp.float32, xp.float64):
        return None  # (the per-problem engine computes low precision in float32)
    work = xp.float64 if is_numpy_namespace(xp) else dtype
    user = (a, x, b, y)
    if a is None:
        a = xp.ones((batch, n), dtype=dtype, device=_device(x)) / n
    if b is None:
        b = xp.ones((batch, m), dtype=dtype, device=_device(y)) / m
    xs, ys, ws_a, ws_b = (xp.astype(stop_gradient(v, xp), work) for v in (x, y, a, b))
    balanced = reach is None
    _validate(xs, ys, ws_a, ws_b, balanced, work, xp)
    center = (xp.mean(xs, axis=1) + xp.mean(ys, axis=1))[:, None, :] / 2.0
    xs, ys = xs - center, ys - center
    try:
        if not (float(blur) > 0 and (balanced or float(reach) > 0)):
            return None  # (the per-problem engine raises its ValueError)
        eps = float(blur) ** p
        rho = None if balanced else float(reach) ** p
    except (OverflowError, TypeError, ValueError):
        return None
    ranges = cost_range(xs, ys, p, xp)
    tol = options.get("stopThr")
    tol = (1e-6 if work == xp.float64 else 1e-4) if tol is None else float(tol)
    if work == xp.float32 and has_float64(xp):
        # float32 that cannot resolve eps to the tolerance: solved in float64 (the rule
        # of the per-problem engine, otkit.bregman._divergence_core.promote_float32)
        weight_norm = float(xp.max(xp.sqrt(xp.maximum(xp.sum(ws_a * ws_a, axis=1),
                                                      xp.sum(ws_b * ws_b, axis=1)))))  # fmt: skip
        high = float(xp.max(ranges))
        if promote_float32(eps, high, weight_norm, tol):
            work = xp.float64
            xs, ys, ws_a, ws_b, ranges = (xp.astype(v, work) for v in (xs, ys, ws_a, ws_b, ranges))
    if not _in_range(ranges, eps, rho, work, xp):
        return None
    num_iter_max = int(options.get("numItermax", 1000))
    stages = []
    if scaling is not None:
        start = float(diameter) ** p if diameter is not None else float(xp.max(ranges)) * p
        ratio = float(scaling) ** p
        if start > eps:
            count = math.ceil(math.log(eps / start) / math.log(ratio))
            stages = [max(start * ratio**t, eps) for t in range(count)]
    store = store and store_costs(batch, n, m, 8 if work == xp.float64 else 4)
    out, (pair, cols, selves) = _solve(
        xs, ys, ws_a, ws_b, eps, rho, stages, debias, num_iter_max, tol, store, block, p, xp
    )
    err, n_iter = float(xp.max(out["err"])), int(xp.max(out["n_iter"]))
    if verbose:
        print(
            f"SamplesLoss('sinkhorn'): eps = {eps:.3g} (blur^p), {len(stages)} annealing "
            f"stages, {n_iter} iterations at the final eps (largest of {batch} problems), "
            f"marginal error {err:.2e}"
        )
    if not err <= tol:
        warnings.warn(
            f"SamplesLoss('sinkhorn') did not converge: marginal error {err:.3e} > "
            f"stopThr={tol:g} after {n_iter} iterations at eps={eps:g}; increase numItermax "
            "or the blur",
            UserWarning,
            stacklevel=3,
        )
    f, g = out["f"], out["g"]
    if debias:
        f, g = f - out["f_aa"], g - out["g_bb"]
    shift = None
    if balanced:
        # (F + c, G - c) with <a, F> = <b, G>, as the per-problem path
        shift = (xp.sum(ws_b * g, axis=1) - xp.sum(ws_a * f, axis=1)) / (
            xp.sum(ws_a, axis=1) + xp.sum(ws_b, axis=1)
        )
        f, g = f + shift[:, None], g - shift[:, None]
    if potentials:
        return xp.astype(f, dtype), xp.astype(g, dtype)
    value, grads = _pair_dual(pair, cols, ws_a, ws_b, out["f"], out["g"], eps, rho, xp)
    mass_a, mass_b = xp.sum(ws_a, axis=1), xp.sum(ws_b, axis=1)
    if debias:
        for sign_key, geometry, w, h in ((0, selves[0], ws_a, out["f_aa"]),
                                         (1, selves[1], ws_b, out["g_bb"])):  # fmt: skip
            self_value, self_grad_x, self_grad_w = _self_dual(geometry, w, h, eps, rho, xp)
            value = value - 0.5 * self_value
            grads[sign_key] = grads[sign_key] - 0.5 * self_grad_x
            grads[2 + sign_key] = grads[2 + sign_key] - 0.5 * self_grad_w
        gap = eps * (mass_a - mass_b)
        value = value + 0.5 * gap * (mass_a - mass_b)
        grads[2], grads[3] = grads[2] + gap[:, None], grads[3] - gap[:, None]
        if p <= 2:  # S_eps >= 0 (positive definite Gibbs kernel): a negative value is rounding
            value = xp.clip(value, min=0.0)
    if shift is not None and user[0] is not None and user[2] is not None:
        grads[2], grads[3] = grads[2] + shift[:, None], grads[3] - shift[:, None]
    value = xp.astype(value, dtype)
    value = _attach(value, grads, user, dtype, xp)
    if not debias:
        # GeomLoss's OT_eps: the KL-form value plus eps ((m_a + m_b) / 2 - m_a m_b)
        ma = xp.ones((batch,), dtype=dtype) if user[0] is None else xp.sum(user[0], axis=1)
        mb = xp.ones((batch,), dtype=dtype) if user[2] is None else xp.sum(user[2], axis=1)
        term = eps * ((ma + mb) / 2 - ma * mb)
        value = value + (stop_gradient(term, xp) if balanced else term)
    return value


def _attach(value, grads, arrays, dtype, xp):
    """``value`` (B,) with the gradient ``grads[k]`` for ``arrays[k]`` (each problem its own)."""
    if is_numpy_namespace(xp):
        return value
    out = stop_gradient(value, xp)
    for grad, array in zip((grads[2], grads[0], grads[3], grads[1]), arrays):
        if array is None:
            continue
        delta = xp.astype(stop_gradient(grad, xp), dtype) * (array - stop_gradient(array, xp))
        out = out + xp.sum(xp.reshape(delta, (delta.shape[0], -1)), axis=1)
    return out
