"""Dispatch of a Sinkhorn solve to an engine, epsilon scaling, and the outputs with gradients.

Engines: the stabilized scaling loop ('scaling': NumPy input, or eager torch input that is not
differentiated through the iterations; one histogram, positive weights on torch), host
greenkhorn (eager input), and the generic log-domain loop (every other case, also under
``jax.jit``).  Whatever the engine, the solve yields potentials ``f, g`` in cost units; plans,
values and gradients are then built here from them in the caller's namespace.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .._validation import check_integer, check_real
from ..backend import (
    device_of,
    exp_outer_sum,
    from_numpy,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
    jit,
    requires_grad,
    stop_gradient,
    to_numpy,
)
from ._implicit import implicit_plan
from ._sinkhorn_loop import log_weights, sinkhorn_log_loop
from ._sinkhorn_numpy import (
    batched_scaling,
    complete_potentials,
    greenkhorn_host,
    scaling_on_support,
    scattered_plan,
    stabilized_sinkhorn,
)

__all__ = ["METHODS", "build_outputs", "solve_potentials"]

METHODS = (
    "sinkhorn",
    "sinkhorn_log",
    "sinkhorn_stabilized",
    "sinkhorn_epsilon_scaling",
    "greenkhorn",
)


def _host_on_support(engine, a, b, C, eps, f0, num_iter_max, tol, verbose, complete):
    """Run a host engine on the rows/columns of positive weight; the potentials on the other
    bins by c-transforms (``complete``) or NaN."""
    if np.minimum.reduce(a) > 0 and np.minimum.reduce(b) > 0:  # every weight positive
        a, b, f0 = (np.ascontiguousarray(x) for x in (a, b, f0))  # as a[rows] etc. below
        return engine(a, b, C, eps, f0, num_iter_max, tol, verbose)[:5]
    rows, cols = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
    C_sub = C.take(rows, axis=0).take(cols, axis=1)
    out = engine(a[rows], b[cols], C_sub, eps, f0[rows], num_iter_max, tol, verbose)
    plan_sub, f_sub, g_sub, n_iter, trace = out[:5]
    plan = scattered_plan(plan_sub, np.ones_like(f_sub), np.ones_like(g_sub), rows, cols, C.shape)
    f, g = np.full(a.size, np.nan, dtype=f_sub.dtype), np.full(b.size, np.nan, dtype=g_sub.dtype)
    f[rows], g[cols] = f_sub, g_sub
    if complete:
        complete_potentials(C, a, b, eps, f, g, rows, cols)
    return plan, f, g, n_iter, trace


def _host_solve(engine, a, b, C, eps, f0, num_iter_max, tol, verbose, complete=True):
    """Host engine on k histograms (greenkhorn is sequential: one solve per column).

    ``engine`` is :func:`scaling_on_support` (it leaves out the bins of zero weight itself)
    or an engine for positive weights, run by :func:`_host_on_support`."""
    a_np, C_np = to_numpy(a), np.ascontiguousarray(to_numpy(C))
    b_np, f0_np = to_numpy(b), to_numpy(f0)
    plans, fs, gs, n_iters, traces = [], [], [], [], []
    for column in range(b_np.shape[1]):
        args = (a_np, b_np[:, column], C_np, eps, f0_np[:, column], num_iter_max, tol)
        if engine is scaling_on_support:
            plan, f, g, n_iter, trace = scaling_on_support(*args, complete=complete)
        else:
            plan, f, g, n_iter, trace = _host_on_support(engine, *args, verbose, complete)
        plans.append(plan)
        fs.append(f)
        gs.append(g)
        n_iters.append(n_iter)
        traces.append(trace)
    if len(plans) == 1:  # one histogram: views (the engine's arrays are its own)
        return {
            "plan": plans[0][:, :, None],
            "f": fs[0][:, None],
            "g": gs[0][:, None],
            "n_iter": n_iters[0],
            "trace": traces[0],
            "err": traces[0][-1],
        }
    trace = [max(t) for t in zip(*_pad(traces))]
    return {
        "plan": np.stack(plans, axis=-1),
        "f": np.stack(fs, axis=-1),
        "g": np.stack(gs, axis=-1),
        "n_iter": max(n_iters),
        "trace": trace,
        "err": trace[-1],
    }


def _pad(traces):
    longest = max(len(t) for t in traces)
    return [list(t) + [t[-1]] * (longest - len(t)) for t in traces]


@functools.lru_cache(maxsize=32)
def _jitted_loop(num_iter_max, tol, omega, xp):
    """The generic loop compiled once per (numItermax, stopThr, omega) for eager JAX input
    (``reg`` is an argument: a new value does not recompile)."""

    def run(a, b, C, eps, f0):
        return sinkhorn_log_loop(a, b, C, eps, f0, num_iter_max, tol, xp, omega=omega)

    return jit(run, xp)


def _run_stage(
    a, b, C, eps, f0, num_iter_max, tol, xp, engine, unrolled, verbose, omega, complete=True
):
    if engine == "batched":
        out = None
        if omega == 1.0 and not unrolled and not verbose and not np.any(f0):
            out = batched_scaling(a, b, C, float(eps), num_iter_max, tol)
        if out is not None:
            f, g, n_iter, err, trace, linear_costs = out
            return {
                "f": f, "g": g, "n_iter": n_iter, "err": err, "trace": trace, "plan": None,
                "linear_costs": linear_costs,
            }  # fmt: skip
        engine = "generic"
    if engine == "generic":
        if is_jax_namespace(xp) and not is_traced(a, b, C, f0, eps):
            eps_array = xp.asarray(eps, dtype=C.dtype)
            run = _jitted_loop(num_iter_max, tol, omega, xp)
            f, g, n_iter, err, trace = run(a, b, C, eps_array, f0)
            n_iter = int(n_iter)
            trace = [float(x) for x in to_numpy(trace)[: n_iter + 1]]
        else:
            f, g, n_iter, err, trace = sinkhorn_log_loop(
                a, b, C, eps, f0, num_iter_max, tol, xp, unrolled=unrolled, omega=omega
            )
        return {"f": f, "g": g, "n_iter": n_iter, "err": err, "trace": trace, "plan": None}
    if engine == "greenkhorn":
        return _host_solve(
            greenkhorn_host, a, b, C, float(eps), f0, num_iter_max, tol, verbose, complete
        )
    if not is_numpy_namespace(xp):  # eager torch, positive weights: in place, on its device
        plan, f, g, n_iter, trace, _ = stabilized_sinkhorn(
            a, b[:, 0], C, float(eps), f0[:, 0], num_iter_max, tol, verbose, omega, xp
        )
        return {
            "plan": plan[:, :, None],
            "f": f[:, None],
            "g": g[:, None],
            "n_iter": n_iter,
            "trace": trace,
            "err": trace[-1],
        }
    if omega == 1.0 and not verbose:  # the plain loop, on the support, without copying C to it
        host_engine = scaling_on_support
    else:
        host_engine = functools.partial(_stabilized, omega=omega)
    return _host_solve(host_engine, a, b, C, float(eps), f0, num_iter_max, tol, verbose, complete)


def _stabilized(a, b, C, eps, f0, num_iter_max, tol, verbose, omega):
    return stabilized_sinkhorn(a, b, C, eps, f0, num_iter_max, tol, verbose, omega)[:5]


def choose_engine(method, xp, a, b, C, traced, unrolled):
    """'scaling' (stabilized), 'greenkhorn' (host) or 'generic' (log domain in xp)."""
    if method == "greenkhorn":
        if traced:
            raise ValueError(
                "method='greenkhorn' runs on the host and cannot be traced by jax.jit; "
                "use method='sinkhorn' under jit"
            )
        return "greenkhorn"
    if b.shape[1] != 1:
        # NumPy, POT's default method: k columns on one kernel by matrix products (when the
        # cost range allows it; else the log-domain loop)
        batched = method == "sinkhorn" and is_numpy_namespace(xp) and not unrolled
        return "batched" if batched else "generic"
    if is_numpy_namespace(xp):
        return "scaling"
    if (
        is_torch_namespace(xp)
        and not unrolled
        and C.dtype in (xp.float32, xp.float64)
        and bool(xp.all(a > 0))
        and bool(xp.all(b > 0))
    ):
        return "scaling"
    return "generic"


def solve_potentials(
    a, b, C, eps, f0, method, num_iter_max, tol, xp, unrolled, verbose, options, omega=1.0,
    complete=True,
):  # fmt: skip
    """Solve and return a dict: f, g (in xp for 'generic'), n_iter, trace, err, plan or None
    (and, from the batched engine, linear_costs: a function giving the plans' linear costs,
    NumPy).

    ``omega``: 1 (plain), a fixed over-relaxation factor, or None (adaptive), every stage.
    ``complete=False``: the host engines may leave the potentials NaN on bins of zero weight
    (for a caller that reads only the plan); True gives the c-transforms there.
    """
    traced = is_traced(a, b, C, f0, eps)
    engine = choose_engine(method, xp, a, b, C, traced, unrolled)
    stage = functools.partial(_run_stage, xp=xp, engine=engine, unrolled=unrolled, omega=omega)
    if method != "sinkhorn_epsilon_scaling":
        return engine, stage(
            a, b, C, eps, f0, num_iter_max, tol, verbose=verbose, complete=complete
        )
    schedule = epsilon_schedule(C, eps, options, traced)
    inner_iter = check_integer(options.get("numInnerItermax", 100), "numInnerItermax")
    inner_tol = max(tol, check_real(options.get("stopInnerThr", 1e-3), "stopInnerThr", minimum=0))
    n_iter = 0
    f = f0
    for stage_eps in schedule[:-1]:
        # a stage's start is read on the bins of positive weight only
        out = stage(a, b, C, stage_eps, f, inner_iter, inner_tol, verbose=False, complete=False)
        f = _to_xp(out["f"], xp, f0.dtype, device_of(f0))
        n_iter = n_iter + out["n_iter"]
    out = stage(a, b, C, eps, f, num_iter_max, tol, verbose=verbose, complete=complete)
    out["n_iter"] = n_iter + out["n_iter"]
    return engine, out


def _to_xp(x, xp, dtype, device=None):
    """An engine's output (a NumPy array from the host engines) in ``xp``."""
    if isinstance(x, np.ndarray) and not is_numpy_namespace(xp):
        return from_numpy(x, xp, dtype=dtype, device=device)
    return xp.astype(x, dtype, copy=False)


