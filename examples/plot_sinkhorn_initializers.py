r"""
Initializing Sinkhorn: zero, Gaussian and sorting potentials
============================================================

Sinkhorn usually starts from zero potentials. When many similar problems are solved, a
better starting point saves iterations. This example compares, on pairs of handwritten
digits, the zero start with the potentials of the Gaussian approximation of both measures
(:func:`otkit.sinkhorn_init_gaussian`, Thornton and Cuturi), and, for problems on a line,
with the exact 1D potentials obtained by sorting (:func:`otkit.sinkhorn_init_sorting`). The
measure of progress is the marginal error after each iteration, ``log["err"]`` of
:func:`otkit.sinkhorn`, averaged over several pairs and drawn with
:func:`otkit.plot.plot_convergence`.

The digits are scikit-learn's bundled 8x8 images (``sklearn.datasets.load_digits``; no
download).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import otkit as ot
from otkit.plot import plot_convergence

N_PAIRS = 16
N_ITER = 60
EPS = 1e-2

# %%
# Digits as measures on a grid
# ----------------------------
#
# Each 8x8 image becomes a discrete measure: its support is the grid of pixel centres in
# the unit square (the same 64 points for every image) and the mass of a pixel is its
# intensity, normalized to sum to one. Blank pixels get mass zero. Pairs of images are
# drawn at random; the cost is the squared distance between pixel centres.

images = load_digits().images  # (1797, 8, 8), intensities 0..16
side = images.shape[1]
coordinates = np.linspace(0.0, 1.0, side)
column, row = np.meshgrid(coordinates, coordinates)
grid = np.stack([column.ravel(), 1.0 - row.ravel()], axis=1)  # row 0 at the top
C = ot.dist(grid, grid)


def as_measure(image):
    weights = image.ravel().astype(float)
    return weights / weights.sum()


rng = np.random.default_rng(0)
pairs = [rng.choice(len(images), size=2, replace=False) for _ in range(N_PAIRS)]

shown = min(N_PAIRS, 6)
fig, axes = plt.subplots(2, shown, figsize=(1.4 * shown, 3))
for k in range(shown):
    for r in range(2):
        axes[r, k].imshow(images[pairs[k][r]], cmap="Greys")
        axes[r, k].set_axis_off()
axes[0, 0].set_title("a", loc="left")
axes[1, 0].set_title("b", loc="left")
fig.suptitle("pairs of digits: source (top) and target (bottom)")
fig.tight_layout()
plt.show()

# %%
# Zero versus Gaussian initialization
# -----------------------------------
#
# The Gaussian initializer replaces both measures by Gaussians with the same means and
# covariances. Between Gaussians the optimal map is affine and known in closed form; its
# potential, evaluated on the grid, is a starting ``f`` (and its c-transform a starting
# ``g``), for about the price of one Sinkhorn iteration. Both starts are run for a fixed
# number of iterations (``stopThr=0``) so that every trace has the same length;
# ``warn=False`` silences the expected "did not converge" warning. The error is the L2 norm
# of the row-marginal error (the column marginals are exact after each iteration).


def error_trace(a, b, cost, initial_potentials=None):
    """Marginal error after each of N_ITER Sinkhorn iterations."""
    options = {}
    if initial_potentials is not None:
        options = {"warmstart": initial_potentials, "warmstart_type": "potentials"}
    _, log = ot.sinkhorn(
        a, b, cost, EPS, numItermax=N_ITER, stopThr=0.0, log=True, warn=False, **options
    )
    # log["err"][0] is the error of the starting point, then one entry per iteration.
    return np.asarray(log["err"])


traces = {"zero": [], "Gaussian": []}
for i, j in pairs:
    a, b = as_measure(images[i]), as_measure(images[j])
    traces["zero"].append(error_trace(a, b, C))
    traces["Gaussian"].append(error_trace(a, b, C, ot.sinkhorn_init_gaussian(a, b, grid, grid)))

for name, runs in traces.items():
    runs = np.asarray(runs)
    print(
        f"{name:>8} start: error {runs[:, 0].mean():.3f} at the start, "
        f"{runs[:, 10].mean():.4f} after 10 iterations, {runs[:, -1].mean():.5f} after {N_ITER}"
    )

# %%
# Problems on a line: the sorting initializer
# -------------------------------------------
#
# Sliced methods project measures on lines. On a line the unregularized problem is solved
# exactly by sorting, and its potentials (:func:`otkit.sinkhorn_init_sorting`) are close
# to the entropic ones when :math:`\varepsilon` is small. Here each digit is projected on a
# fixed direction: 64 atoms on a line, with the pixel masses.

direction = np.array([np.cos(0.6), np.sin(0.6)])
line = grid @ direction  # (64,) positions on the line
C_line = ot.dist(line[:, None], line[:, None])
traces_line = {"zero": [], "Gaussian": [], "sorting": []}
for i, j in pairs:
    a, b = as_measure(images[i]), as_measure(images[j])
    traces_line["zero"].append(error_trace(a, b, C_line))
    gaussian = ot.sinkhorn_init_gaussian(a, b, line[:, None], line[:, None])
    traces_line["Gaussian"].append(error_trace(a, b, C_line, gaussian))
    sorting = ot.sinkhorn_init_sorting(a, b, line, line)
    traces_line["sorting"].append(error_trace(a, b, C_line, sorting))

for name, runs in traces_line.items():
    runs = np.asarray(runs)
    print(
        f"on a line, {name:>8} start: error {runs[:, 0].mean():.3f} at the start, "
        f"{runs[:, 10].mean():.4f} after 10 iterations"
    )

# %%
# Marginal error per iteration
# ----------------------------
#
# The errors of different pairs differ by orders of magnitude, so the curves show the
# mean and a band of one standard deviation of :math:`\log_{10}` of the error over the
# pairs (a geometric mean and spread; a band on the raw errors would dip below zero).
# The errors of the starting points are printed above. In 2D the Gaussian start divides
# the error by a roughly constant factor at every iteration, which is worth a number of
# iterations at any target accuracy; on a line the sorting start is better still, as it
# solves the unregularized problem exactly.


def log_errors(runs):
    """log10 of the errors after each iteration (the starting point's error dropped, so
    that entry k, drawn at iteration k + 1, is the error after k + 1 iterations)."""
    return {name: np.log10(np.asarray(method_runs)[:, 1:]) for name, method_runs in runs.items()}


fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_convergence(log_errors(traces), ax=axes[0], log=False)
axes[0].set_title(f"digits on the 8x8 grid, eps = {EPS}, {N_PAIRS} pairs", fontsize=10)
plot_convergence(log_errors(traces_line), ax=axes[1], log=False)
axes[1].set_title(f"digits projected on a line, eps = {EPS}", fontsize=10)
for ax in axes:
    ax.set_ylabel("log10 of the marginal error")
fig.tight_layout()
plt.show()
# sphinx_gallery_thumbnail_number = 2
