"""POT's entropic unbalanced entry points over the solve of :mod:`._sinkhorn`.

``sinkhorn_unbalanced``, ``sinkhorn_unbalanced2`` and the per-method names
``sinkhorn_knopp_unbalanced``, ``sinkhorn_stabilized_unbalanced`` and
``sinkhorn_unbalanced_translation_invariant``, with POT's signatures, return values and log
keys (docstrings in :mod:`._sinkhorn_docs`). Every method runs the same damped log-domain
fixed point; POT's methods differ only in how they reach it.

Iterations are counted as POT counts them: one iteration updates both potentials. The
loop of :func:`otkit.bregman._sinkhorn_loop.sinkhorn_log_loop` makes one such update before
its first counted step, so it is given ``numItermax - 1`` steps and ``log['n_iter']`` is
its count plus one.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._boundary import prepare_problem, warmstart_rows
from .._validation import check_finite, check_nonnegative_weights, nan_unless, traced_validity
from ..backend import is_jax_namespace, is_traced, stop_gradient, to_numpy
from . import _sinkhorn_docs as docs
from ._checks import (
    check_choice,
    check_iterations,
    check_matrix,
    check_reg,
    check_reg_m,
    print_trace,
)
from ._sinkhorn import (
    GRADS,
    IGNORED_OPTIONS,
    METHODS,
    REG_TYPES,
    RETURN_COSTS,
    jitted_solve,
    solve_unbalanced_entropic,
    warn_unimplemented_method,
)

__all__ = [
    "sinkhorn_knopp_unbalanced",
    "sinkhorn_stabilized_unbalanced",
    "sinkhorn_unbalanced",
    "sinkhorn_unbalanced2",
    "sinkhorn_unbalanced_translation_invariant",
]

# POT records the error at every iteration, except its stabilized method: every 10th.
_ERROR_EVERY = {"sinkhorn_stabilized": 10}


def _initial_potential(warmstart, a, b2, eps, xp, dtype, device):
    """(n, k) row potential from POT's log-scalings (log u = f / reg), zeros without one."""
    n, k = a.shape[0], b2.shape[1]
    if warmstart is None:
        return xp.zeros((n, k), dtype=dtype, device=device)
    log_u = warmstart_rows(
        warmstart, n, b2.shape[0], k, xp, dtype, device, "(log_u, log_v) of log-scalings"
    )
    f0 = eps * log_u
    return stop_gradient(xp.where(xp.isfinite(f0), f0, xp.zeros_like(f0)), xp)


def _prepare_reference(c, reg_type, xp, dtype, device, shape, traced):
    if c is None:
        return None
    if reg_type == "entropy":
        warnings.warn(
            "c is ignored: reg_type='entropy' uses the reference c = 1 (as POT)",
            UserWarning,
            stacklevel=5,
        )
        return None
    c = check_matrix(c, "c", xp, dtype, device, shape, traced)
    if not traced:
        c_host = to_numpy(c)
        if not (np.all(c_host.sum(axis=1) > 0) and np.all(c_host.sum(axis=0) > 0)):
            raise ValueError("c has a row or a column of zeros; every row and column needs mass")
    return c