def epsilon_schedule(C, eps, options, traced):
    """Geometric schedule eps0 * q^t clipped at eps (Peyre & Cuturi 2019, remark 4.19)."""
    factor = check_real(
        options.get("scaling_factor", 0.5), "scaling_factor", minimum=0, maximum=1,
        inclusive=(False, False), allow_traced=False,
    )  # fmt: skip
    eps0 = options.get("epsilon0")
    if eps0 is None:
        if traced:
            raise ValueError(
                "method='sinkhorn_epsilon_scaling' under jax.jit needs epsilon0=<float> "
                "(the start of the schedule cannot be read from a traced cost matrix)"
            )
        C_np = to_numpy(C)
        eps0 = float(C_np.max() - C_np.min())
    else:
        eps0 = check_real(eps0, "epsilon0", minimum=0, inclusive=(False, True), allow_traced=False)
    if is_traced(eps):
        raise ValueError("method='sinkhorn_epsilon_scaling' needs a concrete reg under jax.jit")
    eps = float(eps)
    if not eps0 > eps:
        return [eps]
    stages = math.ceil(math.log(eps / eps0) / math.log(factor))
    return [max(eps, eps0 * factor**t) for t in range(stages)] + [eps]


def build_outputs(
    a, b, C, eps, f, g, plan_host, xp, dtype, device, grad, plan_only=False, marginals=True
):
    """Plan (n, m, k), linear value <P, C> (k,), regularized value (k,), potentials (n,k),(m,k)
    and the plan's marginals (n, k), (m, k) (without gradient).

    ``grad`` sets what carries a gradient (torch/JAX):

    - "implicit": the plan (hence <P, C>) is differentiated implicitly at the fixed point
      (:mod:`otkit.bregman._implicit`); the regularized value gets the envelope gradient,
      which is its exact gradient at the optimum;
    - "autodiff": everything is a function of the (unrolled) potentials;
    - "envelope": values get the gradient of the regularized value at the optimum,
      (plan, f - mean f, g - mean g) with respect to (C, a, b); the plan is one differentiable
      evaluation from the fixed potentials;
    - "detach": nothing carries a gradient.

    ``plan_only`` (``sinkhorn`` without log): the values and marginals are None.
    ``marginals=False`` (no log wanted): the regularized value and the marginals are None.

    Every n x m quantity takes one pass: <P, C> is a ``tensordot`` (BLAS, no n x m product),
    the total mass and <P, f + g> come from the two marginals, and for one histogram the
    plan is built as a 2-D array.
    """
    f, g = _to_xp(f, xp, dtype, device), _to_xp(g, xp, dtype, device)
    if grad != "autodiff":
        f, g = stop_gradient(f, xp), stop_gradient(g, xp)
    if grad == "detach":
        a, b, C = (stop_gradient(x, xp) for x in (a, b, C))
    if plan_host is not None and not requires_grad(a, b, C):
        plan = _to_xp(plan_host, xp, dtype, device)
    elif grad == "implicit" and (is_torch_namespace(xp) or is_jax_namespace(xp)):
        plan = implicit_plan(_plan, a, b, C, eps, f, g, xp)
    else:
        plan = _plan(a, b, C, eps, f, g, xp)
    if plan_only:
        return plan, None, None, f, g, None, None
    value_linear = _inner(C, plan, xp)
    if not marginals:
        if grad == "envelope" and not is_numpy_namespace(xp):
            gradient_terms = _envelope_terms(a, b, C, f, g, plan, xp)
            value_linear = stop_gradient(value_linear, xp) + gradient_terms
        return plan, value_linear, None, f, g, None, None
    if plan.shape[2] == 1:  # 2-D reductions are much faster than (n, m, 1) ones
        rows, cols = xp.sum(plan[:, :, 0], axis=1)[:, None], xp.sum(plan[:, :, 0], axis=0)[:, None]
    else:
        rows, cols = xp.sum(plan, axis=1), xp.sum(plan, axis=0)
    mass_term = eps * (xp.sum(rows, axis=0) - xp.sum(a) * xp.sum(b, axis=0))
    # <P, f + g> from the marginals of P: O(n + m) after the two sums, no n x m temporary.
    value_reg = xp.sum(f * rows, axis=0) + xp.sum(g * cols, axis=0) - mass_term
    if grad in ("envelope", "implicit") and not is_numpy_namespace(xp):  # NumPy: no autodiff
        gradient_terms = _envelope_terms(a, b, C, f, g, plan, xp)
        value_reg = stop_gradient(value_reg, xp) + gradient_terms
        if grad == "envelope":
            value_linear = stop_gradient(value_linear, xp) + gradient_terms
    marginals = (stop_gradient(rows, xp), stop_gradient(cols, xp))
    return plan, value_linear, value_reg, f, g, *marginals


