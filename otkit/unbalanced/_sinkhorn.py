r"""Unbalanced entropic optimal transport on a cost matrix (POT's ``sinkhorn_unbalanced``).

The problem (Chizat, Peyré, Schmitzer, Vialard 2018; Séjourné et al. 2019) relaxes the
marginal constraints into KL penalties::

    min_{P >= 0}  <P, M> + eps KL(P | c) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b)

with the generalized ``KL(p | q) = sum p log(p / q) - p + q`` and the reference ``c = a (x) b``
(``reg_type='kl'``), ``c = 1`` (``'entropy'``) or a given matrix. Its dual is::

    max_{f, g}  <a, phi_a(f)> + <b, phi_b(g)> - eps (<c, exp((f + g - M) / eps)> - <c, 1>)

with ``phi(f) = rho (1 - exp(-f / rho))`` (``f`` for ``rho = inf``, a hard constraint) and
the plan ``P = c exp((f + g - M) / eps)``. Setting the derivative in ``f_i`` to zero gives
``a_i exp(-f_i / rho_a) = (P 1)_i``, that is ``f = rho_a / (rho_a + eps) * T(g)`` with ``T``
the balanced c-transform (softmin): each Sinkhorn update is the balanced one times a damping
factor, one per side. The reference measure enters as a change of cost,
``c_ij exp(-M_ij / eps) = a_i b_j exp(-M'_ij / eps)`` with ``M' = M - eps log(c / a (x) b)``
(``M' = M`` for ``reg_type='kl'``), so the generic log-domain loop of
:mod:`otkit.bregman._sinkhorn_loop` runs unchanged on ``M'``, stable at any ``eps``.
"""

from __future__ import annotations

import functools
import math
import warnings

from ..backend import (
    exp_outer_sum,
    is_jax_namespace,
    is_numpy_namespace,
    is_traced,
    jit,
    stop_gradient,
    to_numpy,
)
from ..bregman._sinkhorn_loop import dense_geometry, log_weights, sinkhorn_log_loop
from ..bregman._sinkhorn_loop import softmin_cols as dense_softmin_cols
from ..bregman._sinkhorn_loop import softmin_rows as dense_softmin_rows
from ._checks import check_reg_m, generalized_kl

__all__ = [
    "GRADS",
    "IGNORED_OPTIONS",
    "METHODS",
    "REG_TYPES",
    "RETURN_COSTS",
    "check_reg_m",
    "jitted_solve",
    "solve_unbalanced_entropic",
    "warn_unimplemented_method",
]

METHODS = (
    "sinkhorn",
    "sinkhorn_stabilized",
    "sinkhorn_translation_invariant",
    "sinkhorn_reg_scaling",
)
REG_TYPES = ("kl", "entropy")


