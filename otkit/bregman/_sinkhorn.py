"""Entropic optimal transport on a cost matrix: ``sinkhorn`` and ``sinkhorn2``."""

from __future__ import annotations

import numpy as np

from .._boundary import input_float_dtype, prepare_problem, warmstart_rows
from .._validation import (
    balance_low_precision_masses,
    check_choice,
    check_integer,
    check_real,
    check_transport_values,
    downcast_low_precision,
    low_precision_eps,
    mass_tolerance,
    nan_unless,
    traced_validity,
    upcast_low_precision,
)
from ..backend import is_numpy_namespace, is_traced, stop_gradient, to_numpy
from ..utils._warnings import warn_collectable
from ._initializers import initial_potentials
from ._sinkhorn_loop import log_weights
from ._sinkhorn_solve import METHODS, build_outputs, solve_potentials

__all__ = ["sinkhorn", "sinkhorn2"]

GRADS = ("implicit", "envelope", "autodiff", "detach")
ACCELERATIONS = (None, "overrelax")
WARMSTART_TYPES = ("log_scalings", "alpha_beta", "potentials")
# POT reads ``warmstart`` as (log u, log v) for these methods and as the absorbed potentials
# (alpha, beta) = reg * (log u, log v) for sinkhorn_stabilized and sinkhorn_epsilon_scaling.
_ALPHA_BETA_METHODS = ("sinkhorn_stabilized", "sinkhorn_epsilon_scaling")
# POT options that have no effect here (every method is already stabilized).
_IGNORED_OPTIONS = frozenset({"tau", "print_period", "verbose_inner", "log_inner"})
_OPTIONS = frozenset({"epsilon0", "numInnerItermax", "stopInnerThr", "scaling_factor"})


def _check_reg(reg):
    """``reg`` as a float > 0 (finite); a JAX tracer passes as is."""
    return check_real(reg, "reg", minimum=0, inclusive=(False, True))


def _check_acceleration(acceleration, omega, method):
    """The loop's relaxation factor: 1 (none), None (adaptive) or the given ``omega``."""
    if acceleration not in ACCELERATIONS:
        raise ValueError(f"acceleration must be None or 'overrelax', got {acceleration!r}")
    if acceleration is None:
        if omega is not None:
            raise ValueError("omega is the factor of acceleration='overrelax'; pass both")
        return 1.0
    if method == "greenkhorn":
        raise ValueError("acceleration='overrelax' does not apply to method='greenkhorn'")
    if omega is None:
        return None
    return check_real(omega, "omega", minimum=1, maximum=2, inclusive=(True, False))


def check_method(method):
    """The method name in lower case (POT's names are case-insensitive)."""
    return check_choice(method, "method", METHODS)


def pot_warmstart_type(method):
    """How POT's function for ``method`` reads ``warmstart``: 'log_scalings' or 'alpha_beta'."""
    return "alpha_beta" if method in _ALPHA_BETA_METHODS else "log_scalings"


def _check_options(numItermax, stopThr, grad, warmstart_type, kwargs):
    """``(numItermax, stopThr)`` as ``(int >= 0, float >= 0)``; the other options checked."""
    numItermax = check_integer(numItermax, "numItermax", allow_traced=False)
    stopThr = check_real(stopThr, "stopThr", minimum=0, allow_traced=False)
    if grad not in GRADS:
        raise ValueError(f"grad must be one of {', '.join(map(repr, GRADS))}; got {grad!r}")
    if warmstart_type not in WARMSTART_TYPES:
        raise ValueError(
            "warmstart_type must be 'log_scalings' (POT's log u, log v), 'alpha_beta' (POT's "
            f"reg * (log u, log v)) or 'potentials' (f, g in cost units); got {warmstart_type!r}"
        )
    unknown = set(kwargs) - _OPTIONS - _IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return numItermax, stopThr


