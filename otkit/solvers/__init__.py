"""Unified entry points: ``solve`` on a cost matrix, ``solve_sample`` on point clouds.

POT's ``ot.solvers`` paths. Both return an :class:`otkit.utils.OTResult` in cost units,
whatever the method. ``pairwise`` gives the matrix of OT values between two collections of
measures.
"""

from ._pairwise import pairwise
from ._solve import solve
from ._solve_sample import solve_sample

__all__ = ["pairwise", "solve", "solve_sample"]
