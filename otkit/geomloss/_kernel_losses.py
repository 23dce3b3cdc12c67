r"""Kernel norms (MMDs) between batches of weighted point clouds, block by block.

GeomLoss's ``'energy'``, ``'gaussian'`` and ``'laplacian'`` losses,

.. math::
    L(\alpha, \beta) = \tfrac12 \langle \alpha - \beta, k \star (\alpha - \beta) \rangle,

computed from the points without the (n + m) x (n + m) kernel matrix: one pass over row
blocks of the stacked cloud z = (x, y) with the signed weights w = (a, -b) gives
:math:`U = K w` and :math:`V_k = \sum_l w_l \nabla_1 k(z_k, z_l)`, from which the value
:math:`\tfrac12 \langle w, U \rangle`, the potentials and every gradient follow in closed
form (no autodiff graph through the blocks).
"""

from __future__ import annotations

import numpy as np

from ..backend import (
    device_of,
    inplace_ops,
    is_numpy_namespace,
    is_torch_namespace,
    stop_gradient,
)
from ..bregman._pointcloud import map_row_blocks

__all__ = ["KERNELS", "kernel_loss"]

KERNELS = ("energy", "gaussian", "laplacian")

# Elements of one (batch, rows, columns) kernel block: about 16 MiB in float64.
_BLOCK_ELEMENTS = {True: 2**16, False: 2**21}


def _kernel_block(name, blur, xb, z, rhs, xp):
    """(B, rows, 1 + d): sum_l w_l k(x_i, z_l) and sum_l w_l grad_1 k(x_i, z_l).

    ``rhs`` is (B, n, 1 + d), the columns ``w`` and ``w z``: with ``Q`` the block of
    slopes (grad_1 k(x, z) = Q(x, z) (x - z)), the gradient sum is ``x (Q w) - Q (w z)``,
    one product with ``rhs``. The squared distances come from one product of augmented
    coordinates (no broadcast (rows, n, d) difference), and the block is updated in place
    where the library allows it (NumPy, torch: no autograd here).
    """
    ops = inplace_ops(xp)
    ones = xp.ones(xb.shape[:-1] + (1,), dtype=xb.dtype, device=device_of(xb))
    x_norms = xp.sum(xb * xb, axis=-1)[:, :, None]
    z_norms = xp.sum(z * z, axis=-1)[:, None, :]
    z_t = xp.permute_dims(z, (0, 2, 1))
    ones_t = xp.ones(z_norms.shape, dtype=z.dtype, device=device_of(z))
    if name == "gaussian":
        # -|x - z|^2 / 2 s^2 = <(x / s^2, -|x|^2 / 2 s^2, 1), (z, 1, -|z|^2 / 2 s^2)>
        scale = 1.0 / blur**2
        rows = xp.concat([xb * scale, x_norms * (-0.5 * scale), ones], axis=-1)
        cols = xp.concat([z_t, ones_t, z_norms * (-0.5 * scale)], axis=1)
        kernel = ops.exp(xp.matmul(rows, cols))
        # grad_1 exp(-r^2 / 2 s^2) = -k (x - z) / s^2
        sums = xp.matmul(kernel, rhs)
        u = sums[:, :, :1]
        return xp.concat([u, (sums[:, :, 1:] - xb * u) * scale], axis=-1)
    rows = xp.concat([xb, x_norms, ones], axis=-1)
    cols = xp.concat([z_t * -2.0, ones_t, z_norms], axis=1)
    r, inverse = _distances(xp.matmul(rows, cols), x_norms, z_norms, xp)
    if name == "laplacian":
        kernel = ops.exp(ops.multiply(r, -1.0 / blur))
        # grad_1 exp(-r / s) = -k (x - z) / (s r), zero at r = 0
        u = xp.matmul(kernel, rhs[:, :, :1])
        sums = xp.matmul(ops.multiply(inverse, kernel), rhs) * (-1.0 / blur)
    else:  # energy: k = -r, grad_1 k = -(x - z) / r
        u = -xp.matmul(r, rhs[:, :, :1])
        sums = -xp.matmul(inverse, rhs)
    return xp.concat([u, xb * sums[:, :, :1] - sums[:, :, 1:]], axis=-1)


