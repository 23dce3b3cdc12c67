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
:mod:`otkit._sinkhorn_loop` runs unchanged on ``M'``, stable at any ``eps``.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from .._boundary import as_backend, prepare_problem, warmstart_rows
from .._validation import check_finite, check_nonnegative_weights
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

__all__ = [
    "METHODS",
    "check_reg_m",
    "sinkhorn_unbalanced",
    "sinkhorn_unbalanced2",
    "solve_unbalanced_entropic",
]

METHODS = (
    "sinkhorn",
    "sinkhorn_stabilized",
    "sinkhorn_translation_invariant",
    "sinkhorn_reg_scaling",
)
REG_TYPES = ("kl", "entropy")
RETURN_COSTS = ("linear", "total")
GRADS = ("envelope", "autodiff", "detach")
# POT options of the individual methods that have no effect here (one stable iteration).
_IGNORED_OPTIONS = frozenset(
    {"tau", "print_period", "epsilon0", "numInnerItermax", "stopInnerThr", "scaling_factor"}
)


# --- checks -----------------------------------------------------------------------------------


def _check_reg(reg):
    if is_traced(reg):
        return reg
    try:
        value = float(reg) if isinstance(reg, (int, float)) else float(to_numpy(reg))
    except (TypeError, ValueError):
        raise TypeError(f"reg must be a positive number, got {type(reg).__name__}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"reg must be a positive finite number, got {value!r}")
    return value


def check_reg_m(reg_m, name="reg_m"):
    """``(rho_a, rho_b)`` as floats from a number or a pair; ``inf`` means a hard constraint."""
    if isinstance(reg_m, bool) or reg_m is None:
        raise TypeError(f"{name} must be a positive number or a pair of them, got {reg_m!r}")
    if isinstance(reg_m, (list, tuple)):
        items = list(reg_m)
    elif isinstance(reg_m, (int, float, np.integer, np.floating)):
        items = [reg_m]
    else:
        if is_traced(reg_m):
            raise TypeError(f"{name} must be concrete numbers (not traced by jax.jit)")
        try:
            items = np.asarray(to_numpy(reg_m)).ravel().tolist()
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a positive number or a pair of them, got {type(reg_m).__name__}"
            ) from None
    if len(items) not in (1, 2):
        raise ValueError(
            f"{name} must be a number or a pair (rho_a, rho_b), got {len(items)} values"
        )
    values = []
    for item in items:
        if is_traced(item):
            raise TypeError(f"{name} must be concrete numbers (not traced by jax.jit)")
        try:
            value = float(item) if isinstance(item, (int, float)) else float(to_numpy(item))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must hold numbers, got {type(item).__name__}") from None
        if not value > 0:  # also NaN
            raise ValueError(f"{name} must be > 0 (inf: a hard marginal constraint), got {value!r}")
        values.append(value)
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _damping(rho, eps):
    """rho / (rho + eps): the factor of each update (1 for a hard constraint)."""
    return 1.0 if rho == math.inf else rho / (rho + eps)


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value.lower()


def _check_iterations(numItermax, stopThr):
    if isinstance(numItermax, bool) or not isinstance(numItermax, (int, np.integer)):
        raise TypeError(f"numItermax must be an int, got {type(numItermax).__name__}")
    if numItermax < 0:
        raise ValueError(f"numItermax must be >= 0, got {numItermax}")
    if isinstance(stopThr, bool) or not isinstance(stopThr, (int, float)) or not stopThr >= 0:
        raise ValueError(f"stopThr must be a number >= 0, got {stopThr!r}")


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


def _kl(p, q, xp):
    """Generalized KL(p | q) = sum p log(p / q) - p + q, with 0 log 0 = 0."""
    positive = p > 0
    ratio = xp.where(positive, p, xp.ones_like(p)) / xp.where(q > 0, q, xp.ones_like(q))
    return xp.sum(xp.where(positive, p * xp.log(ratio), xp.zeros_like(p)) - p + q)


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
        total = total + rho[0] * _kl(rows, a, xp)
    if rho[1] != math.inf:
        total = total + rho[1] * _kl(cols, b_col, xp)
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
def _jitted_solve(rho, reg_type, num_iter_max, tol, grad, xp):
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


