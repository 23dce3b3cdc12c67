r"""
2D registration by gradient steps on a Sinkhorn divergence
==========================================================

A point cloud :math:`x_1, \dots, x_N` with weights :math:`a_i` is registered onto a target
cloud :math:`y_1, \dots, y_M` (weights :math:`b_j`) by descending the Sinkhorn divergence
:math:`S_\varepsilon(\alpha, \beta)` between the two measures
:math:`\alpha = \sum_i a_i \delta_{x_i}` and :math:`\beta = \sum_j b_j \delta_{y_j}`.
This is GeomLoss's ``SamplesLoss`` (here :class:`otkit.SamplesLoss`, the same object and
units: cost :math:`\tfrac12 \|x - y\|^2` for :math:`p = 2`, :math:`\varepsilon =
\mathrm{blur}^2`).

Why divide the gradient by the weight? For :math:`p = 2` and a small blur, the gradient of
:math:`S_\varepsilon` with respect to one point is its weight times a displacement,

.. math::
    \nabla_{x_i} S_\varepsilon(\alpha, \beta) \approx a_i \,\bigl(x_i - T(x_i)\bigr),

where :math:`T(x_i)` is the barycentre of the targets that the entropic transport plan
sends :math:`x_i` to. The step :math:`x_i \leftarrow x_i - \eta\, \nabla_{x_i} S /a_i`
therefore moves every point a fraction :math:`\eta` of the way to its target, whatever the
number of points: with :math:`\eta = 1` one step is the transport map itself. The gradient
without the division would shrink with :math:`1/N`.

The two shapes are drawn in code: a thick crescent of points and a five-pointed star.

References: J. Feydy, T. Séjourné, F.-X. Vialard, S. Amari, A. Trouvé, G. Peyré.
Interpolating between optimal transport and MMD using Sinkhorn divergences. AISTATS 2019.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from otkit import SamplesLoss

rng = np.random.default_rng(1)
N, M = 250, 300


def crescent(n):
    """Uniform points in a thick crescent: a disc minus a shifted disc."""
    points = []
    while len(points) < n:
        p = rng.uniform(-1, 1, size=(2 * n, 2))
        inside = (np.hypot(*p.T) < 1) & (np.hypot(p[:, 0] - 0.45, p[:, 1]) > 0.75)
        points.extend(p[inside])
    return np.array([0.3, 0.45]) + 0.18 * np.array(points[:n])


def star(n):
    """Uniform points in a five-pointed star (rejection sampling on its polar outline)."""
    points = []
    while len(points) < n:
        p = rng.uniform(-1, 1, size=(2 * n, 2))
        angle = np.arctan2(p[:, 1], p[:, 0]) - np.pi / 2
        # radius of the outline: 1 at the tips, 0.45 in the notches (a triangle wave)
        phase = np.abs(((angle / (2 * np.pi / 5)) % 1) - 0.5) * 2
        radius = 0.45 + 0.55 * phase
        points.extend(p[np.hypot(*p.T) < radius])
    return np.array([0.7, 0.45]) + 0.2 * np.array(points[:n])


source = torch.tensor(crescent(N))
target = torch.tensor(star(M))
a = torch.full((N,), 1.0 / N, dtype=torch.float64)
b = torch.full((M,), 1.0 / M, dtype=torch.float64)


def flow(loss, x0, rate, steps):
    """Positions after each step of x <- x - rate * grad / a, and the loss values."""
    x = x0.clone().requires_grad_(True)
    path, values = [x0.numpy().copy()], []
    for _ in range(steps):
        value = loss(a, x, b, target)
        (grad,) = torch.autograd.grad(value, x)
        values.append(value.item())
        with torch.no_grad():
            x -= rate * grad / a[:, None]
        path.append(x.detach().numpy().copy())
    return np.array(path), values


def scatter_pair(ax, points, title, xlim=(0.08, 0.94)):
    ax.scatter(*target.numpy().T, s=4, c="tab:orange", alpha=0.5, lw=0)
    ax.scatter(*points.T, s=4, c="tab:blue", lw=0)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(*xlim), ax.set_ylim(0.2, 0.7), ax.set_aspect("equal")
    ax.set_xticks([]), ax.set_yticks([])


# %%
# A flow with small steps
# -----------------------
# ``stopThr`` is otkit's tolerance on the marginals of the last Sinkhorn iterations
# (GeomLoss stops after one iteration per annealing stage); 1e-4 is plenty for a figure.
# With rate :math:`\eta = 0.25`, the points advance a quarter of their remaining way at
# every step, along almost straight lines (drawn for one point in twenty): the flow of the
# Sinkhorn divergence follows the optimal transport paths, and after :math:`k` steps a
# fraction :math:`(1 - \eta)^k` of the way is left.

loss = SamplesLoss("sinkhorn", p=2, blur=0.02, scaling=0.7, stopThr=1e-4)
RATE, STEPS = 0.25, 12
path, values = flow(loss, source, RATE, STEPS)
print("S_eps along the flow:", " ".join(f"{v:.1e}" for v in values[::3]))

fig, axes = plt.subplots(1, 4, figsize=(12, 2.6))
for ax, k in zip(axes, (0, 2, 5, STEPS)):
    scatter_pair(ax, path[k], f"step {k}: remaining {(1 - RATE) ** k:.0%}")
for i in range(0, N, 20):
    axes[-1].plot(*path[:, i].T, c="k", lw=0.5, alpha=0.6)
fig.suptitle(f"x ← x − {RATE} · grad / a   (Sinkhorn divergence, p = 2, blur 0.02)")
fig.tight_layout()

# %%
# The loss decreases geometrically, as :math:`(1 - \eta)^{2k}` for a quadratic cost,
# until the entropic blur (here :math:`\varepsilon = 4 \cdot 10^{-4}`) is all that separates the
# two clouds.

fig, ax = plt.subplots(figsize=(5, 3.4))
steps = np.arange(STEPS)
ax.semilogy(steps, values, "o-", label="$S_\\varepsilon$(moving, star)")
ax.semilogy(steps, values[0] * (1 - RATE) ** (2 * steps), "k--", lw=1, label="$(1-\\eta)^{2k}$")
ax.set_xlabel("step k")
ax.legend()
ax.set_title("Loss along the flow")
fig.tight_layout()

# %%
# One step of rate 1, and the blur
# --------------------------------
# With :math:`\eta = 1` a single step sends each point to :math:`T(x_i)`, the barycentre of
# the targets the entropic plan gives it. A large blur (0.1, the width of the star's
# branches) averages over a neighbourhood of that size: the cloud lands contracted towards
# the centre of the star and its tips are lost. As the blur decreases, the step approaches
# the optimal transport map and the star sharpens.

fig, axes = plt.subplots(1, 4, figsize=(12, 3.6))
for ax, blur in zip(axes, (0.1, 0.05, 0.02, 0.01)):
    one_step = SamplesLoss("sinkhorn", p=2, blur=blur, stopThr=1e-4)
    path, values = flow(one_step, source, 1.0, 1)
    scatter_pair(ax, path[-1], f"blur {blur}", xlim=(0.46, 0.94))
    print(f"blur {blur:<4}: S_eps(crescent, star) = {values[0]:.4f}")
fig.suptitle("One step x ← x − grad / a from the crescent")
fig.tight_layout()
plt.show()
