"""Training loops of :class:`~otkit.MetaInitializer`: PyTorch and JAX (and the checks of the
histogram batches, shared with prediction).

Both frameworks minimise the same loss, the negative entropic dual objective of the predicted
potentials averaged over a batch of problems (see :mod:`otkit.bregman._meta_init`), with Adam
and clipping of the global gradient norm:

- PyTorch: ``torch.nn`` layers, ``torch.optim.Adam`` and ``torch.nn.utils.clip_grad_norm_``;
- JAX: a hand-written MLP and a hand-written Adam with global-norm clipping in
  ``jax.numpy`` (no optax or flax dependency), one ``jax.jit``-compiled step.

The built-in MLP starts from the same NumPy weights in both frameworks and the updates are
the same algorithm (Adam with bias correction, :math:`\\hat m / (\\sqrt{\\hat v} + 10^{-8})`;
the gradient scaled by :math:`\\min(1, c / (\\|g\\| + 10^{-6}))`), so that both frameworks
follow the same trajectory up to rounding. Training runs in float32 on the CPU.

torch and jax are imported inside the functions of this module, when a framework is chosen,
never when otkit is imported.
"""

from __future__ import annotations

import functools
import importlib.util
import math

import numpy as np

from .._boundary import input_float_dtype
from .._validation import (
    check_choice,
    check_finite,
    check_ndim,
    check_not_empty,
    mass_tolerance,
)
from ..backend import to_numpy

__all__ = [
    "FRAMEWORKS",
    "LR_SCHEDULES",
    "JaxTrainer",
    "TorchTrainer",
    "dual_objective_jax",
    "dual_objective_torch",
    "histogram_pair",
    "learning_rates",
    "make_trainer",
    "resolve_framework",
]

FRAMEWORKS = ("torch", "jax")
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
CLIP_EPS = 1e-6  # as torch.nn.utils.clip_grad_norm_
LR_SCHEDULES = ("cosine", "constant")
WARMUP_FRACTION = 0.05


def learning_rates(lr: float, n_iter: int, schedule: str) -> np.ndarray:
    r"""The learning rate of each of ``n_iter`` steps (float64, shape (n_iter,)).

    'constant': ``lr`` throughout. 'cosine': a linear warm-up from ``lr / w`` to ``lr`` over
    the first :math:`w = \lceil 0.05\, n \rceil` steps, then a half cosine from ``lr`` that
    would reach 0 one step after the last,
    :math:`\eta_t = \tfrac{\eta}{2}(1 + \cos(\pi (t - w + 1) / (n - w + 1)))` for
    :math:`t \ge w` (Loshchilov & Hutter, SGDR, ICLR 2017). The decay
    averages out the noise of the last steps: the dual objective is nearly flat along the
    slowly converging (smooth) directions of the potentials, where a constant-rate Adam
    keeps wandering by several :math:`\varepsilon` from step to step.
    """
    if schedule == "constant" or n_iter == 0:
        return np.full(n_iter, float(lr))
    warm = math.ceil(WARMUP_FRACTION * n_iter)
    steps = np.arange(n_iter, dtype=np.float64)
    rates = lr * 0.5 * (1.0 + np.cos(np.pi * (steps - warm + 1) / (n_iter - warm + 1)))
    rates[:warm] = lr * (steps[:warm] + 1) / warm
    return rates


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _is_torch_module(model) -> bool:
    return type(model).__module__.startswith("torch") or any(
        c.__module__.startswith("torch.nn") for c in type(model).__mro__
    )


def resolve_framework(framework, model=None) -> str:
    """'torch' or 'jax': ``framework`` checked, or chosen from ``model`` and what is installed.

    Raises
    ------
    ValueError
        An unknown framework, or one that does not match ``model``.
    TypeError
        A ``model`` that is neither a ``torch.nn.Module`` nor an ``(apply, params)`` pair.
    ImportError
        The framework (or, for None, both) is not installed.
    """
    if framework is not None:
        framework = check_choice(framework, "framework", FRAMEWORKS)
    if model is not None:
        implied = "torch" if _is_torch_module(model) else "jax"
        if implied == "jax" and not (
            isinstance(model, tuple) and len(model) == 2 and callable(model[0])
        ):
            raise TypeError(
                "model must be a torch.nn.Module, or for JAX a pair (apply, params) with "
                f"apply(params, z) -> f; got {type(model).__name__}"
            )
        if framework is not None and framework != implied:
            raise ValueError(
                f"framework={framework!r} does not match the model: a torch.nn.Module trains "
                "with 'torch', an (apply, params) pair with 'jax'"
            )
        framework = implied
    if framework is None:
        for name in FRAMEWORKS:
            if _installed(name):
                return name
        raise ImportError(
            "MetaInitializer trains with PyTorch or JAX and neither is installed: "
            "pip install torch (or pip install jax); predicting from a saved file needs neither"
        )
    if not _installed(framework):
        raise ImportError(
            f"framework={framework!r} is not installed: pip install {framework} "
            "(or choose the other framework)"
        )
    return framework


