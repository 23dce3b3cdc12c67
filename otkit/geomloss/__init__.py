"""GeomLoss-style loss objects: ``from otkit.geomloss import SamplesLoss``.

``SamplesLoss`` wraps the point-cloud Sinkhorn divergence engine of :mod:`otkit.bregman`.
"""

from ._samples_loss import SamplesLoss

__all__ = ["SamplesLoss"]