def warn_unimplemented_method(method: str, unimplemented: tuple, stacklevel: int) -> None:
    """POT's warning for a method name it accepts without implementing it (POT then runs
    its classic Sinkhorn-Knopp; otkit runs its one log-domain iteration, same solution)."""
    if method in unimplemented:
        warnings.warn(
            f"method={method!r} is not implemented (as in POT): running otkit's log-domain "
            "Sinkhorn iteration, which reaches the same solution",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


RETURN_COSTS = ("linear", "total")
GRADS = ("envelope", "autodiff", "detach")
# POT options of the individual methods that have no effect here (one stable iteration).
IGNORED_OPTIONS = frozenset(
    {"tau", "print_period", "epsilon0", "numInnerItermax", "stopInnerThr", "scaling_factor"}
)


def _damping(rho, eps):
    """rho / (rho + eps): the factor of each update (1 for a hard constraint)."""
    return 1.0 if rho == math.inf else rho / (rho + eps)


# --- the solve --------------------------------------------------------------------------------


def _damped_softmins(lam_a, lam_b):
    """The dense c-transforms times the damping of their side (rows: a, columns: b)."""

    def rows(geometry, g, log_b, eps, xp):
        return lam_a * dense_softmin_rows(geometry, g, log_b, eps, xp)

    def cols(geometry, f, log_a, eps, xp):
        return lam_b * dense_softmin_cols(geometry, f, log_a, eps, xp)

    return rows, cols


def _loop(a, b, C, eps, lam_a, lam_b, f0, num_iter_max, tol, xp, unrolled):
    rows, cols = _damped_softmins(lam_a, lam_b)
    return sinkhorn_log_loop(
        a, b, dense_geometry(C, eps, xp), eps, f0, num_iter_max, tol, xp, unrolled,
        softmin_rows=rows, softmin_cols=cols,
    )  # fmt: skip


@functools.lru_cache(maxsize=32)
def _jitted_loop(num_iter_max, tol, xp):
    """The loop compiled once per (numItermax, stopThr) for eager JAX input (reg and the
    damping factors are arguments: new values do not recompile)."""

    def run(a, b, C, eps, lam_a, lam_b, f0):
        return _loop(a, b, C, eps, lam_a, lam_b, f0, num_iter_max, tol, xp, False)

    return jit(run, xp)


def _run(a, b, C, eps, lams, f0, num_iter_max, tol, xp, unrolled):
    """One loop on (a, b (m, k), C); returns f, g, n_iter, err, trace."""
    if is_jax_namespace(xp) and not is_traced(a, b, C, f0, eps):
        as_array = functools.partial(xp.asarray, dtype=C.dtype)
        run = _jitted_loop(num_iter_max, tol, xp)
        f, g, n_iter, err, trace = run(a, b, C, as_array(eps), *map(as_array, lams), f0)
        n_iter = int(n_iter)
        return f, g, n_iter, err, [float(x) for x in to_numpy(trace)[: n_iter + 1]]
    return _loop(a, b, C, eps, *lams, f0, num_iter_max, tol, xp, unrolled)


def _positive_log(w, xp):
    """log(w) where w > 0, 0 elsewhere (the rows and columns of zero weight carry no mass)."""
    positive = w > 0
    return xp.where(positive, xp.log(xp.where(positive, w, xp.ones_like(w))), xp.zeros_like(w))


def _effective_cost(M, a, b_col, eps, reg_type, c, xp):
    """M' = M - eps log(c / a (x) b): the cost seen by the loop (weights a, b)."""
    if c is None and reg_type == "kl":
        return M
    shift = eps * (_positive_log(a, xp)[:, None] + _positive_log(b_col, xp)[None, :])
    if c is None:  # 'entropy': c = 1
        return M + shift
    positive = c > 0
    log_c = xp.where(positive, xp.log(xp.where(positive, c, xp.ones_like(c))), -xp.inf)
    return M - eps * log_c + shift


def _reference_mass(a, b_col, reg_type, c, xp):
    if c is not None:
        return xp.sum(c)
    if reg_type == "kl":
        return xp.sum(a) * xp.sum(b_col)
    return xp.asarray(float(a.shape[0] * b_col.shape[0]), dtype=a.dtype)


def _phi(f, rho, xp):
    return f if rho == math.inf else rho * (1.0 - xp.exp(-f / rho))


def _column_outputs(a, b_col, M, Mp, c_mass, eps, rho, f, g, xp):
    """Plan, marginals, linear value, primal (total) value and dual value of one problem."""
    row_term = f + eps * log_weights(a, xp)
    col_term = g + eps * log_weights(b_col, xp)
    plan = exp_outer_sum(row_term, col_term, Mp, 1.0 / eps, xp)
    rows, cols = xp.sum(plan, axis=1), xp.sum(plan, axis=0)
    mass_term = eps * (xp.sum(rows) - c_mass)
    linear = xp.sum(M * plan)
    # <P, M> + eps KL(P | c) = <f, P 1> + <g, P^T 1> - eps (mass(P) - mass(c)), since
    # log(P / c) = (f + g - M) / eps on the support.
    total = xp.sum(f * rows) + xp.sum(g * cols) - mass_term
    if rho[0] != math.inf:
        total = total + rho[0] * generalized_kl(rows, a, xp)
    if rho[1] != math.inf:
        total = total + rho[1] * generalized_kl(cols, b_col, xp)
    dual = xp.sum(a * _phi(f, rho[0], xp)) + xp.sum(b_col * _phi(g, rho[1], xp)) - mass_term
    return plan, rows, cols, linear, total, dual


def solve_unbalanced_entropic(a, b2, M, eps, rho, reg_type, c, f0, num_iter_max, tol, xp, grad):
    """Solve the k problems (a, b2[:, l], M) on prepared arrays; returns a dict of outputs.

    ``grad``: 'autodiff' differentiates through the iterations; 'envelope' attaches the
    gradient of the total value at the optimum (the partial derivatives of the dual
    objective at the fixed potentials, Danskin) to both values; 'detach' none.
    """
    unrolled = grad == "autodiff"
    live = (a, b2, M, c)
    solve_args = (
        live if unrolled else tuple(None if x is None else stop_gradient(x, xp) for x in live)
    )
    a_s, b_s, M_s, c_s = solve_args
    lams = (_damping(rho[0], eps), _damping(rho[1], eps))
    k = b2.shape[1]
    shared = c is None and reg_type == "kl"  # one cost for every column: one batched loop
    if shared:
        runs = [_run(a_s, b_s, M_s, eps, lams, f0, num_iter_max, tol, xp, unrolled)]
    else:  # the cost M' depends on the column: one loop each
        runs = []
        for col in range(k):
            cost = _effective_cost(M_s, a_s, b_s[:, col], eps, reg_type, c_s, xp)
            column = slice(col, col + 1)
            runs.append(
                _run(a_s, b_s[:, column], cost, eps, lams, f0[:, column], num_iter_max, tol, xp,
                     unrolled)
            )  # fmt: skip
    f = xp.concat([r[0] for r in runs], axis=1)
    g = xp.concat([r[1] for r in runs], axis=1)
    n_iter, err, trace = _merge_runs(runs, xp)
    if not unrolled:
        f, g = stop_gradient(f, xp), stop_gradient(g, xp)
    if grad == "detach":
        a, b2, M, c = solve_args
    columns = []
    for l in range(k):
        b_col = b2[:, l]
        Mp = _effective_cost(M, a, b_col, eps, reg_type, c, xp)
        c_mass = _reference_mass(a, b_col, reg_type, c, xp)
        columns.append(_column_outputs(a, b_col, M, Mp, c_mass, eps, rho, f[:, l], g[:, l], xp))
    # One column: a view (an n x m copy of the plan costs as much as building it).
    plan, rows, cols, linear, total, dual = (
        xp.expand_dims(columns[0][i], axis=-1)
        if k == 1
        else xp.stack([col[i] for col in columns], axis=-1)
        for i in range(6)
    )
    if grad == "envelope" and not is_numpy_namespace(xp):  # NumPy has no autodiff
        terms = dual - stop_gradient(dual, xp)
        linear = stop_gradient(linear, xp) + terms
        total = stop_gradient(total, xp) + terms
    return {
        "plan": plan,
        "f": f,
        "g": g,
        "rows": stop_gradient(rows, xp),
        "cols": stop_gradient(cols, xp),
        "linear": linear,
        "total": total,
        "dual": stop_gradient(dual, xp),
        "n_iter": n_iter,
        "err": err,
        "trace": trace,
    }


@functools.lru_cache(maxsize=32)
def jitted_solve(rho, reg_type, num_iter_max, tol, grad, xp):
    def run(a, b2, M, eps, c, f0):
        return solve_unbalanced_entropic(
            a, b2, M, eps, rho, reg_type, c, f0, num_iter_max, tol, xp, grad
        )

    return jit(run, xp)


def _merge_runs(runs, xp):
    """n_iter, error and trace of the k columns (the worst of them)."""
    if len(runs) == 1:
        return runs[0][2], runs[0][3], runs[0][4]
    n_iter = functools.reduce(lambda x, y: xp.maximum(x, y) if is_traced(x, y) else max(x, y),
                              [r[2] for r in runs])  # fmt: skip
    err = xp.max(xp.stack([r[3] for r in runs]))
    traces = [r[4] for r in runs]
    if isinstance(traces[0], list):
        longest = max(len(t) for t in traces)
        padded = [list(t) + [t[-1]] * (longest - len(t)) for t in traces]
        return n_iter, err, [max(values) for values in zip(*padded)]
    return n_iter, err, xp.max(xp.stack(traces), axis=0)
