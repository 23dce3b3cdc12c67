r"""
Entropic bias: OT_eps versus the Sinkhorn divergence
====================================================

The entropic transport cost :math:`\mathrm{OT}_\varepsilon` is not zero between a
measure and itself, and it can even prefer a shrunken copy of a measure to the measure
itself. As a loss, it therefore pulls a point cloud toward a *contracted* version of its
target, more and more as :math:`\varepsilon` (the blur) grows. The Sinkhorn divergence

.. math::
    S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
    - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
    - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta)

removes this bias. This example measures the bias with NumPy, then runs gradient flows of
both losses for several values of :math:`\varepsilon` with PyTorch, and ends with a flow
of the unbalanced divergence (``reach``) on a target that has outliers. For the flows of
one loss on shaped 2D densities, see the gradient-flow example of this gallery.
"""

import matplotlib.pyplot as plt
import numpy as np

import otkit as ot

N_SOURCE, N_TARGET = 30, 40
N_STEPS = 8  # gradient steps of each flow
EPSILONS = [0.1, 0.5, 2.0]  # from a sharp to a very blurry transport


def spread(points):
    """Root mean square distance of the points to their mean."""
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()))


# %%
# A compact source and a wide target
# ----------------------------------
#
# The source cloud is a small blob at the origin; the target an elliptic Gaussian cloud
# centred at (3, 0). Both have uniform weights. Its spread, the root mean square distance
# of its points to their mean, is what the biased loss gets wrong.

rng = np.random.default_rng(1)
x = 0.15 * rng.normal(size=(N_SOURCE, 2))
y = np.array([3.0, 0.0]) + rng.normal(size=(N_TARGET, 2)) * np.array([0.5, 0.8])
print(f"spread of the source: {spread(x):.3f}, of the target: {spread(y):.3f}")

# %%
# The bias in numbers
# -------------------
#
# With :math:`\mathrm{OT}_\varepsilon(\alpha, \beta) = \min_P \langle P, C\rangle +
# \varepsilon\,\mathrm{KL}(P \,\|\, \alpha \otimes \beta)` (the ``reg_value`` entry of the
# log of :func:`otkit.sinkhorn2`), compare the target :math:`\beta` with its copies
# :math:`\beta_s` shrunk toward their mean by a factor :math:`s \in [0, 1]`
# (:math:`s = 0` puts every point at the mean). A good loss is smallest at :math:`s = 1`.
# :math:`\mathrm{OT}_\varepsilon(\beta_s, \beta)` is not. The entropic term pulls the
# coupling toward the independent one, :math:`\beta_s \otimes \beta`, whose cost
# :math:`\mathbb{E}\|X - Y\|^2` is the sum of the squared spreads of the two measures
# (plus the squared distance between their means): the smaller the first measure, the
# cheaper. So the larger :math:`\varepsilon`, the smaller the best :math:`s`, and from
# some :math:`\varepsilon` on a single point at the mean beats the target itself. The
# divergence :math:`S_\varepsilon`, built from three such solves, is smallest at
# :math:`s = 1` for every :math:`\varepsilon`.


def entropic_cost(p, q, eps):
    """OT_eps between uniform clouds p and q: the regularized value of a Sinkhorn solve."""
    C = ot.dist(p, q)
    # Nearly equal clouds at a small eps are the slow case of Sinkhorn: allow more iterations.
    _, log = ot.sinkhorn2(
        ot.unif(len(p)), ot.unif(len(q)), C, eps, numItermax=5000, stopThr=1e-5, log=True
    )
    return float(log["reg_value"])


def divergence(p, q, eps):
    """S_eps from its definition: one solve between p and q, one for each self term."""
    return (
        entropic_cost(p, q, eps) - 0.5 * entropic_cost(p, p, eps) - 0.5 * entropic_cost(q, q, eps)
    )


shrink = np.linspace(0.0, 1.0, 11)
center = y.mean(axis=0)
copies = [center + s * (y - center) for s in shrink]
ot_curves = {eps: [entropic_cost(c, y, eps) for c in copies] for eps in EPSILONS}
s_curves = {eps: [divergence(c, y, eps) for c in copies] for eps in EPSILONS}
for eps in EPSILONS:
    best = shrink[int(np.argmin(ot_curves[eps]))]
    print(
        f"eps = {eps:4}: OT_eps(beta, beta) = {ot_curves[eps][-1]:.3f}, "
        f"best shrink factor for OT_eps: {best:.1f}, "
        f"for S_eps: {shrink[int(np.argmin(s_curves[eps]))]:.1f}"
    )

