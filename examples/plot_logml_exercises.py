r"""
Exercises: 1D transport, sliced Wasserstein, Sinkhorn, barycenters
==================================================================

Five short exercises on computational optimal transport, each followed by its solution:
a few lines of NumPy checked against otkit where the point is the algorithm, otkit calls
where the point is the result:

1. optimal transport on the line by sorting, against :func:`otkit.emd2` and
   :func:`otkit.wasserstein_1d`;
2. the sliced Wasserstein distance by random projections and sorting, against
   :func:`otkit.sliced_wasserstein_distance` (also with PyTorch and JAX arrays);
3. the Sinkhorn iteration, against :func:`otkit.sinkhorn`;
4. Euclidean versus Wasserstein barycenters of 1D histograms (:func:`otkit.barycenter`,
   :func:`otkit.lp.barycenter`);
5. displacement interpolation between two point clouds
   (:func:`otkit.displacement_interpolation`).
"""

import matplotlib.pyplot as plt
import numpy as np
from array_api_compat import array_namespace

import otkit as ot
from otkit.plot import plot_convergence

rng = np.random.default_rng(2024)

# %%
# Exercise 1: transport on the line by sorting
# --------------------------------------------
#
# *Exercise.* For two samples :math:`x_1, \dots, x_n` and :math:`y_1, \dots, y_n` on the
# real line with uniform weights, compute :math:`W_p^p` without a linear program.
#
# *Solution.* On the line, the optimal plan for the cost :math:`|x - y|^p` (:math:`p \ge
# 1`) is monotone: it matches the k-th smallest :math:`x` with the k-th smallest
# :math:`y`, so :math:`W_p^p = \frac1n \sum_k |x_{(k)} - y_{(k)}|^p`. An O(n log n) sort
# replaces the O(n^3) linear program.

n = 200
x1 = rng.normal(0.0, 1.0, size=n)
y1 = rng.exponential(1.5, size=n) + 1.0
p = 2


def wasserstein_by_sorting(x, y, p):
    return np.mean(np.abs(np.sort(x) - np.sort(y)) ** p)


C1 = np.abs(x1[:, None] - y1[None, :]) ** p
by_sorting = wasserstein_by_sorting(x1, y1, p)
by_lp = ot.emd2([], [], C1)
by_otkit = ot.wasserstein_1d(x1, y1, p=p)
print(f"W_2^2 by sorting {by_sorting:.6f}, emd2 {by_lp:.6f}, wasserstein_1d {by_otkit:.6f}")

# The plan of the linear program is the sorted matching: x_i goes to the y_j of equal rank.
G1 = ot.emd([], [], C1)
matching = np.zeros((n, n))
matching[np.argsort(x1), np.argsort(y1)] = 1.0 / n
print(f"emd's plan is the sorted matching: {np.allclose(G1, matching)}")

# %%
# With weights and different sizes the same idea works on the quantile functions,
# :math:`W_p^p = \int_0^1 |F_\mu^{-1}(r) - F_\nu^{-1}(r)|^p\,dr`: both quantile functions
# are constant between consecutive values of the two cumulative distribution functions, so
# the integral is an exact finite sum.


def quantile_function(values, weights, levels):
    """F^{-1}(r) at each level r in (0, 1]: the first atom whose cumulative weight reaches r."""
    order = np.argsort(values)
    cdf = np.cumsum(weights[order])
    return values[order][np.minimum(np.searchsorted(cdf, levels), len(values) - 1)]


def wasserstein_by_quantiles(x, y, a, b, p):
    cdf_a, cdf_b = np.cumsum(a[np.argsort(x)]), np.cumsum(b[np.argsort(y)])
    levels = np.unique(np.concatenate([cdf_a, cdf_b]))  # right ends of the pieces
    widths = np.diff(levels, prepend=0.0)
    gaps = quantile_function(x, a, levels) - quantile_function(y, b, levels)
    return np.sum(widths * np.abs(gaps) ** p)


m1 = n // 2 + 7
y2 = rng.normal(3.0, 0.5, size=m1)
a1 = rng.uniform(0.5, 1.5, size=n)
b1 = rng.uniform(0.5, 1.5, size=m1)
a1, b1 = a1 / a1.sum(), b1 / b1.sum()
for p_weighted in (1, 2):
    by_hand = wasserstein_by_quantiles(x1, y2, a1, b1, p_weighted)
    by_lp = ot.emd2(a1, b1, np.abs(x1[:, None] - y2[None, :]) ** p_weighted)
    by_otkit = ot.wasserstein_1d(x1, y2, a1, b1, p=p_weighted)
    print(
        f"weighted, p = {p_weighted}: by hand {by_hand:.6f}, emd2 {by_lp:.6f}, "
        f"wasserstein_1d {by_otkit:.6f}"
    )

