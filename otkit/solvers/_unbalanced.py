r"""Unbalanced OT for ``solve``: KL marginal penalties, entropic (damped Sinkhorn, through
:mod:`otkit.unbalanced`) or exact (majorization-minimization, warm-started by ``plan_init``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._boundary import as_backend
from .._validation import check_equal_mass, check_finite, check_nonnegative_weights, mass_tolerance
from ..backend import device_of, is_numpy_namespace, is_traced, stop_gradient, to_numpy
from ..bregman._sinkhorn_loop import log_weights
from ..unbalanced import lbfgsb_unbalanced, mm_unbalanced
from ..unbalanced._mm import mm_iterations, mm_potentials, mm_unbalanced_log, unbalanced_primal
from ..unbalanced._sinkhorn import METHODS as UNBALANCED_SINKHORN_METHODS
from ..unbalanced._sinkhorn import check_reg_m, solve_unbalanced_entropic
from ..utils._result import OTResult
from ._checks import check_choice, is_regularized
from ._citations import citation_for
from ._entropic import prepare_reference
from ._progress import progress

__all__ = ["solve_unbalanced", "unbalanced_penalty"]

_SINKHORN_MAX_ITER = 1000
_SINKHORN_TOL = 1e-9
_MM_MAX_ITER = 10_000
_MM_TOL = 1e-9


def unbalanced_penalty(reach, unbalanced):
    """(rho_a, rho_b) in cost units, or None for balanced OT."""
    if reach is not None and unbalanced is not None:
        raise ValueError(
            "pass reach (rho = 2 reach^2 for a squared Euclidean cost) or unbalanced (rho in "
            "cost units), not both"
        )
    if reach is not None:
        reach_a, reach_b = check_reg_m(reach, "reach")
        return (2.0 * reach_a**2, 2.0 * reach_b**2)
    if unbalanced is not None:
        return check_reg_m(unbalanced, "unbalanced")
    return None


def _route(method, regularized, reg_type, unbalanced_type):
    """('sinkhorn' | 'mm' | 'mm_l2' | 'lbfgsb', method name), as POT's ``solve`` picks."""
    entropic = UNBALANCED_SINKHORN_METHODS + ("sinkhorn_log",)
    if method is not None:
        check_choice(method, "method", (*entropic, "mm", "lbfgsb"))
    if method == "lbfgsb":
        return "lbfgsb", method
    if regularized and reg_type in ("kl", "entropy") and unbalanced_type == "kl":
        if method == "mm":
            raise ValueError("method='mm' solves unregularized OT, but reg > 0")
        return "sinkhorn", method or "sinkhorn"
    if method in entropic:
        if not regularized:
            raise ValueError(f"method={method!r} needs reg > 0 (entropic OT), got reg=None")
        raise ValueError(
            f"method={method!r} solves KL-regularized, KL-penalized OT; reg_type="
            f"{reg_type!r} with unbalanced_type={unbalanced_type!r} runs method='lbfgsb'"
        )
    if not regularized and unbalanced_type in ("kl", "l2"):
        return ("mm" if unbalanced_type == "kl" else "mm_l2"), "mm"
    if method == "mm":
        raise ValueError(
            "method='mm' handles unbalanced_type 'KL' and 'L2' without reg; use "
            "method='lbfgsb' here"
        )
    return "lbfgsb", "lbfgsb"