# The divergence assembled by hand is the one otkit computes in a single call.
by_hand = divergence(x, y, EPSILONS[0])
library = float(ot.sinkhorn_divergence(x, y, reg=EPSILONS[0], stopThr=1e-6))
print(f"S_eps by hand {by_hand:.5f}, otkit.sinkhorn_divergence {library:.5f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for eps in EPSILONS:
    for ax, curves in zip(axes, (ot_curves, s_curves)):
        values = np.asarray(curves[eps])
        if curves is ot_curves:  # OT_eps(beta, beta) is not zero: show the difference to it
            values = values - values[-1]
        (line,) = ax.plot(shrink, values, marker=".", label=f"eps = {eps}")
        k = int(np.argmin(values))
        ax.plot(shrink[k], values[k], "o", ms=10, mfc="none", color=line.get_color())
axes[0].set_title(r"$OT_\varepsilon(\beta_s, \beta) - OT_\varepsilon(\beta, \beta)$")
axes[1].set_title(r"$S_\varepsilon(\beta_s, \beta)$")
for ax in axes:
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.set_xlabel("shrink factor s (circles: the minimum)")
axes[1].legend()
fig.tight_layout()
plt.show()

# %%
# Gradient flows of both losses
# -----------------------------
#
# A gradient flow moves every source point along :math:`-\nabla_{x_i} L / a_i`. The
# points are a PyTorch tensor with ``requires_grad=True``; :func:`otkit.sinkhorn_divergence`
# gives :math:`S_\varepsilon` (and :math:`\mathrm{OT}_\varepsilon` with ``debias=False``)
# with envelope-theorem gradients, so one ``torch.autograd.grad`` call per step suffices.
# For the squared distance, :math:`\nabla_{x_i}\mathrm{OT}_\varepsilon / a_i =
# 2 (x_i - T(x_i))` where :math:`T(x_i)` is the mean of the targets :math:`x_i` is coupled
# to, so a step of size 1/2 jumps to :math:`T(x_i)`: that is the step used here. (The
# same calls accept JAX arrays, under ``jax.grad``.) The problems are small, so PyTorch
# runs on one thread.

import torch

torch.set_num_threads(1)


def flow(source, target, n_steps, **options):
    """Positions of the source points after each explicit Euler step of the flow."""
    target = torch.tensor(target)
    points = torch.tensor(source, requires_grad=True)
    weights = 1.0 / len(source)
    history = [source.copy()]
    for _ in range(n_steps):
        # A loose tolerance is enough for a gradient step (and saves iterations).
        value = ot.sinkhorn_divergence(points, target, stopThr=1e-4, **options)
        (grad,) = torch.autograd.grad(value, [points])
        with torch.no_grad():
            points -= 0.5 * grad / weights
        history.append(points.detach().numpy().copy())
    return history


flows = {
    (debias, eps): flow(x, y, N_STEPS, reg=eps, debias=debias)
    for debias in (False, True)
    for eps in EPSILONS
}

fig, axes = plt.subplots(
    2, len(EPSILONS), figsize=(3.3 * len(EPSILONS), 6.2), sharex=True, sharey=True
)
for (debias, eps), history in flows.items():
    ax = axes[int(debias), EPSILONS.index(eps)]
    ax.scatter(*y.T, s=12, c="tab:red", alpha=0.5, label="target")
    ax.scatter(*history[-1].T, s=12, c="tab:blue", label=f"after {N_STEPS} steps")
    name = "S_eps" if debias else "OT_eps"
    ax.set_title(f"{name}, eps = {eps}: spread {spread(history[-1]):.2f}", fontsize=10)
    ax.set_aspect("equal")
axes[0, 0].legend(loc="lower left", fontsize=8)
fig.suptitle(f"final clouds (target spread {spread(y):.2f})")
fig.tight_layout()
plt.show()
# sphinx_gallery_thumbnail_number = 2

# %%
# The spread along the flows
# --------------------------
#
# The spread of the moving cloud after each step. Under :math:`\mathrm{OT}_\varepsilon`
# it settles below the target's, the lower the larger :math:`\varepsilon`, down to a
# collapse onto a single point at :math:`\varepsilon = 2`. Under :math:`S_\varepsilon`
# it reaches the target's spread for every :math:`\varepsilon` (slightly more slowly at
# large :math:`\varepsilon`, where the divergence sees less detail).

fig, ax = plt.subplots(figsize=(6, 4))
for (debias, eps), history in flows.items():
    style = "-" if debias else "--"
    color = f"C{EPSILONS.index(eps)}"
    name = "S_eps" if debias else "OT_eps"
    ax.plot([spread(p) for p in history], style, color=color, label=f"{name}, eps = {eps}")
ax.axhline(spread(y), color="k", lw=0.8, label="target")
ax.set_xlabel("step")
ax.set_ylabel("spread of the moving cloud")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# Outliers and the reach
# ----------------------
#
# A balanced loss must transport all the mass: if the target has a few points far away,
# some source points are dragged to them. With ``reach`` (unbalanced transport: the
# marginal constraints become penalties of strength :math:`\rho = 2\,\mathrm{reach}^2`
# for this cost), mass that would have to travel much farther than ``reach`` may be
# created or destroyed instead, and the flow leaves the outliers alone. Here a new source
# cloud starts next to the bulk of the target, and two outliers sit 4 units away from it.

outliers = np.array([[3.0, 4.0], [3.4, 4.3]])
y_outliers = np.concatenate([y, outliers])
x_near = np.array([2.6, -0.4]) + 0.35 * rng.normal(size=(N_SOURCE, 2))
eps_outliers = 0.2
unbalanced = {
    "balanced S_eps": flow(x_near, y_outliers, N_STEPS, reg=eps_outliers),
    "S_eps with reach = 1": flow(x_near, y_outliers, N_STEPS, reg=eps_outliers, reach=1.0),
}
fig, axes = plt.subplots(1, 2, figsize=(8, 4.2), sharex=True, sharey=True)
for ax, (title, history) in zip(axes, unbalanced.items()):
    final = history[-1]
    dragged = int((final[:, 1] > 2.0).sum())
    ax.scatter(*y_outliers.T, s=12, c="tab:red", alpha=0.5, label="target with 2 outliers")
    ax.scatter(*history[0].T, s=12, c="0.6", alpha=0.5, label="start")
    ax.scatter(*final.T, s=12, c="tab:blue", label=f"after {N_STEPS} steps")
    ax.set_title(f"{title}: {dragged} point(s) dragged away", fontsize=10)
    ax.set_aspect("equal")
axes[0].set_xlim(0.0, 5.0)  # room for the legend
axes[0].legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()
