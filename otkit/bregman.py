"""Entropic solvers under POT's ``ot.bregman`` names (``otkit.bregman.sinkhorn`` ...)."""

from ._barycenter import barycenter, barycenter_debiased
from ._convolutional import convolutional_barycenter2d, convolutional_barycenter2d_debiased
from ._divergence import sinkhorn_divergence
from ._empirical import empirical_sinkhorn, empirical_sinkhorn2, empirical_sinkhorn_divergence
from ._free_support_entropic import free_support_sinkhorn_barycenter
from ._sinkhorn import sinkhorn, sinkhorn2
from ._sinkhorn_init import sinkhorn_init_gaussian, sinkhorn_init_sorting

__all__ = [
    "barycenter",
    "barycenter_debiased",
    "convolutional_barycenter2d",
    "convolutional_barycenter2d_debiased",
    "empirical_sinkhorn",
    "empirical_sinkhorn2",
    "empirical_sinkhorn_divergence",
    "free_support_sinkhorn_barycenter",
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_divergence",
    "sinkhorn_init_gaussian",
    "sinkhorn_init_sorting",
]