def solve_unbalanced(M, a, b, eps, rho, c, reg_type, unbalanced_type, method, max_iter, tol,
                     plan_init, potentials, grad, verbose, xp):  # fmt: skip
    """Unbalanced OT on prepared arrays (``M``, ``a``, ``b`` of one library)."""
    route, method = _route(method, is_regularized(eps), reg_type, unbalanced_type)
    if not is_traced(a, b, M):
        check_finite(to_numpy(M), "M")
        check_nonnegative_weights(to_numpy(a), "a")
        check_nonnegative_weights(to_numpy(b), "b")
    # The unbalanced iterations have no separate last step: POT differentiates through all.
    grad = "autodiff" if grad == "last_step" else grad
    if route != "sinkhorn" and potentials is not None:
        raise ValueError(f"potentials_init is not used by method={method!r} (use plan_init)")
    if route in ("mm_l2", "lbfgsb"):
        return _solve_primal(M, a, b, eps, rho, c, reg_type, unbalanced_type, route, max_iter,
                             tol, plan_init, verbose)  # fmt: skip
    if route == "mm":
        if math.inf in rho:
            raise ValueError(
                f"method='mm' needs finite marginal penalties, got {rho}; for a hard "
                "constraint use reg > 0 or the balanced solver"
            )
        log_plan0 = None if plan_init is None else _log_plan_init(plan_init, M, xp)
        return _solve_mm(M, a, b, rho, max_iter, tol, log_plan0, grad, verbose, xp)
    if reg_type == "entropy" and c is not None:
        raise ValueError("c is the reference of reg_type='KL'; reg_type='entropy' uses c = 1")
    c = prepare_reference(c, M, xp, strict_positive=False)
    if rho == (math.inf, math.inf) and not is_traced(a, b):
        check_equal_mass(
            to_numpy(a),
            to_numpy(b),
            mass_tolerance(np.float64, max(M.shape)),
            remedy="normalise them or give a finite unbalanced penalty",
        )
    if potentials is None:
        f0 = xp.zeros((a.shape[0], 1), dtype=M.dtype, device=device_of(M))
    else:
        f0 = stop_gradient(potentials[0], xp)[:, None]
    budget = _SINKHORN_MAX_ITER if max_iter is None else max_iter
    tol = _SINKHORN_TOL if tol is None else tol
    with progress(verbose, budget, desc=method) as report:
        out = solve_unbalanced_entropic(
            a, b[:, None], M, eps, rho, reg_type, c, f0, budget, float(tol), xp, grad
        )
        traced = is_traced(out["f"])
        n_iter = out["n_iter"] if traced else int(out["n_iter"])
        err = out["err"] if traced else float(to_numpy(out["err"]))
        converged = (err < tol) if traced else bool(err < tol)
        status = None if traced else ("converged" if converged else "max_iter_reached")
        if not traced:
            report(n_iter, err)
        report.close(status)
    log = {"rho": rho, "reg": eps, "residual": err, "dual_value": out["dual"][0]}
    value = out["total"][0]
    if reg_type == "entropy":  # POT's entropy term is sum P log P - P (no constant n m)
        value = value - eps * float(M.shape[0] * M.shape[1])
    return OTResult(
        potentials=(out["f"][:, 0], out["g"][:, 0]),
        value=value,
        value_linear=out["linear"][0],
        plan=out["plan"][:, :, 0],
        log=log,
        status=status,
        converged=converged,
        n_iter=n_iter,
        errors=out["trace"],
        method=method,
        marginals=(out["rows"][:, 0], out["cols"][:, 0]),
        citation=citation_for("unbalanced_sinkhorn"),
    )


def _log_plan_init(plan_init, M, xp):
    """log(plan_init), -inf where it is zero (the MM updates keep those entries at zero)."""
    plan = as_backend(plan_init, xp, M.dtype, device_of(M))
    if tuple(plan.shape) != tuple(M.shape):
        raise ValueError(
            f"plan_init.shape == {tuple(plan.shape)}, expected {tuple(M.shape)} to match M"
        )
    if not is_traced(plan):
        host = to_numpy(plan)
        check_finite(host, "plan_init")
        if np.any(host < 0) or not np.any(host > 0):
            raise ValueError("plan_init must be >= 0 with some positive entries")
    return log_weights(stop_gradient(plan, xp), xp)


