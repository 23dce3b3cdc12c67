"""Results of solve and solve_sample: the OTResult class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backend import get_namespace

__all__ = ["OTResult"]


class OTResult:
    r"""Result of an optimal transport solve (read-only), with POT's field names.

    Every array is in the library, floating dtype and device of the input. Values are in
    cost units whatever the method (:math:`W_p^p`-like for the cost
    :math:`\|x - y\|^p`, never a p-th root). The solvers build it from keyword arguments
    named as the attributes, plus ``marginals`` (when known without a plan) and
    ``plan_factory`` (a callable that computes a lazy plan).

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
    plan : (n, m) array or None
        The transport plan, computed on first access where it is lazy (method '1d'); None
        where no plan is formed ('sliced', 'online', '1d' on several features).
    potentials : tuple (f, g) of arrays or None
        Dual potentials in cost units, of shapes (n,) and (m,): :math:`f_i + g_j \le C_{ij}`
        for exact OT, :math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij}) / \varepsilon)` for
        entropic OT.
    potential_a, potential_b : array or None
        The two potentials.
    marginals : tuple of arrays or None
        ``(plan.sum(1), plan.sum(0))``; ``marginal_a`` and ``marginal_b`` are its entries.
    status : str or None
        'optimal' (exact solvers), 'converged', 'max_iter_reached', 'infeasible' or
        'unbounded'; None under ``jax.jit``, where it is not known at trace time.
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
    log : dict
        Solver-specific extras (for example the log of the underlying function).
    """

    def __init__(
        self,
        *,
        value: Any = None,
        value_linear: Any = None,
        plan: Any = None,
        potentials: tuple | None = None,
        status: str | None = None,
        converged: Any = None,
        n_iter: Any = None,
        errors: Any = None,
        method: str | None = None,
        marginals: tuple | None = None,
        log: dict | None = None,
        plan_factory: Callable[[], Any] | None = None,
    ):
        fields = {
            "value": value,
            "value_linear": value_linear,
            "potentials": None if potentials is None else tuple(potentials),
            "status": status,
            "converged": converged,
            "n_iter": n_iter,
            "errors": [] if errors is None else errors,
            "method": method,
            "log": {} if log is None else log,
            "_plan": plan,
            "_plan_factory": plan_factory,
            "_marginals": None if marginals is None else tuple(marginals),
        }
        for name, field in fields.items():
            object.__setattr__(self, name, field)

    def __setattr__(self, name, value):
        raise AttributeError(f"OTResult is read-only; cannot set {name!r}")

    @property
    def plan(self):
        if self._plan is None and self._plan_factory is not None:
            object.__setattr__(self, "_plan", self._plan_factory())
        return self._plan

    @property
    def potential_a(self):
        return None if self.potentials is None else self.potentials[0]

    @property
    def potential_b(self):
        return None if self.potentials is None else self.potentials[1]

    @property
    def marginals(self):
        if self._marginals is None:
            plan = self.plan
            if plan is None:
                return None
            xp = get_namespace(plan=plan)
            object.__setattr__(self, "_marginals", (xp.sum(plan, axis=1), xp.sum(plan, axis=0)))
        return self._marginals

    @property
    def marginal_a(self):
        marginals = self.marginals
        return None if marginals is None else marginals[0]

    @property
    def marginal_b(self):
        marginals = self.marginals
        return None if marginals is None else marginals[1]

    def __repr__(self) -> str:
        try:
            value = f"{float(self.value):.6g}"
        except (TypeError, ValueError):  # traced, batched or missing
            value = "..." if self.value is not None else "None"
        n_iter = self.n_iter if isinstance(self.n_iter, int) else "..."
        return (
            f"OTResult(method={self.method!r}, value={value}, status={self.status!r}, "
            f"n_iter={n_iter})"
        )
