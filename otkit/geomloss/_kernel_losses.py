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

from ..backend import is_numpy_namespace, stop_gradient
from ..bregman._pointcloud import map_row_blocks

__all__ = ["KERNELS", "kernel_loss"]

KERNELS = ("energy", "gaussian", "laplacian")

# Elements of one (batch, rows, columns) kernel block: about 16 MiB in float64.
_BLOCK_ELEMENTS = {True: 2**16, False: 2**21}


def _kernel_block(name, blur, xb, z, w, xp):
    """(B, rows, 1 + d): sum_l w_l k(x_i, z_l) and sum_l w_l grad_1 k(x_i, z_l)."""
    norms = xp.sum(xb * xb, axis=-1)[:, :, None] + xp.sum(z * z, axis=-1)[:, None, :]
    squared = norms - 2.0 * xp.matmul(xb, xp.permute_dims(z, (0, 2, 1)))
    # |x|^2 + |z|^2 - 2 <x, z> is rounded to about eps (|x|^2 + |z|^2): below that, the
    # distance is zero (else the zero self-distances would become sqrt(rounding) ~ 1e-8)
    floor = 8.0 * float(xp.finfo(squared.dtype).eps)
    squared = xp.where(squared > floor * norms, squared, xp.zeros_like(squared))
    if name == "gaussian":
        kernel = xp.exp(squared * (-0.5 / blur**2))
        # grad_1 exp(-r^2 / 2 s^2) = -k (x - z) / s^2
        slope = kernel * (-1.0 / blur**2)
    else:
        positive = squared > 0
        r = xp.sqrt(xp.where(positive, squared, xp.ones_like(squared)))
        inverse = xp.where(positive, 1.0 / r, xp.zeros_like(r))
        r = xp.where(positive, r, xp.zeros_like(r))
        if name == "laplacian":
            kernel = xp.exp(r * (-1.0 / blur))
            # grad_1 exp(-r / s) = -k (x - z) / (s r), zero at r = 0 (a subgradient)
            slope = kernel * inverse * (-1.0 / blur)
        else:  # energy: k = -r, grad_1 k = -(x - z) / r
            kernel = -r
            slope = -inverse
    weighted = slope * w[:, None, :]
    sums = xp.matmul(kernel, w[:, :, None])
    grads = xb * xp.sum(weighted, axis=-1)[:, :, None] - xp.matmul(weighted, z)
    return xp.concat([sums, grads], axis=-1)


def kernel_pass(name, blur, z, w, xp, block=None):
    """U (B, n) and V (B, n, d) for the points z (B, n, d) and signed weights w (B, n)."""
    batch, n, d = z.shape
    if block is None:
        block = max(1, _BLOCK_ELEMENTS[is_numpy_namespace(xp)] // max(batch * n, 1))
    # map_row_blocks slices rows of a 2-D array: put the batch beside the coordinates.
    flat = xp.reshape(xp.permute_dims(z, (1, 0, 2)), (n, batch * d))

    def rows(flat_block):
        k = flat_block.shape[0]
        xb = xp.permute_dims(xp.reshape(flat_block, (k, batch, d)), (1, 0, 2))
        out = _kernel_block(name, blur, xb, z, w, xp)
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
