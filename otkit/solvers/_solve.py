r"""One call for every solver: ``solve`` on a cost matrix, returning an OTResult.

``solve`` dispatches to :func:`otkit.emd2` (exact), :func:`otkit.sinkhorn` (entropic,
:mod:`._entropic`) or, for unbalanced OT, to :mod:`otkit.unbalanced` (:mod:`._unbalanced`),
and gathers what they return into an :class:`otkit.OTResult` with the same units whatever
the method. The arguments are POT's (``ot.solve``), in POT's order.
"""

from __future__ import annotations

import numpy as np

from .._boundary import prepare_problem
from ..backend import get_namespace, is_numpy_namespace, stop_gradient
from ..bregman._initializers import initial_potentials
from ..bregman._sinkhorn_solve import METHODS as SINKHORN_METHODS
from ..lp import emd2
from ..utils._result import OTResult
from ._checks import (
    GRADS,
    check_choice,
    check_iteration_options,
    check_n_threads,
    check_reg,
    check_reg_type,
    check_unbalanced_type,
    concrete,
    is_regularized,
    warn_n_threads,
)
from ._citations import citation_for
from ._entropic import prepare_reference, solve_entropic
from ._progress import progress
from ._unbalanced import solve_unbalanced, unbalanced_penalty

__all__ = ["EXACT_METHODS", "SINKHORN_METHODS", "solve", "solve_matrix"]

EXACT_METHODS = ("emd", "exact")
# Network simplex result codes (otkit.lp) as OTResult.status words.
_EMD_STATUS = {
    0: "infeasible",
    1: "optimal",
    2: "unbounded",
    3: "max_iter_reached",
    4: "not_certified",
}
_EMD_MAX_ITER = 1_000_000  # POT's default in solve


