r"""
Pairwise Wasserstein distances between digits, on a laptop and on a Dask cluster
================================================================================

Many analyses need not one optimal transport problem but a matrix of them: the distance
between every pair of images, documents or cells, fed to a nearest-neighbour classifier,
a clustering or an embedding. :func:`otkit.pairwise` computes such a matrix in one call,
without a Python double loop: exact :math:`W_2^2` between histograms on a shared grid here,
Sinkhorn divergences between point clouds of different sizes at the end.

The data are scikit-learn's bundled handwritten digits (8x8 images, no download). The
script uses a random subset of ``N_DIGITS`` of them so that it runs in a few seconds; set
``N_DIGITS = 1797`` to use them all (1.6 million pairs: about four minutes on one core, and
proportionally less with ``n_jobs`` or on a cluster). The same call then runs on the
workers of a local Dask cluster, and gives the same matrix, bit for bit.
"""

import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patheffects
from sklearn.datasets import load_digits
from sklearn.manifold import MDS
from sklearn.metrics import pairwise_distances
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import otkit as ot

N_DIGITS = 200  # 1797: all of them

# %%
# Digits as histograms on the pixel grid
# --------------------------------------
#
# An image is a histogram on the 64 pixel centres: the mass of a pixel is its intensity,
# normalised so that each image has mass one. The ground cost is the squared distance
# between pixel centres, in pixels, so that :math:`W_2^2` is the least mean squared
# displacement (in pixel²) that turns one digit into the other. A second copy of the data
# shifts each image by up to one pixel in each direction, at random: digits that are not
# perfectly centred.

digits = load_digits()
rng = np.random.default_rng(0)
chosen = np.sort(rng.choice(len(digits.target), size=N_DIGITS, replace=False))
images, labels = digits.images[chosen], digits.target[chosen]

rows, cols = np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij")
grid = np.stack([cols.ravel(), -rows.ravel()], axis=1)  # pixel centres, x right, y up
M = ot.dist(grid, grid)  # (64, 64) squared distances in pixel²


def shift(image, down, right):
    """The image moved by whole pixels; what leaves the frame is lost, new pixels are 0."""
    moved = np.zeros_like(image)
    kept = image[max(0, -down) : 8 - max(0, down), max(0, -right) : 8 - max(0, right)]
    top, left = max(0, down), max(0, right)
    moved[top : top + kept.shape[0], left : left + kept.shape[1]] = kept
    return moved


def histograms(images):
    pixels = images.reshape(len(images), -1)
    return pixels / pixels.sum(axis=1, keepdims=True)


moves = rng.integers(-1, 2, size=(N_DIGITS, 2))
shifted = np.array([shift(image, *move) for image, move in zip(images, moves)])
H, H_shifted = histograms(images), histograms(shifted)

fig, axes = plt.subplots(2, 8, figsize=(8, 2.6))
for k in range(8):
    axes[0, k].imshow(images[k], cmap="Greys")
    axes[1, k].imshow(shifted[k], cmap="Greys")
    axes[1, k].set_title(f"({moves[k, 0]:+d}, {moves[k, 1]:+d})", fontsize=8)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("digits as given (top) and shifted by (down, right) pixels (bottom)")
fig.tight_layout()
plt.show()

# %%
# The matrix of exact Wasserstein distances
# -----------------------------------------
#
# One call computes the :math:`N(N-1)/2` exact problems of the upper triangle (the matrix
# is symmetric, its diagonal exactly 0). ``n_jobs=2`` would spread the rows over two
# threads; ``out=`` a ``numpy.memmap`` would keep a long job on disk and let it resume.

start = time.perf_counter()
W = ot.pairwise(H, M=M)  # (N, N): W_2^2 in pixel²
W_shifted = ot.pairwise(H_shifted, M=M)
seconds = time.perf_counter() - start
print(f"2 x {N_DIGITS * (N_DIGITS - 1) // 2} exact OT problems in {seconds:.1f} s")

# %%
# A translation costs the squared length of the move: for any two measures,
# :math:`W_2^2(\mu, \nu) = \|m_\mu - m_\nu\|^2 + W_2^2(\bar\mu, \bar\nu)` where
# :math:`m` is the mean and :math:`\bar\mu` the measure moved to mean zero. The distance
# between the *centred* digits is then a by-product, with no new OT problem to solve.


def centred(W, H):
    means = H @ grid
    return np.maximum(W - ot.dist(means, means), 0.0)  # max: rounding below 0


# %%
# Nearest-neighbour classification
# --------------------------------
#
# A 1-nearest-neighbour classifier on a precomputed distance matrix, with 5-fold
# cross-validation (scikit-learn takes the rows and columns of each fold), against the
# Euclidean distance between the pixel vectors.

folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)


def accuracy(distances):
    knn = KNeighborsClassifier(n_neighbors=1, metric="precomputed")
    return cross_val_score(knn, distances, labels, cv=folds).mean()


distances = {
    "Euclidean (pixels)": lambda H, W, X: pairwise_distances(X.reshape(len(X), -1)),
    "W2": lambda H, W, X: np.sqrt(W),
    "W2 of the centred digits": lambda H, W, X: np.sqrt(centred(W, H)),
}
scores = {
    name: [accuracy(d(H, W, images)), accuracy(d(H_shifted, W_shifted, shifted))]
    for name, d in distances.items()
}
for name, (given, moved) in scores.items():
    print(f"1-NN accuracy, {name:24s}: {given:.3f} as given, {moved:.3f} shifted")

fig, ax = plt.subplots(figsize=(6, 3))
width = 0.25
for k, (name, values) in enumerate(scores.items()):
    ax.bar(np.arange(2) + (k - 1) * width, values, width, label=name)
