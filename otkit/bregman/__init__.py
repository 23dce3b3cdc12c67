"""Entropic optimal transport: Sinkhorn solvers, divergences and entropic barycenters.

POT's ``ot.bregman`` paths: ``from otkit.bregman import sinkhorn`` is
``from ot.bregman import sinkhorn``. The family holds the Sinkhorn engines on cost matrices
(exponential, stabilized and log domains, over-relaxation, initializers), the point-cloud
engine behind Sinkhorn divergences and ``empirical_sinkhorn*``, the entropic, debiased and
convolutional barycenters, and POT's per-method entry points (``sinkhorn_knopp``,
``sinkhorn_log``, ...), POT's helpers ``geometricBar``, ``geometricMean``, ``projR`` and
``projC``, and, raising ``NotImplementedError`` with the otkit alternative, POT's
``screenkhorn``, ``unmix`` and ``empirical_sinkhorn_nystroem*``.
"""

from ._barycenter import barycenter, barycenter_debiased
from ._convolutional import convolutional_barycenter2d, convolutional_barycenter2d_debiased
from ._divergence import sinkhorn_divergence
from ._empirical import empirical_sinkhorn, empirical_sinkhorn2, empirical_sinkhorn_divergence
from ._free_support_entropic import free_support_sinkhorn_barycenter
from ._initializers import (
    GaussianInitializer,
    SortingInitializer,
    SubsampleInitializer,
    ZeroInitializer,
)
from ._kl_projections import geometricBar, geometricMean, projC, projR
from ._meta_init import MetaInitializer
from ._pot_entry_points import (
    barycenter_sinkhorn,
    barycenter_stabilized,
    greenkhorn,
    sinkhorn_epsilon_scaling,
    sinkhorn_knopp,
    sinkhorn_log,
    sinkhorn_stabilized,
)
from ._sinkhorn import sinkhorn, sinkhorn2
from ._sinkhorn_init import sinkhorn_init_gaussian, sinkhorn_init_sorting
from ._unsupported import (
    empirical_sinkhorn_nystroem,
    empirical_sinkhorn_nystroem2,
    screenkhorn,
    unmix,
)

__all__ = [
    "GaussianInitializer",
    "MetaInitializer",
    "SortingInitializer",
    "SubsampleInitializer",
    "ZeroInitializer",
    "barycenter",
    "barycenter_debiased",
    "barycenter_sinkhorn",
    "barycenter_stabilized",
    "convolutional_barycenter2d",
    "convolutional_barycenter2d_debiased",
    "empirical_sinkhorn",
    "empirical_sinkhorn2",
    "empirical_sinkhorn_divergence",
    "empirical_sinkhorn_nystroem",
    "empirical_sinkhorn_nystroem2",
    "free_support_sinkhorn_barycenter",
    "geometricBar",
    "geometricMean",
    "greenkhorn",
    "projC",
    "projR",
    "screenkhorn",
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_divergence",
    "sinkhorn_epsilon_scaling",
    "sinkhorn_init_gaussian",
    "sinkhorn_init_sorting",
    "sinkhorn_knopp",
    "sinkhorn_log",
    "sinkhorn_stabilized",
    "unmix",
]
