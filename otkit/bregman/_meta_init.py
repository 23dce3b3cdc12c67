r"""Learned Sinkhorn initializer (Meta OT): an MLP from the histograms to the potentials.

:class:`MetaInitializer` holds the cost matrix, the MLP's weights (NumPy arrays), the NumPy
forward pass used by :meth:`~MetaInitializer.predict`, the c-transform completion and the
``.npz`` file format; the training loops (PyTorch or JAX) and the checks of the histograms
are in ``_meta_train``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from .._validation import (
    check_choice,
    check_finite,
    check_integer,
    check_ndim,
    check_not_empty,
    check_real,
)
from ..backend import (
    device_of,
    from_numpy,
    get_namespace,
    is_traced,
    result_float_dtype,
    to_numpy,
)
from ._entropic_dual import c_transform, dual_objective
from ._initializers import _host_weights
from ._meta_train import histogram_pair

__all__ = ["MetaInitializer"]

FORMAT_VERSION = 1
DEFAULT_HIDDEN_SIZES = (1024, 1024, 1024)


def _initial_weights(sizes, rng):
    """MLP weights: U(±1/sqrt(fan_in)) as torch.nn.Linear, the output layer at zero (so the
    untrained model predicts f = 0, the usual cold start)."""
    weights = []
    for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if k == len(sizes) - 2:
            W, b = np.zeros((fan_in, fan_out)), np.zeros(fan_out)
        else:
            bound = 1.0 / math.sqrt(fan_in)
            W = rng.uniform(-bound, bound, size=(fan_in, fan_out))
            b = rng.uniform(-bound, bound, size=fan_out)
        weights.append((W.astype(np.float32), b.astype(np.float32)))
    return weights


def _mlp_numpy(weights, z):
    for W, b in weights[:-1]:
        z = np.maximum(z @ W + b, 0.0)
    W, b = weights[-1]
    return z @ W + b


def _hidden_sizes(hidden_sizes):
    if hidden_sizes is None:
        return DEFAULT_HIDDEN_SIZES
    if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, Sequence):
        raise TypeError(f"hidden_sizes must be a sequence of integers, got {hidden_sizes!r}")
    return tuple(check_integer(h, "hidden_sizes", minimum=1) for h in hidden_sizes)


class MetaInitializer:
    r"""Learned initializer for Sinkhorn on a fixed cost matrix (Meta OT, Amos et al.).

    Many entropic OT problems share one cost matrix ``M`` (images on one pixel grid, say) and
    differ only by their histograms ``(a, b)``. An MLP :math:`\hat f_\theta` maps the
    concatenated histograms to the row potential ``f``; the column potential is its exact
    c-transform (one log-domain Sinkhorn half-step, softmin over the bins where
    :math:`a_i > 0`),

    .. math::
        g_j = -\varepsilon \log \sum_{i:\, a_i > 0} a_i
        \exp\big((f_i - M_{ij}) / \varepsilon\big),

    so that :math:`P_{ij} = a_i b_j \exp((f_i + g_j - M_{ij})/\varepsilon)` has column
    marginals ``b`` exactly (otkit's convention: potentials in cost units). The network is
    trained without any solved problem, by maximizing the entropic dual objective averaged
    over batches of problems,

    .. math::
        \max_\theta\; \mathbb E_{(a, b)}\, J(\hat f_\theta(a, b); a, b), \qquad
        J(f; a, b) = \langle f, a\rangle + \langle g, b\rangle
        - \varepsilon \sum_{ij} a_i b_j \big(e^{(f_i + g_j - M_{ij})/\varepsilon} - 1\big)
        = \langle f, a\rangle + \langle g, b\rangle,

    the last term vanishing when ``g`` is the c-transform of ``f``. :math:`J` is concave in
    ``f``, its gradient is :math:`a - P\mathbf 1` (the row-marginal error) and its maximum is
    the regularized cost :math:`\langle P^\star, M\rangle + \varepsilon\,
    \mathrm{KL}(P^\star \| a\otimes b)`; the training loss is :math:`-J`, averaged.
    :meth:`predict` returns ``(f, g)`` for
    ``sinkhorn(a, b, M, reg, warmstart=(f, g), warmstart_type='potentials')``. A start
    changes how fast Sinkhorn converges, never where: the problem is strictly convex.

    Parameters
    ----------
    M : (n, m) array
        Cost matrix shared by the problems, finite (any library; kept as float64 NumPy).
    reg : float
        Entropic regularization :math:`\varepsilon > 0`, in the units of ``M``.
    hidden_sizes : sequence of int, default=None
        Widths of the hidden ReLU layers of the built-in MLP; None: (1024, 1024, 1024), as
        in the paper. The MLP sees :math:`(n a, m b)` (histograms scaled to entries of order
        one) and its output is multiplied by the range of ``M``, so that the same
        learning rate suits any grid size and cost scale. Its hidden layers start from
        :math:`U(\pm 1/\sqrt{\text{fan-in}})` weights drawn from ``seed``, its output layer
        from zero (the untrained model predicts the zero start).
    model : torch.nn.Module or (apply, params), optional
        A user-supplied network instead of the MLP, mapping the (N, n + m) scaled input to
        (N, n) (before the output scaling above): a ``torch.nn.Module`` (framework 'torch',
        its own initialization), or for JAX a pair ``(apply, params)`` with
        ``apply(params, z)`` written with jax.numpy and ``params`` a pytree of arrays.
        Such a model predicts through its framework and is saved by its framework, not by
        :meth:`save`.
    framework : {None, 'torch', 'jax'}, default=None
        Training framework; None: torch if installed, else jax. Predicting from the built-in
        MLP needs neither.
    seed : int, default=0
        Seeds the initial weights, the order of the training batches and the random
        argument of a sampler: the same seed and framework give the same weights and loss
        history.

    Attributes
    ----------
    M : (n, m) float64 ndarray
    reg : float
    framework : str
        The resolved training framework.
    hidden_sizes : tuple of int
    loss_history_ : list of float
        Training loss (:math:`-J`, mean over the batch, before each update), one per step.
    n_steps_ : int
        Number of updates so far.

    Notes
    -----
    Training runs in float32 on the CPU. :meth:`predict` runs on the host: the network in
    float32, as trained (a NumPy forward pass of the MLP, or the framework's for a user
    model), the c-transforms in float64; it returns the
    potentials in the namespace, dtype and device of ``a`` and ``b``, without gradient.
    The potentials at bins where :math:`a_i = 0` are not read by Sinkhorn or by the
    objective; :meth:`predict` sets them to the c-transform of ``g`` (the next half-step's
    value) rather than the network's output. A batch of problems is given row-wise: (N, n)
    and (N, m) histograms give (N, n) and (N, m) potentials (``sinkhorn``'s 2-D ``b`` is
    column-wise: pass ``f.T`` there).

    Training defaults, and why. :math:`J` is nearly flat along the smooth directions of
    ``f``: its Hessian :math:`\varepsilon^{-1}(\mathrm{diag}(a) - P\,\mathrm{diag}(b)^{-1}
    P^\top)` is small exactly where Sinkhorn's contraction is slow, so those directions get
    little gradient, and a constant-rate Adam keeps moving the prediction there by several
    :math:`\varepsilon` from one step to the next. Those errors are the expensive ones: on
    28x28 digits at :math:`\varepsilon = 10^{-2}`, starting from the converged potential
    plus a smooth error of sup norm :math:`\varepsilon` costs 51 iterations to reach an
    L1 marginal error of 1e-3 (an error of :math:`0.3\varepsilon`: 22), while white noise
    of the same size costs 14 (the zero start: 98). With a constant rate the ratio of
    iterations Meta / zero swung between 0.50 and 0.69 from checkpoint to checkpoint
    (``benchmarks/results/init_long.md``); :meth:`fit` therefore warms the rate up over
    the first 5% of the steps and decays it by a half cosine towards 0 at the end of the
    call (``lr_schedule='cosine'``; 'constant' is the paper's), which averages that noise
    out: 0.54 with batches of 16 for 1,000 steps (``benchmarks/results/init.md``). Larger
    batches (the paper's: 128) average it too: 64 problems for 500 steps, in the same
    time on a CPU, gave 0.46. Prediction runs the network in float32 and keeps the kernel and the range of
    ``M``: 0.5 ms per 28x28 problem with 512-wide layers, from 1.8 ms.

    References
    ----------
    .. [1] B. Amos, S. Cohen, G. Luise, I. Redko. Meta optimal transport. ICML 2023
       (arXiv:2206.05262, 2022).
    .. [2] M. Cuturi. Sinkhorn distances: lightspeed computation of optimal transport.
       NeurIPS 2013.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> x = np.linspace(0, 1, 5)[:, None]; M = ot.dist(x, x)
    >>> rng = np.random.default_rng(0)
    >>> A = rng.dirichlet(np.ones(5), size=64); B = rng.dirichlet(np.ones(5), size=64)
    >>> init = ot.MetaInitializer(M, 0.1, hidden_sizes=(16,), seed=0)
    >>> init = init.fit(A, B, n_iter=20, batch_size=16, lr=1e-2)
    >>> len(init.loss_history_)
    20
    >>> f, g = init.predict(A[0], B[0])
    >>> P = ot.sinkhorn(A[0], B[0], M, 0.1, warmstart=(f, g), warmstart_type="potentials")
    >>> f.shape, g.shape, bool(np.allclose(P.sum(1), A[0]))
    ((5,), (5,), True)
    """

    def __init__(self, M, reg, *, hidden_sizes=None, model=None, framework=None, seed=0):
        from ._meta_train import FRAMEWORKS, resolve_framework

        if isinstance(M, (list, tuple)):
            M = np.asarray(M, dtype=np.float64)
        check_ndim(M, "M", 2)
        host = to_numpy(M)
        check_not_empty(host, "M")
        check_finite(host, "M")
        self.M = np.array(host, dtype=np.float64)
        self.reg = check_real(reg, "reg", minimum=0.0, inclusive=(False, True), allow_traced=False)
        self.seed = check_integer(seed, "seed", integral_floats=False, allow_traced=False)
        if model is not None and hidden_sizes is not None:
            raise ValueError("give hidden_sizes (the built-in MLP) or model, not both")
        if framework is not None:
            framework = check_choice(framework, "framework", FRAMEWORKS)
        n, m = self.M.shape
        self.hidden_sizes = () if model is not None else _hidden_sizes(hidden_sizes)
        self._model = model
        self._requested_framework = framework
        try:
            self.framework = resolve_framework(framework, model)
        except ImportError:
            if framework is not None or model is not None:
                raise
            self.framework = None  # prediction only (load); fit raises the ImportError
        seeds = np.random.SeedSequence(self.seed).spawn(3)
        self._batch_rng = np.random.default_rng(seeds[1])
        self._sampler_rng = np.random.default_rng(seeds[2])
        self._sampler_key = None
        sizes = (n + m, *self.hidden_sizes, n)
        self._weights = (
            None if model is not None else _initial_weights(sizes, np.random.default_rng(seeds[0]))
        )
        self._trainer = None
        self._predict_weights = None  # weights for predict, dropped at each update
        spread = float(self.M.max() - self.M.min())
        self._cost_scale = spread if spread > 0 else 1.0
        self._kernel = None  # exp(-(M - row min) / reg), for the c-transform of predictions
        self._checked_cost = None  # the last M accepted by init_potentials (identity cache)
        self._fitted = False
        self.loss_history_ = []
        self.n_steps_ = 0

    # -- fitted state ---------------------------------------------------------------------

    @property
    def cost_scale(self) -> float:
        """The factor on the network's output: the range of ``M`` (1 for a constant ``M``)."""
        return self._cost_scale

    def _get_trainer(self):
        if self._trainer is None:
            from ._meta_train import make_trainer, resolve_framework

            self.framework = resolve_framework(self._requested_framework, self._model)
            self._trainer = make_trainer(
                self.framework, self._weights, self.M, self.reg, self.cost_scale, self._model
            )
        return self._trainer

    def weights(self):
        """The built-in MLP's weights: a list of ``(W, b)`` float32 NumPy pairs, ``W`` of
        shape (in, out), in the order of the layers (a copy)."""
        if self._model is not None:
            raise ValueError("a user-supplied model has no built-in MLP weights")
        if self._trainer is not None:
            self._weights = self._trainer.weights()
        return [(W.copy(), b.copy()) for W, b in self._weights]

    def _check_fitted(self):
        if not self._fitted:
            raise RuntimeError(
                "this MetaInitializer is not fitted yet: call fit or partial_fit (or "
                "MetaInitializer.load) before predict"
            )

    # -- training -------------------------------------------------------------------------

    def _update(self, A, B, lr, clip_norm):
        loss = self._get_trainer().step(A, B, lr, clip_norm)
        self._predict_weights = None
        self.loss_history_.append(loss)
        self.n_steps_ += 1
        self._fitted = True
        return loss

    def _draw(self, sampler, batch_size):
        """A batch from the sampler: a NumPy Generator for torch, a JAX key for jax."""
        if self.framework == "jax":
            import jax

            if self._sampler_key is None:
                self._sampler_key = jax.random.PRNGKey(self.seed)
            self._sampler_key, key = jax.random.split(self._sampler_key)
            out = sampler(key, batch_size)
        else:
            out = sampler(self._sampler_rng, batch_size)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("the sampler must return a pair (A, B) of (N, n) and (N, m) batches")
        A, B, _ = histogram_pair(out[0], out[1], *self.M.shape)
        return A, B

    def fit(
        self,
        A,
        B=None,
        *,
        n_iter: int = 1000,
        batch_size: int = 128,
        lr: float = 1e-3,
        lr_schedule: str = "cosine",
        clip_norm: float = 1.0,
        verbose: bool = False,
    ):
        """Train the network for ``n_iter`` Adam steps, continuing from the current weights.

        Parameters
        ----------
        A : (N, n) array, or callable
            Source histograms of the training problems (rows summing to 1), paired row by
            row with ``B``; or a sampler ``sampler(rng_or_key, batch_size) -> (A, B)``
            returning a fresh batch at each step: it receives a ``numpy.random.Generator``
            with framework 'torch' and a ``jax.random`` key with 'jax' (drawn from ``seed``).
        B : (N, m) array, optional
            Target histograms (None with a sampler).
        n_iter : int, default=1000
            Number of updates.
        batch_size : int, default=128
            Problems per update. From arrays, batches run through a random permutation of
            the rows, reshuffled at each pass.
        lr : float, default=1e-3
            Adam's (peak) learning rate.
        lr_schedule : {'cosine', 'constant'}, default='cosine'
            'cosine': a linear warm-up over the first 5% of the ``n_iter`` steps, then a
            half-cosine decay towards 0 at the end of this call; 'constant': ``lr`` at every
            step (the paper's schedule).
        clip_norm : float, default=1.0
            The gradient is rescaled to this global norm when larger.
        verbose : bool, default=False
            Print the loss every 100 steps.

        Returns
        -------
        self
        """
        from ._meta_train import LR_SCHEDULES, learning_rates

        n_iter = check_integer(n_iter, "n_iter", minimum=0)
        batch_size = check_integer(batch_size, "batch_size", minimum=1)
        lr = check_real(lr, "lr", minimum=0.0, inclusive=(False, True))
        lr_schedule = check_choice(lr_schedule, "lr_schedule", LR_SCHEDULES)
        clip_norm = check_real(clip_norm, "clip_norm", minimum=0.0, inclusive=(False, True))
        self._get_trainer()
        if callable(A):
            if B is not None:
                raise ValueError("B must be None when A is a sampler (it returns both batches)")
            batches = self._sampled(A, batch_size)
        else:
            if B is None:
                raise ValueError("B is required with an array A (or pass a sampler as A)")
            A_all, B_all, _ = histogram_pair(A, B, *self.M.shape)
            batches = self._batches(A_all, B_all, batch_size)
        for step, rate in enumerate(learning_rates(lr, n_iter, lr_schedule)):
            A_batch, B_batch = next(batches)
            loss = self._update(A_batch, B_batch, float(rate), clip_norm)
            if verbose and (step % 100 == 0 or step == n_iter - 1):
                print(f"step {self.n_steps_:6d}  loss {loss:.6g}")
        return self

    def _sampled(self, sampler, batch_size):
        while True:
            yield self._draw(sampler, batch_size)

    def _batches(self, A, B, batch_size):
        size = A.shape[0]
        batch_size = min(batch_size, size)
        while True:
            order = self._batch_rng.permutation(size)
            for start in range(0, size - batch_size + 1, batch_size):
                rows = order[start : start + batch_size]
                yield A[rows], B[rows]

    def partial_fit(self, a, b, *, lr: float = 1e-3, clip_norm: float = 1.0):
        """One Adam step on the problems ``(a, b)``: (n,) and (m,) histograms, or (N, n) and
        (N, m) batches; for instance on the problems being solved during deployment.

        Returns
        -------
        self
        """
        lr = check_real(lr, "lr", minimum=0.0, inclusive=(False, True))
        clip_norm = check_real(clip_norm, "clip_norm", minimum=0.0, inclusive=(False, True))
        A, B, _ = histogram_pair(a, b, *self.M.shape)
        self._update(A, B, lr, clip_norm)
        return self

    # -- prediction -----------------------------------------------------------------------

    def _predict_host(self, A, B, complete_rows=True, columns=True):
        """(f, g) on the host; ``complete_rows=False`` leaves f at 0 on the bins of zero
        weight (Sinkhorn does not read them) instead of a second c-transform;
        ``columns=False`` (which implies it) gives g = None, without its c-transform."""
        n, m = self.M.shape
        if self._model is None:
            if self._predict_weights is None:
                self._predict_weights = self.weights()
            # float32, the precision the weights were trained in: twice as fast as float64,
            # and its rounding (~1e-7 of the cost range) is far below any useful reg
            z = np.concatenate([n * A, m * B], axis=1, dtype=np.float32)
            f = self._cost_scale * _mlp_numpy(self._predict_weights, z).astype(np.float64)
        else:
            f = self._get_trainer().predict_f(A, B)
        f = np.where(A > 0, f, 0.0)
        if not columns:
            return f, None
        g = self._column_potentials(f, A)
        if complete_rows and np.any(A == 0):
            row_values = c_transform(g, B, self.M.T, self.reg)
            f = np.where(A > 0, f, row_values)
        return f, g

    def _column_potentials(self, f, A):
        """:func:`c_transform` by one product with the cached kernel, stabilized by the row
        minimum of M and the largest f of each problem; columns where every term underflows
        (costs beyond ~700 reg above the row minimum) fall back to the log domain."""
        if self._kernel is None:
            self._row_min = self.M.min(axis=1)
            self._kernel = np.exp(-(self.M - self._row_min[:, None]) / self.reg)
        shifted = np.where(A > 0, (f - self._row_min) / self.reg, -np.inf)
        top = np.max(shifted, axis=1, keepdims=True)
        with np.errstate(divide="ignore", under="ignore"):
            sums = (A * np.exp(shifted - top)) @ self._kernel
            g = -self.reg * (np.log(sums) + top)
        bad = ~np.isfinite(g) | (sums < 1e-250)  # near underflow: terms may have been lost
        if np.any(bad):
            rows = np.any(bad, axis=1)
            g[rows] = c_transform(f[rows], A[rows], self.M, self.reg)
        return g

    def predict(self, a, b):
        """Initial potentials ``(f, g)`` for the problem ``(a, b)``, or for a batch.

        Parameters
        ----------
        a, b : (n,) and (m,) arrays, or (N, n) and (N, m)
            Histograms on the support of ``M`` (non-negative, summing to 1); a single
            histogram is paired with every row of a batch.

        Returns
        -------
        f, g : (n,) and (m,) arrays, or (N, n) and (N, m)
            Potentials in cost units (``g`` the c-transform of ``f``), in the namespace,
            float dtype and device of ``a`` and ``b``.
        """
        return self._predict(a, b, complete_rows=True)

    def _predict(self, a, b, complete_rows, columns=True):
        self._check_fitted()
        xp = get_namespace(a=a, b=b)
        if is_traced(a, b):
            raise TypeError("MetaInitializer.predict runs on the host: call it outside jax.jit")
        A, B, single = histogram_pair(a, b, *self.M.shape)
        f, g = self._predict_host(A, B, complete_rows, columns)
        potentials = (f, g) if columns else (f,)
        if single:
            potentials = tuple(x[0] for x in potentials)
        like = [x for x in (a, b) if hasattr(x, "shape")]
        device = next((device_of(x) for x in like if device_of(x) is not None), None)
        dtype = result_float_dtype(xp, *like, device=device)
        return tuple(from_numpy(x, xp, dtype=dtype, device=device) for x in potentials)

    def init_potentials(self, a, b, M, reg):
        """The initializer interface of :func:`otkit.sinkhorn` (``init=``): :meth:`predict`
        for the problem ``(a, b, M, reg)``, which must be the one the model was trained for
        (``M`` and ``reg`` equal to the model's, else a ValueError); a 2-D ``b`` holds
        histograms in columns (potentials (n, k), (m, k))."""
        return self._start(a, b, M, reg, columns=True)

    def init_row_potentials(self, a, b, M, reg):
        """``f`` of :meth:`init_potentials` alone, without the c-transform that gives ``g``:
        :func:`otkit.sinkhorn` calls it (its first half step computes ``g`` from ``f``).

        Examples
        --------
        >>> import numpy as np, otkit as ot
        >>> x = np.linspace(0, 1, 5)[:, None]; M = ot.dist(x, x)
        >>> A = np.random.default_rng(0).dirichlet(np.ones(5), size=8)
        >>> init = ot.MetaInitializer(M, 0.1, hidden_sizes=(16,)).fit(A, A, n_iter=2)
        >>> f = init.init_row_potentials(A[0], A[1], M, 0.1)
        >>> bool(np.array_equal(f, init.init_potentials(A[0], A[1], M, 0.1)[0]))
        True
        """
        return self._start(a, b, M, reg, columns=False)[0]

    def _start(self, a, b, M, reg, columns):
        if M is not self._checked_cost:  # (the same M object: checked already)
            cost = np.asarray(to_numpy(M), dtype=np.float64)
            if cost.shape != self.M.shape or not np.allclose(cost, self.M, rtol=1e-6, atol=0):
                raise ValueError(
                    f"M differs from the cost matrix this MetaInitializer was built for "
                    f"({self.M.shape[0]} x {self.M.shape[1]}): a learned start is only valid "
                    "on it"
                )
            self._checked_cost = M
        # numpy.isclose's test (rtol 1e-6, atol 1e-8) without its array machinery
        if not abs(float(to_numpy(reg)) - self.reg) <= 1e-8 + 1e-6 * abs(self.reg):
            raise ValueError(f"reg={reg!r} differs from the model's reg={self.reg!r}")
        n, m = self.M.shape
        # on the host (the solver moves the start to its library): weights of two libraries
        a, b = _host_weights(a, n, "a"), _host_weights(b, m, "b")
        # Sinkhorn does not read f on zero-weight rows: no second c-transform for them
        potentials = self._predict(a, b.T if b.ndim == 2 else b, False, columns)
        return tuple(x.T for x in potentials) if b.ndim == 2 else potentials

    def score(self, a, b) -> float:
        """Mean entropic dual objective :math:`J` of the predicted potentials over the
        problems (float64); at most the mean regularized OT cost, equal at the optimum."""
        self._check_fitted()
        A, B, _ = histogram_pair(a, b, *self.M.shape)
        f, _ = self._predict_host(A, B)
        return float(np.mean(dual_objective(f, A, B, self.M, self.reg)))

    # -- files ----------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the fitted MLP to an ``.npz`` file (plain arrays, no pickle): the weights,
        ``M``, ``reg``, the layer sizes, the seed, the loss history and a format version.

        The optimizer state is not saved: training after :meth:`load` restarts Adam's
        moments. A user-supplied model is saved with its own framework instead.
        """
        from ._meta_io import write_npz

        self._check_fitted()
        if self._model is not None:
            raise ValueError(
                "save() writes the built-in MLP; save a user-supplied model with its framework "
                "(torch.save(model.state_dict()) for torch)"
            )
        write_npz(path, self, FORMAT_VERSION)

    @classmethod
    def load(cls, path, *, framework=None) -> MetaInitializer:
        """A fitted initializer from a file written by :meth:`save` (read without pickle;
        shapes and dtypes checked). ``framework`` is the one used if training continues
        (None: torch if installed, else jax); predicting needs neither."""
        from ._meta_io import read_npz

        fields = read_npz(path, FORMAT_VERSION)
        init = cls(
            fields["M"],
            fields["reg"],
            hidden_sizes=fields["hidden_sizes"],
            framework=framework,
            seed=fields["seed"],
        )
        init._weights = fields["weights"]
        init.loss_history_ = fields["loss_history"]
        init.n_steps_ = len(init.loss_history_)
        init._fitted = True
        return init

    def __repr__(self) -> str:
        n, m = self.M.shape
        network = f"hidden_sizes={self.hidden_sizes}" if self._model is None else "model=..."
        state = f"{self.n_steps_} steps" if self._fitted else "not fitted"
        return (
            f"MetaInitializer(M: ({n}, {m}), reg={self.reg:g}, {network}, "
            f"framework={self.framework!r}, seed={self.seed}; {state})"
        )
