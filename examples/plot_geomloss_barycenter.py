r"""
Wasserstein barycenters of 2D shapes by gradient descent
========================================================

The Wasserstein barycenter of shapes :math:`\beta_1, \dots, \beta_K` with weights
:math:`w_1, \dots, w_K` (non-negative, summing to one) is the measure :math:`\alpha` that
minimizes

.. math::
    \sum_{k=1}^K w_k \, S_\varepsilon(\alpha, \beta_k),

with the Sinkhorn divergence :math:`S_\varepsilon` of GeomLoss's ``SamplesLoss`` (here
:class:`otkit.SamplesLoss`: cost :math:`\tfrac12\|x - y\|^2`, :math:`\varepsilon =
\mathrm{blur}^2`). We look for :math:`\alpha = \frac1N \sum_i \delta_{x_i}` and descend on
the points. For a small blur the gradient with respect to :math:`x_i` is
:math:`a_i \sum_k w_k (x_i - T_k(x_i))`, where :math:`T_k` is the transport map to
:math:`\beta_k`, so the step :math:`x \leftarrow x - \nabla / a` is the classical
fixed-point iteration :math:`x_i \leftarrow \sum_k w_k T_k(x_i)` of Álvarez-Esteban et al.
It converges in a few steps.

Every barycenter of a 4 x 4 grid of weights is computed at once: the (cloud, shape)
problems form a batch of point clouds of shape (B, N, 2), which ``SamplesLoss`` solves in
one batched call.

References: M. Agueh, G. Carlier. Barycenters in the Wasserstein space. SIAM J. Math.
Anal., 2011. P. C. Álvarez-Esteban, E. del Barrio, J. A. Cuesta-Albertos, C. Matrán. A
fixed-point approach to barycenters in Wasserstein space. J. Math. Anal. Appl., 2016.
J. Feydy et al. Interpolating between optimal transport and MMD using Sinkhorn
divergences. AISTATS 2019.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from otkit import SamplesLoss

rng = np.random.default_rng(0)
N = M = 200  # points in each barycenter, points per shape
STEPS = 3  # fixed-point steps


def sample(inside, n):
    """``n`` uniform points of [-1, 1]^2 where ``inside(x, y)`` holds."""
    points = np.empty((0, 2))
    while len(points) < n:
        p = rng.uniform(-1, 1, size=(4 * n, 2))
        points = np.concatenate([points, p[inside(*p.T)]])
    return points[:n]


SHAPES = {
    "disc": lambda x, y: np.hypot(x, y) < 0.8,
    "ring": lambda x, y: np.abs(np.hypot(x, y) - 0.7) < 0.15,
    "square": lambda x, y: np.maximum(np.abs(x), np.abs(y)) < 0.6,
    "cross": lambda x, y: (
        (np.minimum(np.abs(x), np.abs(y)) < 0.22) & (np.maximum(np.abs(x), np.abs(y)) < 0.85)
    ),
}
COLOURS = np.array([[0.85, 0.2, 0.2], [0.2, 0.45, 0.85], [0.2, 0.65, 0.3], [0.85, 0.6, 0.1]])
shapes = torch.tensor(np.stack([sample(inside, M) for inside in SHAPES.values()]))  # (4, M, 2)
K = len(SHAPES)

# %%
# Weights on a 4 x 4 grid: bilinear in the corners, where the shapes themselves sit.

side = 4
s, t = np.meshgrid(np.linspace(0, 1, side), np.linspace(0, 1, side))
s, t = s.ravel(), t.ravel()
weights = np.stack([(1 - s) * (1 - t), s * (1 - t), (1 - s) * t, s * t], axis=1)  # (16, 4)
G = len(weights)
w = torch.tensor(weights)

# %%
# The descent, batched: the 12 moving clouds (the corners are the shapes themselves) are
# stacked in ``x`` of shape (12, N, 2). Each is compared with every shape of non-zero
# weight: 32 (cloud, shape) problems, solved in one ``SamplesLoss`` call on point clouds of
# shapes (32, N, 2) and (32, M, 2), which returns 32 values.

inner = [g for g in range(G) if np.count_nonzero(weights[g]) > 1]
pairs = [(i, k) for i, g in enumerate(inner) for k in range(K) if weights[g, k] > 0]
cloud_of, shape_of = (torch.tensor(index) for index in zip(*pairs))
w_pair = torch.tensor([weights[inner[i], k] for i, k in pairs])

loss = SamplesLoss("sinkhorn", p=2, blur=0.04, scaling=0.7, stopThr=1e-3)
a = torch.full((len(pairs), N), 1.0 / N, dtype=torch.float64)
b = torch.full((len(pairs), M), 1.0 / M, dtype=torch.float64)
y = shapes[shape_of]  # (32, M, 2)

start = torch.tensor(0.3 * rng.normal(size=(N, 2)))
x = start.expand(len(inner), N, 2).clone().requires_grad_(True)
history = []
for step in range(STEPS):
    values = loss(a, x[cloud_of], b, y)  # (32,): one call, 32 problems
    # one objective sum_k w_k S(x, shape_k) per barycenter
    objective = torch.zeros(len(inner), dtype=torch.float64).index_add(0, cloud_of, w_pair * values)
    (grad,) = torch.autograd.grad(objective.sum(), x)
    history.append(objective.detach().numpy())
    with torch.no_grad():
        x -= grad * N  # x_i <- x_i - grad / a_i, i.e. x_i <- sum_k w_k T_k(x_i)
history = np.array(history)
print("objective of the four central barycenters along the steps:")
print(np.array2string(history[:, [inner.index(g) for g in (5, 6, 9, 10)]].T, precision=4))
barycenters = np.empty((G, N, 2))
barycenters[inner] = x.detach().numpy()
for g in set(range(G)) - set(inner):
    barycenters[g] = shapes[np.argmax(weights[g])].numpy()[:N]

# %%
# The barycenters. Each panel shows its weights as a bar chart and its points in the
# weighted mix of the corner colours. Along the top row the disc opens into the ring;
# along the left column it squares up; in the middle, a rounded cross with a hollow centre
# keeps a little of each shape. The corners are the shapes themselves (up to the blur).

fig, axes = plt.subplots(side, side, figsize=(9, 9))
for g, ax in enumerate(axes.ravel()):
    ax.scatter(*barycenters[g].T, s=6, color=weights[g] @ COLOURS, lw=0)
    ax.set_xlim(-1, 1), ax.set_ylim(-1, 1), ax.set_aspect("equal")
    ax.set_xticks([]), ax.set_yticks([])
    inset = ax.inset_axes([0.02, 0.8, 0.22, 0.18])
    inset.bar(range(K), weights[g], color=COLOURS, width=0.8)
    inset.set_ylim(0, 1), inset.axis("off")
fig.suptitle("Sinkhorn barycenters of a disc, a ring, a square and a cross (blur 0.04)")
fig.tight_layout()

# %%
# A barycenter is not a mixture
# -----------------------------
# With equal weights, the mixture :math:`\frac14 \sum_k \beta_k` (left) superposes the four
# shapes: it is the barycenter for the :math:`L^2` or kernel (MMD) distances, which average
# densities. The Wasserstein barycenter (middle) averages *positions*: it is one new shape.
# Right: the objective along the fixed-point steps, for the four central barycenters. It
# settles after one or two steps at the value of the barycenter problem, which is not zero:
# no single shape is at distance zero from all four.

x_eq = start.clone().requires_grad_(True)
for _ in range(STEPS):
    total = sum(loss(x_eq, shapes[k]) / K for k in range(K))
    (grad,) = torch.autograd.grad(total, x_eq)
    with torch.no_grad():
        x_eq -= grad * N

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
mixture = shapes.reshape(-1, 2).numpy()
axes[0].scatter(*mixture.T, s=4, color=np.repeat(COLOURS, M, axis=0), lw=0)
axes[0].set_title("mixture of the 4 shapes")
axes[1].scatter(*x_eq.detach().numpy().T, s=6, color="0.3", lw=0)
axes[1].set_title("Wasserstein barycenter, equal weights")
for ax in axes[:2]:
    ax.set_xlim(-1, 1), ax.set_ylim(-1, 1), ax.set_aspect("equal")
    ax.set_xticks([]), ax.set_yticks([])
for g in (5, 6, 9, 10):
    label = "w = (" + ", ".join(f"{v:.2f}" for v in weights[g]) + ")"
    axes[2].plot(range(STEPS), history[:, inner.index(g)], "o-", label=label)
axes[2].set_xlabel("step")
axes[2].set_xticks(range(STEPS))
axes[2].set_ylim(bottom=0)
axes[2].set_title("$\\sum_k w_k S_\\varepsilon(\\alpha, \\beta_k)$")
axes[2].legend(fontsize=7)
fig.tight_layout()
plt.show()
