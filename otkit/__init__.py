"""otkit: optimal transport on NumPy, PyTorch and JAX arrays.

The flat public API follows POT's names and signatures::

    import otkit as ot
    M = ot.dist(xs, xt)          # squared Euclidean costs
    G = ot.emd(a, b, M)          # exact optimal plan
    cost = ot.emd2(a, b, M)      # its cost, differentiable

Importing otkit imports neither torch nor jax.
"""

from . import backend, bregman, lp
from ._barycenter import barycenter, barycenter_debiased
from ._barycenter_1d import barycenter_1d
from ._convolutional import convolutional_barycenter2d, convolutional_barycenter2d_debiased
from ._divergence import sinkhorn_divergence
from ._empirical import empirical_sinkhorn, empirical_sinkhorn2, empirical_sinkhorn_divergence
from ._free_support_entropic import free_support_sinkhorn_barycenter
from ._one_d import SparsePlan, emd2_1d, emd_1d, wasserstein_1d, wasserstein_1d_potentials
from ._result import OTResult
from ._samples_loss import SamplesLoss
from ._sinkhorn import sinkhorn, sinkhorn2
from ._sinkhorn_init import sinkhorn_init_gaussian, sinkhorn_init_sorting
from ._sliced import max_sliced_wasserstein_distance, sliced_wasserstein_distance
from ._solve import solve
from ._solve_sample import solve_sample
from ._unbalanced import sinkhorn_unbalanced, sinkhorn_unbalanced2
from ._utils import METRICS, dist, unif
from .lp import displacement_interpolation, emd, emd2, free_support_barycenter

__version__ = "0.1.0.dev0"

__all__ = [
    "METRICS",
    "OTResult",
    "SamplesLoss",
    "SparsePlan",
    "__version__",
    "backend",
    "barycenter",
    "barycenter_1d",
    "barycenter_debiased",
    "bregman",
    "convolutional_barycenter2d",
    "convolutional_barycenter2d_debiased",
    "displacement_interpolation",
    "dist",
    "emd",
    "emd2",
    "emd2_1d",
    "emd_1d",
    "empirical_sinkhorn",
    "empirical_sinkhorn2",
    "empirical_sinkhorn_divergence",
    "free_support_barycenter",
    "free_support_sinkhorn_barycenter",
    "lp",
    "max_sliced_wasserstein_distance",
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_divergence",
    "sinkhorn_init_gaussian",
    "sinkhorn_init_sorting",
    "sinkhorn_unbalanced",
    "sinkhorn_unbalanced2",
    "sliced_wasserstein_distance",
    "solve",
    "solve_sample",
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