def _solve(a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr, grad,
           warn, kwargs):  # fmt: skip
    method = check_choice(method, "method", METHODS)
    warn_unimplemented_method(method, ("sinkhorn_reg_scaling",), stacklevel=4)
    reg_type = check_choice(reg_type, "reg_type", REG_TYPES)
    check_choice(grad, "grad", GRADS)
    numItermax, stopThr = check_iterations(numItermax, stopThr)
    unknown = set(kwargs) - IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    eps = check_reg(reg)
    rho = check_reg_m(reg_m)
    xp, dtype, device, a, b, M, _ = prepare_problem(a, b, M, None, b_ndims=(1, 2))
    traced = is_traced(a, b, M, eps)
    if not traced:
        check_finite(to_numpy(M), "M")
        check_nonnegative_weights(to_numpy(a), "a")
        check_nonnegative_weights(to_numpy(b), "b")
    else:
        # No exception possible under tracing: invalid values make every output and
        # gradient NaN instead.
        positive = (eps,) if is_traced(eps) else ()
        valid = traced_validity(xp, finite=(M,), weights=(a, b), positive=positive)
        a, b = nan_unless(valid, (a, b), xp)  # they carry the NaN into M's gradient too
        (eps,) = nan_unless(valid, positive, xp) or (eps,)
    batched = b.ndim == 2
    if batched and reg_type == "kl" and c is None:
        # POT's convention for k histograms: the reference measure is c = 1 (its
        # 'entropy'), one kernel for every column, whatever reg_type says.
        reg_type = "entropy"
    c = _prepare_reference(c, reg_type, xp, dtype, device, M.shape, traced)
    b2 = b if batched else b[:, None]
    f0 = _initial_potential(warmstart, a, b2, eps, xp, dtype, device)
    steps = max(int(numItermax) - 1, 0)  # the loop's first update is POT's first iteration
    if is_jax_namespace(xp) and not traced:
        # Eager JAX: one compiled program for the loop and the outputs (each eager JAX
        # operation is a separate dispatch, compiled at its first use). No gradient can
        # flow out of an eager call: 'autodiff' would only run the masked, fixed-length loop.
        program_grad = "detach" if grad == "autodiff" else grad
        run = jitted_solve(rho, reg_type, steps, float(stopThr), program_grad, xp)
        out = run(a, b2, M, xp.asarray(eps, dtype=M.dtype), c, f0)
        out["n_iter"] = int(out["n_iter"])
        out["trace"] = [float(x) for x in to_numpy(out["trace"])[: out["n_iter"] + 1]]
    else:
        out = solve_unbalanced_entropic(
            a, b2, M, eps, rho, reg_type, c, f0, steps, float(stopThr), xp, grad
        )
    out["n_iter"] = out["n_iter"] + 1
    err = out["err"] if traced else float(to_numpy(out["err"]))
    converged = (err < stopThr) if traced else bool(err < stopThr)
    if not traced and not converged and warn:
        warnings.warn(
            f"unbalanced Sinkhorn did not converge: residual {err:.3e} >= stopThr={stopThr:g} "
            f"after {int(out['n_iter'])} iterations (reg={float(eps):g}, reg_m={rho}). "
            "Increase numItermax or reg.",
            UserWarning,
            stacklevel=4,
        )
    out["converged"] = converged
    out["err"] = err
    if traced:  # outputs too: steps such as ``where(a > 0, ...)`` map NaN to numbers
        keys = ("f", "g", "plan", "linear", "total", "rows", "cols")
        present = [k for k in keys if out.get(k) is not None]
        out.update(zip(present, nan_unless(valid, [out[k] for k in present], xp)))
        out["valid"] = valid
    every = _ERROR_EVERY.get(method, 1)
    out["trace"] = out["trace"][::every]
    return xp, batched, eps, a, b2, out, every


def _make_log(xp, batched, eps, a, b2, out):
    squeeze = (lambda x: x) if batched else (lambda x: x[..., 0])
    f, g = out["f"], out["g"]
    # POT's scalings (plan = u K v with K = c exp(-M / reg)): log u = f / reg, -inf where a = 0.
    log_u = xp.where(a[:, None] > 0, f / eps, xp.full_like(f, -math.inf))
    log_v = xp.where(b2 > 0, g / eps, xp.full_like(g, -math.inf))
    if out.get("valid") is not None:
        log_u, log_v = nan_unless(out["valid"], (log_u, log_v), xp)
    n_iter = out["n_iter"]
    if not is_traced(f):
        n_iter = int(n_iter)
    return {
        "f": squeeze(f),
        "g": squeeze(g),
        "logu": squeeze(log_u),
        "logv": squeeze(log_v),
        "n_iter": n_iter,
        "niter": n_iter,
        "err": out["trace"],
        "residual": out["err"],
        "converged": out["converged"],
        "cost": squeeze(out["linear"]),
        "total_cost": squeeze(out["total"]),
        "marginals": (squeeze(out["rows"]), squeeze(out["cols"])),
    }


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _run(a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr, verbose,
         log, grad, warn, kwargs, return_cost=None, return_plans=False):  # fmt: skip
    """The plan (or the k linear costs of a 2-D ``b``), or the value for ``return_cost``."""
    return_plans = _check_flag(return_plans, "return_plans")
    costs = return_cost is not None or (np.ndim(b) == 2 and not return_plans)
    if grad is None:  # the exact gradient of what is returned
        grad = "envelope" if not costs or return_cost == "total" else "autodiff"
    xp, batched, eps, a, b2, out, every = _solve(
        a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr, grad, warn,
        kwargs,
    )  # fmt: skip
    if verbose and not is_traced(out["f"]):
        print_trace(out["trace"], every)
    if return_cost == "total":
        result = out["total"]
    elif costs:
        result = out["linear"]
    else:
        result = out["plan"]
    if not batched:
        result = result[..., 0]
    return (result, _make_log(xp, batched, eps, a, b2, out)) if log else result


