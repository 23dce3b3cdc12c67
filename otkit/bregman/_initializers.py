r"""Sinkhorn initializers as objects: ``sinkhorn(a, b, M, reg, init=...)``.

An initializer is any object with a method ``init_potentials(a, b, M, reg)`` returning the
potentials ``(f, g)`` in cost units (the plan :math:`P = a_i b_j e^{(f_i + g_j - M_{ij}) /
\varepsilon}`) of the problem it is given, (n,) and (m,), or (n, k) and (m, k) for a 2-D
``b``. :func:`otkit.sinkhorn`, :func:`otkit.sinkhorn2` and :func:`otkit.solve` start from
them (as ``warmstart=(f, g), warmstart_type='potentials'``). Sinkhorn reads ``f`` alone: an
initializer may also define ``init_row_potentials(a, b, M, reg)`` returning ``f`` alone,
which ``sinkhorn`` and ``sinkhorn2`` then call instead (when ``g`` costs extra work). A
start changes the number of iterations, never the solution: Sinkhorn's fixed point is
unique up to the constant shift.
:class:`otkit.MetaInitializer` (a learned start) has the same method.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_integer
from ..backend import (
    device_of,
    get_namespace,
    is_traced,
    to_numpy,
)
from ._entropic_dual import c_transform
from ._sinkhorn_init import _back as back_to_caller
from ._sinkhorn_init import sinkhorn_init_gaussian, sinkhorn_init_sorting

__all__ = [
    "GaussianInitializer",
    "SortingInitializer",
    "SubsampleInitializer",
    "ZeroInitializer",
    "initial_potentials",
]


def initial_potentials(init, a, b, M, reg, rows_only=False):
    """``(f, g)`` from ``init.init_potentials(a, b, M, reg)``, or a TypeError naming ``init``.

    ``rows_only=True``: the caller reads ``f`` alone (Sinkhorn's first half step computes
    ``g`` from it); an initializer with the optional method ``init_row_potentials(a, b, M,
    reg)`` (``f`` alone, e.g. :class:`otkit.MetaInitializer`, which saves a c-transform
    there) is then asked for ``f`` only, and ``g`` is returned as zeros.
    """
    row_method = getattr(init, "init_row_potentials", None) if rows_only else None
    if callable(row_method):
        f = row_method(a, b, M, reg)
        xp = get_namespace(f=f)
        shape = (np.shape(M)[1], *tuple(f.shape)[1:])
        return f, xp.zeros(shape, dtype=f.dtype, device=device_of(f))
    method = getattr(init, "init_potentials", None)
    if not callable(method):
        raise TypeError(
            "init must be an initializer (an object with init_potentials(a, b, M, reg), e.g. "
            f"otkit.bregman.GaussianInitializer or otkit.MetaInitializer), got {init!r}"
        )
    return method(a, b, M, reg)


def _host_weights(w, size, name):
    """Host weights: uniform when None or empty; an (size,) or (size, k) float64 array."""
    if w is None or np.size(to_numpy(w) if hasattr(w, "shape") else w) == 0:
        return np.full(size, 1.0 / size)
    values = np.asarray(to_numpy(w) if hasattr(w, "shape") else w, dtype=np.float64)
    if values.shape[0] != size:
        raise ValueError(f"{name} has {values.shape[0]} entries, the cost matrix {size}")
    return values


def _back(arrays, like):
    """NumPy arrays in the namespace, float dtype and device of the problem's arrays."""
    present = [x for x in like if hasattr(x, "shape")] or [np.zeros(0)]
    xp = get_namespace(**{f"x{i}": x for i, x in enumerate(present)})
    return back_to_caller(arrays, xp, present)


def _per_column(solve, a, b):
    """``solve(a, b_column)`` for each column of a 2-D ``b``, stacked into (n, k), (m, k)."""
    if b.ndim == 1:
        return solve(a, b)
    pairs = [solve(a, b[:, k]) for k in range(b.shape[1])]
    return np.stack([f for f, _ in pairs], axis=1), np.stack([g for _, g in pairs], axis=1)


def _check_eager(*arrays):
    if is_traced(*[x for x in arrays if hasattr(x, "shape")]):
        raise TypeError("initializers run on the host: call them outside jax.jit")


