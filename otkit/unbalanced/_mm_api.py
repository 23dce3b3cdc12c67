"""POT's ``mm_unbalanced`` and ``mm_unbalanced2`` over the iterations of :mod:`._mm`."""

from __future__ import annotations

import warnings

from .._boundary import prepare_problem
from .._validation import check_finite, check_nonnegative_weights
from ..backend import is_numpy_namespace, is_traced, stop_gradient, to_numpy
from ..bregman._sinkhorn_loop import log_weights
from ._checks import (
    PLAN_RETURNS,
    VALUE_RETURNS,
    check_choice,
    check_iterations,
    check_matrix,
    check_reg,
    check_reg_m,
    print_trace,
    with_return_cost,
)
from ._mm import DIVERGENCES, mm_iterations, primal_value
from ._sinkhorn import GRADS, RETURN_COSTS

__all__ = ["mm_unbalanced", "mm_unbalanced2"]


def _solve(a, b, M, reg_m, c, reg, div, G0, numItermax, stopThr, verbose, grad, warn):
    div = check_choice(div, "div", DIVERGENCES)
    check_choice(grad, "grad", GRADS)
    numItermax, stopThr = check_iterations(numItermax, stopThr)
    rho = check_reg_m(reg_m, finite=True)
    reg = check_reg(reg, allow_zero=True, allow_traced=False)
    xp, dtype, device, a, b, M, _ = prepare_problem(a, b, M, None)
    traced = is_traced(a, b, M)
    if not traced:
        check_finite(to_numpy(M), "M")
        check_nonnegative_weights(to_numpy(a), "a")
        check_nonnegative_weights(to_numpy(b), "b")
    if G0 is not None:
        G0 = stop_gradient(check_matrix(G0, "G0", xp, dtype, device, M.shape, traced), xp)
    if reg > 0:
        c = a[:, None] * b[None, :] if c is None else check_matrix(
            c, "c", xp, dtype, device, M.shape, traced
        )  # fmt: skip
    else:
        c = None  # no regularization: the reference plays no part (as POT)
    unrolled = grad == "autodiff" and not is_numpy_namespace(xp)
    live = (a, b, M, c)
    fixed = tuple(None if x is None else stop_gradient(x, xp) for x in live)
    a_s, b_s, M_s, c_s = live if unrolled else fixed
    if div == "kl":  # POT's start a b^T, or G0 (its zeros stay zeros)
        start = log_weights(a_s, xp)[:, None] + log_weights(b_s, xp)[None, :]
        start = start if G0 is None else log_weights(G0, xp)
    else:
        start = a_s[:, None] * b_s[None, :] if G0 is None else G0
    state, n_iter, err, trace = mm_iterations(
        a_s, b_s, M_s, rho, reg, c_s, start, div, "fro", int(numItermax), float(stopThr), xp,
        unrolled,
    )  # fmt: skip
    plan = xp.exp(state) if div == "kl" else state
    a, b, M, c = fixed if grad == "detach" else live
    # With 'envelope' the plan is fixed: the value has the partial derivatives of F in
    # (a, b, M) at the optimum (Danskin); the linear cost gets that gradient too.
    total, linear = primal_value(plan, a, b, M, rho, reg, c, div, xp)
    if grad == "envelope" and not is_numpy_namespace(xp):
        linear = stop_gradient(linear, xp) + (total - stop_gradient(total, xp))
    errors = trace[1:]  # the first entry is the inf before any step
    if not traced:
        n_iter, err = int(n_iter), float(to_numpy(err))
        if verbose:
            print_trace(errors)
        if warn and not err < stopThr and stopThr > 0 and numItermax > 0:
            warnings.warn(
                f"mm_unbalanced did not reach stopThr={stopThr:g}: plan change {err:.3e} after "
                f"{n_iter} iterations; increase numItermax (or pass warn=False)",
                UserWarning,
                stacklevel=3,
            )
    converged = err < stopThr
    log = {
        "err": errors,
        "cost": linear,
        "total_cost": total,
        "n_iter": n_iter,
        "converged": converged if traced else bool(converged),
    }
    return plan, log


def mm_unbalanced(
    a,
    b,
    M,
    reg_m,
    c=None,
    reg=0,
    div="kl",
    G0=None,
    numItermax=1000,
    stopThr=1e-15,
    verbose=False,
    log=False,
    *,
    grad="autodiff",
    warn=False,
):
    plan, info = _solve(a, b, M, reg_m, c, reg, div, G0, numItermax, stopThr, verbose, grad,
                        warn)  # fmt: skip
    return (plan, info) if log else plan


def mm_unbalanced2(
    a,
    b,
    M,
    reg_m,
    c=None,
    reg=0,
    div="kl",
    G0=None,
    returnCost="linear",
    numItermax=1000,
    stopThr=1e-15,
    verbose=False,
    log=False,
    *,
    grad=None,
    warn=False,
):
    return_cost = check_choice(returnCost, "returnCost", RETURN_COSTS)
    if grad is None:  # the exact gradient of the value returned
        grad = "envelope" if return_cost == "total" else "autodiff"
    _, info = _solve(a, b, M, reg_m, c, reg, div, G0, numItermax, stopThr, verbose, grad, warn)
    value = info["cost"] if return_cost == "linear" else info["total_cost"]
    return (value, info) if log else value


