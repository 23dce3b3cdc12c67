"""What the array API standard lacks: logsumexp, stop_gradient, loops, seeded RNG.

Each shim delegates to the framework's native function where one exists and falls back to
standard calls otherwise.
"""

from __future__ import annotations

import sys

import numpy as np

from ._namespace import (
    from_numpy,
    get_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
)

__all__ = [
    "as_generator",
    "contiguous",
    "exp_outer_sum",
    "fori_loop",
    "jit",
    "logsumexp",
    "logsumexp_add",
    "randn_from_seed",
    "random_normal",
    "requires_grad",
    "stop_gradient",
    "while_loop",
    "workspace_like",
]


def logsumexp(x, axis=None, xp=None):
    """log(sum(exp(x))) along ``axis``, stable for large values and for rows of ``-inf``.

    Native ``torch.logsumexp`` and ``jax.nn.logsumexp`` are used on those backends; otherwise
    the maximum is shifted out, with fully ``-inf`` slices returning ``-inf`` (not NaN).
    """
    if xp is None:
        xp = get_namespace(x=x)
    if is_torch_namespace(xp):
        import torch

        dims = tuple(range(x.ndim)) if axis is None else axis
        return torch.logsumexp(x, dim=dims)
    if is_jax_namespace(xp):
        import jax

        return jax.nn.logsumexp(x, axis=axis)
    if type(x) is np.ndarray and x.size:
        out = _numpy_logsumexp(x, axis)
        if out is not None:
            return out
    x_max = xp.max(x, axis=axis, keepdims=True)
    # A slice of -inf (or +inf) has no finite shift; 0 keeps exp() well defined there.
    x_max = xp.where(xp.isfinite(x_max), x_max, xp.zeros_like(x_max))
    summed = xp.sum(xp.exp(x - x_max), axis=axis, keepdims=True)
    # log(0) = -inf is the answer for an all -inf slice; take it without NumPy's warning.
    empty = summed == 0
    log_summed = xp.log(xp.where(empty, xp.ones_like(summed), summed))
    out = xp.where(empty, xp.full_like(summed, -xp.inf), log_summed + x_max)
    if axis is None:
        return xp.reshape(out, ())
    return xp.squeeze(out, axis=axis)


def _numpy_logsumexp(x, axis):
    """:func:`logsumexp` of a NumPy array whose maxima are all finite: the general path's
    operations (the same values) without its masks; None leaves the others to it.

    (A one-call ``numpy.logaddexp.reduce`` of short arrays was faster still, but its
    rounding, a few ulps more, broke the translation of unbalanced problems at a huge
    reach, which cancels two such sums and multiplies the difference by the reach.)
    """
    if axis is None:
        x, axis = x.reshape(-1), 0
    elif not isinstance(axis, int):
        return None
    top = np.maximum.reduce(x, axis=axis, keepdims=True)
    if not np.isfinite(top).all():
        return None
    out = np.log(np.add.reduce(np.exp(x - top), axis=axis, keepdims=True))
    out += top
    return np.squeeze(out, axis=axis)


def logsumexp_add(x, y, axis, xp=None, *, workspace=None):
    """``logsumexp(x + y, axis)`` for a 2-D ``x`` and a ``y`` that broadcasts against it.

    JAX: XLA fuses the sum into the reduction (no n x m temporary). NumPy and torch: with a
    ``workspace`` (an array of ``x``'s shape and dtype that the caller lets this function
    overwrite, from :func:`workspace_like`; on torch used only when neither ``x`` nor ``y``
    needs a gradient), the
    computation is done in place in it: a fresh n x m array per call costs as much in page
    faults as the arithmetic, and terms more than the dtype's exponent range below the
    maximum are raised to that floor before ``exp`` (their share of the sum is below
    ``e^-85``, and subnormal results make ``exp`` several times slower). Otherwise, the
    native fused ``logsumexp`` of ``x + y``.
    """
    if xp is None:
        xp = get_namespace(x=x)
    if workspace is None:
        return logsumexp(x + y, axis=axis, xp=xp)
    if is_numpy_namespace(xp):
        return _numpy_logsumexp_add(x, y, axis, workspace)
    if not is_torch_namespace(xp) or requires_grad(x, y):
        # in place work would break autograd: the workspace was made for an ``x`` that
        # needs no gradient, but the shift ``y`` may (weights that require a gradient)
        return logsumexp(x + y, axis=axis, xp=xp)
    import torch

    torch.add(x, y, out=workspace)
    top = torch.amax(workspace, dim=axis)
    finite = torch.isfinite(top)
    # A slice of -inf (or +inf) has no finite shift: its answer is its maximum.
    shift = torch.where(finite, top, torch.zeros_like(top))
    floor = _exp_floor(workspace.dtype.itemsize)
    workspace.sub_(torch.unsqueeze(shift, axis)).clamp_(min=floor).exp_()
    out = torch.log(torch.sum(workspace, dim=axis)).add_(shift)
    return torch.where(finite, out, top)