def _initial_potential(warmstart, warmstart_type, a, b, eps, xp, dtype, device):
    """(n, k) row potential from the warm start (zeros without one)."""
    n, k = a.shape[0], b.shape[1]
    if warmstart is None:
        if type(a) is np.ndarray:  # NumPy's own zeros: what xp.zeros gives, in one call
            return np.zeros((n, k), dtype=dtype)
        return xp.zeros((n, k), dtype=dtype, device=device)
    first = warmstart_rows(
        warmstart, n, b.shape[0], k, xp, dtype, device, "(log_u, log_v) or (f, g)"
    )
    if not is_traced(first, a):
        # NaN would give a NaN plan reported as "did not converge"; -inf in log u (u = 0)
        # would lose mass for good: both are errors naming the warm start. Rows of zero
        # weight are not read (their log u is -inf in log["warmstart"]).
        values = to_numpy(first)[to_numpy(a) > 0]
        if not np.all(np.isfinite(values)):
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            raise ValueError(
                f"warmstart contains {bad} NaN or infinite value(s) in its first array (rows "
                "of positive weight); a warm start must be finite there (warmstart=None: a "
                "cold start)"
            )
    if warmstart_type == "potentials":
        f0 = first
    else:  # POT's log-scalings: log u = log a + f / eps, and alpha = eps * log u
        log_a = log_weights(a, xp)[:, None]
        log_u = first if warmstart_type == "log_scalings" else first / eps
        with np.errstate(invalid="ignore"):  # -inf - -inf on rows of zero weight
            f0 = xp.where(a[:, None] > 0, eps * (log_u - log_a), xp.zeros_like(first))
    return stop_gradient(f0, xp)


def _start_from(init, warmstart, a, b, M, reg, kwargs):
    """``(warmstart, kwargs)`` with the potentials of the initializer ``init`` as the start."""
    if init is None:
        return warmstart, kwargs
    if warmstart is not None:
        raise ValueError("pass init (an initializer) or warmstart (a pair of arrays), not both")
    if kwargs.get("warmstart_type") not in (None, "potentials"):
        raise ValueError("init gives potentials: warmstart_type must be left out with init")
    start = initial_potentials(init, a, b, M, reg, rows_only=True)  # g is not read
    return start, {**kwargs, "warmstart_type": "potentials"}


def _validate_values(a, b, M, input_dtype, check_marginals):
    M = to_numpy(M)
    check_transport_values(
        to_numpy(a), to_numpy(b), M, input_dtype, check_marginals, _finite_by_product(M)
    )


def _finite_by_product(M):
    """True when the row sums of ``M`` (one BLAS product: one read of ``M``, no temporary)
    are finite, which proves every entry finite (NaN and inf propagate through the sums);
    False leaves the proof to the full check (NaN, inf, or finite sums that overflow)."""
    if M.ndim != 2 or M.dtype not in (np.float64, np.float32):
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(M @ np.ones(M.shape[1], dtype=M.dtype)).all())


def _nan_if_invalid(a, b, M, eps, check_marginals, xp):
    """Traced inputs (no exception possible): ``(a, b, M, eps, valid)`` with the weights (and
    a traced ``eps``) all NaN when a check of :func:`_validate_values` or of ``reg`` fails,
    so that every gradient is NaN; the caller poisons the outputs with ``valid`` too (steps
    such as ``where(a > 0, ...)`` map NaN to numbers)."""
    rtol = mass_tolerance(input_float_dtype(a, b, M), max(M.shape))
    valid = traced_validity(
        xp,
        finite=(M,),
        weights=(a, b),
        positive=(eps,) if is_traced(eps) else (),
        same_mass=(a, b, rtol) if check_marginals else None,
    )
    # The weights carry the NaN into every output and gradient (M's included, through the
    # plan); poisoning M too would cost a pass over it.
    a, b = nan_unless(valid, (a, b), xp)
    if is_traced(eps):
        (eps,) = nan_unless(valid, (eps,), xp)
    return a, b, M, eps, valid