class ZeroInitializer:
    """The cold start :math:`f = g = 0` (``sinkhorn``'s default).

    Examples
    --------
    >>> import otkit as ot
    >>> f, g = ot.ZeroInitializer().init_potentials(None, None, [[0.0, 1.0]], 1.0)
    >>> f.tolist(), g.tolist()
    ([0.0], [0.0, 0.0])
    """

    def init_potentials(self, a, b, M, reg):
        _check_eager(M)
        n, m = np.shape(M)
        columns = _host_weights(b, m, "b").shape[1:]
        return _back((np.zeros((n, *columns)), np.zeros((m, *columns))), (a, b, M))

    def __repr__(self):
        return "ZeroInitializer()"


class _PointInitializer:
    """Shared by the initializers that know the supports of the two measures."""

    def __init__(self, x_a, x_b):
        self.x_a, self.x_b = x_a, x_b

    def _supports(self, M):
        n, m = np.shape(M)
        if np.shape(self.x_a)[0] != n or np.shape(self.x_b)[0] != m:
            raise ValueError(
                f"the supports x_a, x_b have {np.shape(self.x_a)[0]} and {np.shape(self.x_b)[0]} "
                f"points, the cost matrix is {n} x {m}"
            )
        return np.asarray(to_numpy(self.x_a), float), np.asarray(to_numpy(self.x_b), float)

    def init_potentials(self, a, b, M, reg):
        _check_eager(a, b, M)
        x, y = self._supports(M)
        wa = _host_weights(a, np.shape(M)[0], "a")
        wb = _host_weights(b, np.shape(M)[1], "b")
        f, g = _per_column(lambda a_, b_: self._potentials(a_, b_, x, y), wa, wb)
        return _back((f, g), (a, b, M))


class GaussianInitializer(_PointInitializer):
    """The Gaussian start for the squared Euclidean cost on the supports ``x_a`` (n, d) and
    ``x_b`` (m, d): the potentials of the Gaussian approximation of the two measures
    (:func:`otkit.sinkhorn_init_gaussian`), one problem per column of a 2-D ``b``.

    References
    ----------
    .. [1] J. Thornton, M. Cuturi. Rethinking initialization of the Sinkhorn algorithm.
       AISTATS 2023.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.random.default_rng(0).normal(size=(30, 2)); y = 0.5 * x + 1.0
    >>> M = ot.dist(x, y)
    >>> plan = ot.sinkhorn(None, None, M, 0.5, init=ot.GaussianInitializer(x, y))
    >>> bool(np.allclose(plan, ot.sinkhorn(None, None, M, 0.5), atol=1e-8))
    True
    """

    def _potentials(self, a, b, x, y):
        return tuple(np.asarray(v) for v in sinkhorn_init_gaussian(a, b, x, y))

    def __repr__(self):
        return f"GaussianInitializer(x_a: {np.shape(self.x_a)}, x_b: {np.shape(self.x_b)})"


class SortingInitializer(_PointInitializer):
    """The exact 1D potentials of the cost :math:`|x - y|^p` on the supports ``x_a``,
    ``x_b`` (the unregularized solution, the limit of Sinkhorn's as reg -> 0):
    :func:`otkit.sinkhorn_init_sorting`, one problem per column of a 2-D ``b``.

    References
    ----------
    .. [1] J. Thornton, M. Cuturi. Rethinking initialization of the Sinkhorn algorithm.
       AISTATS 2023.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.linspace(0.0, 1.0, 20); y = x**2
    >>> M = ot.dist(x[:, None], y[:, None])
    >>> _, log = ot.sinkhorn(None, None, M, 0.01, log=True, init=ot.SortingInitializer(x, y))
    >>> _, cold = ot.sinkhorn(None, None, M, 0.01, log=True)
    >>> bool(log["n_iter"] < cold["n_iter"])
    True
    """

    def __init__(self, x_a, x_b, p=2):
        super().__init__(x_a, x_b)
        self.p = p

    def _potentials(self, a, b, x, y):
        return tuple(np.asarray(v) for v in sinkhorn_init_sorting(a, b, x, y, p=self.p))

    def __repr__(self):
        return f"SortingInitializer(p={self.p})"