# --- public functions -------------------------------------------------------------------------


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
        raise ValueError("c is the reference of reg_type='kl'; reg_type='entropy' uses c = 1")
    c = as_backend(c, xp, dtype, device)
    if tuple(c.shape) != tuple(shape):
        raise ValueError(f"c.shape == {tuple(c.shape)}, expected {tuple(shape)} to match M")
    if not traced:
        c_host = to_numpy(c)
        check_finite(c_host, "c")
        if np.any(c_host < 0):
            raise ValueError("c has negative entries; the reference measure must be >= 0")
        if not (np.all(c_host.sum(axis=1) > 0) and np.all(c_host.sum(axis=0) > 0)):
            raise ValueError("c has a row or a column of zeros; every row and column needs mass")
    return c


def _solve(a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr, grad,
           warn, kwargs):  # fmt: skip
    method = _check_choice(method, "method", METHODS)
    reg_type = _check_choice(reg_type, "reg_type", REG_TYPES)
    _check_choice(grad, "grad", GRADS)
    _check_iterations(numItermax, stopThr)
    unknown = set(kwargs) - _IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    eps = _check_reg(reg)
    rho = check_reg_m(reg_m)
    xp, dtype, device, a, b, M, _ = prepare_problem(a, b, M, None, b_ndims=(1, 2))
    traced = is_traced(a, b, M, eps)
    if not traced:
        check_finite(to_numpy(M), "M")
        check_nonnegative_weights(to_numpy(a), "a")
        check_nonnegative_weights(to_numpy(b), "b")
    c = _prepare_reference(c, reg_type, xp, dtype, device, M.shape, traced)
    batched = b.ndim == 2
    b2 = b if batched else b[:, None]
    f0 = _initial_potential(warmstart, a, b2, eps, xp, dtype, device)
    if is_jax_namespace(xp) and not traced:
        # Eager JAX: one compiled program for the loop and the outputs (each eager JAX
        # operation is a separate dispatch, compiled at its first use).
        run = _jitted_solve(rho, reg_type, int(numItermax), float(stopThr), grad, xp)
        out = run(a, b2, M, xp.asarray(eps, dtype=M.dtype), c, f0)
        out["n_iter"] = int(out["n_iter"])
        out["trace"] = [float(x) for x in to_numpy(out["trace"])[: out["n_iter"] + 1]]
    else:
        out = solve_unbalanced_entropic(
            a, b2, M, eps, rho, reg_type, c, f0, int(numItermax), float(stopThr), xp, grad
        )
    err = out["err"] if traced else float(to_numpy(out["err"]))
    converged = (err < stopThr) if traced else bool(err < stopThr)
    if not traced and not converged and warn:
        warnings.warn(
            f"unbalanced Sinkhorn did not converge: residual {err:.3e} >= stopThr={stopThr:g} "
            f"after {int(out['n_iter'])} iterations (reg={float(eps):g}, reg_m={rho}). "
            "Increase numItermax or reg.",
            UserWarning,
            stacklevel=3,
        )
    out["converged"] = converged
    out["err"] = err
    return xp, batched, eps, a, b2, out


def _make_log(xp, batched, eps, a, b2, out):
    squeeze = (lambda x: x) if batched else (lambda x: x[..., 0])
    f, g = out["f"], out["g"]
    # POT's scalings (plan = u K v with K = c exp(-M / reg)): log u = f / reg, -inf where a = 0.
    log_u = xp.where(a[:, None] > 0, f / eps, xp.full_like(f, -math.inf))
    log_v = xp.where(b2 > 0, g / eps, xp.full_like(g, -math.inf))
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
    grad="envelope",
    warn=True,
    **kwargs,
):
    r"""Unbalanced entropic optimal transport plan (generalized Sinkhorn, log domain)."""
    del verbose  # accepted for POT compatibility; the compiled loops report when they end
    xp, batched, eps, a, b2, out = _solve(
        a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr, grad, warn,
        kwargs,
    )  # fmt: skip
    plan = out["plan"] if batched else out["plan"][:, :, 0]
    return (plan, _make_log(xp, batched, eps, a, b2, out)) if log else plan


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
    r"""Unbalanced entropic optimal transport cost (generalized Sinkhorn, log domain)."""
    del verbose
    return_cost = _check_choice(returnCost, "returnCost", RETURN_COSTS)
    if grad is None:  # the exact gradient of the value asked for
        grad = "envelope" if return_cost == "total" else "autodiff"
    xp, batched, eps, a, b2, out = _solve(
        a, b, M, reg, reg_m, method, reg_type, c, warmstart, numItermax, stopThr, grad, warn,
        kwargs,
    )  # fmt: skip
    value = out["linear"] if return_cost == "linear" else out["total"]
    value = value if batched else value[0]
    return (value, _make_log(xp, batched, eps, a, b2, out)) if log else value