def _solve(
    a,
    b,
    M,
    reg,
    method,
    numItermax,
    stopThr,
    verbose,
    warn,
    warmstart,
    grad,
    kw,
    plan_only=False,
    batched_plans=False,
    need_log=True,
):
    """Solve; ``plan_only``: skip the values, unless b is 2-D without ``batched_plans`` (the
    caller then returns POT's k costs); without ``need_log`` the regularized value and the
    marginals (read by the log only) are None."""
    method = check_method(method)
    warmstart_type = kw.pop("warmstart_type", None) or pot_warmstart_type(method)
    check_marginals = kw.pop("check_marginals", True)
    omega = _check_acceleration(kw.pop("acceleration", None), kw.pop("omega", None), method)
    numItermax, stopThr = _check_options(numItermax, stopThr, grad, warmstart_type, kw)
    eps = _check_reg(reg)
    xp, dtype, device, a, b, M, _ = prepare_problem(a, b, M, None, b_ndims=(1, 2))
    traced = is_traced(a, b, M, eps)
    valid = None
    if not traced:
        _validate_values(a, b, M, input_float_dtype(a, b, M), check_marginals)
    else:
        a, b, M, eps, valid = _nan_if_invalid(a, b, M, eps, check_marginals, xp)
    batched = b.ndim == 2
    plan_only = plan_only and (batched_plans or not batched)
    b2 = b if batched else b[:, None]
    f0 = _initial_potential(warmstart, warmstart_type, a, b2, eps, xp, dtype, device)
    unrolled = grad == "autodiff"
    if unrolled:
        args = (a, b2, M)
    else:
        args = tuple(stop_gradient(x, xp) for x in (a, b2, M))
    # NumPy reads the potentials only for the log: without it, the host engines skip their
    # values on bins of zero weight (c-transforms over the support)
    complete = need_log or not is_numpy_namespace(xp)
    engine, out = solve_potentials(
        *args, eps, f0, method, int(numItermax), float(stopThr), xp, unrolled, verbose, kw, omega,
        complete=complete,
    )  # fmt: skip
    if unrolled and engine != "generic":
        raise ValueError(
            f"grad='autodiff' needs a differentiable solver: method={method!r} on this input "
            "runs on the host; use grad='implicit' (the default)"
        )
    if not (plan_only or need_log) and out.get("linear_costs") is not None:
        # only the k linear costs are read (NumPy, no gradient): those of the batched engine,
        # without the k plans' n m exponentials each
        plan, value_reg, out["row_sums"], out["col_sums"] = None, None, None, None
        value_linear = xp.astype(xp.asarray(out["linear_costs"]()), dtype)
        f, g = out["f"], out["g"]
    else:
        plan, value_linear, value_reg, f, g, out["row_sums"], out["col_sums"] = build_outputs(
            a, b2, M, eps, out["f"], out["g"], out["plan"], xp, dtype, device, grad, plan_only,
            marginals=need_log,
        )  # fmt: skip
    if valid is not None:
        plan, value_linear, value_reg, f, g = nan_unless(
            valid, (plan, value_linear, value_reg, f, g), xp
        )
    err = out["err"] if traced else float(to_numpy(out["err"]))
    converged = (err < stopThr) if traced else bool(err < stopThr)
    if not traced and not converged and warn:
        warn_collectable(
            f"Sinkhorn did not converge: marginal error {float(err):.3e} >= stopThr={stopThr:g} "
            f"after {int(out['n_iter'])} iterations (method={method!r}, reg={float(eps):g}). "
            "Increase numItermax or reg"
            + (
                ""
                if method == "sinkhorn_epsilon_scaling"
                else ", or use method='sinkhorn_epsilon_scaling'"
            )
            + ".",
            UserWarning,
            stacklevel=3,
        )
    return xp, batched, eps, plan, value_linear, value_reg, f, g, out, converged, a, b2, method