levels = np.linspace(0.0, 1.0, 400)[1:]
quantile_mu, quantile_nu = quantile_function(x1, a1, levels), quantile_function(y2, b1, levels)
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.step(levels, quantile_mu, where="post", label="quantile function of mu")
ax.step(levels, quantile_nu, where="post", label="quantile function of nu")
ax.fill_between(levels, quantile_mu, quantile_nu, step="post", color="0.85", label="area: W_1")
ax.set_xlabel("level r")
ax.set_title("1D transport pairs the quantiles of both measures")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Exercise 2: sliced Wasserstein in a few lines
# ---------------------------------------------
#
# *Exercise.* Implement
# :math:`\mathrm{SW}_p^{(L)}(X, Y) = \big(\frac1L \sum_{k=1}^L W_p^p(\theta_k^\top X,
# \theta_k^\top Y)\big)^{1/p}` for L unit directions :math:`\theta_k`.
#
# *Solution.* Project both samples on all directions at once (one matrix product), sort
# every column, and use exercise 1 on each column. The function is written with the
# functions of the Python array API standard (``xp.sort``, ``xp.mean``, ...), through
# ``array_api_compat``, so the same code runs on NumPy, PyTorch and JAX arrays, as otkit's
# own code does. With the same directions (``projections=``),
# :func:`otkit.sliced_wasserstein_distance` gives the same number.

d = 3
X = rng.normal(size=(n, d))
Y = rng.normal(size=(n, d)) * np.array([2.0, 0.5, 1.0]) + np.array([1.0, 0.0, -1.0])


def sliced_by_hand(X, Y, theta, p=2):
    xp = array_namespace(X, Y, theta)  # numpy, torch or jax.numpy, standard functions only
    projected_x = xp.sort(X @ theta, axis=0)  # (n, L): one sorted column per direction
    projected_y = xp.sort(Y @ theta, axis=0)
    return xp.mean(xp.abs(projected_x - projected_y) ** p) ** (1 / p)


theta = rng.normal(size=(d, 100))
theta /= np.linalg.norm(theta, axis=0)
print(
    f"SW_2 by hand {sliced_by_hand(X, Y, theta):.6f}, "
    f"otkit {ot.sliced_wasserstein_distance(X, Y, projections=theta):.6f}"
)

# %%
# With ``seed=`` otkit draws the directions on the host with NumPy, so the same seed gives
# the same directions, and the same value, for NumPy, PyTorch and JAX inputs (the result
# stays in the caller's library). On PyTorch the value is differentiable, and the
# hand-written function, run on tensors, has the same gradient.

import jax
import jax.numpy as jnp
import torch

jax.config.update("jax_enable_x64", True)
torch.set_num_threads(1)  # tiny problems: threads cost more than they save

_, log = ot.sliced_wasserstein_distance(X, Y, n_projections=100, seed=0, log=True)
theta_seed = log["projections"]  # the (d, L) directions drawn for seed=0
for name, convert in {"numpy": np.asarray, "torch": torch.tensor, "jax": jnp.asarray}.items():
    X_any, Y_any = convert(X), convert(Y)
    value = ot.sliced_wasserstein_distance(X_any, Y_any, n_projections=100, seed=0)
    by_hand = sliced_by_hand(X_any, Y_any, convert(theta_seed))
    print(
        f"{name:>5}: otkit {float(value):.6f} (type {type(value).__name__}), "
        f"by hand {float(by_hand):.6f}"
    )

X_torch, Y_torch = torch.tensor(X, requires_grad=True), torch.tensor(Y)
_, log = ot.sliced_wasserstein_distance(X_torch, Y_torch, seed=0, log=True)
theta_torch = log["projections"]  # the directions otkit drew
ot.sliced_wasserstein_distance(X_torch, Y_torch, projections=theta_torch).backward()
grad_otkit = X_torch.grad.clone()
X_torch.grad = None
sliced_by_hand(X_torch, Y_torch, theta_torch).backward()
print(f"max |gradient otkit - gradient by hand| = {(grad_otkit - X_torch.grad).abs().max():.1e}")

# %%
# The Monte Carlo estimate settles as L grows; it stays below the Wasserstein distance
# :math:`W_2` (projections do not increase distances).