ax.set_xticks([0, 1], ["digits as given", "shifted by up to 1 pixel"])
ax.set_ylim(0.5, 1.0)
ax.set_ylabel("1-NN accuracy (5-fold)")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# On centred 8x8 digits the Euclidean distance is hard to beat: shapes differ by moves of
# about a pixel, which :math:`W_2` charges as much as it charges a translation. Once the
# digits are shifted, both the Euclidean distance and :math:`W_2` lose much accuracy, while
# :math:`W_2` between the centred digits, which ignores translations, keeps most of it.

# %%
# An embedding of the distance matrix
# -----------------------------------
#
# Multidimensional scaling places the digits in the plane so that their distances
# approximate the matrix. (scikit-learn 1.8 renamed ``dissimilarity=`` to ``metric=``.)


def embedding(distances):
    if "metric_mds" in inspect.signature(MDS).parameters:
        mds = MDS(n_components=2, metric="precomputed", init="classical_mds", random_state=0)
    else:
        mds = MDS(n_components=2, dissimilarity="precomputed", n_init=4, random_state=0)
    return mds.fit_transform(distances)


fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
shown = {
    "$W_2$, digits as given": np.sqrt(W),
    "$W_2$ of the centred digits, shifted": np.sqrt(centred(W_shifted, H_shifted)),
}
for ax, (title, D) in zip(axes, shown.items()):
    Z = embedding(D)
    ax.scatter(Z[:, 0], Z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=14)
    for digit in range(10):
        x, y = np.median(Z[labels == digit], axis=0)
        label = ax.text(x, y, str(digit), fontsize=15, weight="bold", ha="center", va="center")
        label.set_path_effects([patheffects.withStroke(linewidth=3, foreground="white")])
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("MDS embeddings, coloured by digit")
fig.tight_layout()
plt.show()

# %%
# The same call on a Dask cluster
# -------------------------------
#
# With ``client=`` a ``dask.distributed.Client``, the same call sends the cost matrix and
# the histograms to every worker once, runs groups of rows there and writes them back as
# they complete. A worker runs the same code on whole rows, so the matrix is the same, bit
# for bit. Inside ``joblib.parallel_config(backend="dask")``, scikit-learn's convention,
# ``ot.pairwise(H, M=M, n_jobs=-1)`` does the same; ``client="dask"`` uses the current
# client or starts a local cluster for the call.
#
# The cluster here has two thread workers on this machine, listening on 127.0.0.1 only.
# Worker *processes* (``processes=True``, and what ``client="dask"`` starts) are faster
# for 'exact', but they start by importing the main script again: a script that starts
# them needs an ``if __name__ == "__main__":`` guard, which this gallery script avoids. On
# a real cluster, connect with ``Client("tcp://scheduler-address:8786")``.

try:
    from dask.distributed import Client, LocalCluster
except ImportError:
    print('dask.distributed is not installed (pip install "otkit[dask]"): Dask cell skipped')
else:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter()
        W_dask = ot.pairwise(H, M=M, client=client)
        seconds = time.perf_counter() - start
    print(f"on the Dask cluster: {seconds:.1f} s, the same matrix: {np.array_equal(W_dask, W)}")

# %%
# Point clouds of different sizes
# -------------------------------
#
# The same function takes a list of point clouds, each of its own size. Here each cloud
# draws between 40 and 100 points from a digit's ink (a pixel with probability
# proportional to its intensity, then a uniform position inside it), four digits of each
# of four classes; the matrix holds the debiased Sinkhorn divergences
# :math:`S_\varepsilon` with blur 1 pixel (:math:`\varepsilon = 2` pixel²). Each cloud's
# self term :math:`\mathrm{OT}_\varepsilon(\mu, \mu)` is computed once, not once per
# pair. Within a class the divergences are smaller, though not by much: the writers
# differ, and so do two samples of a few dozen points from the same image.

classes = [0, 1, 4, 7]
per_class = 4
picked = np.concatenate([np.flatnonzero(digits.target == c)[:per_class] for c in classes])
clouds = []
for index in picked:
    weights = digits.images[index].ravel() / digits.images[index].sum()
    size = int(rng.integers(40, 101))
    pixels = rng.choice(64, size=size, p=weights)
    clouds.append(grid[pixels] + rng.uniform(-0.5, 0.5, size=(size, 2)))

start = time.perf_counter()
S = ot.pairwise(clouds, method="sinkhorn_divergence", blur=1.0)
seconds = time.perf_counter() - start
same = np.equal.outer(digits.target[picked], digits.target[picked])
off_diagonal = ~np.eye(len(clouds), dtype=bool)
print(
    f"{len(clouds) * (len(clouds) - 1) // 2} Sinkhorn divergences in {seconds:.1f} s; mean "
    f"within a class {S[same & off_diagonal].mean():.2f}, between classes "
    f"{S[~same].mean():.2f} (pixel²)"
)

fig, axes = plt.subplots(1, 5, figsize=(11, 2.6), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.6]})
for ax, k in zip(axes[:4], range(0, len(clouds), per_class)):
    ax.scatter(clouds[k][:, 0], clouds[k][:, 1], s=8)
    ax.set_title(f"a {digits.target[picked[k]]}: {len(clouds[k])} points", fontsize=9)
    ax.set_xlim(-1, 8)
    ax.set_ylim(-8, 1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
image = axes[4].imshow(S, cmap="viridis")
ticks = np.arange(len(classes)) * per_class + (per_class - 1) / 2
axes[4].set_xticks(ticks, classes)
axes[4].set_yticks(ticks, classes)
axes[4].set_title(f"$S_\\varepsilon$ between the {len(clouds)} clouds", fontsize=9)
fig.colorbar(image, ax=axes[4], label="pixel²")
fig.tight_layout()
plt.show()
