"""``SamplesLoss``: GeomLoss's loss object, on NumPy, torch and JAX, in otkit's units."""

from __future__ import annotations

from .._validation import check_choice
from ..bregman._divergence import sinkhorn_divergence

__all__ = ["SamplesLoss"]


class SamplesLoss:
    r"""The Sinkhorn divergence as a callable loss, with GeomLoss's signature.

    ``SamplesLoss("sinkhorn", p=2, blur=0.05, reach=None, debias=True, scaling=0.5)``
    called as ``loss(x, y)`` or ``loss(a, x, b, y)`` returns
    :func:`sinkhorn_divergence` ``(x, y, a, b, p=p, blur=blur, reach=reach, ...)``.

    Units follow otkit's conventions (DESIGN §1): the cost is :math:`\|x - y\|^p` (no
    1/p), :math:`\varepsilon = p\,\mathrm{blur}^p` and :math:`\rho = p\,\mathrm{reach}^p`,
    so the plans are GeomLoss's and the value is **p times** GeomLoss's (twice for p = 2;
    equal for p = 1). Gradients are the envelope-theorem ones, also with ``reach``, where
    GeomLoss's weight and position gradients are off by :math:`(\rho + \varepsilon/2) /
    (\rho + \varepsilon)`. Unlike GeomLoss, the last :math:`\varepsilon` is iterated to a
    tolerance (``stopThr``) instead of stopping after one iteration.

    Parameters
    ----------
    loss : {'sinkhorn'}, default='sinkhorn'
        Only the Sinkhorn divergence is provided.
    p : float, default=2
        Exponent of the cost :math:`\|x - y\|^p`.
    blur : float, default=0.05
        :math:`\sigma`, with :math:`\varepsilon = p\sigma^p`.
    reach : float, optional
        Unbalanced transport with :math:`\rho = p\,\mathrm{reach}^p`.
    diameter : float, optional
        Start of the annealing (default: from the data).
    scaling : float, default=0.5
        Blur factor per annealing stage.
    debias : bool, default=True
        :math:`S_\varepsilon` or :math:`\mathrm{OT}_\varepsilon`.
    potentials : bool, default=False
        Return the potentials ``(F, G)`` on ``x`` and ``y`` instead of the value
        (debiased: ``f_ab - f_aa`` and ``g_ab - g_bb``, as GeomLoss).
    backend : str, default='auto'
        Accepted for compatibility: the computation is always online (cost blocks
        recomputed from the points), on the backend of the inputs.
    **options
        ``stopThr``, ``numItermax``, ``batch_size`` of :func:`sinkhorn_divergence`.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> loss = ot.SamplesLoss("sinkhorn", p=2, blur=0.05)
    >>> x = np.random.default_rng(0).normal(size=(20, 2))
    >>> float(loss(x, x))
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
        truncate=None,
        cost=None,
        kernel=None,
        cluster_scale=None,
        debias=True,
        potentials=False,
        verbose=False,
        backend="auto",
        **options,
    ):
        backend = check_choice(
            backend, "backend", ("auto", "tensorized", "online", "multiscale"), case_sensitive=True
        )
        if loss != "sinkhorn":
            raise ValueError(f"only loss='sinkhorn' is provided, got {loss!r}")
        for name, value in (("cost", cost), ("kernel", kernel), ("cluster_scale", cluster_scale)):
            if value is not None:
                raise ValueError(f"{name}= is not supported (custom costs and clustering)")
        unknown = set(options) - {"stopThr", "numItermax", "batch_size"}
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        self.loss, self.p, self.blur, self.reach = loss, p, blur, reach
        self.diameter, self.scaling, self.debias = diameter, scaling, debias
        self.potentials, self.backend, self.options = potentials, backend, options

    def __repr__(self):
        return (
            f"SamplesLoss({self.loss!r}, p={self.p}, blur={self.blur}, reach={self.reach}, "
            f"debias={self.debias}, scaling={self.scaling})"
        )

    def __call__(self, *args):
        if len(args) == 2:
            (x, y), a, b = args, None, None
        elif len(args) == 4:
            a, x, b, y = args
        else:
            raise TypeError("call the loss as loss(x, y) or loss(a, x, b, y)")
        if getattr(x, "ndim", 2) == 3:
            raise ValueError("batched (B, N, D) inputs are not supported: loop over the batch")
        value, log = sinkhorn_divergence(
            x, y, a, b, p=self.p, blur=self.blur, reach=self.reach, debias=self.debias,
            scaling=self.scaling, diameter=self.diameter, log=True, **self.options,
        )  # fmt: skip
        if not self.potentials:
            return value
        if self.debias:
            return log["f"] - log["f_aa"], log["g"] - log["g_bb"]
        return log["f"], log["g"]
