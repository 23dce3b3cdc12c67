"""A Sinkhorn plan between point clouds, evaluated block by block on demand."""

from __future__ import annotations

import numbers

from ..backend import get_namespace
from ..utils._costs import dist
from ..utils._result import LazyTensor

__all__ = ["sinkhorn_lazy_plan"]


def _as_slice(index, size, axis):
    """An int (also negative) as a one-element slice; a slice unchanged."""
    if isinstance(index, slice):
        return index
    if isinstance(index, numbers.Integral) and not isinstance(index, bool):
        position = int(index) + size if index < 0 else int(index)
        if not 0 <= position < size:
            raise IndexError(f"index {index} is out of bounds for axis {axis} of size {size}")
        return slice(position, position + 1)
    raise TypeError(
        f"a lazy plan takes ints and slices (as POT's LazyTensor), got {type(index).__name__}"
    )


def _plan_block(rows, cols, X_a, X_b, f, g, metric, reg):
    """exp(f_i + g_j - c(x_i, y_j) / reg) on the selected rows and columns."""
    rows = _as_slice(rows, X_a.shape[0], 0)
    cols = _as_slice(cols, X_b.shape[0], 1)
    xp = get_namespace(X_a=X_a, f=f)
    cost = dist(X_a[rows, :], X_b[cols, :], metric=metric)
    return xp.exp(f[rows][:, None] + g[cols][None, :] - cost / reg)


def sinkhorn_lazy_plan(X_a, X_b, f, g, metric, reg):
    r"""The entropic plan :math:`\gamma_{ij} = \exp(f_i + g_j - c(x_i, y_j) / \varepsilon)`
    as a :class:`~otkit.utils._result.LazyTensor`: never stored, each block computed when
    indexed.

    ``log["lazy_plan"]`` of :func:`otkit.empirical_sinkhorn` (and
    :func:`otkit.empirical_sinkhorn2`) with ``isLazy=True``, as POT's: ``plan[:]`` is the
    dense (n, m) plan, ``plan[i:j, k:l]`` a block, and an int index keeps its axis
    (``plan[0]`` has shape (1, m), ``plan[1, 2]`` shape (1, 1); negative ints count from
    the end). The cost of a block is recomputed from the points, so memory is that of the
    block. The attributes ``X_a``, ``X_b``, ``f``, ``g``, ``metric``, ``reg`` are POT's.

    Parameters
    ----------
    X_a, X_b : (n, d), (m, d) arrays
        The points.
    f, g : (n,), (m,) arrays
        POT's log-scalings (``log u``, ``log v``): :math:`f_i = \log a_i + \hat f_i /
        \varepsilon` for the potential :math:`\hat f` in cost units.
    metric : str
        The cost :math:`c`, a metric of :func:`otkit.dist`.
    reg : float
        :math:`\varepsilon`, in cost units.

    Returns
    -------
    plan : LazyTensor
        ``shape == (n, m)``; blocks in the namespace, dtype and device of ``f``.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.array([[0.0], [1.0], [2.0]])
    >>> log_u, log_v, log = ot.empirical_sinkhorn(x, x, 1.0, isLazy=True, log=True)
    >>> plan = log["lazy_plan"]
    >>> plan.shape, plan[0:2, 1:].shape
    ((3, 3), (2, 2))
    >>> bool(np.allclose(plan[:].sum(axis=0), 1 / 3))
    True
    """
    shape = (X_a.shape[0], X_b.shape[0])
    return LazyTensor(shape, _plan_block, X_a=X_a, X_b=X_b, f=f, g=g, metric=metric, reg=reg)
