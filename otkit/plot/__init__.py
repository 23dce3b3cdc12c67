"""Plots of plans, couplings, point-cloud animations and convergence curves (matplotlib).

POT's ``ot.plot`` paths (``import otkit.plot``; ``otkit.plot.plot1D_mat`` ...). matplotlib is
an optional dependency (``pip install otkit[plot]``): it is imported inside the functions, so
``import otkit`` and ``import otkit.plot`` do not load it. Every function accepts arrays of any
supported library (NumPy, array_api_strict, torch, JAX) and draws their values on the host;
nothing is differentiated through.
"""

from ._animation import animate
from ._convergence import plot_convergence
from ._plans import plot1D_mat, plot2D_samples_mat, plot_plan, rescale_for_imshow_plot

__all__ = [
    "animate",
    "plot1D_mat",
    "plot2D_samples_mat",
    "plot_convergence",
    "plot_plan",
    "rescale_for_imshow_plot",
]
