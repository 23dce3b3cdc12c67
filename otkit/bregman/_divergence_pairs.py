r"""OT_eps between many pairs of checked float64 NumPy clouds (the path of :func:`otkit.pairwise`).

:func:`otkit.sinkhorn_divergence` spends about half a millisecond of Python per call on its
checks and on quantities that depend on one cloud only; between N clouds they are done
N^2 / 2 times. :class:`EntropicPairs` checks the options once, :func:`cloud` prepares each
cloud once (its caller has checked the points and weights), and :meth:`EntropicPairs.value`
then returns, for a pair, the same number as ``sinkhorn_divergence(x, y, a, b, reg=...,
debias=False)`` (balanced), bit for bit: the same arithmetic on the same arrays, with

- the centre ``(mean(x) + mean(y)) / 2`` from each cloud's mean, computed once;
- the largest ``|x_ik - c_k|`` of the rescaling and the cost range (the diameter of the
  bounding box of both centred, rescaled clouds) from each cloud's box ``[min_i x_ik,
  max_i x_ik]``: rounding is monotone, so ``min_i fl((x_ik - c_k) s) = fl((min_i x_ik -
  c_k) s)`` (likewise for the max), and a box gives exactly the extremes of the points.

The solve is that of the public function (:func:`otkit.bregman._clouds.solve_clouds`, given
each cloud's mean and box); a pair whose eps is beyond the expansion threshold goes through
the public function.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..backend import numpy_namespace
from ._clouds import positive_parameter, solve_clouds
from ._divergence import check_options, sinkhorn_divergence, warn_not_converged
from ._divergence_core import times_power_of_two

__all__ = ["Cloud", "EntropicPairs", "cloud"]


@dataclasses.dataclass(frozen=True, eq=False)
class Cloud:
    """A checked cloud: float64 (n, d) points, (n,) weights, mean and (2, d) box."""

    points: np.ndarray
    weights: np.ndarray
    mean: np.ndarray
    box: np.ndarray  # rows: min_i x_ik, max_i x_ik


def cloud(points, weights=None):
    """The :class:`Cloud` of float64 NumPy points (n, d) and weights (None: uniform, as
    :func:`otkit.sinkhorn_divergence` makes them); the values are not checked here."""
    n = points.shape[0]
    weights = np.full((n,), 1.0 / n, dtype=np.float64) if weights is None else weights
    box = np.stack((np.min(points, axis=0), np.max(points, axis=0)))
    return Cloud(points, weights, np.mean(points, axis=0), box)


class EntropicPairs:
    """Balanced OT_eps (``debias=False``) between checked clouds, options checked once.

    Parameters
    ----------
    **options
        ``reg``, ``blur``, ``p``, ``metric``, ``scaling``, ``numItermax``, ``stopThr``,
        ``batch_size``, ``diameter``, ``warn`` of :func:`otkit.sinkhorn_divergence`
        (checked here, with its errors).
    """

    def __init__(self, **options):
        self.options = options
        get = options.get
        (self.scaling, self.stop_thr, self.num_iter_max, self.spec, self.exponent, self.reg,
         self.blur, _, _) = check_options(
            reg=get("reg"), blur=get("blur"), p=get("p"), metric=get("metric"), reach=None,
            rho=None, value="regularized", grad="implicit", scaling=get("scaling", 0.5),
            numItermax=get("numItermax", 1000), stopThr=get("stopThr"),
            batch_size=get("batch_size"),
        )  # fmt: skip
        if self.reg is None and self.blur is None:
            raise ValueError("EntropicPairs needs reg or blur")
        self.diameter = positive_parameter(get("diameter"), "diameter")
        self.warn = get("warn", True)

    def value(self, first: Cloud, second: Cloud) -> float:
        """OT_eps(first, second), as ``float(sinkhorn_divergence(..., debias=False))``."""
        eps, out, config, log2_factor, _ = solve_clouds(
            first.points, second.points, first.weights, second.weights, spec=self.spec,
            exponent=self.exponent, reg=self.reg, blur=self.blur, rho=None, debias=False,
            scaling=self.scaling, num_iter_max=self.num_iter_max, tol=self.stop_thr,
            xp=numpy_namespace(), dtype=np.float64, device=None, diameter_value=self.diameter,
            summaries=None if self.spec.kind == "cosine" else (
                first.mean, second.mean, first.box, second.box), value_only=True,
        )  # fmt: skip
        if isinstance(out, tuple):
            # (eps beyond the expansion threshold: rare, and the public function's path)
            total = sinkhorn_divergence(
                first.points, second.points, first.weights, second.weights, debias=False,
                **self.options,
            )  # fmt: skip
            return float(total)
        total = out["ab"]["value"]
        if log2_factor:
            value_factor = times_power_of_two(1.0, log2_factor)
            total = total if value_factor == math.inf and total == 0 else total * value_factor
        total = float(total)
        if not abs(total) <= float(np.finfo(np.float64).max):
            raise ValueError(
                "the divergence overflows float64: the points (X_s, X_t) are too far apart "
                "for the cost ||x - y||^p to be represented; rescale them"
            )
        err, n_iter = float(out["ab"]["err"]), int(out["ab"]["n_iter"])
        if self.warn and not err <= config.tol:
            user_eps = times_power_of_two(eps, log2_factor) if log2_factor else eps
            warn_not_converged(err, config.tol, n_iter, user_eps)
        return total