def _make_log(xp, batched, eps, plan, value_linear, value_reg, f, g, out, converged, a, b2, method):
    squeeze = (lambda x: x) if batched else (lambda x: x[..., 0])
    log_u = f / eps + log_weights(a, xp)[:, None]
    log_v = g / eps + log_weights(b2, xp)
    a_sg, b_sg = stop_gradient(a, xp), stop_gradient(b2, xp)
    row_error = out["row_sums"] - a_sg[:, None]
    col_error = out["col_sums"] - b_sg
    marginal_error = xp.sqrt(xp.sum(row_error * row_error)) + xp.sqrt(xp.sum(col_error**2))
    trace = out["trace"]
    n_iter = out["n_iter"]
    if not is_traced(plan):
        marginal_error = float(marginal_error)
        n_iter = int(n_iter)
    with np.errstate(over="ignore"):  # documented: the scalings overflow at small reg
        u, v = xp.exp(log_u), xp.exp(log_v)
    log_u, log_v = squeeze(log_u), squeeze(log_v)
    alpha, beta = eps * log_u, eps * log_v
    pot_pair = (alpha, beta) if pot_warmstart_type(method) == "alpha_beta" else (log_u, log_v)
    return {
        "f": squeeze(f),
        "g": squeeze(g),
        "log_u": log_u,
        "log_v": log_v,
        "logu": log_u,
        "logv": log_v,
        "alpha": alpha,
        "beta": beta,
        "warmstart": pot_pair,
        "u": squeeze(u),
        "v": squeeze(v),
        "n_iter": n_iter,
        "niter": n_iter,
        "err": trace,
        "marginal_error": marginal_error,
        "converged": converged,
        "cost": squeeze(value_linear),
        "reg_value": squeeze(value_reg),
    }