n_directions = [5, 10, 20, 50, 100, 200, 500]
estimates = np.array(
    [
        [ot.sliced_wasserstein_distance(X, Y, n_projections=L, seed=seed) for L in n_directions]
        for seed in range(10)
    ]
)
exact_w2 = np.sqrt(ot.emd2([], [], ot.dist(X, Y)))
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.errorbar(
    n_directions,
    estimates.mean(axis=0),
    yerr=estimates.std(axis=0),
    marker="o",
    capsize=3,
    label="SW_2, mean +- std over 10 seeds",
)
ax.axhline(exact_w2, color="k", ls="--", label="W_2 (exact, otkit.emd2)")
ax.set_xscale("log")
ax.set_xlabel("number of directions L")
ax.set_title("sliced Wasserstein distance in 3D")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Exercise 3: the Sinkhorn iteration
# ----------------------------------
#
# *Exercise.* Solve the entropic problem between two point clouds with the scaling
# iteration :math:`u \leftarrow a / (K v)`, :math:`v \leftarrow b / (K^\top u)` on the
# kernel :math:`K = e^{-C/\varepsilon}`, and rebuild the plan
# :math:`P = \mathrm{diag}(u) K \mathrm{diag}(v)`.
#
# *Solution.* After each update of :math:`v` the column sums of :math:`P` are exact, so
# the error is the distance of the row sums to :math:`a`. otkit reports the same
# quantity in ``log["err"]``: its first entry is the error of the starting point, then
# one per iteration. Started as otkit starts (potential :math:`f = 0`, that is
# :math:`u = a`), the hand-written iteration follows otkit's step for step: same errors,
# same plan. otkit's potentials are :math:`f = \varepsilon \log(u / a)` and
# :math:`g = \varepsilon \log(v / b)`, up to a constant moved from one to the other.

n3 = 60
xs3 = rng.normal(size=(n3, 2))
xt3 = rng.normal(size=(n3 + 10, 2)) + np.array([2.0, 1.0])
a3, b3 = ot.unif(n3), ot.unif(n3 + 10)
C3 = ot.dist(xs3, xt3)
eps3 = 0.5
n_iter = 80


