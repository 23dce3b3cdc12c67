"""Results of solve and solve_sample: the OTResult class, and LazyTensor for lazy plans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backend import get_namespace, is_numpy_namespace

__all__ = ["TEXTBOOK_BIBTEX", "LazyTensor", "OTResult", "with_changes"]

TEXTBOOK_BIBTEX = """@article{peyre2019computational,
  author  = {Gabriel Peyr{\\'e} and Marco Cuturi},
  title   = {Computational Optimal Transport},
  journal = {Foundations and Trends in Machine Learning},
  volume  = {11},
  number  = {5-6},
  pages   = {355--607},
  year    = {2019},
  doi     = {10.1561/2200000073}
}"""


class LazyKeyError(TypeError, NotImplementedError):
    """A key :class:`LazyTensor` cannot take: a TypeError, and POT's NotImplementedError."""


class LazyTensor:
    r"""An array that is never stored: its entries are computed from slices on request.

    POT's ``ot.utils.LazyTensor``. ``T[key]`` calls ``getitem(*keys, **kwargs)`` with one
    key (an int or a slice) per axis, missing trailing axes filled with ``slice(None)``;
    the named arguments are also attributes of the object (for a transport plan between
    point clouds: the points, the potentials, the metric, :math:`\varepsilon`).

    Parameters
    ----------
    shape : tuple of int
        Shape of the tensor.
    getitem : callable
        ``getitem(*keys, **kwargs)`` returns the block that the keys select.
    **kwargs
        Arguments passed to ``getitem``, stored as attributes.

    Examples
    --------
    >>> import numpy as np
    >>> from otkit.utils._result import LazyTensor
    >>> v = np.arange(3.0)
    >>> T = LazyTensor((3, 3), lambda i, j, v: v[i, None] + v[None, j], v=v)
    >>> T[1:, :].tolist()
    [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]
    >>> T.v is v
    True
    """

    def __init__(self, shape, getitem: Callable, **kwargs):
        if not callable(getitem):
            raise TypeError(f"getitem must be callable, got {type(getitem).__name__}")
        self.shape = tuple(int(s) for s in shape)
        self.ndim = len(self.shape)
        self.kwargs = kwargs
        self._getitem = getitem
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __getitem__(self, key):
        keys = list(key) if isinstance(key, tuple) else [key]
        for k in keys:
            if not isinstance(k, (int, slice)) or isinstance(k, bool):
                raise LazyKeyError(
                    f"LazyTensor takes int and slice keys (one per axis), got {type(k).__name__}"
                )
        if len(keys) > self.ndim:
            raise IndexError(f"{len(keys)} keys for a tensor of {self.ndim} axes")
        keys += [slice(None)] * (self.ndim - len(keys))
        return self._getitem(*keys, **self.kwargs)

    def __repr__(self) -> str:
        # POT's exact format (no spaces inside), which scripts and tests compare against
        return f"LazyTensor(shape={self.shape},attributes=({','.join(self.kwargs)}))"


def _dense(sparse):
    """A sparse plan (scipy, torch or JAX sparse) as a dense array of its library."""
    for name in ("toarray", "to_dense", "todense"):  # scipy first: its todense is np.matrix
        method = getattr(sparse, name, None)
        if callable(method):
            return method()
    raise TypeError(f"cannot convert a sparse plan of type {type(sparse).__name__} to dense")


def _reduce_lazy(lazy, batch_size, axis):
    """Sums of a lazy (n, m) plan along ``axis``, computed from row blocks of ``batch_size``."""
    n = lazy.shape[0]
    total, parts = None, []
    for start in range(0, n, batch_size):
        block = lazy[start : min(start + batch_size, n), :]
        xp = get_namespace(block=block)
        if axis == 1:
            parts.append(xp.sum(block, axis=1))
        else:
            column_sums = xp.sum(block, axis=0)
            total = column_sums if total is None else total + column_sums
    return xp.concat(parts) if axis == 1 else total


class OTResult:
    r"""Result of an optimal transport solve (read-only), with POT's attributes.

    Every array is in the library, floating dtype and device of the input. Values are in
    cost units whatever the method (:math:`W_p^p`-like for the cost
    :math:`\|x - y\|^p`, never a p-th root). The positional parameters are POT's
    (``ot.utils.OTResult``); otkit's extras are keyword-only.

    Parameters
    ----------
    potentials : pair of arrays, optional
        Dual potentials ``(f, g)`` in cost units, of shapes (n,) and (m,).
    value, value_linear, value_quad : 0-d arrays, optional
        The full objective, its linear part :math:`\langle P, C\rangle` and its quadratic
        part (Gromov-Wasserstein problems; None for linear OT).
    plan : (n, m) array, optional
        The dense transport plan.
    log : dict, optional
        Solver-specific extras (an empty dict when None).
    backend : optional
        The array namespace of the result (inferred from the arrays when None).
    sparse_plan : sparse matrix, optional
        The plan in a sparse format (scipy, torch or JAX sparse).
    lazy_plan : LazyTensor, optional
        The plan as a lazy tensor, computed block by block.
    status : str, optional
        How the solver ended.
    batch_size : int, default=100
        Rows per block when the marginals are reduced from ``lazy_plan``.
    converged, n_iter, errors, method : optional, keyword-only
        otkit's solver report: stopping criterion met, iterations, marginal-error trace,
        method that ran.
    marginals : pair of arrays, optional, keyword-only
        The plan's marginals when known without the plan.
    plan_factory : callable, optional, keyword-only
        Computes the dense plan on first access of ``plan``.
    a_to_b, b_to_a : array or callable, optional, keyword-only
        Displacement vectors of the samples (or a callable computing them on first access).
    citation : str, optional, keyword-only
        References of the solver that produced the result.

    Attributes
    ----------
    value : 0-d array
        The optimal value of the problem solved: :math:`\langle P, C\rangle` for exact, 1D
        and sliced OT; :math:`\langle P, C\rangle + \varepsilon\,\mathrm{KL}(P \,\|\, a
        \otimes b)` for entropic OT (the Sinkhorn divergence with ``debias=True``).
        Differentiable (torch, JAX) as set by ``grad``.
    value_linear : 0-d array
        The linear part :math:`\langle P, C\rangle` (equal to ``value`` for unregularized
        methods).
    value_quad : None
        The quadratic part of Gromov-Wasserstein objectives (None here: linear OT only).
    plan : (n, m) array or None
        The transport plan, computed on first access where it is lazy (method '1d') or
        given sparse; None where no dense plan is formed ('sliced', 'online', 'gaussian').
    sparse_plan : sparse matrix, array or None
        The plan in sparse form: the one the solver gave, else on NumPy the dense plan as a
        ``scipy.sparse.csr_array``, and on the other libraries the dense plan itself (as
        POT, whose torch and JAX backends have no sparse conversion).
    lazy_plan : LazyTensor or None
        The plan of the online solvers as a :class:`LazyTensor`: ``lazy_plan[i0:i1]`` is a
        block of rows, never the whole (n, m) matrix unless asked.
    potentials : tuple (f, g) of arrays or None
        Dual potentials in cost units, of shapes (n,) and (m,): :math:`f_i + g_j \le C_{ij}`
        for exact OT, :math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij}) / \varepsilon)` for
        entropic OT.
    potential_a, potential_b : array or None
        The two potentials.
    marginals : tuple of arrays or None
        ``(plan.sum(1), plan.sum(0))`` (from ``lazy_plan`` by blocks of ``batch_size`` rows
        when there is no dense plan); ``marginal_a`` and ``marginal_b`` are its entries.
    a_to_b, b_to_a : (n, d) and (m, d) arrays
        Displacement of each sample: the barycentric map
        :math:`T(x_i) = \sum_j P_{ij} y_j / \sum_j P_{ij}` minus :math:`x_i` (and back)
        for the plans of ``solve_sample``, the Monge map for 'gaussian'.
        ``NotImplementedError`` where no positions are known (``solve`` on a cost matrix)
        or no plan is formed ('sliced').
    citation : str
        A summary of the solver and the BibTeX entries of the works behind it.
    status : str or None
        'optimal' (exact solvers), 'not_certified' (an exact result that failed its
        optimality certificate), 'converged', 'max_iter_reached', 'infeasible' or
        'unbounded'; None under ``jax.jit``, where it is not known at trace time.
    log : dict or None
        Solver-specific extras (for example the log of the underlying function); None when
        the solver keeps none (as POT).
    backend : module or None
        The array namespace of the arrays (POT: its backend object).
    batch_size : int
        Rows per block for reductions of ``lazy_plan``.
    converged : bool
        Whether the solver met its stopping criterion (a traced array under ``jax.jit``).
    n_iter : int
        Iterations (Sinkhorn) or pivots (network simplex); 0 for closed-form solvers.
    errors : list of float
        Marginal-error trace of iterative solvers, one entry per iteration (an array padded
        with NaN under ``jax.jit``; the final error only for 'online'); empty for the
        direct solvers.
    method : str
        The method that ran.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> res = ot.solve(np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> float(res.value), res.status, res.plan.shape
    (0.0, 'optimal', (2, 2))
    >>> res.sparse_plan.nnz
    2
    >>> res.citation.splitlines()[0]
    'Exact optimal transport (linear program), solved by the network simplex.'
    """

    def __init__(
        self,
        potentials: tuple | None = None,
        value: Any = None,
        value_linear: Any = None,
        value_quad: Any = None,
        plan: Any = None,
        log: dict | None = None,
        backend: Any = None,
        sparse_plan: Any = None,
        lazy_plan: Any = None,
        status: str | None = None,
        batch_size: int = 100,
        *,
        converged: Any = None,
        n_iter: Any = None,
        errors: Any = None,
        method: str | None = None,
        marginals: tuple | None = None,
        plan_factory: Callable[[], Any] | None = None,
        a_to_b: Any = None,
        b_to_a: Any = None,
        citation: str | None = None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        fields = {
            "_potentials": None if potentials is None else tuple(potentials),
            "_value": value,
            "_value_linear": value_linear,
            "_value_quad": value_quad,
            "_plan": plan,
            "_log": log,
            "_backend": backend,
            "_sparse_plan": sparse_plan,
            "_lazy_plan": lazy_plan,
            "_status": status,
            "_batch_size": batch_size,
            "_converged": converged,
            "_n_iter": n_iter,
            "_errors": [] if errors is None else errors,
            "_method": method,
            "_marginals": None if marginals is None else tuple(marginals),
            "_plan_factory": plan_factory,
            "_a_to_b": a_to_b,
            "_b_to_a": b_to_a,
            "_citation": citation,
        }
        for name, field in fields.items():
            object.__setattr__(self, name, field)

    def __setattr__(self, name, value):
        raise AttributeError(f"OTResult is read-only; cannot set {name!r}")

    def _cache(self, name, value):
        object.__setattr__(self, name, value)
        return value

    # --- values and potentials ---------------------------------------------------------------

    @property
    def value(self):
        """The full objective (regularization and penalty terms included), in cost units."""
        return self._value

    @property
    def value_linear(self):
        r"""The linear part :math:`\langle P, C\rangle` of the objective, in cost units."""
        return self._value_linear

    @property
    def value_quad(self):
        """The quadratic part of a Gromov-Wasserstein objective (None for linear OT)."""
        return self._value_quad

    @property
    def potentials(self):
        """Dual potentials ``(f, g)`` in cost units, or None."""
        return self._potentials

    @property
    def potential_a(self):
        """The potential of the source measure ``a``, shape (n,)."""
        return None if self._potentials is None else self._potentials[0]

    @property
    def potential_b(self):
        """The potential of the target measure ``b``, shape (m,)."""
        return None if self._potentials is None else self._potentials[1]

    # --- plans ----------------------------------------------------------------------------------

    @property
    def plan(self):
        """The dense transport plan, or None where the solver forms none."""
        if self._plan is None:
            if self._plan_factory is not None:
                return self._cache("_plan", self._plan_factory())
            if self._sparse_plan is not None:
                return self._cache("_plan", _dense(self._sparse_plan))
        return self._plan

    @property
    def sparse_plan(self):
        """The plan in sparse form (CSR on NumPy; the dense plan on other libraries)."""
        if self._sparse_plan is not None:
            return self._sparse_plan
        plan = self.plan
        if plan is None:
            return None
        if is_numpy_namespace(get_namespace(plan=plan)):
            from scipy.sparse import csr_array

            return self._cache("_sparse_plan", csr_array(plan))
        return plan

    @property
    def lazy_plan(self):
        """The plan as a :class:`LazyTensor` (online solvers), or None."""
        return self._lazy_plan

    @property
    def batch_size(self):
        """Rows per block when reducing ``lazy_plan``."""
        return self._batch_size

    # --- marginals ------------------------------------------------------------------------------

    @property
    def marginals(self):
        """``(marginal_a, marginal_b)``: the sums of the plan's rows and columns, or None."""
        if self._marginals is None:
            plan = self.plan
            if plan is not None:
                xp = get_namespace(plan=plan)
                self._cache("_marginals", (xp.sum(plan, axis=1), xp.sum(plan, axis=0)))
            elif self._lazy_plan is not None:
                lazy, size = self._lazy_plan, self._batch_size
                rows, cols = _reduce_lazy(lazy, size, 1), _reduce_lazy(lazy, size, 0)
                self._cache("_marginals", (rows, cols))
        return self._marginals

    @property
    def marginal_a(self):
        """The plan's first marginal, shape (n,)."""
        marginals = self.marginals
        return None if marginals is None else marginals[0]

    @property
    def marginal_b(self):
        """The plan's second marginal, shape (m,)."""
        marginals = self.marginals
        return None if marginals is None else marginals[1]

    # --- maps -----------------------------------------------------------------------------------

    def _displacement(self, name, other):
        field = getattr(self, name)
        if field is None:
            raise NotImplementedError(
                f"{name[1:]} is not available for this result (method={self._method!r}): "
                "displacements need the sample positions and a plan or a map, as the "
                "results of solve_sample with the 'exact', 'sinkhorn', 'online', '1d' (one "
                f"feature) and 'gaussian' methods have; see {other} for the other direction"
            )
        if callable(field):
            field = self._cache(name, field())
        return field

    @property
    def a_to_b(self):
        """Displacement vectors from the source samples to the target measure, (n, d)."""
        return self._displacement("_a_to_b", "b_to_a")

    @property
    def b_to_a(self):
        """Displacement vectors from the target samples to the source measure, (m, d)."""
        return self._displacement("_b_to_a", "a_to_b")

    # --- report ---------------------------------------------------------------------------------

    @property
    def status(self):
        """How the solver ended ('optimal', 'converged', 'max_iter_reached', ...)."""
        return self._status

    @property
    def log(self):
        """Solver-specific extras."""
        return self._log

    @property
    def backend(self):
        """The array namespace of the result's arrays."""
        if self._backend is not None:
            return self._backend
        for candidate in (self._value, self._plan, self.potential_a, self._value_linear):
            if candidate is not None and hasattr(candidate, "shape"):
                return get_namespace(x=candidate)
        return None

    @property
    def converged(self):
        """Whether the stopping criterion was met."""
        return self._converged

    @property
    def n_iter(self):
        """Iterations (Sinkhorn, MM) or pivots (network simplex); 0 for closed forms."""
        return self._n_iter

    @property
    def errors(self):
        """The marginal-error trace of iterative solvers."""
        return self._errors

    @property
    def method(self):
        """The method that ran."""
        return self._method

    @property
    def citation(self):
        """A summary of the solver and the BibTeX entries of the works it implements."""
        if self._citation is not None:
            return self._citation
        return (
            "Optimal transport (no solver-specific reference was recorded for this "
            f"result).\n\n{TEXTBOOK_BIBTEX}\n"
        )

    def __repr__(self) -> str:
        try:
            value = f"{float(self._value):.6g}"
        except (TypeError, ValueError):  # traced, batched or missing
            value = "..." if self._value is not None else "None"
        n_iter = self._n_iter if isinstance(self._n_iter, int) else "..."
        shapes = ""
        if self._plan is not None:
            shapes = f", plan shape={tuple(self._plan.shape)}"
        elif self._lazy_plan is not None:
            shapes = f", lazy_plan shape={tuple(self._lazy_plan.shape)}"
        return (
            f"OTResult(method={self._method!r}, value={value}, status={self._status!r}, "
            f"n_iter={n_iter}{shapes})"
        )


def with_changes(result: OTResult, **changes) -> OTResult:
    """A copy of ``result`` with some constructor arguments replaced (for the solvers)."""
    fields = {
        name: object.__getattribute__(result, f"_{name}")
        for name in (
            "potentials", "value", "value_linear", "value_quad", "plan", "log", "backend",
            "sparse_plan", "lazy_plan", "status", "batch_size", "converged", "n_iter",
            "errors", "method", "marginals", "plan_factory", "a_to_b", "b_to_a", "citation",
        )
    }  # fmt: skip
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"unknown OTResult field(s): {', '.join(sorted(unknown))}")
    fields.update(changes)
    positional = ("potentials", "value", "value_linear", "value_quad", "plan", "log",
                  "backend", "sparse_plan", "lazy_plan", "status", "batch_size")  # fmt: skip
    args = [fields.pop(name) for name in positional]
    return OTResult(*args, **fields)
