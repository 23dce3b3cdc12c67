r"""
Colour transfer by the gradient of a Sinkhorn divergence
========================================================

An image with :math:`N` pixels is a point cloud of :math:`N` colours in the RGB cube,
:math:`\alpha = \frac1N \sum_i \delta_{c_i}`. To give image A the palette of image B, move
the colours of A onto those of B by optimal transport, and leave every pixel where it is.

With GeomLoss's ``SamplesLoss`` (here :class:`otkit.SamplesLoss`: cost
:math:`\tfrac12\|x - y\|^2`, :math:`\varepsilon = \mathrm{blur}^2`) this is one gradient
step: for a small blur the gradient of the Sinkhorn divergence with respect to one colour
is its weight times its displacement, :math:`\nabla_{c_i} S_\varepsilon = a_i (c_i -
T(c_i))`, so

.. math::
    c_i \leftarrow c_i - \frac{1}{a_i} \nabla_{c_i} S_\varepsilon(\alpha, \beta)

sends every colour of A to its transport target :math:`T(c_i)` in the palette of B. The
transport preserves the *order* of the colours (it is the gradient of a convex function):
the darkest tones of A become the darkest of B, the brightest stay the brightest.

Both images, 64 x 64 pixels, are drawn in code: a sunset over the sea and a meadow at noon.

Reference: J. Rabin, J. Delon, Y. Gousseau. Regularization of transportation maps for
color and contrast transfer. ICIP 2010. J. Feydy et al. Interpolating between optimal
transport and MMD using Sinkhorn divergences. AISTATS 2019.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from otkit import SamplesLoss

rng = np.random.default_rng(0)
SIDE = 64
v, u = np.mgrid[0 : 1 : SIDE * 1j, 0 : 1 : SIDE * 1j]  # v: from top to bottom, u: left to right


def mix(c0, c1, t):
    """Colours from c0 (t = 0) to c1 (t = 1), t of any shape."""
    t = np.clip(t, 0, 1)[..., None]
    return (1 - t) * np.asarray(c0) + t * np.asarray(c1)


def smooth_noise(scale):
    """Low-frequency noise in [-1, 1]: a few random waves."""
    field = np.zeros_like(u)
    for _ in range(6):
        k = rng.normal(size=2) * scale
        field += np.cos(2 * np.pi * (k[0] * u + k[1] * v) + rng.uniform(0, 2 * np.pi))
    return field / 6


def sunset():
    horizon = 0.45
    image = mix([0.16, 0.08, 0.32], [1.0, 0.5, 0.16], (v / horizon) ** 1.5)  # sky
    sun = np.hypot(u - 0.62, (v - 0.34) * 1.1) < 0.09
    image[sun] = [1.0, 0.92, 0.55]
    sea = v >= horizon
    waves = 0.05 * smooth_noise(6)
    image[sea] = mix([0.25, 0.13, 0.3], [0.06, 0.05, 0.16], (v - horizon) / 0.55)[sea]
    image[sea] += waves[sea][:, None]
    glitter = sea & (np.abs(u - 0.62) < 0.1 * (1.2 - v)) & (smooth_noise(12) > 0)
    image[glitter] = mix([1.0, 0.55, 0.2], [0.8, 0.3, 0.2], v)[glitter]
    return np.clip(image, 0, 1)


def meadow():
    hills = v > 0.42 + 0.06 * np.sin(5 * u + 1) + 0.03 * np.sin(13 * u)
    image = mix([0.3, 0.55, 0.92], [0.78, 0.9, 1.0], v / 0.5)  # sky
    clouds = np.zeros_like(u)
    for cu, cv, r in [(0.2, 0.15, 0.08), (0.28, 0.18, 0.06), (0.7, 0.1, 0.07), (0.78, 0.14, 0.05)]:
        clouds += np.exp(-((u - cu) ** 2 + (v - cv) ** 2 * 4) / r**2)
    image = mix(image, [1.0, 1.0, 1.0], clouds)
    grass = mix([0.45, 0.75, 0.2], [0.1, 0.35, 0.08], (v - 0.4) / 0.6)
    grass = grass * (1 + 0.15 * smooth_noise(10))[..., None]
    image[hills] = grass[hills]
    flowers = hills & (rng.uniform(size=u.shape) < 0.04)
    image[flowers] = rng.choice(
        [[0.95, 0.2, 0.2], [1.0, 0.85, 0.1], [1.0, 1.0, 1.0]], flowers.sum()
    )
    return np.clip(image, 0, 1)


A, B = sunset(), meadow()
# float32, as in GeomLoss's examples: plenty for colours, and twice as fast as float64
colours_a = torch.tensor(A.reshape(-1, 3), dtype=torch.float32)
colours_b = torch.tensor(B.reshape(-1, 3), dtype=torch.float32)
weight = 1.0 / SIDE**2  # every pixel has the same weight


def transfer(source, target, blur):
    """One step c <- c - grad / a of the Sinkhorn divergence, in RGB space."""
    loss = SamplesLoss("sinkhorn", p=2, blur=blur, scaling=0.7, stopThr=1e-3)
    x = source.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(x, target), x)
    return (x - grad / weight).detach().clamp(0, 1).numpy()


# %%
# Transfer in both directions
# ---------------------------
# With blur 0.05 (a twentieth of the side of the RGB cube), the sunset takes the meadow's
# palette: its dark sea becomes dark grass, its orange sky the light blue and white of the
# meadow's sky. In the other direction the meadow becomes an evening scene.

a_to_b = transfer(colours_a, colours_b, blur=0.05)
b_to_a = transfer(colours_b, colours_a, blur=0.05)
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
panels = (
    (A, "A: sunset"),
    (a_to_b.reshape(A.shape), "A with B's colours"),
    (B, "B: meadow"),
    (b_to_a.reshape(B.shape), "B with A's colours"),
)
for ax, (image, title) in zip(axes, panels):
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()

# %%
# The colours as point clouds
# ---------------------------
# The same transfer seen in colour space, projected on two opponent-colour axes
# (red - green, and yellow - blue), each point drawn in its own colour. The transported
# cloud (right) takes the shape of B's cloud (middle): the gradient step is a transport
# of the whole distribution of colours, not a change of each colour on its own.


def opponent(colours):
    r, g, b = colours.T
    return np.stack([r - g, (r + g) / 2 - b])


fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), sharex=True, sharey=True)
clouds = (
    (colours_a.numpy(), "A's colours"),
    (colours_b.numpy(), "B's colours"),
    (a_to_b, "A's colours after the step"),
)
for ax, (colours, title) in zip(axes, clouds):
    ax.scatter(*opponent(colours), s=3, c=colours, lw=0)
    ax.set_title(title)
    ax.set_xlabel("red - green")
    ax.set_facecolor("0.85")
axes[0].set_ylabel("yellow - blue")
fig.tight_layout()

# %%
# The blur
# --------
# The blur is the scale below which the transport does not resolve colours: a large blur
# sends each colour to the *average* of a neighbourhood of targets, which pulls the result
# towards the mean colour of B (a washed-out image); a small blur keeps the contrast.

fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
for ax, blur in zip(axes, (0.3, 0.1, 0.05)):
    moved = a_to_b if blur == 0.05 else transfer(colours_a, colours_b, blur)
    ax.imshow(moved.reshape(A.shape), interpolation="nearest")
    ax.set_title(f"A with B's colours, blur {blur}")
    ax.axis("off")
fig.tight_layout()
plt.show()
