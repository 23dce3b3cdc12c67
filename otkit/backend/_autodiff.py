"""Custom-gradient glue for solvers that run on the host (compiled NumPy code).

A *host function* takes NumPy float64 arrays and returns ``(value, grads, aux)``: a scalar
value, the gradient of that value with respect to each input (same shapes), and auxiliary
NumPy arrays (for example the transport plan and the duals).  :func:`call_host` runs it on any
backend and returns ``value`` with those gradients attached:

- torch: a ``torch.autograd.Function`` (``backward()`` multiplies the saved gradients);
- JAX: a ``jax.custom_vjp`` whose forward calls the host through ``jax.pure_callback``, so
  ``jax.jit``, ``jax.grad`` and ``jax.vmap`` (sequential) all work;
- NumPy and other libraries: a plain call.

Inputs and outputs keep the caller's dtype and device; auxiliary outputs carry no gradient.
Under JAX tracing (``jax.jit``, ``jax.vmap``, ``jax.grad``) a ``ValueError`` raised by the
host function (a value check that could not run before tracing) does not abort the program:
the call returns NaN (integer outputs -1) and issues a ``UserWarning`` with the message.

:func:`with_vjp` attaches a hand-written vector-Jacobian product to a function computed in the
caller's namespace (no host round trip): a ``torch.autograd.Function`` on torch, a
``jax.custom_vjp`` on JAX (so ``jax.jit(jax.grad(...))`` works), a plain call elsewhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ._namespace import (
    from_numpy,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_traced,
    to_numpy,
)

__all__ = ["call_host", "with_vjp"]


def call_host(host_fn: Callable, args: Sequence, xp, dtype, device, aux_specs: Sequence):
    """Run ``host_fn`` on ``args`` (arrays of namespace ``xp``) with custom gradients.

    Parameters
    ----------
    host_fn : callable
        ``host_fn(*numpy_args) -> (value, grads, aux)`` as described in the module docstring.
    args : sequence of arrays
        Differentiable inputs, all in ``xp`` with floating ``dtype`` on ``device``.
    xp : module
        Array namespace of ``args``.
    dtype, device
        Floating dtype and device of the inputs and of the floating outputs.
    aux_specs : sequence of (shape, kind)
        Shape of each auxiliary output and its kind, ``"float"`` (returned in ``dtype``) or
        ``"int"`` (int32).

    Returns
    -------
    value : 0-d array
        Differentiable scalar.
    aux : tuple of arrays
        Auxiliary outputs, without gradient.
    """
    if is_torch_namespace(xp):
        return _call_torch(host_fn, args, dtype, device)
    if is_jax_namespace(xp):
        return _call_jax(host_fn, args, dtype, aux_specs)
    value, _, aux = host_fn(*[to_numpy(x) for x in args])
    out_value = from_numpy(np.asarray(value), xp, dtype=dtype, device=device)
    if is_numpy_namespace(xp):
        out_value = out_value[()]  # a NumPy scalar, as POT returns
    out_aux = tuple(
        from_numpy(np.asarray(x), xp, dtype=dtype if kind == "float" else xp.int32, device=device)
        for x, (_, kind) in zip(aux, aux_specs)
    )
    return out_value, out_aux


def _call_torch(host_fn, args, dtype, device):
    import torch

    if not (torch.is_grad_enabled() and any(t.requires_grad for t in args)):
        # no graph to build: the host call and the conversions only (per-call time)
        value, _, aux = host_fn(*[to_numpy(t) for t in args])
        return _torch_outputs(torch, value, aux, dtype, device)
    value, *aux = _torch_host_function().apply(host_fn, dtype, device, *args)
    return value, tuple(aux)


def _torch_outputs(torch, value, aux, dtype, device):
    """``(value, aux)`` as tensors: floating outputs in ``dtype``, integer ones in int32."""
    aux_tensors = tuple(
        torch.as_tensor(
            x,
            dtype=dtype if np.issubdtype(np.asarray(x).dtype, np.floating) else torch.int32,
            device=device,
        )
        for x in aux
    )
    return torch.as_tensor(value, dtype=dtype, device=device), aux_tensors


_TORCH_HOST_FUNCTION = []


def _torch_host_function():
    """The ``torch.autograd.Function`` of :func:`call_host`, defined once (on first use, so
    that importing otkit does not import torch)."""
    if _TORCH_HOST_FUNCTION:
        return _TORCH_HOST_FUNCTION[0]
    import torch

    class HostFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, host_fn, dtype, device, *tensors):
            value, grads, aux = host_fn(*[to_numpy(t) for t in tensors])
            ctx.save_for_backward(*[torch.as_tensor(g, dtype=dtype, device=device) for g in grads])
            value, aux_tensors = _torch_outputs(torch, value, aux, dtype, device)
            ctx.mark_non_differentiable(*aux_tensors)
            return (value, *aux_tensors)

        @staticmethod
        def backward(ctx, grad_value, *unused_aux_grads):
            needed = ctx.needs_input_grad[3:]  # after host_fn, dtype, device
            return (None, None, None) + tuple(
                grad_value * g if need else None for g, need in zip(ctx.saved_tensors, needed)
            )

    _TORCH_HOST_FUNCTION.append(HostFunction)
    return HostFunction


def _call_jax(host_fn, args, dtype, aux_specs):
    import jax
    import jax.numpy as jnp

    int_dtype = jnp.int32
    result_shapes = (
        jax.ShapeDtypeStruct((), dtype),
        tuple(jax.ShapeDtypeStruct(x.shape, dtype) for x in args),
        tuple(
            jax.ShapeDtypeStruct(shape, dtype if kind == "float" else int_dtype)
            for shape, kind in aux_specs
        ),
    )
    np_dtype = np.dtype(dtype)
    traced = is_traced(*args)

    def host(*np_args):
        try:
            value, grads, aux = host_fn(*[np.asarray(x, dtype=np.float64) for x in np_args])
        except ValueError as error:
            if not traced:
                raise
            return _invalid_outputs(error, result_shapes)
        return (
            np.asarray(value, dtype=np_dtype),
            tuple(np.asarray(g, dtype=np_dtype) for g in grads),
            tuple(
                np.asarray(x, dtype=np_dtype if kind == "float" else np.int32)
                for x, (_, kind) in zip(aux, aux_specs)
            ),
        )

    def run(*primals):
        return jax.pure_callback(host, result_shapes, *primals, vmap_method="sequential")

    @jax.custom_vjp
    def value_and_aux(*primals):
        value, _, aux = run(*primals)
        return value, aux

    def forward(*primals):
        value, grads, aux = run(*primals)
        return (value, aux), grads

    def backward(grads, cotangents):
        cotangent_value = cotangents[0]
        return tuple(cotangent_value * g for g in grads)

    value_and_aux.defvjp(forward, backward)
    value, aux = value_and_aux(*args)
    return value, tuple(aux)


def _invalid_outputs(error, result_shapes):
    """NaN outputs (-1 for integers) shaped as ``result_shapes``, and a warning carrying the
    message of ``error``: under tracing an exception raised in a host callback would reach
    the user as an XLA runtime error with the message buried in a traceback, and would
    abort every entry of a ``jax.vmap`` batch, not just the invalid one."""
    warnings.warn(
        f"{error} (this call runs under jax.jit, jax.vmap or jax.grad, where otkit cannot "
        "raise: its outputs and gradients are NaN)",
        UserWarning,
        stacklevel=2,
    )

    def fill(spec):
        if np.issubdtype(np.dtype(spec.dtype), np.floating):
            return np.full(spec.shape, np.nan, dtype=spec.dtype)
        return np.full(spec.shape, -1, dtype=spec.dtype)

    value_spec, grad_specs, aux_specs = result_shapes
    return fill(value_spec), tuple(map(fill, grad_specs)), tuple(map(fill, aux_specs))


def with_vjp(primal: Callable, vjp: Callable, args: Sequence, xp):
    """``primal(*args)`` whose reverse-mode derivative is ``vjp(args, output, cotangent)``.

    Parameters
    ----------
    primal : callable
        ``primal(*args) -> output``, one array, written with namespace ``xp`` operations.
    vjp : callable
        ``vjp(args, output, cotangent) -> tuple`` of one cotangent per argument, each of the
        shape and dtype of its argument (computed in ``xp``; called under torch's
        ``no_grad``, and traced by JAX inside ``jax.jit``).
    args : sequence of arrays
        The inputs, all arrays of ``xp`` (convert Python scalars first).
    xp : module
        Array namespace of ``args``.

    Returns
    -------
    output : array
        ``primal(*args)``; on torch and JAX differentiable with the given VJP (first order).
    """
    if is_torch_namespace(xp):
        import torch

        class CustomVJP(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *tensors):
                output = primal(*tensors)
                ctx.save_for_backward(*tensors, output)
                return output

            @staticmethod
            def backward(ctx, cotangent):
                *tensors, output = ctx.saved_tensors
                grads = vjp(tuple(tensors), output, cotangent)
                return tuple(
                    g if needed else None for g, needed in zip(grads, ctx.needs_input_grad)
                )

        return CustomVJP.apply(*args)
    if is_jax_namespace(xp):
        import jax

        @jax.custom_vjp
        def function(*primals):
            return primal(*primals)

        def forward(*primals):
            output = primal(*primals)
            return output, (primals, output)

        def backward(residuals, cotangent):
            primals, output = residuals
            return tuple(vjp(primals, output, cotangent))

        function.defvjp(forward, backward)
        return function(*args)
    return primal(*args)