def _exp_floor(itemsize):
    """Exponent floor of :func:`logsumexp_add`: exp() stays normal above it."""
    return -85.0 if itemsize <= 4 else -690.0


def _numpy_logsumexp_add(x, y, axis, workspace):
    np.add(x, y, out=workspace)
    top = workspace.max(axis=axis)
    finite = np.isfinite(top)
    # A slice of -inf (or +inf) has no finite shift: its answer is its maximum.
    shift = np.where(finite, top, 0.0).astype(workspace.dtype, copy=False)
    np.subtract(workspace, np.expand_dims(shift, axis), out=workspace)
    np.maximum(workspace, _exp_floor(workspace.dtype.itemsize), out=workspace)
    np.exp(workspace, out=workspace)
    out = np.log(workspace.sum(axis=axis))
    out += shift
    return np.where(finite, out, top)


def exp_outer_sum(row, col, C, scale, xp=None):
    """``exp((row[:, None] + col[None, :] - C) * scale)`` for an (n, m) ``C``: a Gibbs kernel.

    torch builds it in one fresh tensor (the first subtraction allocates, the rest is in
    place; autograd supports that chain), where the plain expression allocates four n x m
    temporaries, each as costly in page faults as the arithmetic. NumPy likewise, in the
    expression's order (the same bits): at 256 x 256, 2.8 ns an entry instead of 11. Other
    libraries evaluate the expression (XLA fuses it).
    """
    if xp is None:
        xp = get_namespace(x=C)
    if type(C) is np.ndarray and type(row) is np.ndarray and type(col) is np.ndarray:
        out = np.add(row[:, None], col[None, :])
        if out.shape == C.shape and out.dtype == np.result_type(out, C, scale):
            np.subtract(out, C, out=out)
            np.multiply(out, scale, out=out)
            return np.exp(out, out=out)
    if not is_torch_namespace(xp):
        return xp.exp((row[:, None] + col[None, :] - C) * scale)
    out = row[:, None] - C
    return out.add_(col[None, :]).mul_(scale).exp_()


def contiguous(x, xp=None):
    """``x`` in row-major (C-contiguous) storage, copied only when it is not, and
    differentiable on torch. JAX arrays and other libraries are returned as they are (XLA
    chooses layouts itself)."""
    if xp is None:
        xp = get_namespace(x=x)
    if is_numpy_namespace(xp):
        return np.ascontiguousarray(x)
    if is_torch_namespace(xp):
        return x.contiguous()
    return x


def workspace_like(x, xp=None, shape=None):
    """An uninitialized array like ``x`` (of ``shape``, by default ``x``'s) for
    :func:`logsumexp_add` to overwrite, or None.

    NumPy arrays and eager torch tensors that need no gradient get one (in-place work would
    break autograd; JAX arrays are immutable, and XLA already avoids the temporaries).
    """
    if xp is None:
        xp = get_namespace(x=x)
    shape = tuple(x.shape) if shape is None else tuple(shape)
    if is_numpy_namespace(xp):
        return np.empty(shape, dtype=x.dtype)
    if not is_torch_namespace(xp) or x.requires_grad:
        return None
    import torch

    return torch.empty(shape, dtype=x.dtype, device=x.device)


def requires_grad(*arrays) -> bool:
    """Whether torch's autograd records operations on any of ``arrays`` (False elsewhere:
    JAX differentiates by tracing, see :func:`is_traced`)."""
    return any(bool(getattr(x, "requires_grad", False)) for x in arrays)


def stop_gradient(x, xp=None):
    """``x`` with its gradient cut (identity on backends without autodiff)."""
    if xp is None:
        xp = get_namespace(x=x)
    if is_torch_namespace(xp):
        return x.detach()
    if is_jax_namespace(xp):
        import jax

        return jax.lax.stop_gradient(x)
    return x


