"""Exact optimal transport by linear programming (otkit's Cython network simplex)."""

from ._barycenter import barycenter
from ._emd import center_ot_dual, check_result, emd, emd2
from ._free_support import displacement_interpolation, free_support_barycenter

__all__ = [
    "barycenter",
    "center_ot_dual",
    "check_result",
    "displacement_interpolation",
    "emd",
    "emd2",
    "free_support_barycenter",
]
