"""Costs between point clouds, recomputed block by block: the online c-transform.

A point-cloud geometry is the tuple ``(x, y, spec)``: the points ``x`` (n, d), ``y`` (m, d)
and a :class:`CostSpec` (which cost, how many rows per block). The c-transform (softmin)

    T(h)_i = -eps log sum_j exp(h_j - C(x_i, y_j) / eps)

is computed over blocks of ``spec.block`` rows of ``x``: the cost block is rebuilt from the
points (one matrix product for the squared Euclidean and cosine costs), so memory is
O((n + m) d + block * m), never n x m. Eagerly the blocks are a Python loop; under JAX
tracing a ``fori_loop`` over a padded (n_blocks, block, d) view, so ``jax.jit`` compiles one
block, whatever n.

On NumPy the squared Euclidean cost has its own path (:func:`_numpy_softmin`,
:func:`_numpy_transport`): small blocks that stay in the L2 cache, the score block written by
one BLAS product of (block, d + 1) by (d + 1, m) factors (the potential rides in the extra
row), then max and exp in place in one preallocated buffer, and the row sums by a BLAS
product with ones (or with [y, |y|^2, 1] for the transport pass). The generic path's
16 MiB temporaries go through main memory several times per block, and OpenBLAS
multithreads the thin (inner dimension d) product of a big block at a loss: 5 to 15 times
slower at n = m = 20000 on a 2-core machine. On eager torch the log-sum-exp of a block runs
in place in one buffer per pass (:func:`otkit.backend.logsumexp_add`), with a floor that
keeps float32 ``exp`` out of the subnormal range, where ``torch.logsumexp`` is 15 times
slower; exp() of shifted scores is floored the same way everywhere.

:func:`softmin_rows_online` and :func:`softmin_cols_online` have the signature of the dense
softmins of :mod:`otkit._sinkhorn_loop` and are injected into the same Sinkhorn loop.
:func:`transport_pass` adds what the envelope gradients need: the plan-weighted mean of the
cost gradient and of the cost on each row.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..backend import (
    device_of,
    fori_loop,
    from_numpy,
    host_view,
    is_numpy_namespace,
    is_traced,
    logsumexp_add,
    workspace_like,
)
from ._sinkhorn_loop import sinkhorn_log_loop

__all__ = [
    "POINT_METRICS",
    "CostSpec",
    "cost_and_squared",
    "cost_block",
    "cost_std",
    "diameter",
    "map_row_blocks",
    "online_log_loop",
    "online_softmin",
    "softmin_cols_online",
    "softmin_rows_online",
    "transport_pass",
    "weighted_cost_gradient",
]

POINT_METRICS = ("sqeuclidean", "euclidean", "cosine")
# Elements of one (block, m) cost block: 2**21 float64 = 16 MiB per temporary.
_BLOCK_ELEMENTS = 2**21
# NumPy path: 2**16 float64 = 512 KiB, one block in the L2 cache. It also keeps
# block * m * (d + 1) under OpenBLAS's threshold for threading the product (for d <= 3).
_NUMPY_BLOCK_ELEMENTS = 2**16
# Exponents of zero weights (log 0 = -inf) enter the BLAS product as this finite value
# instead (a quarter of the dtype's lowest): no inf goes through the kernel, and exp() of
# the shifted score is the floor below, a share e^-690 (e^-85) of the row's largest term.
_LOG_ZERO_SCALE = -0.25
# Shifted scores are raised to this floor before exp(): e^-690 (float64) and e^-85
# (float32) are still normal numbers, and subnormal results make exp() 6 to 40 times
# slower. The floor adds at most m e^-85 to sums whose largest term is 1.
_EXP_FLOOR = {np.dtype(np.float64): -690.0, np.dtype(np.float32): -85.0}


@dataclasses.dataclass(frozen=True)
class CostSpec:
    """Which cost, and the rows per block.

    ``kind`` is 'power' (``||x - y||^p``; p = 2 is the squared Euclidean cost, p = 1 the
    Euclidean one) or 'cosine' (``1 - <x, y> / (||x|| ||y||)``, on normalized rows).
    ``block`` is the number of rows of a cost block (0: chosen from n, m).
    """

    kind: str = "power"
    p: float = 2.0
    block: int = 0
    block_cols: int = 0  # rows of y per block in the column softmin (0: as ``block``)

    @property
    def translation_invariant(self) -> bool:
        return self.kind == "power"

    def rows_per_block(self, n: int, m: int, elements: int = _BLOCK_ELEMENTS) -> int:
        if self.block > 0:
            return min(self.block, n)
        return max(1, min(n, elements // max(m, 1)))

    @property
    def squared_euclidean(self) -> bool:
        return self.kind == "power" and self.p == 2.0


def _squared_distances(xb, y, y_sq, xp, exact_zero=False):
    """|x_i - y_j|^2 by |x|^2 + |y|^2 - 2 <x, y> (one matrix product).

    Its rounding error is about u (|x|^2 + |y|^2): harmless for the squared cost, but a root
    (p != 2) turns it into sqrt(u) |x| (1e-8 in float64) at equal points. ``exact_zero``
    sets the values below 8 u (|x|^2 + |y|^2), which are rounding, to 0.
    """
    x_sq = xp.sum(xb * xb, axis=1)[:, None]
    cross = xp.matmul(xb, xp.matrix_transpose(y))
    squared = xp.clip(x_sq + y_sq[None, :] - 2.0 * cross, min=0.0)
    if not exact_zero:
        return squared
    noise = 8.0 * float(xp.finfo(squared.dtype).eps) * (x_sq + y_sq[None, :])
    return xp.where(squared > noise, squared, xp.zeros_like(squared))


def cost_block(xb, y, spec, xp):
    """The (block, m) cost matrix between the rows ``xb`` and ``y``."""
    return cost_and_squared(xb, y, xp.sum(y * y, axis=1), spec, xp)[0]


def cost_and_squared(xb, y, y_sq, spec, xp):
    """``(cost, squared)`` blocks between the rows ``xb`` and ``y`` (``y_sq`` the squared
    norms of y); ``squared`` (the squared distances, for the cost's gradient) is None for
    the cosine cost, whose rows are normalized beforehand."""
    if spec.kind == "cosine":
        return 1.0 - xp.matmul(xb, xp.matrix_transpose(y)), None
    squared = _squared_distances(xb, y, y_sq, xp, spec.p != 2.0)
    return (squared if spec.p == 2.0 else _root(squared, spec.p, xp)), squared


def _root(squared, p, xp):
    """squared ** (p / 2), with a zero (not infinite) derivative at 0."""
    positive = squared > 0
    safe = xp.where(positive, squared, xp.ones_like(squared))
    root = xp.sqrt(safe) if p == 1.0 else safe ** (p / 2.0)
    return xp.where(positive, root, xp.zeros_like(squared))


def map_row_blocks(fn, x, block, width, xp):
    """``concat([fn(x[s:s + block]) for s in ...])`` as an (n, width) array.

    Under JAX tracing the blocks are a ``fori_loop`` over a padded view (padding rows repeat
    the first point and are dropped), so the compiled program holds one block.
    """
    n = x.shape[0]
    if n <= block:
        return fn(x)
    if not is_traced(x):
        return xp.concat(
            [fn(x[start : min(start + block, n), :]) for start in range(0, n, block)], axis=0
        )
    n_blocks = -(-n // block)
    padding = n_blocks * block - n
    if padding:
        x = xp.concat([x, xp.broadcast_to(x[:1, :], (padding, x.shape[1]))], axis=0)
    blocks = xp.reshape(x, (n_blocks, block, x.shape[1]))
    out = xp.zeros((n_blocks, block, width), dtype=x.dtype)
    block_ids = xp.reshape(xp.arange(n_blocks), (n_blocks, 1, 1))

    def body(i, out):
        rows = xp.take(blocks, xp.reshape(i, (1,)), axis=0)[0]
        # A masked write: O(n) per block, negligible next to the block's O(block * m).
        return xp.where(block_ids == i, fn(rows)[None, :, :], out)

    out = fori_loop(0, n_blocks, body, out, xp=xp)
    return xp.reshape(out, (n_blocks * block, width))[:n, :]


def _host_arrays(x, y, h, eps, spec):
    """(x, y, h) as NumPy arrays sharing memory when the NumPy kernels below apply, else None.

    They apply to the squared Euclidean cost on eager NumPy input and on CPU torch tensors
    outside autograd (zero-copy views; the kernels are several times faster there than
    torch's own block loop, whose small-k matrix product and fused logsumexp are slow).
    """
    if not spec.squared_euclidean or _host_scalar(eps) is None:
        return None
    views = [host_view(v) for v in (x, y, h)]
    if any(v is None for v in views) or len({v.dtype for v in views}) != 1:
        return None
    return views


def _host_scalar(eps):
    """``eps`` as a Python float where it is one on the host (a number, or a 0-d NumPy array
    or CPU tensor outside autograd, such as an annealing stage of the eager torch solve),
    else None (traced values, GPU tensors)."""
    if isinstance(eps, (int, float, np.floating)):
        return float(eps)
    view = host_view(eps) if getattr(eps, "ndim", None) == 0 else None
    return None if view is None else float(view)


def _back(array, like, xp):
    """A kernel's NumPy output in the namespace and device of ``like``."""
    if is_numpy_namespace(xp):
        return array
    return from_numpy(array, xp, dtype=like.dtype, device=device_of(like))


def _score_factors(x, y, h, eps):
    """(n, d + 1), (d + 1, m) factors whose product is h_j - (|y_j|^2 - 2 <x_i, y_j>) / eps.

    That is ``h_j - C_ij / eps + |x_i|^2 / eps``: the |x_i|^2 term is constant on a row,
    so it leaves the log-sum-exp and is added back at the end.
    """
    dtype = np.result_type(x, y, h, np.float32)
    n, d = x.shape
    left = np.empty((n, d + 1), dtype=dtype)
    left[:, :d] = x
    left[:, d] = 1.0
    right = np.empty((d + 1, y.shape[0]), dtype=dtype)
    np.multiply(y.T, 2.0 / eps, out=right[:d])
    np.maximum(h, _LOG_ZERO_SCALE * np.finfo(dtype).max, out=right[d])
    right[d] -= np.einsum("ij,ij->i", y, y) / eps
    return left, right


def _exp_block(left, right, buffer, start, stop, top):
    """exp(scores - row max) of the rows start:stop, in ``buffer``; returns that view.

    ``top[start:stop]`` receives the row maxima of the scores ``left[start:stop] @ right``.
    """
    scores = buffer[: stop - start]
    np.matmul(left[start:stop], right, out=scores)
    row_top = top[start:stop]
    np.max(scores, axis=1, out=row_top)
    np.subtract(scores, row_top[:, None], out=scores)
    np.maximum(scores, _EXP_FLOOR.get(scores.dtype, -85.0), out=scores)
    np.exp(scores, out=scores)
    return scores


def _numpy_blocks(n, m, spec):
    block = spec.rows_per_block(n, m, _NUMPY_BLOCK_ELEMENTS)
    return block, range(0, n, block)


def _numpy_softmin(x, y, h, eps, spec):
    """:func:`online_softmin` for the squared Euclidean cost on NumPy (see the module note)."""
    left, right = _score_factors(x, y, h, eps)
    n, m = x.shape[0], y.shape[0]
    block, starts = _numpy_blocks(n, m, spec)
    buffer = np.empty((block, m), dtype=left.dtype)
    top, total = np.empty(n, dtype=left.dtype), np.empty(n, dtype=left.dtype)
    # Row sums as a BLAS matrix-vector product: 3 to 4 times faster than np.sum(axis=1) on
    # a cached block; positive terms, so a relative rounding error below m u (typically
    # sqrt(m) u), which eps turns into at most eps m u on the potential.
    ones = np.ones(m, dtype=left.dtype)
    for start in starts:
        stop = min(start + block, n)
        scores = _exp_block(left, right, buffer, start, stop, top)
        np.matmul(scores, ones, out=total[start:stop])
    lse = np.log(total)
    lse += top
    return np.einsum("ij,ij->i", x, x) - eps * lse


def _numpy_transport(x, y, h, eps, spec):
    """:func:`transport_pass` for the squared Euclidean cost on NumPy.

    One more product per block, ``exp(scores) @ [y, |y|^2, 1]``, gives the plan-weighted
    means of y and |y|^2 (and the row sums), hence the gradient 2 (x - mean y) and the mean cost
    |x|^2 + mean |y|^2 - 2 <x, mean y>.
    """
    left, right = _score_factors(x, y, h, eps)
    (n, d), m = x.shape, y.shape[0]
    # [y, |y|^2, 1]: the product's last column is the row sums
    targets = np.empty((m, d + 2), dtype=left.dtype)
    targets[:, :d] = y
    targets[:, d] = np.einsum("ij,ij->i", y, y)
    targets[:, d + 1] = 1.0
    block, starts = _numpy_blocks(n, m, spec)
    buffer = np.empty((block, m), dtype=left.dtype)
    top = np.empty(n, dtype=left.dtype)
    moments = np.empty((n, d + 2), dtype=left.dtype)
    for start in starts:
        stop = min(start + block, n)
        weights = _exp_block(left, right, buffer, start, stop, top)
        np.matmul(weights, targets, out=moments[start:stop])
    total = moments[:, d + 1].copy()
    moments /= total[:, None]
    x_sq = np.einsum("ij,ij->i", x, x)
    softmin = x_sq - eps * (np.log(total) + top)
    mean_y = moments[:, :d]
    mean_cost = x_sq + moments[:, d] - 2.0 * np.einsum("ij,ij->i", x, mean_y)
    return softmin, 2.0 * (x - mean_y), mean_cost


def online_softmin(x, y, h, eps, spec, xp):
    """T_i = -eps log sum_j exp(h_j - C(x_i, y_j) / eps), as an (n,) array."""
    host = _host_arrays(x, y, h, eps, spec)
    if host is not None:
        return _back(_numpy_softmin(*host, _host_scalar(eps), spec), x, xp)
    if spec.squared_euclidean:
        # -C/eps = (2 <x, y> - |x|^2 - |y|^2) / eps: the |x_i|^2 term leaves the logsumexp,
        # so a block costs one matrix product and one fused logsumexp.
        y_scaled = y * (2.0 / eps)
        shifted = (h - xp.sum(y * y, axis=1) / eps)[None, :]
        workspace = _block_workspace(xp)

        def rows(xb):
            products = xp.matmul(xb, xp.matrix_transpose(y_scaled))
            lse = logsumexp_add(products, shifted, 1, xp=xp, workspace=workspace(products))
            return (xp.sum(xb * xb, axis=1) - eps * lse)[:, None]

    else:
        workspace = _block_workspace(xp)

        def rows(xb):
            scaled = cost_block(xb, y, spec, xp) * (-1.0 / eps)
            lse = logsumexp_add(scaled, h[None, :], 1, xp=xp, workspace=workspace(scaled))
            return (-eps * lse)[:, None]

    block = spec.rows_per_block(x.shape[0], y.shape[0])
    return map_row_blocks(rows, x, block, 1, xp)[:, 0]


def _block_workspace(xp):
    """``workspace(block)``: a buffer of the block's shape for :func:`logsumexp_add`.

    Allocated at the first (largest) block and shared by the next ones of the same pass,
    on eager torch only (None elsewhere: see :func:`otkit.backend.workspace_like`).
    """
    buffers = []

    def workspace(block):
        if not buffers:
            buffers.append(workspace_like(block, xp))
        buffer = buffers[0]
        return None if buffer is None else buffer[: block.shape[0]]

    return workspace


def softmin_rows_online(geometry, g, log_b, eps, xp):
    """Dense-softmin signature: f (n, 1) from g (m, 1) on the geometry (x, y, spec)."""
    x, y, spec = geometry
    return online_softmin(x, y, log_b[:, 0] + g[:, 0] / eps, eps, spec, xp)[:, None]


def softmin_cols_online(geometry, f, log_a, eps, xp):
    """Dense-softmin signature: g (m, 1) from f (n, 1) (the costs are symmetric)."""
    x, y, spec = geometry
    if spec.block_cols:
        spec = dataclasses.replace(spec, block=spec.block_cols)
    return online_softmin(y, x, log_a[:, 0] + f[:, 0] / eps, eps, spec, xp)[:, None]


def online_log_loop(a, b, x, y, spec, eps, f0, num_iter_max, tol, xp, **options):
    """:func:`otkit._sinkhorn_loop.sinkhorn_log_loop` on the costs between ``x`` and ``y``,
    recomputed block by block (``b`` is (m, k); ``options`` are the loop's keywords)."""
    return sinkhorn_log_loop(
        a,
        b,
        (x, y, spec),
        eps,
        f0,
        num_iter_max,
        tol,
        xp,
        softmin_rows=softmin_rows_online,
        softmin_cols=softmin_cols_online,
        **options,
    )


def weighted_cost_gradient(weights, xb, y, squared, spec, xp):
    """``sum_j weights_ij grad_x C(x_i, y_j)`` (block, d) for a (block, m) weight block.

    ``squared`` is the block of squared distances (unused for the cosine cost, whose
    gradient on normalized rows is projected off ``x_i``; the raw norm is applied by the
    caller).
    """
    if spec.kind == "cosine":
        mean_y = xp.matmul(weights, y)
        along = xp.sum(mean_y * xb, axis=1)[:, None]
        return -(mean_y - along * xb)
    if spec.p == 2.0:
        return 2.0 * (xb * xp.sum(weights, axis=1)[:, None] - xp.matmul(weights, y))
    # grad |x - y|^p = p |x - y|^(p - 2) (x - y), and 0 where x = y
    positive = squared > 0
    safe = xp.where(positive, squared, xp.ones_like(squared))
    scaled = weights * spec.p * safe ** (spec.p / 2.0 - 1.0)
    scaled = xp.where(positive, scaled, xp.zeros_like(scaled))
    return xb * xp.sum(scaled, axis=1)[:, None] - xp.matmul(scaled, y)


def transport_pass(x, y, h, eps, spec, xp):
    """The softmin ``T`` (n,) and two plan-weighted row means.

    With ``pi_ij = exp(h_j - C_ij / eps + T_i / eps)`` (each row sums to 1), returns
    ``T``, ``grad`` (n, d) = sum_j pi_ij grad_x C(x_i, y_j) and ``cost`` (n,) =
    sum_j pi_ij C_ij. The row i of the plan with potentials (f, g) is a_i exp((f_i - T_i) /
    eps) pi_i: its gradient and linear cost follow by one multiplication.
    """
    host = _host_arrays(x, y, h, eps, spec)
    if host is not None:
        out = _numpy_transport(*host, _host_scalar(eps), spec)
        return tuple(_back(array, x, xp) for array in out)
    d = x.shape[1]
    y_sq = xp.sum(y * y, axis=1)
    floor = -690.0 if x.dtype == xp.float64 else -85.0

    def rows(xb):
        cost, squared = cost_and_squared(xb, y, y_sq, spec, xp)
        scores = h[None, :] - cost / eps
        top = xp.max(scores, axis=1, keepdims=True)
        # The floor keeps exp() out of the slow subnormal range (as logsumexp_add does).
        plan = xp.exp(xp.clip(scores - top, min=floor))
        total = xp.sum(plan, axis=1)
        plan = plan / total[:, None]
        lse = xp.log(total) + top[:, 0]
        mean_cost = xp.sum(plan * cost, axis=1)
        grad = weighted_cost_gradient(plan, xb, y, squared, spec, xp)
        return xp.concat([(-eps * lse)[:, None], grad, mean_cost[:, None]], axis=1)

    block = spec.rows_per_block(x.shape[0], y.shape[0])
    out = map_row_blocks(rows, x, block, d + 2, xp)
    return out[:, 0], out[:, 1 : d + 1], out[:, d + 1]


def diameter(x, y, spec, xp):
    """An upper bound of the cost's range: |bounding box diagonal|^p, or 2 for cosine."""
    if spec.kind == "cosine":
        return xp.asarray(2.0, dtype=x.dtype)
    low = xp.minimum(xp.min(x, axis=0), xp.min(y, axis=0))
    high = xp.maximum(xp.max(x, axis=0), xp.max(y, axis=0))
    return xp.sqrt(xp.sum((high - low) ** 2)) ** spec.p


def cost_std(x, y, spec, xp):
    """Standard deviation of C(x_i, y_j) over all n m pairs, without the n x m matrix.

    Squared Euclidean: closed form from the first, second and fourth moments (O((n + m)
    d^2)); other costs: two chunked passes (mean, then squared deviations).
    """
    n, m = x.shape[0], y.shape[0]
    if spec.kind == "power" and spec.p == 2.0:
        center = (xp.sum(x, axis=0) + xp.sum(y, axis=0)) / (n + m)
        x, y = x - center, y - center
        sx, sy = xp.sum(x * x, axis=1), xp.sum(y * y, axis=1)
        mean_x, mean_y = xp.mean(x, axis=0), xp.mean(y, axis=0)
        second_x = xp.matmul(xp.matrix_transpose(x), x) / n
        second_y = xp.matmul(xp.matrix_transpose(y), y) / m
        mean_cost = xp.mean(sx) + xp.mean(sy) - 2.0 * xp.sum(mean_x * mean_y)
        mean_square = (
            xp.mean(sx * sx)
            + xp.mean(sy * sy)
            + 4.0 * xp.sum(second_x * second_y)
            + 2.0 * xp.mean(sx) * xp.mean(sy)
            - 4.0 * xp.sum(xp.mean(sx[:, None] * x, axis=0) * mean_y)
            - 4.0 * xp.sum(mean_x * xp.mean(sy[:, None] * y, axis=0))
        )
        variance = mean_square - mean_cost * mean_cost
        return xp.sqrt(xp.clip(variance, min=0.0))
    block = spec.rows_per_block(n, m)
    sums = map_row_blocks(
        lambda xb: xp.sum(cost_block(xb, y, spec, xp), axis=1)[:, None], x, block, 1, xp
    )
    mean_cost = xp.sum(sums) / (n * m)

    def squares(xb):
        deviation = cost_block(xb, y, spec, xp) - mean_cost
        return xp.sum(deviation * deviation, axis=1)[:, None]

    variance = xp.sum(map_row_blocks(squares, x, block, 1, xp)) / (n * m)
    return xp.sqrt(variance)
