"""``SamplesLoss``: GeomLoss's loss object, in GeomLoss's units, on NumPy, torch and JAX."""

from __future__ import annotations

from .._validation import check_choice, check_real
from ..backend import get_namespace, is_jax_namespace, is_numpy_namespace, result_float_dtype
from ._batched_sinkhorn import batched_sinkhorn_loss
from ._custom_cost import custom_cost_loss
from ._hausdorff import hausdorff_loss
from ._kernel_losses import KERNELS, kernel_loss
from ._multiscale_loss import check_multiscale_options, multiscale_loss
from ._sinkhorn_loss import sinkhorn_loss

__all__ = ["SamplesLoss"]

LOSSES = ("sinkhorn", "hausdorff") + KERNELS
BACKENDS = ("auto", "tensorized", "online", "multiscale")
_OPTIONS = ("stopThr", "numItermax", "batch_size")


class SamplesLoss:
    r"""GeomLoss's ``SamplesLoss``: the same losses, values, gradients and potentials.

    ``from otkit import SamplesLoss`` replaces ``from geomloss import SamplesLoss``: called
    as ``loss(x, y)`` (uniform weights), ``loss(a, x, b, y)`` or ``loss(l_x, a, x, l_y, b,
    y)`` (GeomLoss's cluster labels, accepted and ignored), on (N, D) / (M, D) point clouds
    or batches (B, N, D) / (B, M, D) with weights (N,) or (N, 1), (B, N) or (B, N, 1), it
    returns GeomLoss's value (a 0-d array, or (B,) for a batch) in the caller's namespace,
    dtype and device.

    **'sinkhorn'**: the debiased Sinkhorn divergence in GeomLoss's units, cost
    :math:`C(x, y) = \tfrac1p \|x - y\|^p`, :math:`\varepsilon = \mathrm{blur}^p`,
    :math:`\rho = \mathrm{reach}^p`:

    .. math::
        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
        - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta)
        + \tfrac\varepsilon2 (m(\alpha) - m(\beta))^2,

    with :math:`\mathrm{OT}_\varepsilon = \min_P \langle P, C\rangle + \varepsilon
    \mathrm{KL}(P \| \alpha\otimes\beta)` (+ :math:`\rho\,\mathrm{KL}` of the marginals
    with ``reach``); ``debias=False`` returns GeomLoss's :math:`\mathrm{OT}_\varepsilon`,
    which is that minimum plus :math:`\varepsilon (\frac{m(\alpha) + m(\beta)}{2} -
    m(\alpha) m(\beta))` (zero for probability measures). It is
    :func:`otkit.sinkhorn_divergence` ``(x, y, a, b, p=p, blur=blur, reach=reach) / p``
    (otkit's own functions keep otkit's units: cost :math:`\|x - y\|^p`, ε = p blur^p).
    GeomLoss runs one Sinkhorn iteration per annealing stage and stops; otkit anneals the
    same way (``scaling``, ``diameter``) and then iterates at ε until the marginal error is
    below ``stopThr``, so its value is the converged one: GeomLoss's approaches it as
    ``scaling`` tends to 1 (at ``scaling=0.5`` they differ by up to a few percent).
    A batch is one solve (NumPy, torch: batched c-transforms, each problem iterated to its
    own ``stopThr`` and frozen once converged; JAX: the per-problem engine under
    ``jax.vmap``): each value is the separate solve's to that tolerance. float32 input
    whose blur float32 cannot resolve (GeomLoss's usual ``blur=0.01`` on unit-size data:
    the potentials' rounding would exceed ``stopThr``) is solved in float64 on its device
    and returned in float32 (value, potentials, gradients), as by
    :func:`otkit.sinkhorn_divergence`; only a blur below what float64 resolves is an error.
    Unbalanced problems take the best translation (F + t, G - t) of the potentials at each
    iteration [3]_, so small blurs converge in hundreds of iterations,
    not thousands.

    **'energy', 'gaussian', 'laplacian'**: the kernel norm
    :math:`\tfrac12 \langle \alpha - \beta, k \star (\alpha - \beta)\rangle` with
    :math:`k(x, y) = -\|x - y\|`, :math:`\exp(-\|x - y\|^2 / 2\,\mathrm{blur}^2)`,
    :math:`\exp(-\|x - y\| / \mathrm{blur})`, computed block by block (no N x M matrix),
    with the exact distance (GeomLoss adds 1e-8 under its square roots: relative
    differences near 1e-4 for 'energy' and 'laplacian'). ``kernel=``, a function
    ``kernel(x, y, blur=blur)`` of (B, N, D), (B, M, D) arrays returning (B, N, M) (as in
    GeomLoss), replaces k, densely, with gradients by autodiff.

    **'hausdorff'**: the entropic Hausdorff divergence (Feydy et al. 2019, sec. 3), the
    symmetric Bregman divergence of :math:`F(\alpha) = -\tfrac12
    \mathrm{OT}_\varepsilon(\alpha, \alpha)`:

    .. math::
        H_\varepsilon(\alpha, \beta) = \tfrac12 \langle \alpha - \beta,
        \psi(s_\beta) - \psi(s_\alpha) \rangle, \qquad
        s_\alpha(x) = -\lambda\varepsilon \log \sum_k \alpha_k
        e^{(p_k - C(x, x_k)) / \varepsilon},

    where :math:`p = s_\alpha(x_k)` on the points of :math:`\alpha` is its entropic
    self-transport potential (a fixed point), :math:`\lambda = 1` and :math:`\psi(s) = s`
    when balanced, :math:`\lambda = \rho / (\rho + \varepsilon)` and
    :math:`\psi(s) = (\rho + \varepsilon)(1 - e^{-s/\rho})` with ``reach``. It is >= 0,
    zero iff :math:`\alpha = \beta` and tends to the chamfer (ICP) loss
    :math:`\tfrac12 \langle\alpha, \min_j C(\cdot, y_j)\rangle + \tfrac12
    \langle\beta, \min_i C(x_i, \cdot)\rangle` as blur -> 0 and to the kernel norm of
    :math:`-C` (for p = 1 the energy distance) as blur -> infinity. ``debias=False`` drops
    the self terms :math:`-\tfrac12\langle\alpha, \psi(p_\alpha)\rangle -
    \tfrac12\langle\beta, \psi(p_\beta)\rangle` (the biased soft chamfer loss). Computed
    block by block (no N x M matrix); p in (0, 2] (a positive definite Gibbs kernel). Its
    gradients are exact: implicit differentiation of the fixed points (a conjugate
    gradient, a few passes over the costs). GeomLoss 0.3.1 lists this loss but routes it to
    its kernel norm, which fails without ``kernel=``: with ``kernel=`` otkit computes that
    kernel norm too (densely), as GeomLoss.

    **cost=**: GeomLoss's 'tensorized' convention, a function ``cost(x, y)`` of (B, N, D),
    (B, M, D) arrays (in the caller's library) returning the (B, N, M) cost matrix, in its
    own units (ε = blur^p, ρ = reach^p are compared with it directly, as in GeomLoss). It
    replaces :math:`\|x - y\|^p / p` for 'sinkhorn' and 'hausdorff': the matrices
    C(x, y), C(x, x), C(y, y) are stored, a batch is solved at once, and gradients come by
    autodiff through the function at the solution (envelope for 'sinkhorn', the implicit
    adjoint for 'hausdorff'). The cost must be symmetric, :math:`C(y, x) = C(x, y)^\top`.

    Parameters
    ----------
    loss : {'sinkhorn', 'hausdorff', 'energy', 'gaussian', 'laplacian'}, default='sinkhorn'
    p : float, default=2
        'sinkhorn': the cost :math:`\|x - y\|^p / p` (GeomLoss: 1 or 2; any p > 0 here).
    blur : float, default=0.05
        'sinkhorn': :math:`\varepsilon = \mathrm{blur}^p`; 'gaussian', 'laplacian': the
        kernel's width; 'energy': unused.
    reach : float, optional
        'sinkhorn', 'hausdorff': unbalanced, with :math:`\rho = \mathrm{reach}^p`.
    diameter : float, optional
        Start of the annealing, in point units (default: the bounding box diagonal).
    scaling : float, default=0.5
        Factor of the blur per annealing stage, in (0, 1).
    truncate : float or None, default=5
        ``backend='multiscale'``: kernel truncation, as GeomLoss: a pair of point blocks is
        skipped when a lower bound of its reduced cost :math:`C - f - g` exceeds
        ``truncate`` ε, so every neglected plan entry is below :math:`a_i b_j
        e^{-\mathrm{truncate}}` and each :math:`\mathrm{OT}_\varepsilon` term moves by at
        most :math:`\varepsilon e^{-\mathrm{truncate}} m(\alpha) m(\beta)` (the debiased
        value by at most twice that for probability measures); None: no truncation (exact).
        Unused by the other engines (exact).
    cost : callable, optional
        A function ``cost(x, y)`` returning (B, N, M) (see above); None: the cost
        :math:`\|x - y\|^p / p`. GeomLoss's KeOps formula strings are a ValueError.
    kernel : callable, optional
        The kernel of 'hausdorff' and of the kernel losses (see above).
    cluster_scale : float, optional
        ``backend='multiscale'``: the cell size of the grid clusters, in point units
        (default, as GeomLoss: diameter / (sqrt(D) 2000^(1/D)), about 2000 cells in the
        bounding box). Unused by the other engines.
    debias : bool, default=True
        'sinkhorn': :math:`S_\varepsilon` or GeomLoss's :math:`\mathrm{OT}_\varepsilon`.
    potentials : bool, default=False
        Return the potentials ``(F, G)`` on x and y instead of the value, in GeomLoss's
        units and shapes: (1, N), (1, M) for unbatched input ((N,), (M,) when the backend
        is 'multiscale', or 'auto' where GeomLoss would pick it), (B, N), (B, M) for a
        batch. 'sinkhorn': :math:`F = f_{ab} - f_{aa}`, :math:`G = g_{ab} - g_{bb}`
        (``debias=False``: :math:`f_{ab}`, :math:`g_{ab}`); balanced ones are defined up to
        :math:`(F + c, G - c)` and otkit takes :math:`\langle \alpha, F\rangle =
        \langle \beta, G\rangle`. Kernel losses: :math:`F = k\star(\alpha - \beta)`,
        :math:`G = k\star(\beta - \alpha)`. 'hausdorff': the derivatives of the value
        with respect to the weights.
    verbose : bool, default=False
        'sinkhorn', 'hausdorff': print ε, the iterations and the final error.
    backend : {'auto', 'tensorized', 'online', 'multiscale'}, default='auto'
        'auto' and 'tensorized': otkit's dense engine where the cost matrix fits (256 MiB),
        blocks beyond; 'online': cost blocks recomputed from the points (no N x M matrix);
        'multiscale': coarse-to-fine (unbatched input): ε-scaling on the grid clusters'
        masses at their centroids while the blur exceeds ``cluster_scale``, the coarse
        potentials extrapolated to the points by one c-transform, then the remaining
        stages and the final iterations over the kept blocks of ``truncate`` only (points
        sorted by cluster in Z order, blocks of up to 128 points; the kept set is checked
        against the converged potentials and enlarged if they need more, or dropped if the
        truncated loop does not converge); memory O((n + m) d) plus the block masks;
        gradients by the envelope theorem on the truncated problem. Under JAX
        transformations (``jit``, ``grad``, ``vmap``: data-dependent cluster shapes), on
        batches, on identical clouds and at huge blurs it runs the online engine.
    **options
        ``stopThr``, ``numItermax``, ``batch_size`` (rows per cost block) of
        :func:`otkit.sinkhorn_divergence`.

    Returns
    -------
    value : 0-d or (B,) array
        In GeomLoss's units (the cost :math:`\|x - y\|^p / p`). Differentiable (torch, JAX)
        w.r.t. points and weights, with the gradient of the value returned. GeomLoss's
        gradient with ``reach`` is not that of its value: its weight and point gradients
        are :math:`(\rho + \varepsilon/2) / (\rho + \varepsilon)` times the finite
        differences of its own value (0.875 at p = 1, blur = 0.1, reach = 0.3); otkit's
        match the finite differences. Balanced weight gradients are defined up to a
        constant (the masses are fixed): otkit's are the potentials F, G above.

    Raises
    ------
    ValueError
        Unknown ``loss`` or ``backend``, bad shapes, a KeOps formula as ``cost`` (or a cost
        function with ``backend='online'``/``'multiscale'``, or of the wrong shape),
        'hausdorff' with p > 2, and the errors of :func:`otkit.sinkhorn_divergence`.
    TypeError
        A call with other than 2, 4 or 6 arguments, unknown options, a ``cost`` that is
        not a function.

    References
    ----------
    .. [1] J. Feydy, T. Sejourne, F.-X. Vialard, S. Amari, A. Trouve, G. Peyre.
       Interpolating between optimal transport and MMD using Sinkhorn divergences.
       AISTATS 2019.
    .. [2] T. Sejourne, J. Feydy, F.-X. Vialard, A. Trouve, G. Peyre. Sinkhorn divergences
       for unbalanced optimal transport. arXiv:1910.12958, 2019.
    .. [3] T. Sejourne, F.-X. Vialard, G. Peyre. Faster unbalanced optimal transport:
       translation invariant Sinkhorn and 1-D Frank-Wolfe. AISTATS 2022.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(20, 2)), rng.normal(size=(30, 2)) + 1.0
    >>> loss = ot.SamplesLoss("sinkhorn", p=2, blur=0.05)
    >>> float(loss(x, x))
    0.0
    >>> value = float(loss(x, y))   # about |shift|^2 / 2 = 1 in GeomLoss's units
    >>> abs(float(ot.SamplesLoss("energy")(x, x))) < 1e-12
    True
    >>> float(ot.SamplesLoss("hausdorff", blur=0.1)(x, x))   # exactly 0 on equal measures
    0.0
    """

    def __init__(
        self,
        loss="sinkhorn",
        p=2,
        blur=0.05,
        reach=None,
        diameter=None,
        scaling=0.5,
        truncate=5,
        cost=None,
        kernel=None,
        cluster_scale=None,
        debias=True,
        potentials=False,
        verbose=False,
        backend="auto",
        **options,
    ):
        self.loss = check_choice(loss, "loss", LOSSES, case_sensitive=True)
        self.backend = check_choice(backend, "backend", BACKENDS, case_sensitive=True)
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        if isinstance(cost, str):
            raise ValueError(  # noqa: TRY004 (a value GeomLoss accepts elsewhere, refused here)
                f"cost={cost!r} is a KeOps formula, which only GeomLoss's KeOps backends "
                "('online', 'multiscale') understand; pass a function cost(x, y) of (B, N, D), "
                "(B, M, D) arrays returning the (B, N, M) cost matrix (GeomLoss's "
                "'tensorized' convention), or None for |x - y|^p / p"
            )
        if cost is not None and not callable(cost):
            raise TypeError(f"cost must be a function cost(x, y) or None, got {cost!r}")
        if cost is not None and self.loss not in ("sinkhorn", "hausdorff"):
            raise ValueError(f"cost= has no meaning for loss={loss!r} (a kernel norm)")
        if cost is not None and self.backend in ("online", "multiscale"):
            raise ValueError(
                f"a cost function is evaluated as dense (B, N, M) matrices, GeomLoss's "
                f"'tensorized' convention: use backend='auto' or 'tensorized', not "
                f"{backend!r}"
            )
        if kernel is not None and not callable(kernel):
            raise TypeError(f"kernel must be a function kernel(x, y, blur=...), got {kernel!r}")
        if self.loss == "sinkhorn" and kernel is not None:
            raise ValueError("kernel= has no meaning for loss='sinkhorn'")
        if kernel is not None and cost is not None:
            raise ValueError("pass kernel= (a kernel norm) or cost= (a transport cost), not both")
        uses_reach = self.loss == "sinkhorn" or (self.loss == "hausdorff" and kernel is None)
        if reach is not None and not uses_reach:
            raise ValueError(
                f"reach= is only supported with loss='sinkhorn' or 'hausdorff' (without "
                f"kernel=), not {loss!r}"
            )
        if self.loss == "hausdorff" and kernel is None:
            blur = check_real(blur, "blur", minimum=0, inclusive=(False, True))
            if reach is not None:
                reach = check_real(reach, "reach", minimum=0, inclusive=(False, True))
            if cost is None:
                # the fixed point and its adjoint need a positive definite Gibbs kernel
                p = check_real(p, "p", minimum=0, maximum=2, inclusive=(False, True))
        if self.loss in ("gaussian", "laplacian"):
            blur = check_real(blur, "blur", minimum=0, inclusive=(False, True))
        if self.backend == "multiscale":
            cluster_scale, truncate = check_multiscale_options(cluster_scale, truncate)
        self.p, self.blur, self.reach, self.diameter = p, blur, reach, diameter
        self.scaling, self.truncate, self.cost, self.kernel = scaling, truncate, cost, kernel
        self.cluster_scale, self.debias, self.potentials = cluster_scale, debias, potentials
        self.verbose, self.options = verbose, options

    def __repr__(self):
        return (
            f"SamplesLoss({self.loss!r}, p={self.p}, blur={self.blur}, reach={self.reach}, "
            f"debias={self.debias}, scaling={self.scaling}, backend={self.backend!r})"
        )

    def __call__(self, *args):
        a, x, b, y, xp, batched = _parse_call(args)
        multiscale_shape = self._multiscale(x, y)
        if self.cost is not None:
            out = custom_cost_loss(self, a, x, b, y, xp, batched)
        elif self.loss == "sinkhorn":
            out = self._sinkhorn(a, x, b, y, xp, batched)
        elif self.loss == "hausdorff" and self.kernel is None:
            out = self._hausdorff(a, x, b, y, xp, batched)
        else:
            out = self._kernel(a, x, b, y, xp, batched)
        if self.potentials and not batched:
            f, g = out
            if multiscale_shape:
                return f, g
            return xp.reshape(f, (1, -1)), xp.reshape(g, (1, -1))
        return out

    def _multiscale(self, x, y):
        """Whether GeomLoss would run its multiscale engine (it returns (N,) potentials)."""
        if x.ndim == 3:
            return False
        if self.backend == "multiscale":
            return True
        n, d, m = x.shape[0], x.shape[1], y.shape[0]
        return (
            self.backend == "auto" and n * m > 10000**2 and d <= 3
            and self.loss == "sinkhorn" and self.p == 2
        )  # fmt: skip

    def _block(self, xp, m):
        if "batch_size" in self.options:
            return self.options["batch_size"]
        if self.backend in ("online", "multiscale"):
            return max(1, (2**16 if is_numpy_namespace(xp) else 2**21) // max(m, 1))
        return None

    def _sinkhorn(self, a, x, b, y, xp, batched):
        options = {k: v for k, v in self.options.items() if k != "batch_size"}
        if batched and not is_jax_namespace(xp):
            out = batched_sinkhorn_loss(
                a, x, b, y, p=self.p, blur=self.blur, reach=self.reach, debias=self.debias,
                scaling=self.scaling, diameter=self.diameter, potentials=self.potentials,
                verbose=self.verbose, options=options, xp=xp,
                block=self.options.get("batch_size", 0),
                store=self.backend in ("auto", "tensorized") and "batch_size" not in self.options,
            )  # fmt: skip
            if out is not None:
                return out
        if self.backend == "multiscale" and not batched:
            return multiscale_loss(
                a, x, b, y, p=self.p, blur=self.blur, reach=self.reach, debias=self.debias,
                scaling=self.scaling, diameter=self.diameter, potentials=self.potentials,
                cluster_scale=self.cluster_scale, truncate=self.truncate,
                batch_size=self.options.get("batch_size"), verbose=self.verbose,
                options=options, xp=xp,
            )  # fmt: skip

        def one(a, x, b, y):
            return sinkhorn_loss(
                a, x, b, y, p=self.p, blur=self.blur, reach=self.reach, debias=self.debias,
                scaling=self.scaling, diameter=self.diameter, potentials=self.potentials,
                batch_size=self._block(xp, y.shape[0]), verbose=self.verbose,
                options=options, xp=xp,
            )  # fmt: skip

        return self._each(one, a, x, b, y, xp, batched)

    def _hausdorff(self, a, x, b, y, xp, batched):
        def one(a, x, b, y):
            return hausdorff_loss(
                a, x, b, y, p=self.p, blur=self.blur, reach=self.reach, debias=self.debias,
                potentials=self.potentials, batch_size=self._block(xp, y.shape[0]) or 0,
                verbose=self.verbose, options=self.options, xp=xp,
            )  # fmt: skip

        return self._each(one, a, x, b, y, xp, batched)

    def _each(self, one, a, x, b, y, xp, batched):
        """``one`` on the problem, or on each problem of a batch (stacked results)."""
        if not batched:
            return one(a, x, b, y)
        if is_jax_namespace(xp) and not self.verbose:
            # one batched program: the solve vectorized over the batch (jax.vmap)
            import jax

            axes = (None if a is None else 0, 0, None if b is None else 0, 0)
            return jax.vmap(one, in_axes=axes)(a, x, b, y)
        # One solve per batch element (the point-cloud engines solve one problem at a time).
        outs = [
            one(
                None if a is None else a[k, ...],
                x[k, ...],
                None if b is None else b[k, ...],
                y[k, ...],
            )
            for k in range(x.shape[0])
        ]
        if self.potentials:
            return xp.stack([f for f, _ in outs]), xp.stack([g for _, g in outs])
        return xp.stack(outs)

    def _kernel(self, a, x, b, y, xp, batched):
        dtype = x.dtype
        if not batched:
            x, y = x[None, ...], y[None, ...]
            a = None if a is None else a[None, :]
            b = None if b is None else b[None, :]
        batch, n, m = x.shape[0], x.shape[1], y.shape[1]
        if a is None:
            a = xp.ones((batch, n), dtype=dtype, device=_device(x)) / n
        if b is None:
            b = xp.ones((batch, m), dtype=dtype, device=_device(y)) / m
        if self.kernel is not None:
            out = _custom_kernel_loss(self.kernel, self.blur, a, x, b, y, xp, self.potentials)
        else:
            out = kernel_loss(self.loss, self.blur, a, x, b, y, xp, potentials=self.potentials,
                              block=self.options.get("batch_size"))  # fmt: skip
        if batched:
            return out
        if self.potentials:
            return out[0][0, ...], out[1][0, ...]
        return out[0, ...]


def _device(x):
    from ..backend import device_of

    return device_of(x)


def _custom_kernel_loss(kernel, blur, a, x, b, y, xp, potentials):
    """The kernel norm of a user kernel (B, N, M matrices), as GeomLoss's dense engine."""
    k_xx, k_yy, k_xy = kernel(x, x, blur=blur), kernel(y, y, blur=blur), kernel(x, y, blur=blur)
    a_x = xp.matmul(k_xx, a[:, :, None])[:, :, 0]
    b_y = xp.matmul(k_yy, b[:, :, None])[:, :, 0]
    b_x = xp.matmul(k_xy, b[:, :, None])[:, :, 0]
    if potentials:
        a_y = xp.matmul(xp.permute_dims(k_xy, (0, 2, 1)), a[:, :, None])[:, :, 0]
        return a_x - b_x, b_y - a_y
    return 0.5 * xp.sum(a * a_x, axis=1) + 0.5 * xp.sum(b * b_y, axis=1) - xp.sum(a * b_x, axis=1)


def _parse_call(args):
    """(a, x, b, y, xp, batched) from loss(x, y), loss(a, x, b, y) or the 6-argument form."""
    if len(args) == 2:
        (x, y), a, b = args, None, None
    elif len(args) == 4:
        a, x, b, y = args
    elif len(args) == 6:
        _, a, x, _, b, y = args  # GeomLoss's cluster labels: only its multiscale engine uses them
    else:
        raise TypeError(
            f"call the loss as loss(x, y), loss(a, x, b, y) or loss(l_x, a, x, l_y, b, y); "
            f"got {len(args)} arguments"
        )
    xp = get_namespace(X_s=x, X_t=y, a=a, b=b)
    dtype = result_float_dtype(xp, x, y, a, b)
    # (no asarray of a tensor: torch warns when it requires a gradient)
    x, y = (v if hasattr(v, "ndim") else xp.asarray(v) for v in (x, y))
    if x.ndim not in (2, 3) or y.ndim != x.ndim:
        raise ValueError(
            f"x and y must be (N, D), (M, D) point clouds or (B, N, D), (B, M, D) batches, got "
            f"x.shape == {tuple(x.shape)}, y.shape == {tuple(y.shape)}"
        )
    if x.shape[-1] != y.shape[-1] or (x.ndim == 3 and x.shape[0] != y.shape[0]):
        raise ValueError(
            f"x.shape == {tuple(x.shape)} and y.shape == {tuple(y.shape)} must agree on the "
            "batch size and the dimension D"
        )
    x, y = xp.astype(x, dtype), xp.astype(y, dtype)
    batched = x.ndim == 3
    a = _weights(a, "a", x, xp, dtype)
    b = _weights(b, "b", y, xp, dtype)
    return a, x, b, y, xp, batched


def _weights(w, name, points, xp, dtype):
    if w is None:
        return None
    w = w if hasattr(w, "ndim") else xp.asarray(w)
    expected = tuple(points.shape[:-1])
    if w.ndim == len(expected) + 1 and w.shape[-1] == 1:
        w = xp.reshape(w, expected)
    if tuple(w.shape) != expected:
        raise ValueError(
            f"{name}.shape == {tuple(w.shape)}, expected {expected} (or with a trailing 1) to "
            f"match the points' shape {tuple(points.shape)}"
        )
    return xp.astype(w, dtype)