def sinkhorn_by_hand(a, b, C, eps, n_iter):
    K = np.exp(-C / eps)
    v = b / (K.T @ a)  # the column update from u = a
    errors = []
    for _ in range(n_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
        errors.append(np.linalg.norm(u * (K @ v) - a))
    return u[:, None] * K * v[None, :], u, v, errors


P_hand, u3, v3, errors_hand = sinkhorn_by_hand(a3, b3, C3, eps3, n_iter)
P_otkit, log3 = ot.sinkhorn(a3, b3, C3, eps3, numItermax=n_iter, stopThr=0.0, log=True, warn=False)
f_hand, g_hand = eps3 * np.log(u3 / a3), eps3 * np.log(v3 / b3)
shift = np.mean(f_hand - log3["f"])
trace_gap = np.abs(np.asarray(errors_hand) - np.asarray(log3["err"][1:])).max()
print(f"max |P by hand - P otkit| = {np.abs(P_hand - P_otkit).max():.1e}, errors {trace_gap:.1e}")
print(
    f"potentials: max |f by hand - f - c| = {np.abs(f_hand - log3['f'] - shift).max():.1e}, "
    f"max |g by hand - g + c| = {np.abs(g_hand - log3['g'] + shift).max():.1e}"
)

fig, ax = plt.subplots(figsize=(6, 3.8))
# Drop the error of the starting point to align the iterations.
plot_convergence({"by hand": errors_hand, "otkit.sinkhorn log['err']": log3["err"][1:]}, ax=ax)
ax.get_lines()[1].set_linestyle("--")  # the curves overlap: dash the second one
ax.legend()
ax.set_title(f"Sinkhorn, eps = {eps3}: row-marginal error")
fig.tight_layout()
plt.show()

# %%
# The scaling form has a limit: at a small :math:`\varepsilon` whole rows of the kernel
# :math:`e^{-C/\varepsilon}` underflow to zero and the hand-written iteration divides by
# zero. otkit switches to log-domain updates when a scaling leaves a safe range, so it
# still returns a plan. A small :math:`\varepsilon` also needs many more iterations:
# ``method="sinkhorn_epsilon_scaling"`` starts from a large :math:`\varepsilon` and
# decreases it, each stage starting from the potentials of the previous one.

with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    P_small_hand, *_ = sinkhorn_by_hand(a3, b3, C3, 1e-3, 10)
P_small, log_small = ot.sinkhorn(
    a3, b3, C3, 1e-3, method="sinkhorn_epsilon_scaling", numItermax=5000, stopThr=1e-4, log=True
)
print(
    f"eps = 1e-3: by hand, {np.isnan(P_small_hand).mean():.0%} of the plan is NaN; otkit, "
    f"row error {np.abs(P_small.sum(axis=1) - a3).max():.1e} after {log_small['n_iter']} "
    f"iterations, <P, C> = {np.sum(P_small * C3):.4f} (exact OT: {ot.emd2(a3, b3, C3):.4f})"
)

# %%
# Exercise 4: Euclidean versus Wasserstein barycenters
# ----------------------------------------------------
#
# *Exercise.* Interpolate between two bumps on a line, once with the Euclidean average
# :math:`(1 - t) h_0 + t h_1` and once with the Wasserstein barycenter
# :math:`\arg\min_h (1 - t) W_2^2(h, h_0) + t W_2^2(h, h_1)`.
#
# *Solution.* The Euclidean average fades one bump out while the other fades in: the
# mass never moves. The Wasserstein barycenter moves and reshapes the bump.
# :func:`otkit.barycenter` computes an entropic barycenter (a little blurred) in a few
# milliseconds; :func:`otkit.lp.barycenter` solves the exact linear program, used here as
# a check at :math:`t = 1/2`.

n_bins = 60
grid = np.linspace(0.0, 1.0, n_bins)


def bump(center, width):
    h = np.exp(-0.5 * ((grid - center) / width) ** 2)
    return h / h.sum()


h0 = bump(0.2, 0.04)
h1 = 0.6 * bump(0.65, 0.05) + 0.4 * bump(0.85, 0.03)  # two bumps
A = np.stack([h0, h1], axis=1)
M4 = ot.dist(grid[:, None], grid[:, None])
times = np.linspace(0.0, 1.0, 5)
euclidean = [(1 - t) * h0 + t * h1 for t in times]
wasserstein = [ot.barycenter(A, M4, 2e-4, weights=np.array([1 - t, t])) for t in times]
exact_half = ot.lp.barycenter(A, M4, weights=np.array([0.5, 0.5]))
mean_half = grid @ wasserstein[2]
print(
    f"t = 1/2: mean position entropic {mean_half:.4f}, exact LP {grid @ exact_half:.4f}, "
    f"expected {0.5 * (grid @ h0 + grid @ h1):.4f}"
)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
colors = plt.cm.viridis(times)
for ax, histograms, title in (
    (axes[0], euclidean, "Euclidean average"),
    (axes[1], wasserstein, "Wasserstein barycenter (otkit.barycenter)"),
):
    for t, h, color in zip(times, histograms, colors):
        ax.plot(grid, h, color=color, label=f"t = {t:.2f}")
    ax.set_title(title)
    ax.set_xlabel("position")
axes[1].plot(grid, exact_half, "k:", label="exact LP, t = 0.5")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# Exercise 5: displacement interpolation
# --------------------------------------
#
# *Exercise.* Given an optimal plan :math:`P` between two point clouds, build the
# measures :math:`\mu_t = \sum_{ij} P_{ij}\,\delta_{(1 - t) x_i + t y_j}`: the geodesic
# between the clouds in the Wasserstein space.
#
# *Solution.* Every pair that carries mass gives one atom that moves on a straight line.
# :func:`otkit.displacement_interpolation` returns these atoms and their masses. As for the
# histograms above, this differs from the mixture :math:`(1 - t)\alpha + t\beta`, which
# only changes the weights of points that stay in place.

n5 = 80
angle = rng.uniform(0.0, 2.0 * np.pi, size=n5)
ring = np.stack([np.cos(angle), np.sin(angle)], axis=1) * (1.0 + 0.08 * rng.normal(size=(n5, 1)))
blobs = rng.normal(scale=0.25, size=(n5, 2)) + np.where(
    rng.random((n5, 1)) < 0.5, np.array([3.0, 1.0]), np.array([4.0, -1.0])
)
G5 = ot.emd([], [], ot.dist(ring, blobs))

fig, axes = plt.subplots(2, len(times), figsize=(2.6 * len(times), 3.4), sharex=True, sharey=True)
for column, t in enumerate(times):
    positions, masses = ot.displacement_interpolation(ring, blobs, G5, t)
    axes[0, column].scatter(*positions.T, s=4000 * masses, c="tab:purple")
    axes[0, column].set_title(f"t = {t:.2f}")
    for cloud, weight, color in ((ring, 1 - t, "tab:blue"), (blobs, t, "tab:red")):
        if weight > 0:
            axes[1, column].scatter(*cloud.T, s=4000 * weight / n5, c=color)
axes[0, 0].set_ylabel("displacement")
axes[1, 0].set_ylabel("mixture")
for ax in axes.ravel():
    ax.set_aspect("equal")
fig.tight_layout()
plt.show()
# sphinx_gallery_thumbnail_number = 5