_DOC_PROBLEM_AND_PARAMETERS = r"""

    Both functions solve the entropic OT problem

    .. math::
        \gamma^\star = \arg\min_{\gamma \mathbf 1 = a,\ \gamma^\top \mathbf 1 = b}
        \langle \gamma, M\rangle_F + \varepsilon\, \mathrm{KL}(\gamma \,\|\, a \otimes b),
        \qquad \varepsilon = \mathrm{reg}

    (the same plan as POT's :math:`-\varepsilon H(\gamma)` form) whose solution is
    :math:`\gamma^\star_{ij} = a_i b_j \exp((f_i + g_j - M_{ij}) / \varepsilon)` with dual
    potentials ``f, g`` in cost units. Every method runs in a numerically safe form: the
    log-domain iteration (fused ``logsumexp`` on torch and JAX), or, on NumPy and on eager
    torch tensors with one histogram (unless ``grad='autodiff'``), the stabilized scaling
    iteration of Schmitzer (2019) (mat-vecs on a kernel rebuilt from the potentials by an
    exact log-domain step whenever a scaling leaves [1e-50, 1e50]; [2.3e-10, 4.3e9] in float32).
    No method underflows to a plan of lost mass, at any reg.

    Parameters
    ----------
    a : (n,) array or list
        Source weights, non-negative (empty or None: uniform).
    b : (m,) or (m, k) array or list
        Target weights; a 2-D ``b`` solves ``k`` problems sharing ``a`` and ``M`` in one
        batched pass (memory O(n m k)).
    M : (n, m) array
        Cost matrix, finite.
    reg : float
        Entropic regularization :math:`\varepsilon > 0`, in the units of ``M``.
    method : str, default='sinkhorn'
        Case-insensitive, as POT. 'sinkhorn', 'sinkhorn_log' and 'sinkhorn_stabilized' run
        the same safe iteration (names kept for POT compatibility);
        'sinkhorn_epsilon_scaling' anneals :math:`\varepsilon` geometrically from
        ``epsilon0`` (default max M - min M) by ``scaling_factor`` (0.5), at most
        ``numInnerItermax`` (100) iterations per stage with tolerance ``stopInnerThr``
        (1e-3), then runs to ``stopThr`` at ``reg``; 'greenkhorn' (Altschuler et al. 2017)
        makes greedy single row/column updates on the host, one iteration being a sweep of
        n + m updates (not under ``jax.jit``).
    numItermax : int, default=1000
        Maximum number of iterations (of the final stage for epsilon scaling).
    stopThr : float, default=1e-9
        Stop when the L2 norm of the marginal error is below ``stopThr`` (the column
        marginals are exact after each iteration, so this is the row error; greenkhorn and
        over-relaxation use the stacked rows and columns). As POT, ``stopThr=0`` runs
        exactly ``numItermax`` iterations. Use a value above the rounding floor of the dtype
        (about ``finfo(dtype).eps * max(M) / reg``) for float32.
    verbose : bool, default=False
        Print the error every 200 iterations (host engines).
    log : bool, default=False
        Also return a dict with the same keys for every method: ``f``, ``g`` (potentials in
        cost units), ``log_u``, ``log_v`` (POT's log-scalings, ``log u = log a + f / reg``),
        ``u``, ``v`` (their exponentials, which may overflow at small reg), ``n_iter`` (and
        POT's ``niter``), ``err`` (marginal-error trace, one entry per iteration, a list; an
        array padded with NaN under ``jax.jit``; the final stage for epsilon scaling),
        ``marginal_error`` (:math:`\|\gamma 1 - a\|_2 + \|\gamma^\top 1 - b\|_2` of the
        returned plan), ``converged``, ``cost`` (:math:`\langle\gamma, M\rangle`) and
        ``reg_value`` (the regularized objective, with gradients as chosen by ``grad``),
        and POT's keys of the stabilized methods: ``logu``, ``logv`` (as ``log_u``,
        ``log_v``), ``alpha``, ``beta`` (``reg * log_u``, ``reg * log_v``) and
        ``warmstart`` (the pair to pass back as ``warmstart`` with the same method). For a
        2-D ``b`` every array has a last axis of size k.
    warn : bool, default=True
        Issue one ``UserWarning`` when the tolerance is not reached.
    warmstart : tuple of two arrays, optional
        Initial point, read as POT's function for ``method`` reads it: ``(log_u, log_v)``,
        the logarithms of the scaling vectors, for 'sinkhorn', 'sinkhorn_log' and
        'greenkhorn'; POT's ``(alpha, beta) = reg * (log_u, log_v)`` for
        'sinkhorn_stabilized' and 'sinkhorn_epsilon_scaling' (``log["warmstart"]`` is that
        pair for the method used). ``warmstart_type`` overrides this. Only the row part
        sets the start: the first half step recomputes the column part from it.
    init : initializer, optional
        (Keyword-only.) An object whose ``init_potentials(a, b, M, reg)`` gives the start
        ``(f, g)`` in cost units instead of ``warmstart``:
        :class:`~otkit.bregman.ZeroInitializer`,
        :class:`~otkit.bregman.GaussianInitializer`,
        :class:`~otkit.bregman.SortingInitializer`,
        :class:`~otkit.bregman.SubsampleInitializer` or a trained
        :class:`~otkit.MetaInitializer`. It changes the iterations, not the solution.
        Only ``f`` is read: an initializer that also has ``init_row_potentials(a, b, M,
        reg)`` (``f`` alone, as :class:`~otkit.MetaInitializer`) is called through it.
    grad : {'implicit', 'envelope', 'autodiff', 'detach'}, default='implicit'
        Gradients on torch and JAX (first order; also under ``jax.jit``).

        - 'implicit': the plan is differentiated implicitly at the Sinkhorn fixed point,
          so the cost :math:`\langle\gamma^\star, M\rangle` of :func:`sinkhorn2` (and
          ``log["cost"]``, the plan of :func:`sinkhorn`) gets its exact gradient at
          convergence with respect to ``M``, ``a``, ``b`` (and ``reg`` on JAX). The
          solve runs without gradient; the backward pass solves one linear system with
          the Jacobian of the marginal equations (a dense solve on the smaller side up to
          256, else conjugate gradient with products by the plan): memory a few times
          that of the plan, independent of the iteration count. If the tolerance was not
          reached (a warning says so), it is the gradient of the fixed point evaluated at
          the returned potentials, not that of the returned value. ``log["reg_value"]``
          gets the envelope gradient (its exact one). The weights' gradient is defined up
          to :math:`(t\mathbf 1, -t\mathbf 1)`; the one returned has equal sums
          (:math:`\sum_i \partial_{a_i} = \sum_j \partial_{b_j}`), exact along every
          direction that keeps the masses equal.
        - 'envelope': the gradient of the *regularized* objective at the optimum
          (Danskin), (plan, f - mean f, g - mean g) with respect to (M, a, b), attached
          to the cost as well, for which it is not the gradient (off by the
          derivative of the entropic term); the returned plan is one differentiable
          evaluation from the fixed potentials. The former default; the cheapest
          backward (no linear solve).
        - 'autodiff': unrolled differentiation through the iterations (a masked
          fixed-length loop under JAX tracing): the gradient of the returned value
          whether converged or not, memory proportional to the iteration count.
        - 'detach': no gradient.
    warmstart_type : {None, 'log_scalings', 'alpha_beta', 'potentials'}, default=None
        How to read ``warmstart``: None is the method's POT convention (above);
        'potentials' reads ``(f, g)`` in cost units (as returned in the log, or by
        :func:`sinkhorn_init_gaussian` / :func:`sinkhorn_init_sorting`).
    check_marginals : bool, default=True
        Check that ``a`` and ``b`` (each column) have the same mass. With False, unequal
        masses are not rejected (the iteration then matches the last-updated marginal).
    acceleration : {None, 'overrelax'}, default=None
        'overrelax': over-relaxed Sinkhorn (Thibault et al. 2017, Lehmann et al. 2021), each
        potential moved ``omega`` times its exact update from where it was (the overshoot
        capped at ``reg``); with the default adaptive ``omega`` the factor is estimated from
        the observed rate of convergence (two-block SOR theory) after 3 plain iterations and
        every 20 after. It pays at small ``reg``: on the benchmark problem (n = 1000) the
        iterations go from 706 to about 110 at reg = 1e-3 and from 54 to 23 at 1e-2, same
        at 1e-1. If the error ever grows tenfold over its minimum the factor falls back to 1.
        The columns are then not exact at every iteration: the stopping test uses the
        stacked row and column error. Not for 'greenkhorn'.
    omega : float in [1, 2) or None, default=None
        With ``acceleration='overrelax'``: a fixed factor, or None for the adaptive one
        (a fixed factor suits one ``reg`` only: 1.5 triples the iterations at reg = 0.1).

"""