class SubsampleInitializer:
    r"""Solve a subsample, extend its potentials to every point by c-transforms.

    Draws ``n_samples`` rows and columns of ``M`` (without replacement, seeded), solves the
    entropic problem between the renormalized sub-histograms at the same :math:`\varepsilon`
    (:func:`otkit.sinkhorn` in the log domain), then sets every row potential by the
    c-transform of the subsample's column potential and every column potential by that of
    the extended row potential,

    .. math::
        f_i = -\varepsilon \log \sum_{j \in J} \tilde b_j e^{(g_j - M_{ij})/\varepsilon},
        \qquad g_j = -\varepsilon \log \sum_i a_i e^{(f_i - M_{ij})/\varepsilon},

    a start whose quality grows with ``n_samples`` and costs one small solve and two passes.
    With ``reg`` None or 0 (the exact solver, e.g. ``ot.solve(M, potentials_init=...)``)
    the subsample is solved exactly and the c-transforms are minima (dual feasible duals).
    Deterministic from ``seed``; one subsample solve per column of a 2-D ``b``.

    Parameters
    ----------
    n_samples : int, default=100
        Rows and columns of ``M`` in the subsample (all of them when fewer).
    seed : int, default=0
        Seed of the draw (NumPy's ``default_rng``).
    numItermax, stopThr
        Of the subsample's solve.

    References
    ----------
    .. [1] J. Thornton, M. Cuturi. Rethinking initialization of the Sinkhorn algorithm.
       AISTATS 2023 (initialization from a cheaper problem).

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> rng = np.random.default_rng(0)
    >>> M = ot.dist(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 1.0)
    >>> f, g = ot.SubsampleInitializer(50).init_potentials(None, None, M, 0.5)
    >>> f.shape, g.shape
    ((200,), (200,))
    """

    def __init__(self, n_samples=100, *, seed=0, numItermax=1000, stopThr=1e-6):
        self.n_samples = check_integer(n_samples, "n_samples", minimum=1)
        self.seed = check_integer(seed, "seed", minimum=0)
        self.numItermax, self.stopThr = numItermax, stopThr

    def init_potentials(self, a, b, M, reg):
        from ..lp import emd
        from ._sinkhorn import sinkhorn

        _check_eager(a, b, M)
        C = np.asarray(to_numpy(M) if hasattr(M, "shape") else M, dtype=np.float64)
        n, m = C.shape
        eps = 0.0 if reg is None else float(to_numpy(reg) if hasattr(reg, "shape") else reg)
        wa, wb = _host_weights(a, n, "a"), _host_weights(b, m, "b")
        rng = np.random.default_rng(self.seed)
        rows = np.sort(rng.choice(n, min(n, self.n_samples), replace=False))
        cols = np.sort(rng.choice(m, min(m, self.n_samples), replace=False))

        def solve(a_, b_):
            sub_a, sub_b = a_[rows], b_[cols]
            if sub_a.sum() <= 0 or sub_b.sum() <= 0:
                return np.zeros(n), np.zeros(m)
            sub_a, sub_b, sub_C = sub_a / sub_a.sum(), sub_b / sub_b.sum(), C[np.ix_(rows, cols)]
            if eps <= 0:  # exact OT: LP duals of the subsample, extended by exact c-transforms
                _, log = emd(sub_a, sub_b, sub_C, log=True)
                f = np.min(C[:, cols] - np.asarray(log["v"])[None, :], axis=1)
                return f, np.min(C - f[:, None], axis=0)
            _, log = sinkhorn(
                sub_a, sub_b, sub_C, eps, method="sinkhorn_log", numItermax=self.numItermax,
                stopThr=self.stopThr, log=True, warn=False,
            )  # fmt: skip
            # c-transforms: f from the subsample's g (weights b_J), g from f (weights a)
            g_sub = np.asarray(log["g"])[None, :]
            f = c_transform(g_sub, sub_b[None, :], C[:, cols].T, eps)[0]
            return f, c_transform(f[None, :], a_[None, :], C, eps)[0]

        f, g = _per_column(solve, wa, wb)
        return _back((f, g), (a, b, M))

    def __repr__(self):
        return f"SubsampleInitializer(n_samples={self.n_samples}, seed={self.seed})"