def _histograms(X, name, size):
    """``X`` as a float64 (N, size) NumPy array of histograms, and whether it was 1-D."""
    if X is None:
        raise ValueError(f"{name} is required (a ({size},) histogram or an (N, {size}) batch)")
    if isinstance(X, (list, tuple)):
        X = np.asarray(X, dtype=np.float64)
    check_ndim(X, name, (1, 2))
    single = X.ndim == 1
    host = to_numpy(X)
    host = host[None] if single else host
    if host.shape[1] != size:
        expected = f"({size},)" if single else f"(N, {size})"
        raise ValueError(
            f"{name}.shape == {tuple(X.shape)}, expected {expected} to match the cost matrix"
        )
    check_not_empty(host, name)
    # one min and the sums prove the entries finite and >= 0 (NaN fails the min, +inf the
    # sums); otherwise the full checks run, in the order finite, then non-negative (finite
    # entries whose sum overflows pass both and fail the test of the sums below)
    with np.errstate(over="ignore"):
        sums = host.sum(axis=1)
    if not (np.minimum.reduce(host, axis=None) >= 0 and np.all(np.isfinite(sums))):
        check_finite(host, name)
        if np.any(host < 0):
            raise ValueError(f"{name} has negative entries (min {host.min():.3g}); must be >= 0")
    tol = mass_tolerance(input_float_dtype(X), size)
    bad = np.flatnonzero(np.abs(sums - 1.0) > tol)
    if bad.size:
        where = "" if single else f" (row {bad[0]})"
        raise ValueError(
            f"{name} must be histograms summing to 1, got a sum of {sums[bad[0]]!r}{where}"
        )
    return host, single


def histogram_pair(a, b, n, m):
    """(A, B, single): the histograms ``a``, ``b`` as (N, n), (N, m) float64 host arrays
    (checked; a single one repeated to the other's batch) and whether both were 1-D."""
    A, single_a = _histograms(a, "a", n)
    B, single_b = _histograms(b, "b", m)
    if A.shape[0] != B.shape[0]:
        if A.shape[0] == 1 and single_a:
            A = np.repeat(A, B.shape[0], axis=0)
        elif B.shape[0] == 1 and single_b:
            B = np.repeat(B, A.shape[0], axis=0)
        else:
            raise ValueError(
                f"a and b hold {A.shape[0]} and {B.shape[0]} histograms; expected as many"
            )
    return A, B, single_a and single_b


def dual_objective_torch(f, A, B, M, reg, kernel=None):
    r"""Entropic dual objective of each problem of a batch, ``g`` completed by c-transform.

    :math:`J(f) = \langle f, a\rangle + \langle g, b\rangle` with
    :math:`g_j = -\varepsilon \log \sum_{i: a_i > 0} a_i \exp((f_i - M_{ij})/\varepsilon)`.

    Parameters
    ----------
    f : (N, n) tensor
        Row potentials in cost units.
    A, B : (N, n), (N, m) tensors
        Histograms.
    M : (n, m) tensor
        Cost matrix.
    reg : float
        :math:`\varepsilon`.
    kernel : tuple of tensors, optional
        ``(exp(-(M - r) / reg), r)`` in float64 with ``r`` the row minima of ``M``
        (:func:`torch_kernel`): the c-transform by one matrix product instead of N n m
        exponentials (10 to 50 times faster for 28 x 28 grids); the log-domain form is used
        when a column's sum comes near the float64 underflow.

    Returns
    -------
    value : (N,) tensor, differentiable with respect to ``f``.
    """
    import torch

    if kernel is not None:
        K, row_min = kernel
        f64, A64 = f.to(torch.float64), A.to(torch.float64)
        shifted = torch.where(A64 > 0, (f64 - row_min) / reg, -torch.inf)
        top = torch.amax(shifted, dim=1, keepdim=True).detach()  # (cancels in g)
        sums = (A64 * torch.exp(shifted - top)) @ K
        if bool(torch.all(sums > 1e-250)):
            g = -reg * (torch.log(sums) + top)
            value = torch.sum(torch.where(A64 > 0, A64 * f64, 0.0), dim=1) + torch.sum(
                B.to(torch.float64) * g, dim=1
            )
            return value.to(f.dtype)
    log_a = torch.log(A)  # -inf on zero-weight bins: masked out of the softmin
    g = -reg * torch.logsumexp(log_a[:, :, None] + (f[:, :, None] - M[None]) / reg, dim=1)
    return torch.sum(torch.where(A > 0, A * f, 0.0), dim=1) + torch.sum(B * g, dim=1)


