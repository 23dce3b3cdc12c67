"""
Point clouds: Sinkhorn plans, potentials and gradients
======================================================

Two small point clouds in the plane are compared with entropic optimal transport
under two ground costs, the squared Euclidean distance and the cosine distance. We check
that the plan rebuilt from the dual potentials is the plan Sinkhorn returns, draw it, and
then use the gradient of the regularized transport cost to move the source points toward
the target: with JAX (``jax.grad`` under ``jax.jit``) for the squared Euclidean cost and
with PyTorch (``backward``) for the cosine cost. The flows are shown as animations
made with :func:`otkit.plot.animate`.
"""

import matplotlib.pyplot as plt
import numpy as np

import otkit as ot
from otkit.plot import animate, plot2D_samples_mat, plot_plan

N_STEPS = 24  # gradient steps of each flow
FRAME_EVERY = 6  # one animation frame every FRAME_EVERY steps
# the steps drawn in the animations (and the last one)
FRAME_STEPS = sorted(set(range(0, N_STEPS + 1, FRAME_EVERY)) | {N_STEPS})

# %%
# Two point clouds
# ----------------
#
# The source is a Gaussian blob to the right of the origin, the target a uniform sample of
# a rectangle above it. Both carry uniform weights (``otkit.unif``). The clouds sit at
# different angles from the origin, which is all the cosine distance
# :math:`1 - \langle x, y\rangle / (\|x\| \|y\|)` sees.

rng = np.random.default_rng(3)
n, m = 18, 24
x = rng.normal(loc=(2.0, 0.4), scale=0.45, size=(n, 2))
y = rng.uniform(low=(-1.0, 0.6), high=(1.0, 2.0), size=(m, 2))
# Number the points by their angle around the origin: plans that pair directions then
# show up as a band along the diagonal of the plan matrix.
x = x[np.argsort(np.arctan2(x[:, 1], x[:, 0]))]
y = y[np.argsort(np.arctan2(y[:, 1], y[:, 0]))]
a, b = ot.unif(n), ot.unif(m)

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(*x.T, c="tab:blue", label="source x")
ax.scatter(*y.T, c="tab:red", marker="s", label="target y")
ax.scatter([0.0], [0.0], c="k", marker="+", s=80, label="origin")
ax.set_aspect("equal")
ax.legend(loc="lower left")
ax.set_title("two point clouds")
plt.show()

# %%
# Sinkhorn with two costs, and the plan from the potentials
# ---------------------------------------------------------
#
# :func:`otkit.sinkhorn` solves :math:`\min_P \langle P, C\rangle + \varepsilon\,
# \mathrm{KL}(P \,\|\, a \otimes b)` over the couplings of ``a`` and ``b``. With
# ``log=True`` it also returns the dual potentials ``f`` and ``g``, in the units of the
# cost. The optimal plan is a function of them alone,
#
# .. math:: P_{ij} = a_i\, b_j\, \exp\big((f_i + g_j - C_{ij}) / \varepsilon\big),
#
# so storing ``f`` and ``g`` (n + m numbers) is enough to rebuild the n x m plan. The
# cosine distance lies in [0, 2] and varies little across these clouds, so it gets a
# smaller :math:`\varepsilon` than the squared distance.

settings = {"sqeuclidean": 0.05, "cosine": 0.01}  # metric -> epsilon
plans = {}
for metric, eps in settings.items():
    C = ot.dist(x, y, metric=metric)
    P, log = ot.sinkhorn(a, b, C, eps, log=True)
    P_from_potentials = a[:, None] * b[None, :] * np.exp((log["f"][:, None] + log["g"] - C) / eps)
    plans[metric] = P
    print(
        f"{metric:>11}: eps = {eps}, {log['n_iter']} iterations, "
        f"<P, C> = {log['cost']:.4f}, regularized value = {log['reg_value']:.4f}, "
        f"max |P - P(f, g)| = {np.abs(P - P_from_potentials).max():.1e}"
    )

# %%
# Drawing the plans
# -----------------
#
# Top row: every pair (i, j) that carries mass is a segment from :math:`x_i` to
# :math:`y_j` whose opacity is :math:`P_{ij} / \max P` (:func:`otkit.plot.plot2D_samples_mat`).
# Pairs that carry less than 2% of the largest entry are left out. Bottom row: the plans as
# matrices (:func:`otkit.plot.plot_plan`), rows and columns in the order of the angles.
# The squared Euclidean plan sends each source point to its nearby targets; the cosine
# plan pairs points by their angle, whatever their distance from the origin, so its
# matrix is a band that runs down the diagonal: up to the blur, a monotone matching of
# angles, as optimal transport on a line would give.

fig, axes = plt.subplots(2, 2, figsize=(9, 7.5))
for column, (metric, P) in enumerate(plans.items()):
    ax = axes[0, column]
    plot2D_samples_mat(x, y, P, thr=0.02, ax=ax, color="0.3")
    ax.scatter(*x.T, c="tab:blue", zorder=3)
    ax.scatter(*y.T, c="tab:red", marker="s", zorder=3)
    ax.set_aspect("equal")
    ax.set_title(f"{metric} cost, eps = {settings[metric]}")
    plot_plan(P, ax=axes[1, column], cmap="Purples", title=f"{metric} plan")
fig.tight_layout()
plt.show()

