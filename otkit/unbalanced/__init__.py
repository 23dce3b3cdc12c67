"""Unbalanced optimal transport with KL marginal penalties.

POT's ``ot.unbalanced`` paths (``from otkit.unbalanced import sinkhorn_unbalanced``): the
entropic problem by a damped log-domain Sinkhorn loop, and the exact problem (no entropy) by
majorization-minimization, reached through ``otkit.solve(M, a, b, unbalanced=...)``.
"""

from ._sinkhorn import sinkhorn_unbalanced, sinkhorn_unbalanced2

__all__ = ["sinkhorn_unbalanced", "sinkhorn_unbalanced2"]
