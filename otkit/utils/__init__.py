"""Helpers shared by every family: costs, weights and the result object.

POT's ``ot.utils`` paths (``from otkit.utils import dist, unif``).
"""

from ._costs import METRICS, dist, unif
from ._result import OTResult

__all__ = ["METRICS", "OTResult", "dist", "unif"]
