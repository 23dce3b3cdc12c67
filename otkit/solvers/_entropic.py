r"""Balanced entropic OT for ``solve``: the reference measure ``c``, POT's ``reg_type``
values and ``grad='last_step'``.

A reference :math:`c` changes the cost seen by Sinkhorn: with
:math:`M' = M - \varepsilon \log c + \varepsilon(\log a \oplus \log b)`,

.. math::
    \langle P, M'\rangle + \varepsilon\,\mathrm{KL}(P \,\|\, a \otimes b)
    = \langle P, M\rangle + \varepsilon\,\mathrm{KL}(P \,\|\, c)
    + \varepsilon\,(\textstyle\sum a \sum b - \sum c)

for every :math:`P \in \Pi(a, b)` (generalized KL), so :func:`otkit.sinkhorn` on :math:`M'`
gives the plan, and its value shifted by the constant gives the objective, with the gradients
of whatever ``grad`` attaches to :math:`M'` carried back to ``M``, ``a``, ``b`` and ``c``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._boundary import as_backend
from .._validation import check_finite
from ..backend import (
    device_of,
    get_namespace,
    is_traced,
    logsumexp,
    stop_gradient,
    to_numpy,
)
from ..bregman._sinkhorn import sinkhorn
from ..bregman._sinkhorn_loop import log_weights
from ..utils._result import OTResult
from ._checks import concrete
from ._citations import citation_for
from ._progress import progress

__all__ = ["entropy_shift", "prepare_reference", "solve_entropic", "xlogx_sum"]

_SINKHORN_MAX_ITER = 1000
_SINKHORN_TOL = 1e-9


def prepare_reference(c, M, xp, strict_positive: bool):
    """``c`` as an (n, m) array of M's library: finite, >= 0, every row and column with mass
    (and > 0 everywhere when ``strict_positive``: the balanced solvers work on log c)."""
    if c is None:
        return None
    c = as_backend(c, xp, M.dtype, device_of(M))
    if tuple(c.shape) != tuple(M.shape):
        raise ValueError(f"c.shape == {tuple(c.shape)}, expected {tuple(M.shape)} to match M")
    if is_traced(c):
        return c
    host = to_numpy(c)
    check_finite(host, "c")
    if np.any(host < 0):
        raise ValueError("c has negative entries; the reference measure must be >= 0")
    if strict_positive and np.any(host == 0):
        raise ValueError(
            "c has zero entries; balanced entropic OT needs a reference c > 0 (a zero forbids "
            "transport, which a large cost in M expresses instead)"
        )
    if not (np.all(host.sum(axis=1) > 0) and np.all(host.sum(axis=0) > 0)):
        raise ValueError("c has a row or a column of zeros; every row and column needs mass")
    return c


def xlogx_sum(w, xp):
    """sum w log w, with 0 log 0 = 0."""
    positive = w > 0
    safe = xp.where(positive, w, xp.ones_like(w))
    return xp.sum(xp.where(positive, w * xp.log(safe), xp.zeros_like(w)))


def entropy_shift(a, b, eps, xp):
    r"""POT's 'entropy' value minus the KL value, for any plan of :math:`\Pi(a, b)`.

    :math:`\sum P\log P = \mathrm{KL}(P\,\|\,a\otimes b) + \sum a\log a + \sum b\log b
    + \sum a\sum b - \sum a` when :math:`P\mathbf 1 = a`, :math:`P^\top\mathbf 1 = b`.
    """
    mass_a = xp.sum(a)
    return eps * (xlogx_sum(a, xp) + xlogx_sum(b, xp) - mass_a * xp.sum(b) + mass_a)


def _positive_log(w, xp):
    """log w where w > 0, 0 elsewhere (rows and columns of zero weight carry no mass)."""
    positive = w > 0
    return xp.where(positive, xp.log(xp.where(positive, w, xp.ones_like(w))), xp.zeros_like(w))


def _cost_with_reference(M, a, b, c, eps, xp):
    """M' = M - eps log c + eps (log a + log b) (see the module docstring)."""
    shift = _positive_log(a, xp)[:, None] + _positive_log(b, xp)[None, :]
    return M - eps * xp.log(c) + eps * shift