def torch_kernel(M, reg):
    """``(exp(-(M - r) / reg), r)`` (float64 tensors, ``r`` the row minima) for
    :func:`dual_objective_torch`, or None when the cost range exceeds 700 reg (the kernel
    would underflow)."""
    import torch

    M64 = torch.as_tensor(np.asarray(M, dtype=np.float64))
    row_min = torch.amin(M64, dim=1)
    if not float(torch.amax(M64 - row_min[:, None])) / reg <= 700.0:
        return None
    return torch.exp(-(M64 - row_min[:, None]) / reg), row_min


def dual_objective_jax(f, A, B, M, reg):
    """The JAX version of :func:`dual_objective_torch` (same arguments, JAX arrays)."""
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    log_a = jnp.where(A > 0, jnp.log(jnp.where(A > 0, A, 1.0)), -jnp.inf)
    g = -reg * logsumexp(log_a[:, :, None] + (f[:, :, None] - M[None]) / reg, axis=1)
    return jnp.sum(jnp.where(A > 0, A * f, 0.0), axis=1) + jnp.sum(B * g, axis=1)


class TorchTrainer:
    """Parameters, Adam state and one training step in PyTorch (CPU, float32).

    ``weights`` are the built-in MLP's NumPy ``(W, b)`` pairs (``W`` of shape (in, out)),
    copied into ``torch.nn.Linear`` layers created without random initialization (the
    global torch RNG is not touched); or ``model``, a user's ``torch.nn.Module`` mapping
    (N, n + m) to (N, n), trained as it is.
    """

    def __init__(self, weights, M, reg, scale, model=None):
        import torch

        self._torch = torch
        self.M = torch.as_tensor(M, dtype=torch.float32)
        self.reg, self.scale = float(reg), float(scale)
        self.kernel = torch_kernel(M, self.reg)
        self.n, self.m = M.shape
        self.custom = model is not None
        if model is None:
            layers = []
            for k, (W, b) in enumerate(weights):
                linear = torch.nn.utils.skip_init(torch.nn.Linear, W.shape[0], W.shape[1])
                with torch.no_grad():
                    linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                    linear.bias.copy_(torch.from_numpy(np.asarray(b)))
                layers.append(linear)
                if k < len(weights) - 1:
                    layers.append(torch.nn.ReLU())
            model = torch.nn.Sequential(*layers)
        self.model = model
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=1e-3, betas=ADAM_BETAS, eps=ADAM_EPS
        )

    def _as_tensor(self, X):
        return self._torch.as_tensor(np.asarray(X, dtype=np.float32))

    def potentials(self, A, B):
        z = self._torch.cat([self.n * A, self.m * B], dim=1)
        f = self.model(z)
        if tuple(f.shape) != tuple(A.shape):
            raise ValueError(
                f"the model maps (N, n + m) = {tuple(z.shape)} to {tuple(f.shape)}, expected "
                f"(N, n) = {tuple(A.shape)}"
            )
        return self.scale * f

    def step(self, A, B, lr, clip_norm):
        """One Adam step on the batch (NumPy (N, n), (N, m)); the loss before the step."""
        torch = self._torch
        A, B = self._as_tensor(A), self._as_tensor(B)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        f = self.potentials(A, B)
        loss = -torch.mean(dual_objective_torch(f, A, B, self.M, self.reg, self.kernel))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip_norm)
        self.optimizer.step()
        return float(loss.detach())

    def predict_f(self, A, B):
        """Row potentials of the batch as a float64 NumPy array (no gradient)."""
        with self._torch.no_grad():
            f = self.potentials(self._as_tensor(A), self._as_tensor(B))
        return f.detach().cpu().numpy().astype(np.float64)

    def weights(self):
        """The built-in MLP's ``(W, b)`` pairs as float32 NumPy arrays (W: (in, out))."""
        linears = [layer for layer in self.model if isinstance(layer, self._torch.nn.Linear)]
        return [
            (
                layer.weight.detach().cpu().numpy().T.copy(),
                layer.bias.detach().cpu().numpy().copy(),
            )
            for layer in linears
        ]


def _mlp_apply(params, z):
    import jax.numpy as jnp

    for W, b in params[:-1]:
        z = jnp.maximum(z @ W + b, 0.0)
    W, b = params[-1]
    return z @ W + b


