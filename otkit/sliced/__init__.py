"""Sliced Wasserstein distances: random 1D projections solved by sorting.

POT's ``ot.sliced`` paths (``from otkit.sliced import sliced_wasserstein_distance``).
"""

from ._sliced import max_sliced_wasserstein_distance, sliced_wasserstein_distance

__all__ = ["max_sliced_wasserstein_distance", "sliced_wasserstein_distance"]
