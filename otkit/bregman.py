"""Entropic solvers under POT's ``ot.bregman`` names (``otkit.bregman.sinkhorn`` ...)."""

from ._sinkhorn import sinkhorn, sinkhorn2
from ._sinkhorn_init import sinkhorn_init_gaussian, sinkhorn_init_sorting

__all__ = [
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_init_gaussian",
    "sinkhorn_init_sorting",
]
