"""The cost orders behind the start of the batch solver (_simplex_batch.pyx), cached.

``pairwise`` calls ``solve_pairs`` once per block with the same cost M; a stable sort of
64 x 64 costs took ~330 us a call, a tenth of the time of a block of 100 digits.  The orders
of the last cost seen are kept with a copy of that cost, checked by value at each call (a
few us), so a cost changed in place is sorted again; costs of more than
``ORDER_CACHE_LIMIT`` entries are not kept.  Vogel's approximation method (_pairs_vogel.h)
needs every row and column of M in cost order, 8 bytes per entry of M: above
``VOGEL_LIMIT`` entries (a module attribute, so that tests can lower it) the batch solver
takes the greedy crash over the cheapest arcs (_pairs_crash.h) instead.  The limit also
follows the two starts' speeds.  On squared grid costs (the batch solver's CPU time with VAM
over that with the greedy, two runs each): 8 x 8 digits upsampled to 20 x 20, 0.90-0.93;
to 24 x 24, 1.00-1.01; to 28 x 28, 1.03-1.06; to 32 x 32, 1.25-1.31 (12,193 pivots a pair
against 10,437); random images of two Gaussian blobs, 0.88-0.89 at 20 x 20, 0.99-1.00 at
24 x 24, 1.10-1.13 at 32 x 32; uniform random histograms (every bin nonzero), 1.06-1.15 at
8 x 8 and 12 x 12, 1.2-1.6 from 16 x 16 on.  Hence 2**18 entries, 512 bins a side: grids
up to 22 x 22 keep VAM.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ORDER_CACHE_LIMIT", "VOGEL_LIMIT", "cached_order", "crash_order", "vogel_order"]

ORDER_CACHE_LIMIT = 1 << 20
VOGEL_LIMIT = 1 << 18
_CACHE = [None]  # (copy of M, (compute, args), orders)


def cached_order(M, compute, *args):
    """``compute(M, *args)``, from the cache when M and the request are the last ones."""
    cached = _CACHE[0]
    key = (compute, *args)
    hit = cached is not None and cached[1] == key and cached[0].shape == M.shape
    if hit and np.array_equal(cached[0], M):
        return cached[2]
    orders = compute(M, *args)
    if M.size <= ORDER_CACHE_LIMIT:
        _CACHE[0] = (M.copy(), key, orders)
    return orders


def vogel_order(M):
    """Each row's column bins and each column's row bins by cost (stable sorts: ties by
    index), each ended by the sentinel bin m (n): int32 arrays (n, m + 1) and (m, n + 1)."""
    n, m = M.shape
    order_r = np.full((n, m + 1), m, dtype=np.int32)
    order_r[:, :m] = np.argsort(M, axis=1, kind="stable")
    order_c = np.full((m, n + 1), n, dtype=np.int32)
    order_c[:, :n] = np.argsort(M.T, axis=1, kind="stable")
    return order_r, order_c


def crash_order(M, count):
    """The ``count`` cheapest arcs of the cost M (rows and columns, int32), in the order of
    a stable sort of M's entries (by cost, ties by index), without sorting them all."""
    flat = M.ravel()
    kth = np.partition(flat, count - 1)[count - 1]
    cheap = np.flatnonzero(flat <= kth)  # the count cheapest and kth's ties, by index
    order = cheap[np.argsort(flat[cheap], kind="stable")][:count]
    return (order // M.shape[1]).astype(np.int32), (order % M.shape[1]).astype(np.int32)
