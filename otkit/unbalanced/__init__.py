"""Unbalanced optimal transport: POT's ``ot.unbalanced`` (``from otkit.unbalanced import ...``).

Marginal constraints relaxed into penalties. Entropic (KL marginals): the damped log-domain
Sinkhorn loop (``sinkhorn_unbalanced`` and POT's per-method names) and the entropic
unbalanced barycenter. Exact or with any regularization on a cost matrix: majorization-
minimization (``mm_unbalanced``) and L-BFGS-B on the primal (``lbfgsb_unbalanced``). 1D:
Frank-Wolfe (``uot_1d``). ``otkit.solve(M, a, b, unbalanced=...)`` reaches the same solvers.
"""

from ._barycenter import (
    barycenter_unbalanced,
    barycenter_unbalanced_sinkhorn,
    barycenter_unbalanced_stabilized,
)
from ._lbfgsb import lbfgsb_unbalanced, lbfgsb_unbalanced2
from ._mm_api import mm_unbalanced, mm_unbalanced2
from ._sinkhorn_api import (
    sinkhorn_knopp_unbalanced,
    sinkhorn_stabilized_unbalanced,
    sinkhorn_unbalanced,
    sinkhorn_unbalanced2,
    sinkhorn_unbalanced_translation_invariant,
)
from ._solver_1d import uot_1d

__all__ = [
    "barycenter_unbalanced",
    "barycenter_unbalanced_sinkhorn",
    "barycenter_unbalanced_stabilized",
    "lbfgsb_unbalanced",
    "lbfgsb_unbalanced2",
    "mm_unbalanced",
    "mm_unbalanced2",
    "sinkhorn_knopp_unbalanced",
    "sinkhorn_stabilized_unbalanced",
    "sinkhorn_unbalanced",
    "sinkhorn_unbalanced2",
    "sinkhorn_unbalanced_translation_invariant",
    "uot_1d",
]