_DOC_PROBLEM = r"""

    Both functions solve

    .. math::
        \gamma^\star = \arg\min_{\gamma \ge 0}\ \langle \gamma, M\rangle_F
        + \varepsilon\, \mathrm{KL}(\gamma \,\|\, c)
        + \rho_a\, \mathrm{KL}(\gamma \mathbf 1 \,\|\, a)
        + \rho_b\, \mathrm{KL}(\gamma^\top \mathbf 1 \,\|\, b),
        \qquad \varepsilon = \mathrm{reg},\ (\rho_a, \rho_b) = \mathrm{reg\_m}

    with the generalized :math:`\mathrm{KL}(p \,\|\, q) = \sum p \log(p / q) - p + q`
    (Chizat et al. 2018). ``a`` and ``b`` need not have the same mass. The solution is
    :math:`\gamma^\star_{ij} = c_{ij} \exp((f_i + g_j - M_{ij}) / \varepsilon)` where the
    potentials ``f, g`` (cost units) are the fixed point of the damped c-transforms

    .. math::
        f = \frac{\rho_a}{\rho_a + \varepsilon}\, T_b(g), \qquad
        g = \frac{\rho_b}{\rho_b + \varepsilon}\, T_a(f),

    :math:`T` being the balanced Sinkhorn update (softmin); they also maximize the dual
    :math:`\langle a, \varphi_a(f)\rangle + \langle b, \varphi_b(g)\rangle -
    \varepsilon(\langle c, e^{(f \oplus g - M)/\varepsilon}\rangle - \langle c, 1\rangle)`,
    :math:`\varphi(f) = \rho(1 - e^{-f/\rho})`. The marginals at the optimum are
    :math:`\gamma^\star \mathbf 1 = a\, e^{-f/\rho_a}`. Every method runs this iteration in
    the log domain (fused ``logsumexp``), so no scaling under- or overflows at small ``reg``.

    Parameters
    ----------
    a : (n,) array or list
        Source weights, non-negative, any total mass (empty or None: uniform).
    b : (m,) or (m, k) array or list
        Target weights, any total mass; a 2-D ``b`` solves ``k`` problems sharing ``a`` and
        ``M`` (one batched pass for ``reg_type='kl'`` without ``c``).
    M : (n, m) array
        Cost matrix, finite.
    reg : float
        Entropic regularization :math:`\varepsilon > 0`, in the units of ``M``.
    reg_m : float or pair of floats
        Marginal penalties :math:`\rho > 0` in the units of ``M``: one number for both sides
        or ``(rho_a, rho_b)``. ``float("inf")`` makes that side a hard constraint (both
        infinite: balanced entropic OT, masses must then be equal). As ``rho`` decreases the
        marginals shrink toward the geometric mean of ``a`` and ``b``.
    method : str, default='sinkhorn'
        POT's names 'sinkhorn', 'sinkhorn_stabilized', 'sinkhorn_translation_invariant' and
        'sinkhorn_reg_scaling' are accepted; all run the same log-domain iteration (they
        differ in POT only in numerical safeguards and speed, not in the solution).
    reg_type : {'kl', 'entropy'}, default='kl'
        The reference of the entropic term: 'kl' :math:`c = a \otimes b` (or the given ``c``),
        the KL form otkit uses everywhere; 'entropy' :math:`c = 1`, i.e. POT's negative
        entropy :math:`\sum \gamma \log\gamma - \gamma` up to a constant (another plan).
    c : (n, m) array, optional
        Reference measure of ``reg_type='kl'`` (non-negative, no empty row or column).
    warmstart : tuple of two arrays, optional
        POT's log-scalings ``(log_u, log_v)``, :math:`\log u = f / \varepsilon` (only the
        row part sets the start).
    numItermax : int, default=1000
        Maximum number of iterations.
    stopThr : float, default=1e-6
        Stop when the L2 norm of the fixed-point residual
        :math:`a\,(e^{(f - f_{next})/\varepsilon} - 1)` (mass units, zero at the optimum) is
        below it. (POT tests the relative change of the scalings instead.)
    verbose : bool, default=False
        Accepted for POT compatibility (use :func:`otkit.solve` with ``verbose=True`` for a
        progress bar).
    log : bool, default=False
        Also return a dict: ``f``, ``g`` (potentials, cost units), ``logu``, ``logv`` (POT's
        log-scalings), ``n_iter`` (and ``niter``), ``err`` (residual trace), ``residual``,
        ``converged``, ``cost`` (:math:`\langle\gamma, M\rangle`), ``total_cost`` (the
        objective above, penalties included) and ``marginals`` (``(gamma 1, gamma^T 1)``).
    grad : {'envelope', 'autodiff', 'detach'}
        Gradients on torch and JAX. 'envelope': the iterations run without gradient and the
        values get the gradient of the total cost at the optimum (Danskin: the partial
        derivatives of the dual at the fixed potentials), exact for ``total_cost`` and
        attached to the linear cost too (as :func:`otkit.sinkhorn2`); the plan is one
        differentiable evaluation from the fixed potentials. 'autodiff': differentiation
        through the iterations (memory grows with them). 'detach': no gradient.
    warn : bool, default=True
        Warn when ``stopThr`` is not reached.
"""