def _solve_mm(M, a, b, rho, max_iter, tol, log_plan0, grad, verbose, xp):
    budget = _MM_MAX_ITER if max_iter is None else max_iter
    tol = _MM_TOL if tol is None else tol
    unrolled = grad == "autodiff" and not is_numpy_namespace(xp)
    args = (a, b, M) if unrolled else tuple(stop_gradient(x, xp) for x in (a, b, M))
    with progress(verbose, budget, desc="mm") as report:
        if log_plan0 is None:
            log_plan, n_iter, err, trace = mm_unbalanced_log(
                *args, rho, budget, float(tol), xp, unrolled
            )
        else:
            log_plan, n_iter, err, trace = mm_iterations(
                *args, rho, None, None, log_plan0, "kl", "l1", budget, float(tol), xp, unrolled
            )
        traced = is_traced(log_plan)
        if not traced:
            n_iter, err = int(n_iter), float(to_numpy(err))
        converged = (err < tol) if traced else bool(err < tol)
        status = None if traced else ("converged" if converged else "max_iter_reached")
        if not traced:
            report(n_iter, err)
            if not converged:
                warnings.warn(
                    f"MM for unbalanced OT did not converge: plan change {err:.3e} >= "
                    f"tol={tol:g} after {n_iter} steps; increase max_iter",
                    UserWarning,
                    stacklevel=5,  # _solve_mm, solve_unbalanced, solve_matrix, solve
                )
        report.close(status)
    plan = xp.exp(log_plan)
    if grad == "detach":
        a, b, M = (stop_gradient(x, xp) for x in (a, b, M))
    value, value_linear = unbalanced_primal(plan, a, b, M, rho, xp)
    if grad == "envelope" and not is_numpy_namespace(xp):
        # Envelope theorem: the partial derivatives of the primal at the fixed optimal plan.
        fixed = stop_gradient(plan, xp)
        live, _ = unbalanced_primal(fixed, a, b, M, rho, xp)
        terms = live - stop_gradient(live, xp)
        value = stop_gradient(value, xp) + terms
        value_linear = stop_gradient(value_linear, xp) + terms
    detached = tuple(stop_gradient(x, xp) for x in (plan, a, b, M))
    f, g = mm_potentials(*detached, rho, xp)
    marginals = (xp.sum(detached[0], axis=1), xp.sum(detached[0], axis=0))
    return OTResult(
        potentials=(f, g),
        value=value,
        value_linear=value_linear,
        plan=plan,
        log={"rho": rho, "plan_change": err},
        status=status,
        converged=converged,
        n_iter=n_iter,
        errors=trace,
        method="mm",
        marginals=marginals,
        citation=citation_for("mm"),
    )


def _solve_primal(M, a, b, eps, rho, c, reg_type, unbalanced_type, route, max_iter, tol,
                  plan_init, verbose):  # fmt: skip
    """POT's other unbalanced solvers: MM with squared L2 penalties, or L-BFGS-B."""
    budget = 1000 if max_iter is None else max_iter  # POT's defaults in solve
    tol = 1e-12 if tol is None else tol
    if route == "mm_l2":
        plan, log = mm_unbalanced(
            a, b, M, rho, div="l2", G0=plan_init, numItermax=budget, stopThr=tol,
            verbose=verbose, log=True,
        )  # fmt: skip
        converged, n_iter, errors = log["converged"], log["n_iter"], log["err"]
        citation = citation_for("mm")
    else:
        plan, log = lbfgsb_unbalanced(
            a, b, M, 0.0 if eps is None else eps, rho, c=c, reg_div=reg_type or "kl",
            regm_div=unbalanced_type, G0=plan_init, numItermax=budget, stopThr=tol,
            verbose=verbose, log=True,
        )  # fmt: skip
        converged, n_iter, errors = bool(log["res"].success), log["n_iter"], []
        citation = citation_for("lbfgsb")
    traced = is_traced(plan)
    status = None if traced else ("converged" if converged else "max_iter_reached")
    if route == "lbfgsb" and not converged:
        status = f"failed: {log['res'].message}"  # scipy's reason (L-BFGS-B has no tol test)
    return OTResult(
        value=log["total_cost"],
        value_linear=log["cost"],
        plan=plan,
        log=log,
        status=status,
        converged=converged,
        n_iter=n_iter,
        errors=errors,
        method="mm" if route == "mm_l2" else "lbfgsb",
        citation=citation,
    )