_DOC_TAIL = r"""
    Raises
    ------
    ValueError
        reg not a positive finite number, NaN or inf in ``M``, negative or non-finite
        weights, different masses, shapes that disagree, empty inputs, unknown method.
    TypeError
        Arrays of different libraries, unexpected keyword arguments.

    Notes
    -----
    Backends: NumPy, array API libraries, torch and JAX (also under ``jax.jit``, where the
    loop is ``jax.lax.while_loop``). Under ``jax.jit``, ``jax.vmap`` and ``jax.grad`` the
    values cannot raise: input that would raise the ValueError above (on ``reg`` if traced,
    the weights, their masses, ``M``) makes every output and gradient NaN instead (all k
    columns for a 2-D ``b``; the loop then runs ``numItermax`` iterations). Results keep
    the caller's namespace, dtype and device; NumPy input is solved in float64 and returned
    in its dtype; float16 and bfloat16 input (a stopping test needs more than their three
    significant digits) is solved in float32 and returned in its dtype.

    References
    ----------
    .. [1] M. Cuturi. Sinkhorn distances: lightspeed computation of optimal transport.
       NeurIPS 2013.
    .. [2] G. Peyre, M. Cuturi. Computational optimal transport, ch. 4. Foundations and
       Trends in Machine Learning 11(5-6), 2019.
    .. [3] B. Schmitzer. Stabilized sparse scaling algorithms for entropy regularized
       transport problems. SIAM J. Sci. Comput. 41(3), 2019.
    .. [4] J. Altschuler, J. Weed, P. Rigollet. Near-linear time approximation algorithms for
       optimal transport via Sinkhorn iteration. NeurIPS 2017.
    .. [5] G. Luise, A. Rudi, M. Pontil, C. Ciliberto. Differential properties of Sinkhorn
       approximation for learning with Wasserstein distance. NeurIPS 2018.
    .. [6] M. Eisenberger, A. Toker, L. Leal-Taixe, F. Bernard, D. Cremers. A unified
       framework for implicit Sinkhorn differentiation. CVPR 2022.
"""