_DOC_TAIL = r"""
    Raises
    ------
    ValueError
        ``reg`` or ``reg_m`` not > 0, NaN or inf in ``M``, negative or non-finite weights,
        weights of zero mass, shapes that disagree, unknown method or reg_type.
    TypeError
        Arrays of different libraries, unexpected keyword arguments.

    Notes
    -----
    Backends: NumPy, array API libraries, torch and JAX (also under ``jax.jit``, where the
    value checks are skipped). Results keep the caller's namespace, dtype and device.
    ``reg_m`` must be concrete numbers.

    References
    ----------
    .. [1] L. Chizat, G. Peyré, B. Schmitzer, F.-X. Vialard. Scaling algorithms for
       unbalanced optimal transport problems. Math. Comp. 87(314), 2018.
    .. [2] T. Séjourné, J. Feydy, F.-X. Vialard, A. Trouvé, G. Peyré. Sinkhorn divergences
       for unbalanced optimal transport. arXiv:1910.12958, 2019.
"""

sinkhorn_unbalanced.__doc__ += (
    _DOC_PROBLEM
    + r"""
    Returns
    -------
    gamma : (n, m) array, or (n, m, k) for a 2-D ``b``
        The plan, in the namespace, dtype and device of ``M``. (For a 2-D ``b`` POT returns
        the k costs instead; use :func:`sinkhorn_unbalanced2` for them.)
    log : dict
        Only with ``log=True``.
"""
    + _DOC_TAIL
    + r"""
    Examples
    --------
    >>> import otkit as ot
    >>> G = ot.sinkhorn_unbalanced([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], 1.0, 1.0)
    >>> G.round(3)
    array([[0.322, 0.118],
           [0.118, 0.322]])
"""
)

sinkhorn_unbalanced2.__doc__ += (
    _DOC_PROBLEM.replace(
        "    warn : bool",
        "    returnCost : {'linear', 'total'}, default='linear'\n"
        "        'linear': :math:`\\langle\\gamma, M\\rangle` (POT's default); 'total': the\n"
        "        whole objective, entropic term and marginal penalties included.\n"
        "    warn : bool",
    ).replace(
        "    grad : {'envelope', 'autodiff', 'detach'}\n",
        "    grad : {'envelope', 'autodiff', 'detach'}, optional\n"
        "        Default: 'envelope' for ``returnCost='total'`` and 'autodiff' for 'linear'\n"
        "        (the exact gradient of the value returned in both cases).\n",
    )
    + r"""
    Returns
    -------
    cost : 0-d array, or (k,) for a 2-D ``b``
        In the namespace, dtype and device of ``M``; differentiable as set by ``grad``.
    log : dict
        Only with ``log=True``.
"""
    + _DOC_TAIL
    + r"""
    Examples
    --------
    >>> import otkit as ot
    >>> M = [[0.0, 1.0], [1.0, 0.0]]
    >>> round(float(ot.sinkhorn_unbalanced2([0.5, 0.1], [0.5, 0.5], M, 1.0, 1.0)), 4)
    0.196
"""
)
