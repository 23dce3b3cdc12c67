"""Helpers shared by every family, with the names of POT's ``ot.utils``.

Costs (:func:`dist`, :func:`dist0`, :func:`kernel`, ...), weights (:func:`unif`),
projections (:func:`proj_simplex`, :func:`proj_SDP`), dual centring (:func:`center_ot_dual`),
feature scaling (:class:`DataScaler`), timers (:func:`tic`, :func:`toc`, :func:`toq`),
argument helpers and the result object :class:`OTResult`.
"""

from ._costs import METRICS, SCIPY_METRICS, dist, unif
from ._helpers import (
    check_params,
    check_random_state,
    get_coordinate_circle,
    get_parameter_pair,
    is_all_finite,
    label_normalization,
    labels_to_masks,
    list_to_array,
    parmap,
    tic,
    toc,
    toq,
)
from ._matrices import (
    clean_zeros,
    cost_normalization,
    dist0,
    dots,
    euclidean_distances,
    kernel,
    laplacian,
)
from ._projections import center_ot_dual, proj_SDP, proj_simplex
from ._result import LazyTensor, OTResult
from ._scaler import DataScaler, apply_scaler

__all__ = [
    "METRICS",
    "SCIPY_METRICS",
    "DataScaler",
    "LazyTensor",
    "OTResult",
    "apply_scaler",
    "center_ot_dual",
    "check_params",
    "check_random_state",
    "clean_zeros",
    "cost_normalization",
    "dist",
    "dist0",
    "dots",
    "euclidean_distances",
    "get_coordinate_circle",
    "get_parameter_pair",
    "is_all_finite",
    "kernel",
    "label_normalization",
    "labels_to_masks",
    "laplacian",
    "list_to_array",
    "parmap",
    "proj_SDP",
    "proj_simplex",
    "tic",
    "toc",
    "toq",
    "unif",
]