def solve(
    M,
    a=None,
    b=None,
    reg=None,
    c=None,
    reg_type: str = "KL",
    unbalanced=None,
    unbalanced_type: str = "KL",
    method: str | None = None,
    n_threads=1,
    max_iter: int | None = None,
    plan_init=None,
    potentials_init=None,
    tol: float | None = None,
    verbose: bool = False,
    grad: str = "autodiff",
    *,
    reach=None,
) -> OTResult:
    r"""Solve optimal transport on a cost matrix; return an :class:`OTResult`.

    Exact OT (``reg`` None or 0, :func:`otkit.emd2`'s network simplex):

    .. math::
        \min_{P \in \Pi(a, b)} \langle P, M\rangle_F,

    or entropic OT (``reg`` :math:`= \varepsilon > 0`, :func:`otkit.sinkhorn` in a
    numerically safe form):

    .. math::
        \min_{P \in \Pi(a, b)} \langle P, M\rangle_F
        + \varepsilon\, \mathrm{KL}(P \,\|\, c),

    with :math:`\Pi(a, b) = \{P \ge 0 : P\mathbf 1 = a,\ P^\top \mathbf 1 = b\}`, the
    generalized KL :math:`\sum p \log(p/q) - p + q` and the reference :math:`c = a \otimes b`
    unless given. ``reg_type='entropy'`` (POT's) reports the value with
    :math:`\varepsilon \sum P \log P` instead; the plan is the same. With ``unbalanced``
    :math:`= \rho` (or ``reach``) the marginal constraints become KL penalties and the
    masses of ``a`` and ``b`` may differ:

    .. math::
        \min_{P \ge 0} \langle P, M\rangle_F
        + \varepsilon\, \mathrm{KL}(P \,\|\, c)
        + \rho\, \mathrm{KL}(P\mathbf 1 \,\|\, a)
        + \rho\, \mathrm{KL}(P^\top \mathbf 1 \,\|\, b),

    solved by the damped log-domain Sinkhorn iteration of :func:`otkit.sinkhorn_unbalanced`
    for ``reg`` > 0 (Chizat et al., 2018) and, for ``reg`` None or 0, by the
    majorization-minimization (MM) multiplicative updates of Chapel et al. (2021),
    :math:`P \leftarrow P \odot \exp((f \oplus g - M) / (\rho_a + \rho_b))` with
    :math:`f = -\rho_a \log(P\mathbf 1 / a)`, :math:`g = -\rho_b \log(P^\top\mathbf 1 / b)`.
    ``value`` is the optimal objective and ``value_linear`` is :math:`\langle P, M\rangle`
    (POT's ``sinkhorn2`` value); both are in the units of ``M``, so :math:`W_p^p` for
    ``M = dist(x, y) ** (p / 2)``.

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
        solves exact OT (``reg_type`` and ``c`` are then not read, as POT).
    c : (n, m) array, optional
        Reference measure of the KL regularization (default :math:`a \otimes b`); > 0 for
        balanced OT, >= 0 with mass in every row and column for unbalanced OT. (POT reads it
        only for unbalanced OT.)
    reg_type : {'KL', 'entropy'}, default='KL'
        The regularizer, any case: 'KL' is :math:`\varepsilon\,\mathrm{KL}(P\,\|\,c)`,
        'entropy' is :math:`\varepsilon\sum P\log P` (POT's value; the same plan, and for
        unbalanced OT the reference :math:`c = 1`). POT's 'L2' and custom ``(f, df)`` pairs
        raise ``NotImplementedError``.
    unbalanced : float or pair of floats, optional
        The KL marginal penalty :math:`\rho > 0` in the units of ``M``, or
        :math:`(\rho_a, \rho_b)`; ``inf`` on one side keeps that marginal a constraint
        (entropic only).
    unbalanced_type : {'KL'}, default='KL'
        The marginal penalty, any case; not read when ``unbalanced`` is None. POT's 'L2'
        and 'TV' raise ``NotImplementedError``.
    method : str, optional
        None picks 'emd' without ``reg`` and 'sinkhorn' with it ('mm' when unbalanced).
        Exact: 'emd' (or 'exact'). Entropic: 'sinkhorn', 'sinkhorn_log',
        'sinkhorn_stabilized', 'sinkhorn_epsilon_scaling' or 'greenkhorn' (see
        :func:`otkit.sinkhorn`). Unbalanced: 'mm' (exact) or, entropic, POT's names
        'sinkhorn', 'sinkhorn_log', 'sinkhorn_stabilized', 'sinkhorn_translation_invariant',
        'sinkhorn_reg_scaling', all the same log-domain iteration. POT's 'lbfgsb' raises
        ``NotImplementedError``.
    n_threads : int or 'max', default=1
        POT's option; the network simplex runs on one thread, so values other than 1 give
        a ``DeprecationWarning`` for exact OT, as POT.
    max_iter : int, optional
        Iteration budget: pivots of the network simplex (default 1000000, as POT), Sinkhorn
        iterations (default 1000) or MM steps (default 10000).
    plan_init : (n, m) array, optional
        Initial plan of method 'mm' (its zero entries stay zero). Accepted and not used by
        the network simplex (warm-started by ``potentials_init``) and by Sinkhorn (by
        potentials too), as POT.
    potentials_init : tuple (f, g) of arrays, or an initializer, optional
        Warm start in cost units: the initial potentials of Sinkhorn, or the duals that
        price the first basis of the network simplex (not for 'mm'). An initializer (an
        object with ``init_potentials(a, b, M, reg)``, e.g.
        :class:`~otkit.bregman.GaussianInitializer` or :class:`~otkit.MetaInitializer`, as
        ``init=`` of :func:`otkit.sinkhorn`) computes them for the problem.
    tol : float, optional
        Sinkhorn's tolerance on the L2 norm of the marginal error (default 1e-9; unbalanced:
        of the fixed-point residual, in mass units); for MM, on the L1 change of the plan
        per step (default 1e-9).
    verbose : bool, default=False
        Show a progress bar (tqdm, when installed, else a printed line every 100
        iterations) with the current marginal error.
    grad : {'autodiff', 'envelope', 'detach', 'last_step'}, default='autodiff'
        Gradients of ``value``, ``value_linear`` (and of the plan) on torch and JAX.
        Entropic OT: 'autodiff' differentiates through the iterations (memory grows with
        them), 'envelope' attaches the gradient at the optimum: to ``value`` the envelope
        gradient of the regularized value (plan, centred f, centred g with respect to
        (M, a, b)), and to ``value_linear`` and the plan their exact gradients by implicit
        differentiation at the fixed point (see :func:`otkit.sinkhorn2`), 'detach' none, and
        'last_step' (POT's) runs
        ``max_iter - 1`` iterations without gradients and one last iteration with them
        (both potentials updated from the previous ones): the plan is differentiable at
        the cost of one iteration, and, as POT, ``value`` and ``value_linear`` are
        differentiated through that plan only. Exact OT always has the gradient of
        :func:`otkit.emd2` (the envelope one) unless 'detach'. Where the solver runs on
        the host (NumPy input, 'greenkhorn'), 'autodiff' means 'envelope'. Unbalanced
        OT: 'autodiff', 'envelope' (the partial derivatives of the dual (entropic) or of
        the primal (MM) objective at the solution) or 'detach'; 'last_step' means
        'autodiff' there, as POT.
    reach : float, optional, keyword-only
        otkit's: unbalanced OT with :math:`\rho = 2\,\mathrm{reach}^2`, the rule of
        :func:`otkit.sinkhorn_divergence` for a squared Euclidean cost. Not together with
        ``unbalanced``.

    Returns
    -------
    result : OTResult
        ``value``, ``value_linear``, ``plan``, ``potentials`` (cost units), ``status``,
        ``converged``, ``n_iter``, ``errors`` (marginal-error trace), ``citation`` and
        ``log`` (the log dict of the underlying function), in the library, dtype and
        device of ``M``. Unbalanced: ``value`` is the whole objective (marginal penalties
        included), ``marginals`` the plan's, and the potentials satisfy
        :math:`P\mathbf 1 = a\, e^{-f/\rho_a}`, :math:`P^\top \mathbf 1 = b\, e^{-g/\rho_b}`.

    Raises
    ------
    ValueError
        ``reg < 0``, an unknown ``method`` or ``grad``, a method that does not fit ``reg``,
        shapes that disagree, bad values (as :func:`otkit.emd` and :func:`otkit.sinkhorn`),
        ``reach`` and ``unbalanced`` together, a penalty not > 0 (or infinite for 'mm'),
        ``max_iter=0`` with ``grad='last_step'``, a bad ``c`` or ``n_threads``.
    NotImplementedError
        ``reg_type`` other than 'KL' or 'entropy', ``unbalanced_type`` other than 'KL',
        method 'lbfgsb'.

    Notes
    -----
    Differences from POT's ``ot.solve``: ``potentials`` are in cost units
    (:math:`f = \varepsilon(\log u - \log a)` for POT's log-scalings ``log_u``), ``status``
    is 'optimal', 'converged' or 'max_iter_reached', ``c`` is also used for balanced
    entropic OT, and the KL value is the generalized KL (equal to POT's when ``a`` and
    ``b`` have mass 1).

    References
    ----------
    Cuturi, M. (2013). Sinkhorn distances: lightspeed computation of optimal transport.
    NIPS 26. Chizat, L., Peyré, G., Schmitzer, B., Vialard, F.-X. (2018). Scaling
    algorithms for unbalanced optimal transport problems. Math. Comp. 87(314).
    Chapel, L. et al. (2021). Unbalanced optimal transport through non-negative penalized
    linear regression. NeurIPS 34.

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
    if hasattr(potentials_init, "init_potentials"):
        potentials_init = initial_potentials(potentials_init, a, b, M, reg)
    return solve_matrix(
        M, a, b, reg, c, reg_type, unbalanced, unbalanced_type, method, n_threads, max_iter,
        plan_init, potentials_init, tol, verbose, grad, reach=reach, stacklevel=3,
    )  # fmt: skip


def solve_matrix(M, a, b, reg, c, reg_type, unbalanced, unbalanced_type, method, n_threads,
                 max_iter, plan_init, potentials_init, tol, verbose, grad, *, reach=None,
                 stacklevel=3):  # fmt: skip
    """``solve`` for the public entry points; ``stacklevel`` places warnings in user code."""
    eps = check_reg(reg)
    check_choice(grad, "grad", GRADS)
    max_iter, tol = check_iteration_options(max_iter, tol)
    check_n_threads(n_threads)
    regularized = is_regularized(eps)
    rho = unbalanced_penalty(reach, unbalanced)
    reg_type = check_reg_type(reg_type, regularized, rho is not None)
    unbalanced_type = check_unbalanced_type(unbalanced_type, rho)
    if rho is not None:
        xp, _, _, a, b, M, potentials = prepare_problem(a, b, M, potentials_init)
        return solve_unbalanced(
            M, a, b, eps, rho, c if regularized else None, reg_type, unbalanced_type, method,
            max_iter, tol, plan_init, potentials, grad, verbose, xp,
        )  # fmt: skip
    method = _method_for(method, eps)
    xp, _, _, a, b, M, potentials = prepare_problem(a, b, M, potentials_init)
    _check_plan_shape(plan_init, M)
    if method in EXACT_METHODS:
        warn_n_threads(n_threads, stacklevel)
        return _solve_exact(M, a, b, max_iter, potentials, grad, verbose)
    if reg_type == "entropy" and c is not None:
        raise ValueError("c is the reference of reg_type='KL'; reg_type='entropy' uses c = 1")
    c = prepare_reference(c, M, xp, strict_positive=True)
    if grad == "autodiff" and (is_numpy_namespace(xp) or method == "greenkhorn"):
        grad = "envelope"  # host solvers: no unrolled iterations to differentiate
    return solve_entropic(
        M, a, b, eps, c, reg_type, method, max_iter, tol, potentials, grad, verbose
    )


def _method_for(method, eps):
    regularized = is_regularized(eps)
    if method is None:
        return "sinkhorn" if regularized else "emd"
    if method in ("mm", "lbfgsb"):
        raise ValueError(
            f"method={method!r} solves unbalanced OT; pass unbalanced=rho (or use 'emd' or "
            "'sinkhorn' for balanced OT)"
        )
    check_choice(method, "method", EXACT_METHODS + SINKHORN_METHODS)
    if method in EXACT_METHODS and regularized:
        raise ValueError(
            f"method={method!r} solves unregularized OT, but reg={eps!r}; pass reg=None "
            "or an entropic method such as 'sinkhorn'"
        )
    if method in SINKHORN_METHODS and not regularized:
        raise ValueError(f"method={method!r} needs reg > 0 (entropic OT), got reg={eps!r}")
    return method


def _check_plan_shape(plan_init, M):
    """``plan_init`` is not used by the balanced solvers; its shape is still checked."""
    if plan_init is None:
        return
    shape = tuple(plan_init.shape) if hasattr(plan_init, "shape") else np.shape(plan_init)
    if tuple(shape) != tuple(M.shape):
        raise ValueError(f"plan_init.shape == {tuple(shape)}, expected {tuple(M.shape)} (M)")


def _solve_exact(M, a, b, max_iter, potentials, grad, verbose):
    budget = _EMD_MAX_ITER if max_iter is None else max_iter
    # The pivot budget is a safeguard, not the expected length: the bar only counts.
    with progress(verbose, None, desc="emd") as report:
        value, log = emd2(
            a, b, M, numItermax=budget, log=True, return_matrix=True, potentials_init=potentials
        )
        code, n_iter = concrete(log["result_code"]), concrete(log["n_iter"])
        status = None if code is None else _EMD_STATUS.get(int(code), f"code {code}")
        if n_iter is not None:
            report(n_iter)
        report.close(status)
    plan = log["G"]
    if grad == "detach":
        value = stop_gradient(value, get_namespace(plan=plan))
    converged = (log["result_code"] == 1) if code is None else status == "optimal"
    return OTResult(
        potentials=(log["u"], log["v"]),
        value=value,
        value_linear=value,
        plan=plan,
        log=log,
        status=status,
        converged=converged,
        n_iter=log["n_iter"],
        errors=[],
        method="emd",
        citation=citation_for("emd"),
    )