def _distances(squared, x_norms, z_norms, xp):
    """The distances r and 1 / r (0 where r = 0) from the squared distances of a block.

    |x|^2 + |z|^2 - 2 <x, z> is rounded to about eps (|x|^2 + |z|^2): below 8 times that the
    distance is zero (else the zero self-distances would become sqrt(rounding), 3e-4 in
    float32). NumPy and torch blocks are overwritten in place.
    """
    floor = 8.0 * float(xp.finfo(squared.dtype).eps)
    keep = squared > (x_norms * floor + z_norms * floor)
    if is_torch_namespace(xp):
        squared = squared.mul_(keep)
        inverse = squared.rsqrt().nan_to_num_(posinf=0.0, neginf=0.0)  # (-0.0 too)
        return squared.sqrt_(), inverse
    if is_numpy_namespace(xp):
        squared = np.multiply(squared, keep, out=squared)
        r = np.sqrt(squared, out=squared)
        with np.errstate(divide="ignore"):
            inverse = np.divide(1.0, r)
        return r, np.nan_to_num(inverse, copy=False, posinf=0.0, neginf=0.0)
    r = xp.sqrt(xp.where(keep, squared, 0.0))
    return r, xp.where(keep, 1.0 / xp.where(keep, r, 1.0), 0.0)


def kernel_pass(name, blur, z, w, xp, block=None):
    """U (B, n) and V (B, n, d) for the points z (B, n, d) and signed weights w (B, n)."""
    batch, n, d = z.shape
    if block is None:
        block = max(1, _BLOCK_ELEMENTS[is_numpy_namespace(xp)] // max(batch * n, 1))
    # The kernels are translation invariant: centred points round |x|^2 + |z|^2 - 2 <x, z>
    # less.
    z = z - xp.mean(z, axis=1, keepdims=True)
    rhs = xp.concat([w[:, :, None], w[:, :, None] * z], axis=-1)
    # map_row_blocks slices rows of a 2-D array: put the batch beside the coordinates.
    flat = xp.reshape(xp.permute_dims(z, (1, 0, 2)), (n, batch * d))

    def rows(flat_block):
        k = flat_block.shape[0]
        xb = xp.permute_dims(xp.reshape(flat_block, (k, batch, d)), (1, 0, 2))
        out = _kernel_block(name, blur, xb, z, rhs, xp)
        return xp.reshape(xp.permute_dims(out, (1, 0, 2)), (k, batch * (d + 1)))

    out = map_row_blocks(rows, flat, min(block, n), batch * (d + 1), xp)
    out = xp.permute_dims(xp.reshape(out, (n, batch, d + 1)), (1, 0, 2))
    return out[:, :, 0], out[:, :, 1:]


def _attach(values, pairs, xp):
    """Per-batch ``values`` (B,) with the gradient ``grad`` of each (grad, array) pair."""
    if is_numpy_namespace(xp):
        return values
    out = stop_gradient(values, xp)
    for grad, array in pairs:
        term = stop_gradient(grad, xp) * (array - stop_gradient(array, xp))
        out = out + xp.sum(xp.reshape(term, (term.shape[0], -1)), axis=1)
    return out


def kernel_loss(name, blur, a, x, b, y, xp, potentials=False, block=None):
    r"""GeomLoss's kernel norm for batches: values (B,) or potentials ((B, n), (B, m)).

    ``a`` (B, n), ``x`` (B, n, d), ``b`` (B, m), ``y`` (B, m, d). The value is
    :math:`\tfrac12\|\alpha - \beta\|_k^2` with gradients (torch, JAX) w.r.t. points and
    weights; the potentials are :math:`F = k \star (\alpha - \beta)` on x and
    :math:`G = k \star (\beta - \alpha)` on y (the weight gradients).
    """
    n = x.shape[1]
    sg = stop_gradient
    z = xp.concat([sg(x, xp), sg(y, xp)], axis=1)
    w = xp.concat([sg(a, xp), -sg(b, xp)], axis=1)
    u, v = kernel_pass(name, blur, z, w, xp, block)
    if potentials:
        return u[:, :n], -u[:, n:]
    values = 0.5 * xp.sum(w * u, axis=1)
    pairs = [
        (u[:, :n], a),
        (-u[:, n:], b),
        (w[:, :n, None] * v[:, :n, :], x),
        (w[:, n:, None] * v[:, n:, :], y),
    ]
    return _attach(values, pairs, xp)