# %%
# Moving the points with JAX
# --------------------------
#
# The value :math:`\langle P^\star, C(x, y)\rangle` returned by :func:`otkit.sinkhorn2` is
# differentiable with respect to the points. Its gradient (by the envelope theorem, that of
# the regularized objective at the optimum) with respect to :math:`x_i` is
# :math:`2 \sum_j P_{ij} (x_i - y_j)` for the squared distance, so the step
# :math:`x_i \leftarrow x_i - \tau \nabla_{x_i} / a_i` moves each point toward the
# barycenter of the targets it is coupled to.
#
# The whole step is compiled once with ``jax.jit``. The potentials come out as auxiliary
# outputs (``has_aux=True``) and give the plan of each animation frame with the formula
# above, without solving again.

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)  # float64, as the NumPy results above

eps_jax = settings["sqeuclidean"]
a_jax, b_jax, y_jax = jnp.asarray(a), jnp.asarray(b), jnp.asarray(y)


def transport_cost(points):
    C = ot.dist(points, y_jax)
    value, log = ot.sinkhorn2(a_jax, b_jax, C, eps_jax, stopThr=1e-5, log=True)
    return value, (log["f"], log["g"], C)


step = jax.jit(jax.value_and_grad(transport_cost, has_aux=True))

points = jnp.asarray(x)
frames, frame_plans, values, jax_path = [], [], [], []
for k in range(N_STEPS + 1):
    (value, (f, g, C)), grad = step(points)
    values.append(float(value))
    jax_path.append(np.asarray(points))
    if k in FRAME_STEPS:
        frames.append(np.asarray(points))
        frame_plans.append(
            np.asarray(a_jax[:, None] * b_jax * jnp.exp((f[:, None] + g - C) / eps_jax))
        )
    points = points - 0.2 * grad / a_jax[:, None]
print(f"JAX flow, squared Euclidean: <P, C> from {values[0]:.4f} to {values[-1]:.4f}")


def make_animation(frames, frame_plans, title):
    """Animate the frames over the target with their plans."""
    _, ax = plt.subplots(figsize=(5, 4), dpi=72)
    return animate(
        frames,
        frame_plans,
        target=y,
        thr=0.02,
        ax=ax,
        interval=300,
        titles=[f"{title}: step {s}" for s in FRAME_STEPS],
    )


jax_animation = make_animation(frames, frame_plans, "JAX, squared Euclidean")
plt.show()

# %%
# Moving the points with PyTorch, under the cosine cost
# ------------------------------------------------------
#
# The same flow in PyTorch: the points are a tensor with ``requires_grad=True`` and
# ``backward()`` fills ``points.grad``. The cosine cost does not see the norm of a point,
# only its direction, and its gradient is orthogonal to the point: the source points turn
# around the origin toward the angles of the targets instead of travelling to them.
#
# Each solve is warm-started from the potentials of the previous step
# (``warmstart_type="potentials"``): the clouds move little between two steps, so the old
# potentials are a good starting point. The problem is tiny, so PyTorch runs on one thread
# (thread start-up costs more than the arithmetic here).

import torch

torch.set_num_threads(1)

eps_torch = settings["cosine"]
a_torch, b_torch, y_torch = torch.tensor(a), torch.tensor(b), torch.tensor(y)
points = torch.tensor(x, requires_grad=True)
frames, frame_plans, values, torch_path = [], [], [], []
potentials = None
for k in range(N_STEPS + 1):
    C = ot.dist(points, y_torch, metric="cosine")
    warm = {} if potentials is None else {"warmstart": potentials, "warmstart_type": "potentials"}
    value, log = ot.sinkhorn2(a_torch, b_torch, C, eps_torch, stopThr=1e-5, log=True, **warm)
    potentials = (log["f"].detach(), log["g"].detach())
    values.append(value.item())
    value.backward()
    with torch.no_grad():
        torch_path.append(points.numpy().copy())
        if k in FRAME_STEPS:
            f, g = potentials
            frames.append(torch_path[-1])
            frame_plans.append(
                (a_torch[:, None] * b_torch * torch.exp((f[:, None] + g - C) / eps_torch)).numpy()
            )
        points -= 0.5 * points.grad / a_torch[:, None]
        points.grad = None
print(f"PyTorch flow, cosine: <P, C> from {values[0]:.4f} to {values[-1]:.4f}")

torch_animation = make_animation(frames, frame_plans, "PyTorch, cosine")
plt.show()

# %%
# Where the points went
# ---------------------
#
# The paths of the source points during both flows. Under the squared Euclidean cost each
# point heads straight for its share of the target; under the cosine cost the points swing
# around the origin and keep roughly their distance to it.

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, (title, history) in zip(
    axes, [("JAX, squared Euclidean", jax_path), ("PyTorch, cosine", torch_path)]
):
    paths = np.stack(history)  # (steps + 1, n, 2)
    ax.plot(paths[:, :, 0], paths[:, :, 1], c="0.6", lw=0.8)
    ax.scatter(*y.T, c="tab:red", marker="s", label="target")
    ax.scatter(*paths[0].T, c="tab:blue", alpha=0.35, label="start")
    ax.scatter(*paths[-1].T, c="tab:blue", label=f"after {N_STEPS} steps")
    ax.scatter([0.0], [0.0], c="k", marker="+", s=80)
    ax.set_aspect("equal")
    ax.set_title(title)
axes[0].legend(loc="lower left", fontsize=8)
fig.tight_layout()
plt.show()
# sphinx_gallery_thumbnail_number = 5
