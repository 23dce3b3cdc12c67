"""Argument checks and small helpers shared by the unbalanced solvers.

Each check raises ``ValueError`` or ``TypeError`` naming the argument, at the public
boundary, before any iteration runs.
"""

from __future__ import annotations

import math

import numpy as np

from .._boundary import as_backend
from .._validation import check_choice as _check_choice
from .._validation import check_finite, check_integer, check_real
from ..backend import is_traced, to_numpy

__all__ = [
    "PLAN_RETURNS",
    "VALUE_RETURNS",
    "check_choice",
    "check_iterations",
    "check_matrix",
    "check_reg",
    "check_reg_m",
    "generalized_kl",
    "print_trace",
    "with_return_cost",
]

# Docstring pieces of the pairs (plan function, value function) of the primal solvers.
PLAN_RETURNS = r"""
    Returns
    -------
    gamma : (n, m) array
        The plan, in the namespace, dtype and device of ``M``.
    log : dict
        Only with ``log=True``.
"""

VALUE_RETURNS = r"""
    Returns
    -------
    cost : 0-d array
        In the namespace, dtype and device of ``M``.
    log : dict
        Only with ``log=True``.
"""


def with_return_cost(doc):
    """``doc`` with POT's ``returnCost`` parameter documented before ``numItermax``."""
    parameter = r"""    returnCost : {'linear', 'total'}, default='linear'
        'linear': :math:`\langle\gamma, M\rangle`; 'total': the objective above.
"""
    return doc.replace("    numItermax : int", parameter + "    numItermax : int", 1)


def _concrete_float(value, name, what):
    if is_traced(value):
        raise TypeError(f"{name} must be a concrete number (not traced by jax.jit)")
    # inf: a hard marginal constraint
    return check_real(value, name, minimum=0, inclusive=(False, True), allow_inf=True)


def check_reg(reg, name="reg", allow_zero=False, allow_traced=True):
    """``reg`` as a float (> 0, or >= 0 with ``allow_zero``); a traced value passes as is."""
    return check_real(reg, name, minimum=0, inclusive=(allow_zero, True), allow_traced=allow_traced)


def check_reg_m(reg_m, name="reg_m", finite=False):
    """``(rho_a, rho_b)`` as floats from a number or a pair; ``inf`` means a hard constraint.

    With ``finite=True`` an infinite penalty is an error (solvers of the penalized problem
    only).
    """
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
        value = _concrete_float(item, name, "numbers")
        if finite and value == math.inf:
            raise ValueError(
                f"{name} must be finite for this solver, got {value!r}; for a hard marginal "
                "constraint use sinkhorn_unbalanced (reg > 0) or the balanced solvers"
            )
        values.append(value)
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def check_choice(value, name, choices):
    """``value.lower()`` if it is one of ``choices``, else a ValueError listing them."""
    return _check_choice(value, name, choices)


def check_iterations(numItermax, stopThr):
    """``(numItermax, stopThr)`` as ``(int >= 0, float >= 0)``."""
    return check_integer(numItermax, "numItermax"), check_real(stopThr, "stopThr", minimum=0)


def check_matrix(x, name, xp, dtype, device, shape, traced):
    """A non-negative finite (n, m) matrix argument (reference ``c``, initial plan ``G0``)."""
    x = as_backend(x, xp, dtype, device)
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name}.shape == {tuple(x.shape)}, expected {tuple(shape)} to match M")
    if not traced and not is_traced(x):
        host = to_numpy(x)
        check_finite(host, name)
        if np.any(host < 0):
            raise ValueError(f"{name} has negative entries (min {host.min():.3g}); it must be >= 0")
    return x


def generalized_kl(p, q, xp, axis=None):
    """``sum p log(p / q) - p + q`` over ``axis`` (all entries: None), with ``0 log 0 = 0``."""
    positive = p > 0
    ratio = xp.where(positive, p, xp.ones_like(p)) / xp.where(q > 0, q, xp.ones_like(q))
    return xp.sum(xp.where(positive, p * xp.log(ratio), xp.zeros_like(p)) - p + q, axis=axis)


def print_trace(errors, every=1):
    """POT's verbose table: one row of ``(iteration, error)`` per recorded error."""
    for row, err in enumerate(errors):
        if row % 50 == 0:
            print(f"{'It.':5s}|{'Err':12s}\n" + "-" * 19)
        print(f"{row * every:5d}|{float(err):8e}|")
