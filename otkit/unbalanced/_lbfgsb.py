r"""POT's ``lbfgsb_unbalanced``: regularized unbalanced OT by a bound-constrained quasi-Newton.

The objective is a smooth convex function of the plan (except the TV penalty), minimized
over ``P >= 0`` by scipy's L-BFGS-B on the host in float64. Each term and its gradient:

========================  ==================================  ==========================
term                      value                               gradient in ``P_ij``
========================  ==================================  ==========================
``<P, M>``                ``sum P M``                         ``M_ij``
KL marginal (a side)      ``rho_a sum q log(q / a) - q + a``  ``rho_a log(q_i / a_i)``
L2 marginal               ``rho_a / 2 |q - a|^2``             ``rho_a (q_i - a_i)``
TV marginal               ``rho_a |q - a|_1``                 ``rho_a sign(q_i - a_i)``
KL regularization         ``reg sum P log(P / c) - P + c``    ``reg log(P_ij / c_ij)``
entropy                   ``reg sum P log P - P``             ``reg log P_ij``
L2 regularization         ``reg / 2 |P - c|^2``               ``reg (P_ij - c_ij)``
========================  ==================================  ==========================

(``q = P 1``; the b side alike with ``P^T 1``.) A KL term is infinite unless ``P`` is zero
where its reference is: those entries are fixed at 0 by the bounds, and elsewhere the
logarithm is floored at the smallest normal float so that the gradient stays finite at the
boundary ``P_ij = 0``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._boundary import prepare_problem
from .._validation import check_finite, check_nonnegative_weights
from ..backend import from_numpy, is_traced, to_numpy
from ._checks import (
    PLAN_RETURNS,
    VALUE_RETURNS,
    check_choice,
    check_iterations,
    check_matrix,
    check_reg,
    check_reg_m,
    with_return_cost,
)
from ._sinkhorn import RETURN_COSTS

__all__ = ["lbfgsb_unbalanced", "lbfgsb_unbalanced2"]

REG_DIVS = ("kl", "entropy", "l2")
REGM_DIVS = ("kl", "l2", "tv")
_TINY = np.finfo(np.float64).tiny


def _safe_log(x):
    return np.log(np.maximum(x, _TINY))


def _kl(p, ref):
    """Generalized KL and its gradient in p, where ref > 0 (entries with ref = 0 are fixed)."""
    positive = ref > 0
    safe_ref = np.where(positive, ref, 1.0)
    from scipy.special import xlogy  # SciPy only when used: importing otkit stays fast

    value = np.sum(np.where(positive, xlogy(p, p / safe_ref) - p + ref, 0.0))
    return value, np.where(positive, _safe_log(p) - np.log(safe_ref), 0.0)


def _marginal(p, ref, div):
    if div == "kl":
        return _kl(p, ref)
    if div == "l2":
        d = p - ref
        return 0.5 * np.sum(d * d), d
    d = p - ref
    return np.sum(np.abs(d)), np.sign(d)


def _regularization(G, c, div, custom):
    if custom is not None:
        return custom(G)
    if div == "kl":
        return _kl(G, c)
    if div == "entropy":
        from scipy.special import xlogy

        return np.sum(xlogy(G, G) - G), _safe_log(G)
    d = G - c
    return 0.5 * np.sum(d * d), d


def _objective(a, b, M, c, reg, rho, reg_div, regm_div, custom):
    n, m = M.shape

    def value_and_gradient(x):
        G = x.reshape(n, m)
        value, grad = float(np.sum(G * M)), M.copy()
        v_a, g_a = _marginal(G.sum(axis=1), a, regm_div)
        v_b, g_b = _marginal(G.sum(axis=0), b, regm_div)
        value += rho[0] * v_a + rho[1] * v_b
        grad += rho[0] * g_a[:, None] + rho[1] * g_b[None, :]
        if reg > 0:
            v_r, g_r = _regularization(G, c, reg_div, custom)
            value += reg * float(v_r)
            grad += reg * g_r
        return value, grad.ravel()

    return value_and_gradient


def _custom(reg_div, xp, dtype, device):
    """A user pair ``(f, grad f)`` on arrays of the caller's library, called on the host."""
    if len(reg_div) != 2 or not all(callable(fn) for fn in reg_div):
        raise TypeError("reg_div must be 'kl', 'entropy', 'l2' or a pair of callables (f, grad)")
    value_fn, grad_fn = reg_div

    def run(G):
        G_xp = from_numpy(G, xp, dtype=dtype, device=device)
        return float(to_numpy(value_fn(G_xp))), to_numpy(grad_fn(G_xp)).reshape(G.shape)

    return run


