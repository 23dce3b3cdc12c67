"""otkit: optimal transport on NumPy, PyTorch and JAX arrays.

The flat public API follows POT's names and signatures::

    import otkit as ot
    M = ot.dist(xs, xt)          # squared Euclidean costs
    G = ot.emd(a, b, M)          # exact optimal plan
    cost = ot.emd2(a, b, M)      # its cost, differentiable

Importing otkit imports neither torch nor jax.
"""

from . import backend, bregman, lp
from ._one_d import SparsePlan, emd2_1d, emd_1d, wasserstein_1d, wasserstein_1d_potentials
from ._sinkhorn import sinkhorn, sinkhorn2
from ._sinkhorn_init import sinkhorn_init_gaussian, sinkhorn_init_sorting
from ._sliced import max_sliced_wasserstein_distance, sliced_wasserstein_distance
from ._utils import METRICS, dist, unif
from .lp import displacement_interpolation, emd, emd2, free_support_barycenter

__version__ = "0.1.0.dev0"

__all__ = [
    "METRICS",
    "SparsePlan",
    "__version__",
    "backend",
    "bregman",
    "displacement_interpolation",
    "dist",
    "emd",
    "emd2",
    "emd2_1d",
    "emd_1d",
    "free_support_barycenter",
    "lp",
    "max_sliced_wasserstein_distance",
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_init_gaussian",
    "sinkhorn_init_sorting",
    "sliced_wasserstein_distance",
    "unif",
    "wasserstein_1d",
    "wasserstein_1d_potentials",
]


def __getattr__(name):
    # otkit.plot needs matplotlib, an optional dependency: it is imported on first access
    # (``otkit.plot``), never by ``import otkit``.
    if name == "plot":
        import importlib

        return importlib.import_module(f"{__name__}.plot")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
