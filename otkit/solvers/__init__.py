"""Unified entry points: ``solve`` on a cost matrix, ``solve_sample`` on point clouds.

POT's ``ot.solvers`` paths. Both return an :class:`otkit.utils.OTResult` in cost units,
whatever the method.
"""

from ._solve import solve
from ._solve_sample import solve_sample

__all__ = ["solve", "solve_sample"]