def _upper_bounds(a, b, c, reg, reg_div, regm_div):
    """inf, or 0 where a KL term needs the plan to vanish (its reference is 0 there)."""
    free = np.ones((a.shape[0], b.shape[0]), dtype=bool)
    if regm_div == "kl":
        free &= (a > 0)[:, None] & (b > 0)[None, :]
    if reg > 0 and reg_div == "kl":
        free &= c > 0
    return np.where(free, np.inf, 0.0)


def _solve(a, b, M, reg, reg_m, c, reg_div, regm_div, G0, numItermax, stopThr, method,
           verbose, warn):  # fmt: skip
    custom = None
    if isinstance(reg_div, tuple):
        reg_div_name = "custom"
    else:
        reg_div_name = check_choice(reg_div, "reg_div", REG_DIVS)
    regm_div = check_choice(regm_div, "regm_div", REGM_DIVS)
    numItermax, stopThr = check_iterations(numItermax, stopThr)
    if not isinstance(method, str):
        raise TypeError(f"method must be the name of a scipy.optimize method, got {method!r}")
    reg = check_reg(reg, allow_zero=True, allow_traced=False)
    rho = check_reg_m(reg_m, finite=True)
    xp, dtype, device, a, b, M, _ = prepare_problem(a, b, M, None)
    if is_traced(a, b, M):
        raise TypeError("lbfgsb_unbalanced runs scipy on the host: it cannot run under jax.jit")
    a_h, b_h, M_h = to_numpy(a), to_numpy(b), to_numpy(M)
    check_finite(M_h, "M")
    check_nonnegative_weights(a_h, "a")
    check_nonnegative_weights(b_h, "b")
    shape = M.shape
    c_h = np.outer(a_h, b_h) if c is None else to_numpy(
        check_matrix(c, "c", xp, dtype, device, shape, False)
    )  # fmt: skip
    if reg_div_name == "custom":
        custom = _custom(reg_div, xp, dtype, device)
    G0_h = np.outer(a_h, b_h) if G0 is None else to_numpy(
        check_matrix(G0, "G0", xp, dtype, device, shape, False)
    )  # fmt: skip
    upper = _upper_bounds(a_h, b_h, c_h, reg, reg_div_name, regm_div)
    start = np.minimum(G0_h, upper).ravel()
    fun = _objective(a_h, b_h, M_h, c_h, reg, rho, reg_div_name, regm_div, custom)
    from scipy.optimize import Bounds, minimize

    res = minimize(
        fun, start, method=method, jac=True, bounds=Bounds(0.0, upper.ravel()), tol=stopThr,
        options={"maxiter": int(numItermax)},
    )  # fmt: skip
    if verbose:
        print(f"{method}: {res.nit} iterations, objective {res.fun:.8e}: {res.message}")
    if warn and not res.success:
        warnings.warn(
            f"{method} did not converge after {res.nit} iterations: {res.message}",
            UserWarning,
            stacklevel=3,
        )
    G = from_numpy(res.x.reshape(shape), xp, dtype=dtype, device=device)
    log = {
        "cost": xp.sum(G * M),
        "res": res,
        "total_cost": from_numpy(np.asarray(res.fun), xp, dtype=dtype, device=device),
        "n_iter": int(getattr(res, "nit", 0)),
    }
    return G, log


def lbfgsb_unbalanced(
    a,
    b,
    M,
    reg,
    reg_m,
    c=None,
    reg_div="kl",
    regm_div="kl",
    G0=None,
    numItermax=1000,
    stopThr=1e-15,
    method="L-BFGS-B",
    verbose=False,
    log=False,
    *,
    warn=True,
):
    G, info = _solve(a, b, M, reg, reg_m, c, reg_div, regm_div, G0, numItermax, stopThr,
                     method, verbose, warn)  # fmt: skip
    return (G, info) if log else G


def lbfgsb_unbalanced2(
    a,
    b,
    M,
    reg,
    reg_m,
    c=None,
    reg_div="kl",
    regm_div="kl",
    G0=None,
    returnCost="linear",
    numItermax=1000,
    stopThr=1e-15,
    method="L-BFGS-B",
    verbose=False,
    log=False,
    *,
    warn=True,
):
    return_cost = check_choice(returnCost, "returnCost", RETURN_COSTS)
    _, info = _solve(a, b, M, reg, reg_m, c, reg_div, regm_div, G0, numItermax, stopThr,
                     method, verbose, warn)  # fmt: skip
    value = info["cost"] if return_cost == "linear" else info["total_cost"]
    return (value, info) if log else value