def fori_loop(lower: int, upper: int, body, state, xp=None):
    """``for i in range(lower, upper): state = body(i, state)``; returns the final state.

    When the state or the bounds hold JAX tracers (inside ``jax.jit``), this is
    ``jax.lax.fori_loop``, so the loop compiles once instead of being unrolled. ``xp`` is
    accepted for symmetry with the other shims; the choice depends on the values only.
    """
    if _any_traced(lower, upper, state):
        import jax

        return jax.lax.fori_loop(lower, upper, body, state)
    for i in range(lower, upper):
        state = body(i, state)
    return state


def while_loop(cond, body, state, xp=None):
    """``while cond(state): state = body(state)``; returns the final state.

    ``jax.lax.while_loop`` when the state holds JAX tracers (a Python ``while`` cannot test a
    traced condition). ``xp`` is accepted for symmetry with the other shims.
    """
    if _any_traced(state):
        import jax

        return jax.lax.while_loop(cond, body, state)
    while bool(cond(state)):
        state = body(state)
    return state


def jit(function, xp=None):
    """``function`` compiled with ``jax.jit`` when ``xp`` is JAX, unchanged otherwise.

    Eager JAX dispatches every small operation separately; a solver loop called on eager JAX
    arrays runs orders of magnitude faster once compiled. Callers cache the result (for
    example with ``functools.lru_cache``) so that compilation happens once per setting.
    """
    if xp is not None and is_jax_namespace(xp):
        import jax

        return jax.jit(function)
    return function


def _any_traced(*trees) -> bool:
    """True when a leaf of ``trees`` is a JAX tracer (never imports jax)."""
    if "jax" not in sys.modules:
        return False
    import jax

    return is_traced(*jax.tree_util.tree_leaves(trees))


def as_generator(seed) -> np.random.Generator:
    """A NumPy ``Generator`` from ``seed`` (int, None or Generator); global state untouched."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(
        f"seed must be an int, None or a numpy.random.Generator, got {type(seed).__name__}"
    )


def random_normal(shape, seed=None, xp=None, dtype=None, device=None):
    """Standard normal draws made on the host from ``seed``, so every backend gets the
    same numbers for the same seed, then moved to ``xp`` on ``device``."""
    draws = as_generator(seed).standard_normal(shape)
    if xp is None or is_numpy_namespace(xp):
        return draws if dtype is None else draws.astype(dtype)
    return from_numpy(draws, xp, dtype=dtype, device=device)


def _is_torch_generator(seed) -> bool:
    """True for a ``torch.Generator`` (never imports torch: a caller holding one has)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(seed, torch.Generator)


def randn_from_seed(shape, seed, xp, dtype, device=None):
    """Standard normal draws of ``shape`` in ``xp`` with ``dtype`` on ``device``, from
    ``seed``, without touching any global random state.

    - an int, or a ``numpy.random.RandomState``: the Mersenne-Twister stream of
      ``numpy.random.RandomState(seed).randn(*shape)`` (the numbers that
      ``numpy.random.seed(seed); numpy.random.randn(*shape)`` gives, and POT draws); a
      given RandomState advances;
    - a ``numpy.random.Generator`` (advances) or None (fresh entropy): its
      ``standard_normal``;
    - a ``torch.Generator``: ``torch.randn`` on the generator's device (in ``dtype`` when
      ``xp`` is torch, in float64 otherwise), then moved to ``device``.

    Host draws are made in float64 and cast, so every library gets the same numbers for the
    same int seed.
    """
    shape = tuple(shape)
    if _is_torch_generator(seed):
        import torch

        if is_torch_namespace(xp):
            draws = torch.randn(shape, generator=seed, dtype=dtype, device=seed.device)
            return draws if device is None else draws.to(device)
        draws = torch.randn(shape, generator=seed, dtype=torch.float64, device=seed.device)
        return from_numpy(draws.cpu().numpy(), xp, dtype=dtype, device=device)
    if isinstance(seed, np.random.RandomState):
        draws = seed.standard_normal(shape)
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        draws = np.random.RandomState(seed).standard_normal(shape)
    elif seed is None or isinstance(seed, np.random.Generator):
        draws = np.random.default_rng(seed).standard_normal(shape)
    else:
        raise TypeError(
            "seed must be None, an int, a numpy.random.RandomState, a numpy.random.Generator "
            f"or a torch.Generator, got {type(seed).__name__}"
        )
    return from_numpy(draws, xp, dtype=dtype, device=device)
