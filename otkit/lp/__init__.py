"""Exact optimal transport by linear programming (otkit's Cython network simplex)."""

from ._emd import center_ot_dual, check_result, emd, emd2

__all__ = ["center_ot_dual", "check_result", "emd", "emd2"]