def _plan(a, b, C, eps, f, g, xp):
    """P_ijl = exp((f_il + eps log a_i + g_jl + eps log b_jl - C_ij) / eps), (n, m, k)."""
    row_term = f + eps * log_weights(a, xp)[:, None]
    col_term = g + eps * log_weights(b, xp)
    if f.shape[1] == 1:
        return exp_outer_sum(row_term[:, 0], col_term[:, 0], C, 1.0 / eps, xp)[:, :, None]
    return xp.exp((row_term[:, None, :] + col_term[None, :, :] - C[:, :, None]) / eps)


def _inner(C, plan, xp):
    """(k,) Frobenius products <C, P[:, :, l]>, by one BLAS contraction."""
    if type(C) is np.ndarray and type(plan) is np.ndarray:
        # numpy.tensordot(C, plan, axes=2)'s own steps, without its checks
        k = plan.shape[2]
        return np.dot(C.reshape(1, -1), plan.reshape(-1, k)).reshape(k)
    return xp.tensordot(C, plan, axes=2)


def _envelope_terms(a, b, C, f, g, plan, xp):
    """Zero, with the gradient (plan, centred f, centred g) w.r.t. (C, a, b)."""
    sg = stop_gradient
    f_centred = f - xp.mean(f, axis=0, keepdims=True)
    g_centred = g - xp.mean(g, axis=0, keepdims=True)
    terms = _inner(C, sg(plan, xp), xp) + xp.sum(f_centred * a[:, None], axis=0)
    terms = terms + xp.sum(g_centred * b, axis=0)
    return terms - sg(terms, xp)