def sinkhorn(
    a,
    b,
    M,
    reg,
    method="sinkhorn",
    numItermax=1000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    *,
    grad="implicit",
    return_plans=False,
    init=None,
    **kwargs,
):
    r"""Entropic optimal transport plan (Sinkhorn)."""
    if not isinstance(return_plans, bool):
        raise TypeError(f"return_plans must be a bool, got {type(return_plans).__name__}")
    warmstart, kwargs = _start_from(init, warmstart, a, b, M, reg, kwargs)
    low_eps = low_precision_eps(a, b)
    low, low_xp, (M, a, b) = upcast_low_precision(M, a, b)
    a, b = balance_low_precision_masses(a, b, low_eps)
    out = _solve(
        a, b, M, reg, method, numItermax, stopThr, verbose, warn, warmstart, grad, kwargs,
        plan_only=not log, batched_plans=return_plans, need_log=log,
    )  # fmt: skip
    batched, plan, value_linear = out[1], out[3], out[4]
    if not batched:
        result = plan[:, :, 0]
    else:
        result = plan if return_plans else value_linear
    return downcast_low_precision((result, _make_log(*out)) if log else result, low, low_xp)


def sinkhorn2(
    a,
    b,
    M,
    reg,
    method="sinkhorn",
    numItermax=1000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    *,
    grad="implicit",
    init=None,
    **kwargs,
):
    r"""Entropic optimal transport cost (Sinkhorn), without the entropic term."""
    warmstart, kwargs = _start_from(init, warmstart, a, b, M, reg, kwargs)
    low_eps = low_precision_eps(a, b)
    low, low_xp, (M, a, b) = upcast_low_precision(M, a, b)
    a, b = balance_low_precision_masses(a, b, low_eps)
    out = _solve(
        a, b, M, reg, method, numItermax, stopThr, verbose, warn, warmstart, grad, kwargs,
        need_log=log,
    )  # fmt: skip
    batched, value = out[1], out[4]
    value = value if batched else value[0]
    return downcast_low_precision((value, _make_log(*out)) if log else value, low, low_xp)


_SINKHORN_RETURNS = r"""
    return_plans : bool, default=False
        (``sinkhorn`` only, keyword-only.) With a 2-D ``b``, return the (n, m, k) plans
        instead of POT's k costs; no effect for a 1-D ``b``.

    Returns
    -------
    gamma : (n, m) array; (k,) array for a 2-D ``b``; (n, m, k) with ``return_plans=True``
        The plan, in the namespace, dtype and device of ``M``. For a 2-D ``b``, as POT,
        the k linear costs :math:`\langle\gamma_l, M\rangle_F` (the values of
        :func:`sinkhorn2`), or the k plans stacked on the last axis with
        ``return_plans=True``.
    log : dict
        Only if ``log=True``: the keys listed under ``log`` above.
"""

_SINKHORN_EXAMPLES = r"""
    Examples
    --------
    >>> import otkit as ot
    >>> G = ot.sinkhorn([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], 1.0)
    >>> G.round(4)
    array([[0.3655, 0.1345],
           [0.1345, 0.3655]])
"""

_SINKHORN2_RETURNS = r"""
    As POT, the value :math:`\langle\gamma^\star, M\rangle_F` excludes the entropic term;
    the regularized objective is ``log["reg_value"]``.

    Returns
    -------
    cost : 0-d array, or (k,) array for a 2-D ``b``
        In the namespace, dtype and device of ``M``; differentiable as set by ``grad``.
    log : dict
        Only if ``log=True``: the keys listed under ``log`` above.
"""

_SINKHORN2_EXAMPLES = r"""
    Examples
    --------
    >>> import otkit as ot
    >>> round(float(ot.sinkhorn2([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], 1.0)), 4)
    0.2689
"""

sinkhorn.__doc__ += _DOC_PROBLEM_AND_PARAMETERS + _SINKHORN_RETURNS + _DOC_TAIL + _SINKHORN_EXAMPLES
sinkhorn2.__doc__ += (
    _DOC_PROBLEM_AND_PARAMETERS + _SINKHORN2_RETURNS + _DOC_TAIL + _SINKHORN2_EXAMPLES
)