def solve_entropic(M, a, b, eps, c, reg_type, method, max_iter, tol, potentials, grad, verbose):
    """Balanced entropic OT on prepared arrays; an OTResult in the units of ``M``."""
    xp = get_namespace(M=M)
    M_run = M if c is None else _cost_with_reference(M, a, b, c, eps, xp)
    if grad == "last_step":
        return _last_step_solve(M, M_run, a, b, eps, c, reg_type, method, max_iter, tol,
                                potentials, verbose, xp)  # fmt: skip
    options = {}
    if max_iter is not None:
        options["numItermax"] = max_iter
    if tol is not None:
        options["stopThr"] = tol
    if potentials is not None:
        options.update(warmstart=potentials, warmstart_type="potentials")
    budget = _SINKHORN_MAX_ITER if max_iter is None else max_iter
    # 'envelope' asks for the envelope gradient of the regularized ``value``; sinkhorn's
    # 'implicit' attaches it to ``reg_value`` and gives ``value_linear`` (and the plan) the
    # implicit gradient at the fixed point, the gradient of that value.
    sinkhorn_grad = "implicit" if grad == "envelope" else grad
    with progress(verbose, budget, desc=method) as report:
        plan, log = sinkhorn(
            a, b, M_run, eps, method=method, log=True, grad=sinkhorn_grad,
            verbose=report if verbose else False, **options,
        )  # fmt: skip
        converged, n_iter = concrete(log["converged"]), concrete(log["n_iter"])
        status = None if converged is None else ("converged" if converged else "max_iter_reached")
        if n_iter is not None:
            report(n_iter, log["marginal_error"])
        report.close(status)
    value, value_linear = log["reg_value"], log["cost"]
    if c is not None:
        value = value + eps * (xp.sum(c) - xp.sum(a) * xp.sum(b))
        value_linear = xp.sum(plan * M)
    if reg_type == "entropy":
        value = value + entropy_shift(a, b, eps, xp)
    if grad == "detach":  # the shifts above are computed from the live inputs
        value, value_linear = stop_gradient(value, xp), stop_gradient(value_linear, xp)
    return OTResult(
        potentials=(log["f"], log["g"]),
        value=value,
        value_linear=value_linear,
        plan=plan,
        log=log,
        status=status,
        converged=log["converged"],
        n_iter=log["n_iter"],
        errors=log["err"],
        method=method,
        citation=citation_for(method),
    )


