"""otkit: optimal transport on NumPy, PyTorch and JAX arrays.

The flat public API follows POT's names and signatures::

    import otkit as ot
    M = ot.dist(xs, xt)          # squared Euclidean costs
    G = ot.emd(a, b, M)          # exact optimal plan
    cost = ot.emd2(a, b, M)      # its cost, differentiable

Importing otkit imports neither torch nor jax.
"""

from . import backend, bregman, datasets, geomloss, lp, sliced, solvers, unbalanced, utils
from .bregman import (
    GaussianInitializer,
    MetaInitializer,
    SortingInitializer,
    SubsampleInitializer,
    ZeroInitializer,
    barycenter,
    barycenter_debiased,
    convolutional_barycenter2d,
    convolutional_barycenter2d_debiased,
    empirical_sinkhorn,
    empirical_sinkhorn2,
    empirical_sinkhorn_divergence,
    free_support_sinkhorn_barycenter,
    sinkhorn,
    sinkhorn2,
    sinkhorn_divergence,
    sinkhorn_init_gaussian,
    sinkhorn_init_sorting,
)
from .geomloss import SamplesLoss
from .lp import (
    PlanTuple,
    SparsePlan,
    barycenter_1d,
    displacement_interpolation,
    emd,
    emd2,
    emd2_1d,
    emd2_lazy,
    emd_1d,
    emd_lazy,
    free_support_barycenter,
    wasserstein_1d,
    wasserstein_1d_potentials,
)
from .sliced import max_sliced_wasserstein_distance, sliced_wasserstein_distance
from .solvers import pairwise, solve, solve_sample
from .unbalanced import barycenter_unbalanced, sinkhorn_unbalanced, sinkhorn_unbalanced2, uot_1d
from .utils import METRICS, OTResult, dist, tic, toc, toq, unif

__version__ = "0.1.0.dev0"

__all__ = [
    "METRICS",
    "GaussianInitializer",
    "MetaInitializer",
    "OTResult",
    "PlanTuple",
    "SamplesLoss",
    "SortingInitializer",
    "SparsePlan",
    "SubsampleInitializer",
    "ZeroInitializer",
    "__version__",
    "backend",
    "barycenter",
    "barycenter_1d",
    "barycenter_debiased",
    "barycenter_unbalanced",
    "bregman",
    "convolutional_barycenter2d",
    "convolutional_barycenter2d_debiased",
    "datasets",
    "displacement_interpolation",
    "dist",
    "emd",
    "emd2",
    "emd2_1d",
    "emd2_lazy",
    "emd_1d",
    "emd_lazy",
    "empirical_sinkhorn",
    "empirical_sinkhorn2",
    "empirical_sinkhorn_divergence",
    "free_support_barycenter",
    "free_support_sinkhorn_barycenter",
    "geomloss",
    "lp",
    "max_sliced_wasserstein_distance",
    "pairwise",
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_divergence",
    "sinkhorn_init_gaussian",
    "sinkhorn_init_sorting",
    "sinkhorn_unbalanced",
    "sinkhorn_unbalanced2",
    "sliced",
    "sliced_wasserstein_distance",
    "solve",
    "solve_sample",
    "solvers",
    "tic",
    "toc",
    "toq",
    "unbalanced",
    "unif",
    "uot_1d",
    "utils",
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