_DOC = r"""

    Minimizes over :math:`\gamma \ge 0`

    .. math::
        \langle \gamma, M\rangle_F + \mathrm{reg}\, \Omega(\gamma)
        + \rho_a\, D(\gamma \mathbf 1, a) + \rho_b\, D(\gamma^\top \mathbf 1, b)

    with scipy's L-BFGS-B on the host (float64) from the objective and its gradient:
    :math:`\Omega` is the generalized KL to ``c`` (``reg_div='kl'``), the negative entropy
    :math:`\sum \gamma\log\gamma - \gamma` ('entropy'), half the squared distance to ``c``
    ('l2') or a given pair of functions; :math:`D` is the generalized KL
    :math:`\sum p\log(p/q) - p + q` ('kl'), half the squared Euclidean distance ('l2') or
    the L1 distance ('tv', not differentiable where a marginal equals its target: L-BFGS-B
    then works with the sign as a subgradient and may stop early).

    Parameters
    ----------
    a : (n,) array or list
        Source weights, non-negative, any mass (empty or None: uniform).
    b : (m,) array or list
        Target weights, non-negative, any mass (empty or None: uniform).
    M : (n, m) array
        Cost matrix, finite.
    reg : float
        Weight of the regularization :math:`\Omega`, >= 0 (0: none).
    reg_m : float or pair of floats
        Marginal penalties :math:`\rho > 0`, finite (one number, or ``(rho_a, rho_b)``).
    c : (n, m) array, optional
        Reference of 'kl' and 'l2' regularizations (default :math:`a b^\top`).
    reg_div : {'kl', 'entropy', 'l2'} or tuple of two callables, default='kl'
        :math:`\Omega`, or ``(f, grad_f)`` taking an (n, m) array of the caller's library
        and returning the value and its (n, m) gradient.
    regm_div : {'kl', 'l2', 'tv'}, default='kl'
        The divergence :math:`D` of the marginal penalties.
    G0 : (n, m) array, optional
        Initial plan (default :math:`a b^\top`).
    numItermax : int, default=1000
        ``maxiter`` of the scipy method.
    stopThr : float, default=1e-15
        ``tol`` of the scipy method.
    method : str, default='L-BFGS-B'
        A ``scipy.optimize.minimize`` method that takes bounds.
    verbose : bool, default=False
        Print the number of iterations, the objective and scipy's message.
    log : bool, default=False
        Also return a dict: ``cost`` (:math:`\langle\gamma, M\rangle`), ``total_cost`` (the
        objective), ``res`` (scipy's ``OptimizeResult``), ``n_iter``.
    warn : bool, default=True
        Warn when scipy reports no success.
"""

_TAIL = r"""
    Raises
    ------
    ValueError
        ``reg`` < 0, ``reg_m`` not > 0 or infinite, unknown ``reg_div``, ``regm_div`` or
        ``returnCost``, NaN or inf in ``M``, negative weights, ``c`` or ``G0``.
    TypeError
        Arrays of different libraries, inputs traced by ``jax.jit``.

    Notes
    -----
    Runs on the host in float64 for every backend; the results are moved to the namespace,
    dtype and device of ``M``. No gradient flows through the solve (``log['cost']`` has the
    partial derivative in ``M`` only).

    References
    ----------
    .. [1] R. H. Byrd, P. Lu, J. Nocedal, C. Zhu. A limited memory algorithm for bound
       constrained optimization. SIAM J. Sci. Comput. 16(5), 1995.
    .. [2] L. Chapel, R. Flamary, H. Wu, C. Févotte, G. Gasso. Unbalanced optimal transport
       through non-negative penalized linear regression. NeurIPS 2021.

    Examples
    --------
    >>> import otkit as ot
    >>> M = [[0.0, 1.0], [1.0, 0.0]]
"""

lbfgsb_unbalanced.__doc__ = (
    "Regularized unbalanced OT plan by L-BFGS-B on the primal (POT's lbfgsb_unbalanced)."
    + _DOC
    + PLAN_RETURNS
    + _TAIL
    + r"""    >>> G = ot.unbalanced.lbfgsb_unbalanced([0.5, 0.5], [0.5, 0.5], M, 0.1, 1.0)
    >>> G.round(3)
    array([[0.484, 0.   ],
           [0.   , 0.484]])
"""
)

lbfgsb_unbalanced2.__doc__ = (
    "Regularized unbalanced OT cost by L-BFGS-B on the primal (POT's lbfgsb_unbalanced2)."
    + with_return_cost(_DOC)
    + VALUE_RETURNS
    + _TAIL
    + r"""    >>> value = ot.unbalanced.lbfgsb_unbalanced2([0.5, 0.5], [0.5, 0.5], M, 0.1, 1.0,
    ...                                         returnCost="total")
    >>> round(float(value), 4)
    0.0682
"""
)
