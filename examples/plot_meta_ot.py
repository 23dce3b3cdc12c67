r"""
Learned Sinkhorn initialization (Meta OT) on pairs of digits
============================================================

When many optimal transport problems share one cost matrix and differ only by their
histograms (images on one pixel grid), a network can learn to predict the solution of a new
problem from the histograms themselves. Meta OT (Amos, Cohen, Luise and Redko) trains an
MLP that maps the pair :math:`(a, b)` to the dual potential :math:`f`, the other potential
being its c-transform; Sinkhorn started from the prediction then needs only a few iterations
to refine it, and still converges to the exact entropic solution.

This example trains :class:`otkit.MetaInitializer` on pairs of scikit-learn's bundled 8x8
digits (``sklearn.datasets.load_digits``; no download), then compares, on held-out pairs,
the marginal error per Sinkhorn iteration from the zero start, from the Gaussian start
(:func:`otkit.sinkhorn_init_gaussian`) and from the learned one, and draws the transport
interpolation between two digits given by the predicted potentials next to the converged
one. The paper works on 28x28 MNIST digits with a 3x1024 MLP trained for 50,000 steps; the
sizes here are small enough to train in seconds on a CPU.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import otkit as ot
from otkit.plot import plot_convergence

EPS = 1e-2  # entropic regularization, in the units of the cost (unit square, squared)
N_TRAIN_PAIRS = 4000
N_STEPS = 1000
N_EVAL_PAIRS = 16
N_ITER = 100

# %%
# Digits as histograms on one grid
# --------------------------------
#
# Each image is a histogram on the 64 pixel centres of the unit square; blank pixels get mass
# zero (the initializer leaves them out of its c-transform). The first 1,500 digits are used
# for training, the others (never seen in training) for evaluation. A training set is a list
# of random pairs: ``A[k]`` is transported to ``B[k]``.

images = load_digits().images  # (1797, 8, 8), intensities 0..16
side = images.shape[1]
coordinates = np.linspace(0.0, 1.0, side)
column, row = np.meshgrid(coordinates, coordinates)
grid = np.stack([column.ravel(), 1.0 - row.ravel()], axis=1)  # row 0 at the top
C = ot.dist(grid, grid)
histograms = images.reshape(len(images), -1)
histograms = histograms / histograms.sum(axis=1, keepdims=True)
train, held_out = histograms[:1500], histograms[1500:]

rng = np.random.default_rng(0)
pairs = rng.integers(len(train), size=(N_TRAIN_PAIRS, 2))
A, B = train[pairs[:, 0]], train[pairs[:, 1]]

# %%
# Training by maximizing the dual objective
# -----------------------------------------
#
# The network never sees a solved problem: for each batch of pairs it predicts :math:`f`,
# completes :math:`g_j = -\varepsilon \log \sum_i a_i e^{(f_i - C_{ij})/\varepsilon}` and
# takes an Adam step on the negative entropic dual objective
# :math:`-(\langle f, a\rangle + \langle g, b\rangle)`, whose minimum over :math:`f` is minus
# the regularized OT cost. The framework (PyTorch or JAX) is the one installed; the result
# does not depend on it beyond rounding. For reference, the dashed line is the optimum, the
# mean regularized cost of 64 training pairs solved by Sinkhorn.

try:  # tiny networks: a second thread costs more than it saves
    import torch

    torch.set_num_threads(1)
except ImportError:
    pass

initializer = ot.MetaInitializer(C, EPS, hidden_sizes=(256, 256), seed=0)
start = time.perf_counter()
initializer.fit(A, B, n_iter=N_STEPS, batch_size=128, lr=1e-3)
print(f"{N_STEPS} training steps with {initializer.framework}: {time.perf_counter() - start:.1f} s")

optimum = np.mean(
    [
        ot.sinkhorn(a, b, C, EPS, log=True, stopThr=1e-9)[1]["reg_value"]
        for a, b in zip(A[:64], B[:64])
    ]
)
loss = np.asarray(initializer.loss_history_)
smoothed = np.convolve(loss, np.ones(20) / 20, mode="valid")
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(loss, color="0.8", label="loss of each batch")
ax.plot(np.arange(19, len(loss)), smoothed, label="mean of 20 batches")
ax.axhline(-optimum, color="k", linestyle="--", label="optimum (solved pairs)")
ax.set_xlabel("training step")
ax.set_ylabel("negative dual objective")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Marginal error per Sinkhorn iteration on held-out pairs
# -------------------------------------------------------
#
# ``predict(a, b)`` returns ``(f, g)`` in cost units, to be passed to :func:`otkit.sinkhorn`
# as ``warmstart=(f, g), warmstart_type="potentials"``. Each start runs ``N_ITER``
# iterations (``stopThr=0``) so that the traces have one length; the curves show the mean
# and one standard deviation of :math:`\log_{10}` of the marginal error over the pairs. The
# printed counts are the iterations each start needs to reach an error of 1e-3.


def error_trace(a, b, potentials=None):
    """log10 of the marginal error after each of N_ITER iterations, and the number of
    iterations to reach an error of 1e-3."""
    options = {}
    if potentials is not None:
        options = {"warmstart": potentials, "warmstart_type": "potentials"}
    _, log = ot.sinkhorn(
        a, b, C, EPS, numItermax=N_ITER, stopThr=0.0, log=True, warn=False, **options
    )
    _, to_target = ot.sinkhorn(a, b, C, EPS, numItermax=10_000, stopThr=1e-3, log=True, **options)
    return np.log10(np.asarray(log["err"][1:])), to_target["n_iter"]


eval_pairs = rng.integers(len(held_out), size=(N_EVAL_PAIRS, 2))
traces = {"zero": [], "Gaussian": [], "Meta OT": []}
iterations = {name: [] for name in traces}
for i, j in eval_pairs:
    a, b = held_out[i], held_out[j]
    starts = {
        "zero": None,
        "Gaussian": ot.sinkhorn_init_gaussian(a, b, grid, grid),
        "Meta OT": initializer.predict(a, b),
    }
    for name, potentials in starts.items():
        trace, n_iter = error_trace(a, b, potentials)
        traces[name].append(trace)
        iterations[name].append(n_iter)

for name, counts in iterations.items():
    ratio = np.mean(counts) / np.mean(iterations["zero"])
    print(
        f"{name:>8} start: error 1e-3 after {np.mean(counts):5.1f} iterations ({ratio:.2f}x zero)"
    )

fig, ax = plt.subplots(figsize=(5, 3.5))
plot_convergence(traces, ax=ax, log=False)
ax.set_ylabel("log10 of the marginal error")
ax.set_title(f"held-out digit pairs, eps = {EPS}, {N_EVAL_PAIRS} pairs", fontsize=10)
fig.tight_layout()
plt.show()

# %%
# The predicted transport between two digits
# ------------------------------------------
#
# The potentials define the plan :math:`P_{ij} = a_i b_j e^{(f_i + g_j - C_{ij})/\varepsilon}`;
# moving each mass :math:`P_{ij}` to :math:`(1 - t) x_i + t y_j` draws the interpolation
# between the two digits (each moved mass is spread on the four nearest pixels). Top: from
# the prediction alone (no Sinkhorn iteration); bottom: from the converged Sinkhorn
# potentials.


def interpolation(a, b, f, g, t):
    """The displacement interpolation at time t, spread bilinearly on the pixel grid."""
    plan = a[:, None] * b[None, :] * np.exp((f[:, None] + g[None, :] - C) / EPS)
    points = ((1 - t) * grid[:, None, :] + t * grid[None, :, :]).reshape(-1, 2) * (side - 1)
    low = np.minimum(np.floor(points).astype(int), side - 2)
    frac = points - low
    image = np.zeros((side, side))  # image[row from the bottom, column]
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = np.abs(1 - dx - frac[:, 0]) * np.abs(1 - dy - frac[:, 1])
        np.add.at(image, (low[:, 1] + dy, low[:, 0] + dx), weight * plan.ravel())
    return np.flipud(image)


a, b = held_out[eval_pairs[0, 0]], held_out[eval_pairs[0, 1]]
predicted = initializer.predict(a, b)
_, log = ot.sinkhorn(a, b, C, EPS, log=True, stopThr=1e-9)
times = np.linspace(0.0, 1.0, 6)
fig, axes = plt.subplots(2, len(times), figsize=(1.5 * len(times), 3.4))
for r, (title, (f, g)) in enumerate(
    [("Meta OT prediction", predicted), ("converged Sinkhorn", (log["f"], log["g"]))]
):
    for k, t in enumerate(times):
        axes[r, k].imshow(interpolation(a, b, f, g, t), cmap="Greys")
        axes[r, k].set_axis_off()
        if r == 0:
            axes[r, k].set_title(f"t = {t:.1f}", fontsize=9)
    axes[r, 0].text(
        -0.1,
        0.5,
        title,
        transform=axes[r, 0].transAxes,
        rotation=90,
        ha="right",
        va="center",
        fontsize=8,
    )
fig.tight_layout()
plt.show()
# sphinx_gallery_thumbnail_number = 2