@functools.cache
def _jax_functions():
    """The jitted potentials and training step, built once: ``apply`` is a static argument,
    everything else traced, so that initializers of the same shapes share the compilation."""
    import jax
    import jax.numpy as jnp

    tree = jax.tree_util
    beta1, beta2 = ADAM_BETAS

    def potentials(apply, params, A, B, scale):
        n, m = A.shape[1], B.shape[1]
        return scale * apply(params, jnp.concatenate([n * A, m * B], axis=1))

    def loss(params, apply, A, B, M, reg, scale):
        f = potentials(apply, params, A, B, scale)
        return -jnp.mean(dual_objective_jax(f, A, B, M, reg))

    def step(apply, params, state, A, B, M, reg, scale, lr, clip_norm):
        value, grads = jax.value_and_grad(loss)(params, apply, A, B, M, reg, scale)
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in tree.tree_leaves(grads)))
        factor = jnp.minimum(1.0, clip_norm / (norm + CLIP_EPS))
        grads = tree.tree_map(lambda g: g * factor, grads)
        first, second, count = state
        count = count + 1.0
        first = tree.tree_map(lambda s, g: beta1 * s + (1.0 - beta1) * g, first, grads)
        second = tree.tree_map(lambda s, g: beta2 * s + (1.0 - beta2) * g * g, second, grads)
        size1, size2 = 1.0 - beta1**count, 1.0 - beta2**count

        def update(p, s1, s2):
            return p - lr * (s1 / size1) / (jnp.sqrt(s2 / size2) + ADAM_EPS)

        params = tree.tree_map(update, params, first, second)
        return params, (first, second, count), value

    return jax.jit(potentials, static_argnums=0), jax.jit(step, static_argnums=0)


class JaxTrainer:
    """Parameters, Adam state and one ``jax.jit``-compiled training step in JAX (float32).

    ``weights`` are the built-in MLP's NumPy ``(W, b)`` pairs; or ``model``, a user's
    ``(apply, params)`` pair, ``apply(params, z)`` mapping (N, n + m) to (N, n) with jax.numpy
    operations and ``params`` any pytree of arrays.
    """

    def __init__(self, weights, M, reg, scale, model=None):
        import jax
        import jax.numpy as jnp

        self._jax, self._jnp = jax, jnp
        self.custom = model is not None
        if model is None:
            apply = _mlp_apply
            params = [
                (jnp.asarray(W, jnp.float32), jnp.asarray(b, jnp.float32)) for W, b in weights
            ]
        else:
            apply, params = model
        self.apply, self.params = apply, params
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        self.state = (zeros, zeros, jnp.zeros((), jnp.float32))
        self.M = jnp.asarray(M, jnp.float32)
        self.reg, self.scale = jnp.float32(reg), jnp.float32(scale)
        self._potentials, self._step = _jax_functions()
        self._shape_checked = False

    def _run_potentials(self, A, B):
        return self._potentials(self.apply, self.params, A, B, self.scale)

    def _as_array(self, X):
        return self._jnp.asarray(np.asarray(X, dtype=np.float32))

    def _check_output(self, A, B):
        if not self._shape_checked:
            shape = self._jax.eval_shape(self._run_potentials, A, B).shape
            if tuple(shape) != tuple(A.shape):
                raise ValueError(
                    f"the model maps (N, n + m) = ({A.shape[0]}, {A.shape[1] + B.shape[1]}) to "
                    f"{tuple(shape)}, expected (N, n) = {tuple(A.shape)}"
                )
            self._shape_checked = True

    def step(self, A, B, lr, clip_norm):
        """One Adam step on the batch (NumPy (N, n), (N, m)); the loss before the step."""
        jnp = self._jnp
        A, B = self._as_array(A), self._as_array(B)
        self._check_output(A, B)
        self.params, self.state, value = self._step(
            self.apply,
            self.params,
            self.state,
            A,
            B,
            self.M,
            self.reg,
            self.scale,
            jnp.float32(lr),
            jnp.float32(clip_norm),
        )
        return float(value)

    def predict_f(self, A, B):
        """Row potentials of the batch as a float64 NumPy array."""
        A, B = self._as_array(A), self._as_array(B)
        self._check_output(A, B)
        return np.asarray(self._run_potentials(A, B), dtype=np.float64)

    def weights(self):
        """The built-in MLP's ``(W, b)`` pairs as float32 NumPy arrays (W: (in, out))."""
        return [
            (np.array(W, dtype=np.float32), np.array(b, dtype=np.float32)) for W, b in self.params
        ]


def make_trainer(framework, weights, M, reg, scale, model=None):
    """The trainer of ``framework`` ('torch' or 'jax', already resolved)."""
    trainer = TorchTrainer if framework == "torch" else JaxTrainer
    return trainer(weights, M, reg, scale, model=model)
