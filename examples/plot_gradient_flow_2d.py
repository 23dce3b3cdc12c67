r"""
Gradient flows of OT_eps, S_eps and unbalanced S_eps between two 2-D point clouds
=================================================================================

Particles :math:`x_i` move along :math:`-\nabla_{x_i} L / a_i` for three losses: the
entropic transport cost :math:`L = \mathrm{OT}_\varepsilon` (biased: the flow shrinks the
cloud, the entropic bias), the debiased Sinkhorn divergence :math:`S_\varepsilon` (the cloud
lands on the target) and :math:`S_\varepsilon` with a finite ``reach`` (unbalanced: far
mass is not forced to travel). Both densities are generated in code; the gradients come
from PyTorch's autograd through :func:`otkit.sinkhorn_divergence`.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

import otkit as ot

# A few hundred points: one thread is faster than several fighting over the cores.
torch.set_num_threads(1)

N_POINTS = 150  # points in each cloud
N_STEPS = 5  # explicit Euler steps of each flow
STEP_SIZE = 0.25
BLUR = 0.05  # GeomLoss-style length scale: eps = 2 blur^2 for the squared Euclidean cost

# %%
# A blob and a crescent
# ---------------------
#
# The source is a Gaussian blob, the target a crescent; both carry uniform weights.

rng = np.random.default_rng(0)
x = np.array([0.6, 0.35]) + 0.08 * rng.normal(size=(N_POINTS, 2))
angle = rng.uniform(0.2 * np.pi, 1.3 * np.pi, N_POINTS)
radius = 0.35 + 0.04 * rng.normal(size=N_POINTS)
y = np.stack([0.5 + radius * np.cos(angle), 0.5 + radius * np.sin(angle)], axis=1)

# %%
# The flow
# --------
#
# With uniform weights :math:`a_i = 1/n`, a step moves each point by
# ``- step_size * n * grad``. Each loss is :func:`otkit.sinkhorn_divergence` with other
# options: ``debias=False`` gives :math:`\mathrm{OT}_\varepsilon`, ``reach`` the unbalanced
# divergence.


def flow(x, y, **options):
    """Explicit Euler steps of the Wasserstein gradient flow of one loss."""
    target = torch.tensor(y)
    points = torch.tensor(x, requires_grad=True)
    history = [x.copy()]
    for _ in range(N_STEPS):
        value = ot.sinkhorn_divergence(points, target, warn=False, stopThr=1e-4, **options)
        (grad,) = torch.autograd.grad(value, [points])
        with torch.no_grad():
            points -= STEP_SIZE * len(x) * grad  # grad / a_i with a_i = 1 / n
        history.append(points.detach().numpy().copy())
    return history


flows = {
    "OT_eps (biased, blur = 5 x 0.05)": flow(x, y, blur=5 * BLUR, debias=False),
    "S_eps (debiased)": flow(x, y, blur=BLUR),
    "S_eps, reach = 0.1": flow(x, y, blur=BLUR, reach=0.1),
}

# %%
# Where the clouds went
# ---------------------
#
# The biased loss pulls the cloud toward a shrunken copy of the target; the debiased
# divergence spreads it over the crescent; with a finite reach, the points far from the
# target move less.

fig, axes = plt.subplots(1, len(flows), figsize=(4 * len(flows), 4))
for ax, (title, history) in zip(axes, flows.items()):
    ax.scatter(y[:, 0], y[:, 1], s=6, c="tab:blue", alpha=0.4, label="target")
    ax.scatter(history[0][:, 0], history[0][:, 1], s=6, c="tab:gray", alpha=0.3)
    ax.scatter(history[-1][:, 0], history[-1][:, 1], s=6, c="tab:red", label="after flow")
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
axes[0].legend(loc="lower left", fontsize=8)
fig.tight_layout()
plt.show()
