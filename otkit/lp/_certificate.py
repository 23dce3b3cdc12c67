r"""Optimality certificate of an exact transport solution (primal and dual feasibility).

The network simplex stops when no arc prices out with its potentials; this module checks,
independently of the solver's bookkeeping, that what is returned is an optimal pair:

- primal feasibility: the plan's row and column sums match ``a`` and ``b`` and no mass was
  left on the solver's artificial arcs;
- dual feasibility: :math:`M_{ij} - u_i - v_j \ge -\tau_{ij}` on all n m arcs, one fused
  pass over M in C (_certificate_kernel.pyx; no n x m temporary);
- complementary slackness: :math:`|M_{ij} - u_i - v_j| \le \tau_{ij}` where the plan is
  positive.

Together they bound the duality gap by the tolerances, so the cost is the LP optimum up to
rounding.
"""

from __future__ import annotations

import numpy as np

from . import _certificate_kernel as _kernel

__all__ = ["DUAL_ULPS", "PRIMAL_ULPS", "certify_solution"]

_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).smallest_subnormal)

# Dual tolerance: tau_ij = DUAL_ULPS * eps * (|M_ij| + |u_i| + |v_j|), each arc at its own
# scale.  The simplex lets an arc stay out of the basis when its reduced cost, computed from
# the tree potentials (each the double nearest to its exact path sum: compensated sums), is
# above -8 ulps of that scale (REL_TOL in _simplex_tree.pxd), the returned duals' scale.
# The returned duals then go through at most three more roundings per term (the big-M shift,
# the centring a.u = b.v, the subtraction M - u - v here), each half an ulp of |u_i| or |v_j|;
# the shift can also leave |u_i| below the scale it was priced at by cancellation, which the
# remaining factor ~2 covers for shifts up to the potentials' own size.  32 ulps is 7e-15
# relative: far below any error that changes a plan or a cost meaningfully.  Below the normal
# range rounding is absolute (one subnormal ulp), so tau also has a floor of DUAL_ULPS of them.
DUAL_ULPS = 32
# Primal tolerance: PRIMAL_ULPS * eps * (n + m) * mass.  Each flow is a sum of the pivots'
# flow changes (one rounding each, at the scale of the mass) and a row sum adds up to m
# flows; the observed drift is a few ulps per node, 64 leaves a wide margin while a missing
# fraction of the mass (an empty or partial plan) is caught at once.
PRIMAL_ULPS = 64
_BLOCK = 1 << 16  # arcs per block of the dual pass (512 KiB per temporary)


def certify_solution(a, b, M, rows, cols, flows, u, v, artificial_flow=0.0):
    """Check a transport solution; return None when it is certified optimal, else a message.

    Parameters
    ----------
    a : (n,) float64 array
        Source weights.
    b : (m,) float64 array
        Target weights, of the same mass as ``a``.
    M : (n, m) float64 array
        Cost matrix (C or Fortran order is read in place; other strides in blocks of rows).
    rows, cols : (k,) int arrays
        Support of the plan.
    flows : (k,) float64 array
        Plan entries on that support.
    u, v : (n,), (m,) float64 arrays
        Dual potentials.
    artificial_flow : float, default=0.0
        Mass the solver left on its artificial arcs.

    Returns
    -------
    message : str or None
        None when primal feasibility, dual feasibility and complementary slackness hold to
        the tolerances above; otherwise which one failed and by how much.

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> a = b = np.array([0.5, 0.5])
    >>> rows = cols = np.array([0, 1]); flows = np.array([0.5, 0.5])
    >>> certify_solution(a, b, M, rows, cols, flows, np.zeros(2), np.zeros(2)) is None
    True
    >>> M[0, 1] = -1.0  # the same plan is no longer optimal
    >>> certify_solution(a, b, M, rows, cols, flows, np.zeros(2), np.zeros(2))
    'dual infeasible: M[0, 1] - u[0] - v[1] = -1 (tolerance 7.1e-15)'
    """
    n, m = M.shape
    tolerances = (PRIMAL_ULPS * _EPS * (n + m), DUAL_ULPS * _EPS, DUAL_ULPS * _TINY)
    arrays = (a, b, M, rows, cols, flows, u, v)
    try:  # the solver's arrays already have the kernel's dtypes and layouts
        code, i, j, value, tol = _kernel.certify(*arrays, float(artificial_flow), *tolerances)
    except (ValueError, TypeError):
        f64 = np.float64
        a, b, flows, u, v = (np.ascontiguousarray(x, dtype=f64) for x in (a, b, flows, u, v))
        rows, cols = (np.ascontiguousarray(x, dtype=np.int64) for x in (rows, cols))
        M = np.asarray(M, dtype=f64)
        code, i, j, value, tol = _kernel.certify(
            a, b, M, rows, cols, flows, u, v, float(artificial_flow), *tolerances
        )
    if code == _kernel.OK:
        return None
    if code == _kernel.STRIDED:  # neither C nor Fortran order: numpy, in blocks of rows
        return _dual_violation(M, u, v)
    return _MESSAGES[code].format(i=i, j=j, value=value, tol=tol)


_MESSAGES = {
    _kernel.NOT_FINITE: "the dual potentials are not finite",
    _kernel.ARTIFICIAL: "primal infeasible: mass {value:.3g} left on artificial arcs",
    _kernel.NEGATIVE_FLOW: "primal infeasible: negative flow {value:.3g}",
    _kernel.MARGINALS: "primal infeasible: marginals off by {value:.3g} (tolerance {tol:.2g})",
    _kernel.SLACKNESS: (
        "complementary slackness fails: M[{i}, {j}] - u - v = {value:.3g} on the support "
        "(tolerance {tol:.2g})"
    ),
    _kernel.DUAL: (
        "dual infeasible: M[{i}, {j}] - u[{i}] - v[{j}] = {value:.3g} (tolerance {tol:.2g})"
    ),
}


def _dual_violation(M, u, v):
    """One pass over M in blocks of rows (any strides): the first block with an arc below
    -tau."""
    n, m = M.shape
    abs_v = np.abs(v)
    step = max(1, _BLOCK // max(m, 1))
    for start in range(0, n, step):
        block = M[start : start + step]
        u_block = u[start : start + step, None]
        rc = block - u_block
        rc -= v
        slack = np.abs(block)
        slack += np.abs(u_block)
        slack += abs_v
        slack *= DUAL_ULPS * _EPS
        slack += DUAL_ULPS * _TINY
        slack += rc  # rc + tau: negative where dual feasibility fails
        if slack.min() < 0.0:
            i, j = np.unravel_index(int(np.argmin(slack)), slack.shape)
            tau = slack[i, j] - rc[i, j]
            return (
                f"dual infeasible: M[{start + i}, {j}] - u[{start + i}] - v[{j}] = "
                f"{rc[i, j]:.3g} (tolerance {tau:.2g})"
            )
    return None
