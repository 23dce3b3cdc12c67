"""Exact optimal transport: the network simplex, 1D OT by sorting, exact barycenters.

POT's ``ot.lp`` paths (``from otkit.lp import emd, wasserstein_1d``). ``emd``/``emd2`` run
otkit's Cython network simplex; the 1D functions solve OT on the real line by sorting
(closed form through quantile functions); ``barycenter`` is the exact LP barycenter on a fixed
support, ``free_support_barycenter`` the Cuturi-Doucet fixed-point iteration and
``barycenter_1d`` the exact 1D Wasserstein barycenter.
"""

from ..utils import center_ot_dual
from ._barycenter import barycenter
from ._barycenter_1d import barycenter_1d
from ._emd import check_result, emd, emd2
from ._free_support import displacement_interpolation, free_support_barycenter
from ._lazy import emd2_lazy, emd_lazy
from ._one_d import (
    PlanTuple,
    SparsePlan,
    emd2_1d,
    emd_1d,
    wasserstein_1d,
    wasserstein_1d_potentials,
)

__all__ = [
    "PlanTuple",
    "SparsePlan",
    "barycenter",
    "barycenter_1d",
    "center_ot_dual",
    "check_result",
    "displacement_interpolation",
    "emd",
    "emd2",
    "emd2_1d",
    "emd2_lazy",
    "emd_1d",
    "emd_lazy",
    "free_support_barycenter",
    "wasserstein_1d",
    "wasserstein_1d_potentials",
]
