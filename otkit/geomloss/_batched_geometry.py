r"""Costs and c-transforms of a batch of point-cloud pairs, block by block.

A :class:`BatchedPair` holds the points ``u`` (B, N, D) and ``v`` (B, M, D) of B problems
with GeomLoss's cost :math:`C(u, v) = \tfrac1p \|u - v\|^p`. Its c-transforms (softmins)

.. math::
    T(h)_{bi} = -\varepsilon \log \sum_j \exp\big(h_{bj} - C(u_{bi}, v_{bj}) / \varepsilon\big)

reduce one (B, rows, M) cost block at a time (one batched matrix product for the squared
distances), or read the stored (B, N, M) cost when it is small: memory
O(B (N + M) D + block), never B N M beyond the storage limit.
"""

from __future__ import annotations

import math

from ..backend import logsumexp

__all__ = ["STORE_BYTES", "BatchedPair", "cost_range", "log_weights", "store_costs"]

# One (B, rows, M) block of this many elements (16 MiB in float64) per pass.
_BLOCK_ELEMENTS = 2**21
# The three costs C(x, y), C(x, x), C(y, y) are stored when together at most this size.
STORE_BYTES = 2**27


def _squared_block(ub, v, v_sq, xp):
    """|u - v|^2 (B, rows, M) by |u|^2 + |v|^2 - 2 <u, v>, its rounding (below 8 u times
    |u|^2 + |v|^2) set to 0 so that a root is exactly 0 at equal points."""
    u_sq = xp.sum(ub * ub, axis=2)[:, :, None]
    cross = xp.matmul(ub, xp.permute_dims(v, (0, 2, 1)))
    total = u_sq + v_sq[:, None, :]
    squared = total - 2.0 * cross
    rounding = 8.0 * float(xp.finfo(ub.dtype).eps) * total
    return xp.where(squared > rounding, squared, xp.zeros_like(squared))


class BatchedPair:
    """The geometry of B problems between ``u`` (B, N, D) and ``v`` (B, M, D).

    ``store`` keeps the (B, N, M) cost; ``block`` is the rows per block (0: chosen from the
    sizes so that a block has about 2**21 elements).
    """

    def __init__(self, u, v, p, xp, *, store=False, block=0):
        self.u, self.v, self.p, self.xp = u, v, float(p), xp
        batch, n, m = u.shape[0], u.shape[1], v.shape[1]
        self.user_block = block
        self.block = block or max(1, _BLOCK_ELEMENTS // max(batch * m, 1))
        self.v_sq = xp.sum(v * v, axis=2)
        self.cost = self._cost_block(0, n) if store else None
        self._transposed = None

    def _cost_block(self, start, stop):
        squared = _squared_block(self.u[:, start:stop, :], self.v, self.v_sq, self.xp)
        if self.p == 2.0:
            return 0.5 * squared
        return (self.xp.sqrt(squared) ** self.p) / self.p

    def transposed(self):
        """The pair (v, u): the same costs, transposed (the column c-transforms)."""
        if self._transposed is None:
            other = BatchedPair.__new__(BatchedPair)
            other.u, other.v, other.p, other.xp = self.v, self.u, self.p, self.xp
            other.user_block = self.user_block
            other.block = self.user_block or max(
                1, _BLOCK_ELEMENTS // max(self.u.shape[0] * self.u.shape[1], 1)
            )
            other.v_sq = self.xp.sum(self.u * self.u, axis=2)
            other.cost = None if self.cost is None else self.xp.permute_dims(self.cost, (0, 2, 1))
            other._transposed = self
            self._transposed = other
        return self._transposed

    def _blocks(self):
        n = self.u.shape[1]
        for start in range(0, n, self.block):
            stop = min(start + self.block, n)
            if self.cost is not None:
                yield start, stop, self.cost[:, start:stop, :]
            else:
                yield start, stop, self._cost_block(start, stop)

    def softmin(self, h, eps):
        """T(h) (B, N) for h (B, M); ``eps`` a float."""
        xp = self.xp
        if self.cost is not None:
            return -eps * logsumexp(h[:, None, :] - self.cost / eps, axis=2, xp=xp)
        parts = [
            -eps * logsumexp(h[:, None, :] - cost / eps, axis=2, xp=xp)
            for _, _, cost in self._blocks()
        ]
        return parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)

    def transport(self, h, eps):
        """``T`` (B, N) and ``grad`` (B, N, D) = sum_j pi_ij grad_u C(u_i, v_j), where
        ``pi_ij = exp(h_j - C_ij / eps + T_i / eps)`` sums to 1 on each row."""
        xp = self.xp
        softmins, grads = [], []
        for start, stop, cost in self._blocks():
            scores = h[:, None, :] - cost / eps
            top = xp.max(scores, axis=2, keepdims=True)
            top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
            plan = xp.exp(scores - top)
            total = xp.sum(plan, axis=2)
            plan = plan / total[:, :, None]
            softmins.append(-eps * (xp.log(total) + top[:, :, 0]))
            ub = self.u[:, start:stop, :]
            if self.p != 2.0:
                # grad (1/p) |u - v|^p = |u - v|^(p - 2) (u - v), and 0 where u = v
                positive = cost > 0
                distance = (cost * self.p) ** (1.0 / self.p)
                safe = xp.where(positive, distance, xp.ones_like(distance))
                plan = xp.where(positive, plan * safe ** (self.p - 2.0), xp.zeros_like(plan))
            grads.append(ub * xp.sum(plan, axis=2)[:, :, None] - xp.matmul(plan, self.v))
        if len(softmins) == 1:
            return softmins[0], grads[0]
        return xp.concat(softmins, axis=1), xp.concat(grads, axis=1)


def store_costs(batch, n, m, itemsize):
    """Whether the three (B, ., .) costs of a debiased problem fit in ``STORE_BYTES``."""
    return batch * (n * m + n * n + m * m) * itemsize <= STORE_BYTES


def cost_range(x, y, p, xp):
    """Per problem, an upper bound of the costs: (bounding box diagonal)^p / p, (B,)."""
    low = xp.minimum(xp.min(x, axis=1), xp.min(y, axis=1))
    high = xp.maximum(xp.max(x, axis=1), xp.max(y, axis=1))
    return xp.sqrt(xp.sum((high - low) ** 2, axis=1)) ** p / p


def log_weights(w, xp):
    """log(w), -inf where w = 0."""
    positive = w > 0
    return xp.where(
        positive, xp.log(xp.where(positive, w, xp.ones_like(w))), xp.full_like(w, -math.inf)
    )
