"""The expansion of the balanced point-cloud divergences in 1 / eps, for eps far above the
cost range (where the Sinkhorn loop's rounding, about eps u, would dominate): see
:func:`large_epsilon_expansion`.
"""

from __future__ import annotations

import functools
import math

from ..backend import is_jax_namespace, jit
from ._pointcloud import cost_block, map_row_blocks, transport_pass
from ._sinkhorn_loop import log_weights

__all__ = ["large_epsilon_expansion"]


def _means(x, y, weights_y, spec, xp):
    """Row means of C and C^2 under the normalized ``weights_y``, and of grad_x C.

    ``transport_pass`` at an epsilon so large that C / eps vanishes against the log
    weights: its plan is then the product of the row and ``weights_y``.
    """
    huge = float(xp.finfo(x.dtype).max) ** 0.75
    _, grad, mean = transport_pass(x, y, log_weights(weights_y, xp), huge, spec, xp)
    block = spec.rows_per_block(x.shape[0], y.shape[0])

    def squares(xb):
        cost = cost_block(xb, y, spec, xp)
        return xp.matmul(cost * cost, weights_y[:, None])

    second = map_row_blocks(squares, x, block, 1, xp)[:, 0]
    return mean, grad, second


def _pair_moments(x, y, alpha, beta, spec, xp, same=False):
    """E = <alpha (x) beta, C>, V = <alpha (x) beta, C~^2> (C~ doubly centred), row/col means."""
    rows, grad_x, second = _means(x, y, beta, spec, xp)
    if same:
        cols, grad_y = rows, grad_x
    else:
        cols, grad_y, _ = _means(y, x, alpha, spec, xp)
    mean = xp.sum(alpha * rows)
    spread = (
        xp.sum(alpha * second)
        - xp.sum(alpha * rows * rows)
        - xp.sum(beta * cols * cols)
        + mean * mean
    )
    return {"E": mean, "V": xp.clip(spread, min=0.0), "rows": rows, "cols": cols,
            "grad_x": grad_x, "grad_y": grad_y}  # fmt: skip


def large_epsilon_expansion(x, y, a, b, eps, spec, debias, value, xp):
    """Balanced OT_eps and S_eps to first order in 1/eps, for eps far above the cost range.

    With alpha = a / m, beta = b / m (m the common mass) and C~ the cost doubly centred
    under alpha (x) beta, the optimal plan is m alpha (x) beta (1 - C~ / eps + O(eps^-2)),
    hence

        OT_eps(a, b) = m <alpha (x) beta, C> - m <alpha (x) beta, C~^2> / (2 eps)
                       + eps m (m - 1 - log m) + O(eps^-2),

    and <P, C> has the same expansion with 1 / eps in place of 1 / (2 eps) and no constant.
    In S_eps the constants cancel exactly and are left out, so no term of size eps is
    formed: at eps = inf the value is the energy distance (MMD)
    m <alpha - beta, -C (alpha - beta)> / 2. The gradients are those of the eps = inf term
    (relative error O(C / eps)).

    Returns the value (without the constant for ``debias``), the gradients with respect to
    (x, y, a, b) and the per-problem values for the log.
    """
    inverse = 0.0 if eps == math.inf else 1.0 / eps
    if is_jax_namespace(xp):  # (one compiled program instead of ~160 eager dispatches)
        inverse = xp.asarray(inverse, dtype=x.dtype)
        terms = _jitted_expansion(spec, debias, value, xp)(x, y, a, b, inverse)
    else:
        terms = _expansion_terms(x, y, a, b, inverse, spec, debias, value, xp)
    total, grads, values, gap = terms
    constant = 0.0
    if value == "regularized" and float(gap) != 0.0:
        constant = eps * gap  # (eps = inf leaves the biased value infinite, as it is)
    values = {key: v + constant for key, v in values.items()}
    if not debias:
        total = total + constant
    return total, list(grads), values


def _expansion_terms(x, y, a, b, inverse, spec, debias, value, xp):
    """The terms of :func:`large_epsilon_expansion` without the constant eps m (m-1-log m)."""
    mass = xp.sum(a)
    alpha, beta = a / mass, b / xp.sum(b)
    factor = (0.5 if value == "regularized" else 1.0) * inverse
    ab = _pair_moments(x, y, alpha, beta, spec, xp)
    total = mass * (ab["E"] - factor * ab["V"])
    grads = [a[:, None] * ab["grad_x"], b[:, None] * ab["grad_y"], ab["rows"], ab["cols"]]
    parts = {"ab": ab}
    if debias:
        aa = _pair_moments(x, x, alpha, alpha, spec, xp, same=True)
        bb = _pair_moments(y, y, beta, beta, spec, xp, same=True)
        total = total - 0.5 * mass * ((aa["E"] + bb["E"]) - factor * (aa["V"] + bb["V"]))
        grads[0] = grads[0] - a[:, None] * aa["grad_x"]
        grads[1] = grads[1] - b[:, None] * bb["grad_x"]
        grads[2] = grads[2] - aa["rows"]
        grads[3] = grads[3] - bb["rows"]
        parts.update(aa=aa, bb=bb)
    values = {key: mass * (part["E"] - factor * part["V"]) for key, part in parts.items()}
    excess = mass - 1.0
    gap = mass * (excess - xp.log1p(excess))  # m (m - 1 - log m), without cancelling
    return total, tuple(grads), values, gap


@functools.lru_cache(maxsize=16)
def _jitted_expansion(spec, debias, value, xp):
    def run(x, y, a, b, inverse):
        return _expansion_terms(x, y, a, b, inverse, spec, debias, value, xp)

    return jit(run, xp)