_PROBLEM = r"""

    Solves, without entropy (``reg = 0``) or with a regularization of weight ``reg``,

    .. math::
        \min_{\gamma \ge 0}\ \langle \gamma, M\rangle_F
        + \rho_a\, D(\gamma \mathbf 1, a) + \rho_b\, D(\gamma^\top \mathbf 1, b)
        + \mathrm{reg}\, D(\gamma, c)

    with :math:`D` the generalized KL divergence :math:`\sum p \log(p/q) - p + q`
    (``div='kl'``) or half the squared Euclidean distance (``div='l2'``), by the
    majorization-minimization of Chapel et al. (2021): each iteration minimizes a separable
    upper bound of the objective, tight at the current plan, in closed form,

    .. math::
        \gamma \leftarrow \gamma^{(\rho_a + \rho_b)/s}
        \Big(\frac{a}{\gamma\mathbf 1}\Big)^{\rho_a/s}
        \Big(\frac{b}{\gamma^\top\mathbf 1}\Big)^{\rho_b/s}
        c^{\mathrm{reg}/s} e^{-M/s}, \quad s = \rho_a + \rho_b + \mathrm{reg} \quad
        \text{(KL, in the log domain)},

    .. math::
        \gamma \leftarrow \gamma \odot
        \frac{[\rho_a a \oplus \rho_b b + \mathrm{reg}\, c - M]_+}
        {\rho_a \gamma\mathbf 1 \oplus \rho_b \gamma^\top\mathbf 1 + \mathrm{reg}\,\gamma}
        \quad \text{(L2)}.

    The objective decreases at every iteration and zeros of the plan stay zero (with
    'l2', a row or column of zero weight stays empty from the default start; give ``G0``
    mass there if the optimum may have some).

    Parameters
    ----------
    a : (n,) array or list
        Source weights, non-negative, any mass (empty or None: uniform).
    b : (m,) array or list
        Target weights, non-negative, any mass (empty or None: uniform).
    M : (n, m) array
        Cost matrix, finite.
    reg_m : float or pair of floats
        Marginal penalties :math:`\rho > 0`, finite (one number for both sides, or
        ``(rho_a, rho_b)``; a list, tuple or array of one or two values).
    c : (n, m) array, optional
        Reference of the regularization, non-negative (default :math:`a b^\top`); unused
        when ``reg = 0``.
    reg : float, default=0
        Weight of the regularization :math:`D(\gamma, c)`, >= 0.
    div : {'kl', 'l2'}, default='kl'
        The divergence :math:`D` of the penalties and of the regularization.
    G0 : (n, m) array, optional
        Initial plan, non-negative (default :math:`a b^\top`); its zeros stay zero.
    numItermax : int, default=1000
        Number of iterations at most.
    stopThr : float, default=1e-15
        Stop when the Frobenius norm of the change of the plan in one iteration is below it.
    verbose : bool, default=False
        Print the error of each iteration after the solve (POT's table).
    log : bool, default=False
        Also return a dict: ``err`` (the change of the plan at each iteration, one entry per
        iteration), ``cost`` (:math:`\langle\gamma, M\rangle`), ``total_cost`` (the
        objective above), ``n_iter``, ``converged``.
"""

_WARN = r"""    warn : bool, default=False
        Warn when ``stopThr`` is not reached in ``numItermax`` iterations (off by default:
        POT's ``stopThr=1e-15`` is rarely reached).
"""

_TAIL = r"""
    Raises
    ------
    ValueError
        ``reg_m`` not > 0 or infinite, ``reg`` < 0, unknown ``div`` or ``returnCost``, NaN
        or inf in ``M``, negative weights, ``c`` or ``G0``, shapes that disagree.
    TypeError
        Arrays of different libraries.

    Notes
    -----
    Backends: NumPy, array API libraries, torch and JAX (also under ``jax.jit``). Results
    keep the caller's namespace, dtype and device. POT's ``log['G']`` (every iterate) is not
    kept. For the exact problem with KL penalties, :func:`otkit.solve` with
    ``unbalanced=reg_m`` runs the same iteration and also returns dual potentials.

    References
    ----------
    .. [1] L. Chapel, R. Flamary, H. Wu, C. Févotte, G. Gasso. Unbalanced optimal transport
       through non-negative penalized linear regression. NeurIPS 2021.
    .. [2] D. Lee, H. S. Seung. Algorithms for non-negative matrix factorization. NeurIPS
       2001.
"""

mm_unbalanced.__doc__ = (
    "Unbalanced OT plan by majorization-minimization (KL or squared L2 penalties)."
    + _PROBLEM
    + r"""    grad : {'autodiff', 'envelope', 'detach'}, default='autodiff'
        Gradients on torch and JAX: 'autodiff' differentiates through the iterations (as
        POT); 'envelope' and 'detach' return the plan without gradient.
"""
    + _WARN
    + PLAN_RETURNS
    + _TAIL
    + r"""
    Examples
    --------
    >>> import otkit as ot
    >>> G = ot.unbalanced.mm_unbalanced([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], 5.0)
    >>> G.round(3)
    array([[0.5, 0. ],
           [0. , 0.5]])
"""
)

mm_unbalanced2.__doc__ = (
    "Unbalanced OT cost by majorization-minimization (KL or squared L2 penalties)."
    + with_return_cost(_PROBLEM)
    + r"""    grad : {'autodiff', 'envelope', 'detach'}, optional
        Gradients on torch and JAX. 'autodiff': through the iterations (as POT; the default
        for 'linear'); 'envelope' (the default for 'total'): the partial derivatives of the
        objective at the final plan, the exact gradient of the optimal total value (also
        attached to the linear cost); 'detach': none.
"""
    + _WARN
    + VALUE_RETURNS
    + _TAIL
    + r"""
    Examples
    --------
    >>> import otkit as ot
    >>> M = [[0.0, 1.0], [1.0, 0.0]]
    >>> round(float(ot.unbalanced.mm_unbalanced2([0.5, 0.5], [0.5, 0.5], M, 5.0)), 4)
    0.0
"""
)
