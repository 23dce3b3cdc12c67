r"""One call for every solver: ``solve`` on a cost matrix, returning an OTResult.

``solve`` dispatches to :func:`otkit.emd2` (exact) or :func:`otkit.sinkhorn` (entropic) and
gathers what they return into an :class:`otkit.OTResult` with the same units whatever the
method. The checks shared with :func:`otkit.solve_sample` live here too.
"""

from __future__ import annotations

import math

from ._boundary import prepare_problem
from ._progress import progress
from ._result import OTResult
from ._sinkhorn import sinkhorn
from ._sinkhorn_solve import METHODS as SINKHORN_METHODS
from .backend import get_namespace, is_numpy_namespace, is_traced, stop_gradient, to_numpy
from .lp import emd2

__all__ = ["EXACT_METHODS", "GRADS", "SINKHORN_METHODS", "solve"]

EXACT_METHODS = ("emd", "exact")
GRADS = ("autodiff", "envelope", "detach")
# Network simplex result codes (otkit.lp) as OTResult.status words.
_EMD_STATUS = {0: "infeasible", 1: "optimal", 2: "unbounded", 3: "max_iter_reached"}
_EMD_MAX_ITER = 100_000
_SINKHORN_MAX_ITER = 1000


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
        Target weights, same total mass as ``a`` (uniform when None or empty).
    reg : float, optional
        Entropic regularization :math:`\varepsilon \ge 0` in the units of ``M``; None or 0
        solves exact OT.
    reach : float, optional
        Unbalanced OT with GeomLoss's reach (as :func:`otkit.sinkhorn_divergence`). Not
        implemented on a cost matrix yet: raises ``NotImplementedError``; point clouds have
        it through :func:`otkit.solve_sample` with ``method='online'``.
    method : str, optional
        None picks 'emd' without ``reg`` and 'sinkhorn' with it. Exact: 'emd' (or 'exact').
        Entropic: 'sinkhorn', 'sinkhorn_log', 'sinkhorn_stabilized',
        'sinkhorn_epsilon_scaling' or 'greenkhorn' (see :func:`otkit.sinkhorn`).
    max_iter : int, optional
        Iteration budget: pivots of the network simplex (default 100000) or Sinkhorn
        iterations (default 1000).
    tol : float, optional
        Sinkhorn's tolerance on the L2 norm of the marginal error (default 1e-9).
    potentials_init : tuple (f, g) of arrays, optional
        Warm start in cost units: the initial potentials of Sinkhorn, or the duals that
        price the first basis of the network simplex.
    grad : {'autodiff', 'envelope', 'detach'}, default='autodiff'
        Gradients of ``value`` and ``value_linear`` on torch and JAX. Entropic OT:
        'autodiff' differentiates through the iterations (memory grows with them),
        'envelope' attaches the gradient at the optimum (plan, centred f, centred g) with
        respect to (M, a, b) and 'detach' none (as :func:`otkit.sinkhorn`). Exact OT always
        has the gradient of :func:`otkit.emd2` (the envelope one) unless 'detach'. Where
        the solver runs on the host (NumPy input, 'greenkhorn'), 'autodiff' means
        'envelope'.
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

    Raises
    ------
    ValueError
        ``reg < 0``, an unknown ``method`` or ``grad``, a method that does not fit ``reg``,
        shapes that disagree, bad values (as :func:`otkit.emd` and :func:`otkit.sinkhorn`).
    NotImplementedError
        ``reach`` given, ``reg_type`` other than 'KL'.

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
    """
    eps = check_reg(reg)
    check_choice(grad, "grad", GRADS)
    check_iteration_options(max_iter, tol)
    if reg_type != "KL":
        raise NotImplementedError(
            f"reg_type={reg_type!r} is not implemented; otkit regularizes with "
            "KL(P | a x b) (reg_type='KL'), which gives the same plan as POT's 'entropy'"
        )
    if reach is not None:
        raise NotImplementedError(
            "unbalanced OT (reach=...) on a cost matrix is not implemented yet; for point "
            "clouds use otkit.solve_sample(..., reg=..., reach=..., method='online') or "
            "otkit.sinkhorn_divergence(..., reach=...)"
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