def _last_step_solve(M, M_run, a, b, eps, c, reg_type, method, max_iter, tol, potentials,
                     verbose, xp):  # fmt: skip
    r"""POT's ``grad='last_step'``: ``max_iter - 1`` iterations on detached inputs, then one
    differentiable iteration (both potentials updated from the previous ones)."""
    if max_iter == 0:
        raise ValueError("grad='last_step' needs max_iter >= 1 (the last iteration is one)")
    budget = (_SINKHORN_MAX_ITER if max_iter is None else max_iter) - 1
    tol = _SINKHORN_TOL if tol is None else tol
    M_d, a_d, b_d = (stop_gradient(x, xp) for x in (M_run, a, b))
    log = {"err": [], "n_iter": 0}
    with progress(verbose, budget + 1, desc=method) as report:
        if budget > 0:
            options = {} if potentials is None else {"warmstart": potentials}
            _, log = sinkhorn(
                a_d, b_d, M_d, eps, method=method, numItermax=budget, stopThr=tol, log=True,
                grad="detach", warn=False, warmstart_type="potentials",
                verbose=report if verbose else False, **options,
            )  # fmt: skip
            f, g = log["f"], log["g"]
        elif potentials is not None:
            f, g = potentials
        else:
            f = xp.zeros((M.shape[0],), dtype=M.dtype, device=device_of(M))
            g = xp.zeros((M.shape[1],), dtype=M.dtype, device=device_of(M))
        f, g = stop_gradient(f, xp), stop_gradient(g, xp)
        # The last iteration, both scalings from the previous (detached) ones, as POT:
        # only M and, through the weights of the plan, a and b carry gradients.
        log_a, log_b = log_weights(a, xp), log_weights(b, xp)
        log_u = stop_gradient(f / eps + log_a, xp)
        log_v = stop_gradient(g / eps + log_b, xp)
        f_new = -eps * logsumexp(log_v[None, :] - M_run / eps, axis=1, xp=xp)
        g_new = -eps * logsumexp(log_u[:, None] - M_run / eps, axis=0, xp=xp)
        log_plan = log_a[:, None] + log_b[None, :] + (f_new[:, None] + g_new[None, :] - M_run) / eps
        plan = xp.exp(log_plan)
        rows, cols = xp.sum(plan, axis=1), xp.sum(plan, axis=0)
        error = xp.sqrt(xp.sum((rows - a) ** 2)) + xp.sqrt(xp.sum((cols - b) ** 2))
        n_iter = log["n_iter"] + 1
        traced = is_traced(error)
        error_value = stop_gradient(error, xp) if traced else float(to_numpy(error))
        converged = (error_value < tol) if traced else bool(error_value < tol)
        status = None if traced else ("converged" if converged else "max_iter_reached")
        if not traced:
            report(int(n_iter), error_value)
        report.close(status)
    if not traced and not converged:
        warnings.warn(
            f"Sinkhorn did not converge: marginal error {error_value:.3e} >= tol={tol:g} after "
            f"{int(n_iter)} iterations (grad='last_step'); increase max_iter or reg",
            UserWarning,
            stacklevel=5,  # _last_step_solve, solve_entropic, solve_matrix, solve
        )
    value, value_linear = _last_step_values(plan, log_plan, M, a, b, c, eps, reg_type, xp)
    errors = log["err"]
    if isinstance(errors, list):
        errors = [*errors, error_value]
    out_log = {**log, "f": f_new, "g": g_new, "marginal_error": error_value, "n_iter": n_iter}
    return OTResult(
        potentials=(f_new, g_new),
        value=value,
        value_linear=value_linear,
        plan=plan,
        log=out_log,
        status=status,
        converged=converged,
        n_iter=n_iter,
        errors=errors,
        method=method,
        citation=citation_for(method),
    )


def _last_step_values(plan, log_plan, M, a, b, c, eps, reg_type, xp):
    r"""POT's values under 'last_step': only the plan carries gradients (``M``, ``a``, ``b``
    and ``c`` enter the objective as constants), so that the gradients equal POT's.

    KL: :math:`\langle P, M\rangle + \varepsilon(\sum P \log(P / c) - \sum P + \sum c)`, the
    mass terms as constants (POT's value has no mass term; at convergence they cancel).
    'entropy': :math:`\langle P, M\rangle + \varepsilon \sum P \log P`.
    """
    M_d = stop_gradient(M, xp)
    value_linear = xp.sum(plan * M_d)
    positive = plan > 0
    safe_log_plan = xp.where(positive, log_plan, xp.zeros_like(log_plan))
    if reg_type == "entropy":
        return value_linear + eps * xp.sum(plan * safe_log_plan), value_linear
    if c is None:
        a_d, b_d = stop_gradient(a, xp), stop_gradient(b, xp)
        log_ref = _positive_log(a_d, xp)[:, None] + _positive_log(b_d, xp)[None, :]
        reference_mass = xp.sum(a_d) * xp.sum(b_d)
    else:
        c_d = stop_gradient(c, xp)
        log_ref, reference_mass = xp.log(c_d), xp.sum(c_d)
    kl = xp.sum(plan * (safe_log_plan - log_ref))
    mass = reference_mass - stop_gradient(xp.sum(plan), xp)
    return value_linear + eps * kl + eps * mass, value_linear
