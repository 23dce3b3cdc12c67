r"""One call for every solver: ``solve`` on a cost matrix, returning an OTResult.

``solve`` dispatches to :func:`otkit.emd2` (exact) or :func:`otkit.sinkhorn` (entropic), or
for unbalanced OT to :mod:`otkit._unbalanced` (entropic) and :mod:`otkit._unbalanced_exact`
(exact, majorization-minimization), and gathers what they return into an
:class:`otkit.OTResult` with the same units whatever the method. The checks shared with
:func:`otkit.solve_sample` live here too.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._boundary import prepare_problem
from .._validation import (
    check_equal_mass,
    check_finite,
    check_nonnegative_weights,
    mass_tolerance,
)
from ..backend import (
    device_of,
    get_namespace,
    is_numpy_namespace,
    is_traced,
    stop_gradient,
    to_numpy,
)
from ..bregman._sinkhorn import sinkhorn
from ..bregman._sinkhorn_solve import METHODS as SINKHORN_METHODS
from ..lp import emd2
from ..unbalanced._mm import mm_potentials, mm_unbalanced_log, unbalanced_primal
from ..unbalanced._sinkhorn import METHODS as UNBALANCED_SINKHORN_METHODS
from ..unbalanced._sinkhorn import check_reg_m, solve_unbalanced_entropic
from ..utils._result import OTResult
from ._progress import progress

__all__ = ["EXACT_METHODS", "GRADS", "SINKHORN_METHODS", "UNBALANCED_EXACT_METHODS", "solve"]

EXACT_METHODS = ("emd", "exact")
GRADS = ("autodiff", "envelope", "detach")
# Network simplex result codes (otkit.lp) as OTResult.status words.
_EMD_STATUS = {0: "infeasible", 1: "optimal", 2: "unbounded", 3: "max_iter_reached"}
_EMD_MAX_ITER = 100_000
_SINKHORN_MAX_ITER = 1000
_SINKHORN_TOL = 1e-9
_MM_MAX_ITER = 10_000
_MM_TOL = 1e-9
UNBALANCED_EXACT_METHODS = ("mm",)
UNBALANCED_TYPES = ("KL",)


# --- checks shared with solve_sample ---------------------------------------------------------


def check_reg(reg):
    """``reg`` as a float >= 0 (0 and None mean unregularized), or a JAX tracer as is."""
    if reg is None or is_traced(reg):
        return reg
    try:
        value = float(reg) if isinstance(reg, (int, float)) else float(to_numpy(reg))
    except (TypeError, ValueError):
        raise TypeError(f"reg must be a number or None, got {type(reg).__name__}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(
            f"reg must be a finite number >= 0 (None or 0: unregularized OT), got {value!r}"
        )
    return value


def is_regularized(eps) -> bool:
    return eps is not None and (is_traced(eps) or eps > 0)


def check_choice(value, name: str, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_iteration_options(max_iter, tol) -> None:
    bad_max_iter = isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0
    if max_iter is not None and bad_max_iter:
        raise ValueError(f"max_iter must be an int >= 0 or None, got {max_iter!r}")
    bad_tol = isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0
    if tol is not None and bad_tol:
        raise ValueError(f"tol must be a number >= 0 or None, got {tol!r}")


def _concrete(x):
    """``x`` when its value is known; None for a JAX tracer (under ``jax.jit``)."""
    return None if is_traced(x) else x


# --- the solvers -----------------------------------------------------------------------------


def solve(
    M,
    a=None,
    b=None,
    reg=None,
    *,
    reach=None,
    unbalanced=None,
    unbalanced_type: str = "KL",
    method: str | None = None,
    max_iter: int | None = None,
    tol: float | None = None,
    potentials_init=None,
    grad: str = "autodiff",
    verbose: bool = False,
    reg_type: str = "KL",
) -> OTResult:
    r"""Solve optimal transport on a cost matrix; return an :class:`OTResult`.

    Exact OT (``reg`` None or 0, :func:`otkit.emd2`'s network simplex):

    .. math::
        \min_{P \in \Pi(a, b)} \langle P, M\rangle_F,

    or entropic OT (``reg`` :math:`= \varepsilon > 0`, :func:`otkit.sinkhorn` in a
    numerically safe form):

    .. math::
        \min_{P \in \Pi(a, b)} \langle P, M\rangle_F
        + \varepsilon\, \mathrm{KL}(P \,\|\, a \otimes b),

    with :math:`\Pi(a, b) = \{P \ge 0 : P\mathbf 1 = a,\ P^\top \mathbf 1 = b\}`.
    With ``unbalanced`` :math:`= \rho` (or ``reach``) the marginal constraints become KL
    penalties and the masses of ``a`` and ``b`` may differ:

    .. math::
        \min_{P \ge 0} \langle P, M\rangle_F
        + \varepsilon\, \mathrm{KL}(P \,\|\, a \otimes b)
        + \rho\, \mathrm{KL}(P\mathbf 1 \,\|\, a)
        + \rho\, \mathrm{KL}(P^\top \mathbf 1 \,\|\, b)

    (generalized KL, :math:`\sum p \log(p/q) - p + q`), solved by the damped log-domain
    Sinkhorn iteration of :func:`otkit.sinkhorn_unbalanced` for ``reg`` > 0 and, for ``reg``
    None or 0, by the majorization-minimization (MM) multiplicative updates of Chapel et al.
    (2021), :math:`P \leftarrow P \odot \exp((f \oplus g - M) / (\rho_a + \rho_b))` with
    :math:`f = -\rho_a \log(P\mathbf 1 / a)`, :math:`g = -\rho_b \log(P^\top\mathbf 1 / b)`
    (each step decreases the objective; see :mod:`otkit._unbalanced_exact`).
    ``value`` is the optimal objective (with the KL term for entropic OT) and
    ``value_linear`` is :math:`\langle P, M\rangle` (POT's ``sinkhorn2`` value); both are in
    the units of ``M``, so :math:`W_p^p` for ``M = dist(x, y) ** (p / 2)``.

    Parameters
    ----------
    M : (n, m) array
        Cost matrix, finite.
    a : (n,) array, optional
        Source weights (uniform when None or empty).
    b : (m,) array, optional
        Target weights, same total mass as ``a`` unless unbalanced (uniform when None or
        empty).
    reg : float, optional
        Entropic regularization :math:`\varepsilon \ge 0` in the units of ``M``; None or 0
        solves exact OT.
    reach : float, optional
        Unbalanced OT with the KL penalty :math:`\rho = 2\,\mathrm{reach}^2`: the cost is
        read as the squared Euclidean :math:`\|x - y\|^2`, with the rule
        :math:`\rho = p\,\mathrm{reach}^p` of :func:`otkit.sinkhorn_divergence` for
        ``p = 2``. (For another cost, pass ``unbalanced`` :math:`= \rho` directly.)
    unbalanced : float or pair of floats, optional
        POT's name: the KL marginal penalty :math:`\rho > 0` in the units of ``M``, or
        :math:`(\rho_a, \rho_b)`; ``inf`` on one side keeps that marginal a constraint
        (entropic only). Not together with ``reach``.
    unbalanced_type : {'KL'}, default='KL'
        The marginal penalty: only KL (POT's 'TV', 'L2', ... raise
        ``NotImplementedError``).
    method : str, optional
        None picks 'emd' without ``reg`` and 'sinkhorn' with it ('mm' when unbalanced).
        Exact: 'emd' (or 'exact'). Entropic: 'sinkhorn', 'sinkhorn_log',
        'sinkhorn_stabilized', 'sinkhorn_epsilon_scaling' or 'greenkhorn' (see
        :func:`otkit.sinkhorn`). Unbalanced: 'mm' (exact) or, entropic, POT's names
        'sinkhorn', 'sinkhorn_log', 'sinkhorn_stabilized', 'sinkhorn_translation_invariant',
        'sinkhorn_reg_scaling', all the same log-domain iteration.
    max_iter : int, optional
        Iteration budget: pivots of the network simplex (default 100000), Sinkhorn
        iterations (default 1000) or MM steps (default 10000).
    tol : float, optional
        Sinkhorn's tolerance on the L2 norm of the marginal error (default 1e-9; unbalanced:
        of the fixed-point residual, in mass units); for MM, on the L1 change of the plan
        per step (default 1e-9).
    potentials_init : tuple (f, g) of arrays, optional
        Warm start in cost units: the initial potentials of Sinkhorn, or the duals that
        price the first basis of the network simplex (not for 'mm').
    grad : {'autodiff', 'envelope', 'detach'}, default='autodiff'
        Gradients of ``value`` and ``value_linear`` on torch and JAX. Entropic OT:
        'autodiff' differentiates through the iterations (memory grows with them),
        'envelope' attaches the gradient at the optimum (plan, centred f, centred g) with
        respect to (M, a, b) and 'detach' none (as :func:`otkit.sinkhorn`). Exact OT always
        has the gradient of :func:`otkit.emd2` (the envelope one) unless 'detach'. Where
        the solver runs on the host (NumPy input, 'greenkhorn'), 'autodiff' means
        'envelope'. Unbalanced OT: the same choices; 'envelope' attaches the partial
        derivatives of the dual (entropic) or of the primal (MM) objective at the solution,
        the exact gradient of ``value``.
    verbose : bool, default=False
        Show a progress bar (tqdm, when installed, else a printed line every 100
        iterations) with the current marginal error. The NumPy Sinkhorn loop reports at
        every iteration; compiled loops (torch, JAX, the network simplex) when they end.
    reg_type : {'KL'}, default='KL'
        The regularizer (POT's name): only the KL divergence to :math:`a \otimes b`.

    Returns
    -------
    result : OTResult
        ``value``, ``value_linear``, ``plan``, ``potentials`` (cost units), ``status``,
        ``converged``, ``n_iter``, ``errors`` (marginal-error trace) and ``log`` (the log
        dict of the underlying function), in the library, dtype and device of ``M``.
        Unbalanced: ``value`` is the whole objective (marginal penalties included),
        ``marginals`` the plan's, and the potentials satisfy
        :math:`P\mathbf 1 = a\, e^{-f/\rho_a}`, :math:`P^\top \mathbf 1 = b\, e^{-g/\rho_b}`.

    Raises
    ------
    ValueError
        ``reg < 0``, an unknown ``method`` or ``grad``, a method that does not fit ``reg``,
        shapes that disagree, bad values (as :func:`otkit.emd` and :func:`otkit.sinkhorn`),
        ``reach`` and ``unbalanced`` together, a penalty not > 0 (or infinite for 'mm').
    NotImplementedError
        ``reg_type`` other than 'KL', ``unbalanced_type`` other than 'KL'.

    Notes
    -----
    A POT user's ``ot.solve(M, a, b, reg)`` gives the same plan here; ``value`` uses the KL
    form of the regularizer (POT's default ``reg_type='KL'`` too).

    Examples
    --------
    >>> import otkit as ot
    >>> M = [[0.0, 1.0], [1.0, 0.0]]
    >>> float(ot.solve(M).value)
    0.0
    >>> res = ot.solve(M, reg=1.0)
    >>> round(float(res.value_linear), 4), res.status
    (0.2689, 'converged')
    >>> res = ot.solve(M, [0.5, 0.5], [1.0, 1.0], unbalanced=1.0)  # unequal masses
    >>> [round(float(x), 4) for x in res.marginals[0]]
    [0.7071, 0.7071]
    """
    eps = check_reg(reg)
    check_choice(grad, "grad", GRADS)
    check_iteration_options(max_iter, tol)
    if reg_type != "KL":
        raise NotImplementedError(
            f"reg_type={reg_type!r} is not implemented; otkit regularizes with "
            "KL(P | a x b) (reg_type='KL'), which gives the same plan as POT's 'entropy'"
        )
    rho = _unbalanced_penalty(reach, unbalanced, unbalanced_type)
    if rho is not None:
        return _solve_unbalanced(
            M, a, b, eps, rho, method, max_iter, tol, potentials_init, grad, verbose
        )
    method = _method_for(method, eps)
    xp, _, _, a, b, M, potentials = prepare_problem(a, b, M, potentials_init)
    if method in EXACT_METHODS:
        return _solve_exact(M, a, b, max_iter, potentials, grad, verbose)
    if grad == "autodiff" and (is_numpy_namespace(xp) or method == "greenkhorn"):
        grad = "envelope"  # host solvers: no unrolled iterations to differentiate
    return _solve_entropic(M, a, b, reg, method, max_iter, tol, potentials, grad, verbose)


def _method_for(method, eps):
    regularized = is_regularized(eps)
    if method is None:
        return "sinkhorn" if regularized else "emd"
    check_choice(method, "method", EXACT_METHODS + SINKHORN_METHODS)
    if method in EXACT_METHODS and regularized:
        raise ValueError(
            f"method={method!r} solves unregularized OT, but reg={eps!r}; pass reg=None "
            "or an entropic method such as 'sinkhorn'"
        )
    if method in SINKHORN_METHODS and not regularized:
        raise ValueError(f"method={method!r} needs reg > 0 (entropic OT), got reg={eps!r}")
    return method


def _unbalanced_penalty(reach, unbalanced, unbalanced_type):
    """(rho_a, rho_b) in cost units, or None for balanced OT."""
    if not isinstance(unbalanced_type, str) or unbalanced_type.upper() not in UNBALANCED_TYPES:
        raise NotImplementedError(
            f"unbalanced_type={unbalanced_type!r} is not implemented; otkit penalizes the "
            "marginals with KL (unbalanced_type='KL')"
        )
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


def _unbalanced_method(method, eps):
    regularized = is_regularized(eps)
    if method is None:
        return "sinkhorn" if regularized else "mm"
    entropic = UNBALANCED_SINKHORN_METHODS + ("sinkhorn_log",)
    check_choice(method, "method", UNBALANCED_EXACT_METHODS + entropic)
    if method in entropic and not regularized:
        raise ValueError(f"method={method!r} needs reg > 0 (entropic OT), got reg={eps!r}")
    if method == "mm" and regularized:
        raise ValueError(f"method='mm' solves unregularized OT, but reg={eps!r}")
    return method


def _solve_unbalanced(M, a, b, eps, rho, method, max_iter, tol, potentials_init, grad, verbose):
    method = _unbalanced_method(method, eps)
    xp, _, _, a, b, M, potentials = prepare_problem(a, b, M, potentials_init)
    if not is_traced(a, b, M):
        check_finite(to_numpy(M), "M")
        check_nonnegative_weights(to_numpy(a), "a")
        check_nonnegative_weights(to_numpy(b), "b")
    if method == "mm":
        if potentials is not None:
            raise ValueError("potentials_init is not used by method='mm' (it starts from a b^T)")
        if math.inf in rho:
            raise ValueError(
                f"method='mm' needs finite marginal penalties, got {rho}; for a hard "
                "constraint use reg > 0 or the balanced solver"
            )
        return _solve_unbalanced_exact(M, a, b, rho, max_iter, tol, grad, verbose, xp)
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
            a, b[:, None], M, eps, rho, "kl", None, f0, budget, float(tol), xp, grad
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
    return OTResult(
        value=out["total"][0],
        value_linear=out["linear"][0],
        plan=out["plan"][:, :, 0],
        potentials=(out["f"][:, 0], out["g"][:, 0]),
        marginals=(out["rows"][:, 0], out["cols"][:, 0]),
        status=status,
        converged=converged,
        n_iter=n_iter,
        errors=out["trace"],
        method=method,
        log=log,
    )


def _solve_unbalanced_exact(M, a, b, rho, max_iter, tol, grad, verbose, xp):
    budget = _MM_MAX_ITER if max_iter is None else max_iter
    tol = _MM_TOL if tol is None else tol
    unrolled = grad == "autodiff" and not is_numpy_namespace(xp)
    args = (a, b, M) if unrolled else tuple(stop_gradient(x, xp) for x in (a, b, M))
    with progress(verbose, budget, desc="mm") as report:
        log_plan, n_iter, err, trace = mm_unbalanced_log(
            *args, rho, budget, float(tol), xp, unrolled
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
                    stacklevel=3,
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
    f, g = mm_potentials(
        stop_gradient(plan, xp), *(stop_gradient(x, xp) for x in (a, b, M)), rho, xp
    )
    marginals = (xp.sum(stop_gradient(plan, xp), axis=1), xp.sum(stop_gradient(plan, xp), axis=0))
    return OTResult(
        value=value,
        value_linear=value_linear,
        plan=plan,
        potentials=(f, g),
        marginals=marginals,
        status=status,
        converged=converged,
        n_iter=n_iter,
        errors=trace,
        method="mm",
        log={"rho": rho, "plan_change": err},
    )


def _solve_exact(M, a, b, max_iter, potentials, grad, verbose):
    budget = _EMD_MAX_ITER if max_iter is None else max_iter
    # The pivot budget is a safeguard, not the expected length: the bar only counts.
    with progress(verbose, None, desc="emd") as report:
        value, log = emd2(
            a, b, M, numItermax=budget, log=True, return_matrix=True, potentials_init=potentials
        )
        code, n_iter = _concrete(log["result_code"]), _concrete(log["n_iter"])
        status = None if code is None else _EMD_STATUS.get(int(code), f"code {code}")
        if n_iter is not None:
            report(n_iter)
        report.close(status)
    plan = log["G"]
    if grad == "detach":
        value = stop_gradient(value, get_namespace(plan=plan))
    converged = (log["result_code"] == 1) if code is None else status == "optimal"
    return OTResult(
        value=value,
        value_linear=value,
        plan=plan,
        potentials=(log["u"], log["v"]),
        status=status,
        converged=converged,
        n_iter=log["n_iter"],
        errors=[],
        method="emd",
        log=log,
    )


def _solve_entropic(M, a, b, reg, method, max_iter, tol, potentials, grad, verbose):
    options = {}
    if max_iter is not None:
        options["numItermax"] = max_iter
    if tol is not None:
        options["stopThr"] = tol
    if potentials is not None:
        options.update(warmstart=potentials, warmstart_type="potentials")
    budget = _SINKHORN_MAX_ITER if max_iter is None else max_iter
    with progress(verbose, budget, desc=method) as report:
        plan, log = sinkhorn(
            a, b, M, reg, method=method, log=True, grad=grad,
            verbose=report if verbose else False, **options,
        )  # fmt: skip
        converged, n_iter = _concrete(log["converged"]), _concrete(log["n_iter"])
        status = None if converged is None else ("converged" if converged else "max_iter_reached")
        if n_iter is not None:
            report(n_iter, log["marginal_error"])
        report.close(status)
    return OTResult(
        value=log["reg_value"],
        value_linear=log["cost"],
        plan=plan,
        potentials=(log["f"], log["g"]),
        status=status,
        converged=log["converged"],
        n_iter=log["n_iter"],
        errors=log["err"],
        method=method,
        log=log,
    )