def sinkhorn_unbalanced(
    a,
    b,
    M,
    reg,
    reg_m,
    method="sinkhorn",
    reg_type="kl",
    c=None,
    warmstart=None,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    return_plans=False,
    grad=None,
    warn=True,
    **kwargs,
):
    return _run(a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr,
                verbose, log, grad, warn, kwargs, return_plans=return_plans)  # fmt: skip


def sinkhorn_unbalanced2(
    a,
    b,
    M,
    reg,
    reg_m,
    method="sinkhorn",
    reg_type="kl",
    c=None,
    warmstart=None,
    returnCost="linear",
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    grad=None,
    warn=True,
    **kwargs,
):
    return_cost = check_choice(returnCost, "returnCost", RETURN_COSTS)
    return _run(a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr,
                verbose, log, grad, warn, kwargs, return_cost=return_cost)  # fmt: skip


def sinkhorn_knopp_unbalanced(
    a,
    b,
    M,
    reg,
    reg_m,
    reg_type="kl",
    c=None,
    warmstart=None,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    return_plans=False,
    grad=None,
    warn=True,
    **kwargs,
):
    return _run(a, b, M, reg, reg_m, "sinkhorn", reg_type, c, warmstart, numItermax, stopThr,
                verbose, log, grad, warn, kwargs, return_plans=return_plans)  # fmt: skip


def sinkhorn_stabilized_unbalanced(
    a,
    b,
    M,
    reg,
    reg_m,
    reg_type="kl",
    c=None,
    warmstart=None,
    tau=1e5,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    return_plans=False,
    grad=None,
    warn=True,
    **kwargs,
):
    check_reg(tau, "tau", allow_traced=False)  # POT's absorption threshold: not needed here
    return _run(a, b, M, reg, reg_m, "sinkhorn_stabilized", reg_type, c, warmstart, numItermax,
                stopThr, verbose, log, grad, warn, kwargs, return_plans=return_plans)  # fmt: skip


def sinkhorn_unbalanced_translation_invariant(
    a,
    b,
    M,
    reg,
    reg_m,
    reg_type="kl",
    c=None,
    warmstart=None,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    *,
    return_plans=False,
    grad=None,
    warn=True,
    **kwargs,
):
    return _run(a, b, M, reg, reg_m, "sinkhorn_translation_invariant", reg_type, c, warmstart,
                numItermax, stopThr, verbose, log, grad, warn, kwargs,
                return_plans=return_plans)  # fmt: skip


sinkhorn_unbalanced.__doc__ = docs.plan_doc(
    "sinkhorn_unbalanced",
    "Unbalanced entropic optimal transport plan (generalized Sinkhorn, log domain).",
    with_method=True,
)
sinkhorn_unbalanced2.__doc__ = docs.value_doc()
sinkhorn_knopp_unbalanced.__doc__ = docs.plan_doc(
    "sinkhorn_knopp_unbalanced",
    "Unbalanced entropic OT plan by generalized Sinkhorn-Knopp (POT's name; log domain).",
    with_method=False,
)
sinkhorn_stabilized_unbalanced.__doc__ = docs.plan_doc(
    "sinkhorn_stabilized_unbalanced",
    "Unbalanced entropic OT plan, POT's stabilized method (the same log-domain solve).",
    with_method=False,
    tau=True,
)
sinkhorn_unbalanced_translation_invariant.__doc__ = docs.plan_doc(
    "sinkhorn_unbalanced_translation_invariant",
    "Unbalanced entropic OT plan, POT's translation-invariant method (same problem).",
    with_method=False,
    note=docs.TRANSLATION_INVARIANT,
)
