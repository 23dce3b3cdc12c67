"""otkit: optimal transport on NumPy, PyTorch and JAX arrays.

The flat public API follows POT's names and signatures::

    import otkit as ot
    M = ot.dist(xs, xt)          # squared Euclidean costs
    G = ot.emd(a, b, M)          # exact optimal plan
    cost = ot.emd2(a, b, M)      # its cost, differentiable

Importing otkit imports neither torch nor jax.
"""

from . import backend, lp
from ._utils import METRICS, dist, unif
from .lp import emd, emd2

__version__ = "0.1.0.dev0"

__all__ = ["METRICS", "__version__", "backend", "dist", "emd", "emd2", "lp", "unif"]
