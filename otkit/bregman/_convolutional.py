r"""Entropic barycenters of images on a regular grid by separable Gaussian convolutions
(Solomon et al. 2015): ``convolutional_barycenter2d`` and its debiased version.

On the grid :math:`x_i = i / (H - 1)`, :math:`y_j = j / (W - 1)` of the unit square (as POT),
the Gibbs kernel of the squared Euclidean cost factorises,
:math:`e^{-\|(x_i, y_j) - (x_k, y_l)\|^2 / \varepsilon} = K^H_{ik} K^W_{jl}` with
:math:`K^H_{ik} = e^{-(x_i - x_k)^2/\varepsilon}`, so applying it to an image :math:`X` is
:math:`K^H X K^W`: two small matrix products instead of a product with an
:math:`HW \times HW` matrix. All N images go through each product at once (a batched matrix
product). In the log domain each factor is a log-sum-exp along one axis,
:math:`\log(K^W e^{Y})` then :math:`\log(K^H e^{\cdot})`, stable at any
:math:`\varepsilon`. The iterative Bregman projections themselves are those of
:mod:`otkit._barycenter`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .._boundary import as_backend, input_float_dtype
from .._validation import check_ndim, check_not_empty
from ..backend import (
    device_of,
    get_namespace,
    is_traced,
    jit,
    logsumexp,
    logsumexp_add,
    requires_grad,
    result_float_dtype,
    to_numpy,
    workspace_like,
)
from ._barycenter import (
    check_barycenter_options,
    check_barycentric_weights,
    check_histograms,
    finish,
    loop_namespace,
    solve_loop,
)
from ._bregman_loop import iterative_bregman_projections
from ._sinkhorn import _check_reg

__all__ = [
    "SeparableGaussianKernel",
    "convolutional_barycenter2d",
    "convolutional_barycenter2d_debiased",
]


class SeparableGaussianKernel(NamedTuple):
    """Gaussian kernel of the unit-square grid acting on a batch ``(N, H, W)`` of images.

    The kernel is symmetric, so ``apply_t`` is ``apply``.
    """

    kernel_h: object  # (H, H)
    kernel_w: object  # (W, W)
    log_kernel_h: object
    log_kernel_w: object
    # (H, W, W) and (H, H, W) buffers for the two log-sum-exps, one image at a time (NumPy,
    # torch without autograd); None: batched log-sum-exps over (N, H, W, max(H, W)).
    workspaces: object = None

    @classmethod
    def on_grid(cls, height, width, eps, xp, dtype, device, log_domain):
        def log_factor(size):
            t = xp.linspace(0.0, 1.0, size, dtype=dtype, device=device)
            diff = t[:, None] - t[None, :]
            return diff * diff / (-eps)

        log_h, log_w = log_factor(height), log_factor(width)
        if log_domain:
            workspaces = None
            if not is_traced(log_h):
                along_w = workspace_like(log_w, xp, (height, width, width))
                along_h = workspace_like(log_h, xp, (height, height, width))
                workspaces = None if along_w is None else (along_w, along_h)
            return cls(None, None, log_h, log_w, workspaces)
        return cls(xp.exp(log_h), xp.exp(log_w), None, None)

    def apply(self, x, xp):
        # (N, H, W) @ (W, W) is one product over all rows of all images; K^H then acts on
        # every image by broadcasting.
        return self.kernel_h @ (x @ self.kernel_w)

    apply_t = apply

    def apply_into(self, x, out):
        """NumPy only: ``apply`` written into ``out``."""
        np.matmul(self.kernel_h, x @ self.kernel_w, out=out)

    apply_t_into = apply_into

    def log_apply(self, y, xp):
        if self.workspaces is None or requires_grad(y):
            along_w = logsumexp(
                self.log_kernel_w[None, None, :, :] + y[:, :, None, :], axis=3, xp=xp
            )
            return logsumexp(
                self.log_kernel_h[None, :, :, None] + along_w[:, None, :, :], axis=2, xp=xp
            )
        work_w, work_h = self.workspaces
        images = []
        for k in range(y.shape[0]):
            along_w = logsumexp_add(
                self.log_kernel_w[None, :, :], y[k][:, None, :], 2, xp, workspace=work_w
            )
            images.append(
                logsumexp_add(
                    self.log_kernel_h[:, :, None], along_w[None, :, :], 1, xp, workspace=work_h
                )
            )
        return xp.stack(images)

    log_apply_t = log_apply


def _prepare_images(A, reg, weights):
    eps = _check_reg(reg)
    xp = get_namespace(A=A, weights=weights)
    if isinstance(A, (list, tuple)):
        A = np.asarray(A)
    device = device_of(A)
    dtype = result_float_dtype(xp, A, device=device)
    input_dtype = input_float_dtype(A)
    A = as_backend(A, xp, dtype, device)
    check_ndim(A, "A", 3)
    check_not_empty(A, "A")
    if not is_traced(A):
        check_histograms(to_numpy(A, dtype=None), (1, 2), "A", input_dtype)
    w = check_barycentric_weights(weights, int(A.shape[0]), xp, dtype, device)
    return xp, eps, A, w, dtype, device


@functools.lru_cache(maxsize=32)
def _compiled(num_iter_max, tol, log_domain, debiased, shape, xp):
    def run(A, eps, w):
        op = SeparableGaussianKernel.on_grid(shape[0], shape[1], eps, xp, A.dtype, None, log_domain)
        return iterative_bregman_projections(
            A, w, op, num_iter_max, tol, xp, log_domain=log_domain, debiased=debiased
        )

    return jit(run, xp)


def _solve(A, reg, weights, method, numItermax, stopThr, verbose, log, warn, kw, debiased):
    method = check_barycenter_options(method, numItermax, stopThr, kw)
    xp, eps, A, w, dtype, device = _prepare_images(A, reg, weights)
    xp = loop_namespace(xp)
    traced = is_traced(A, w, eps)
    height, width = int(A.shape[1]), int(A.shape[2])
    numItermax, stopThr = int(numItermax), float(stopThr)

    def run_compiled(log_domain):
        return _compiled(numItermax, stopThr, log_domain, debiased, (height, width), xp)

    eps_arg = eps if traced else xp.asarray(eps, dtype=dtype)
    out = solve_loop(
        lambda log_domain: SeparableGaussianKernel.on_grid(
            height, width, eps, xp, dtype, device, log_domain
        ),
        A,
        w,
        (numItermax, stopThr, debiased, verbose),
        (run_compiled, (A, eps_arg, w)),
        xp,
        method,
        traced,
    )
    name = "convolutional_barycenter2d" + ("_debiased" if debiased else "")
    return finish(out, xp, traced, log, warn, name, stopThr, method, eps, lambda x: x)


_DOC_PARAMETERS = r"""
    Parameters
    ----------
    A : (N, H, W) array
        The N input images: non-negative, each summing to 1. Any size (H and W may differ).
    reg : float
        Entropic regularization :math:`\varepsilon > 0`, for the squared distance on the unit
        square (pixel (i, j) at :math:`(i / (H - 1), j / (W - 1))`, as POT).
    weights : (N,) array, optional
        Barycentric weights, non-negative, summing to 1 (uniform by default).
    method : {'sinkhorn', 'sinkhorn_log', 'sinkhorn_stabilized'}, default='sinkhorn'
        'sinkhorn': scaling iterations with two batched matrix products per convolution;
        rerun in the log domain when the scalings under- or overflow (eagerly).
        'sinkhorn_log': a log-sum-exp along each axis, stable at any ``reg``, memory
        O(N H W max(H, W)). 'sinkhorn_stabilized' runs 'sinkhorn_log'.
    numItermax : int, default=10000
        Maximum number of sweeps.
    stopThr : float, default=1e-4 (1e-3 for the debiased version, as POT)
        Stop when :math:`\sum_k w_k \|P_k \mathbf 1 - b\|_1 \le` ``stopThr`` (plus
        :math:`\|d \odot K d - b\|_1` for the debiased version).
    verbose : bool, default=False
        Print the error every 20 measures (eagerly).
    log : bool, default=False
        Also return a dict: ``err`` (error trace, as :func:`otkit.barycenter`), ``n_iter`` (and ``niter``),
        ``converged``, ``log_u``, ``log_v`` ((N, H, W) log-scalings), ``log_domain`` and,
        debiased only, ``log_d``.
    warn : bool, default=True
        One ``UserWarning`` if ``stopThr`` is not reached.

    Returns
    -------
    b : (H, W) array
        The barycenter image, in the library, dtype and device of ``A``.
    log : dict
        Only if ``log=True``.

    Raises
    ------
    ValueError
        reg not a positive finite number, images that are not 3-D or off the simplex,
        weights of the wrong shape, negative or not summing to 1, unknown method.

    Notes
    -----
    Backends: NumPy, array API libraries, torch (unrolled autodiff; CPU tensors that need no
    gradient run the in-place NumPy loop on zero-copy views) and JAX (compiled loop eagerly;
    ``jax.lax.while_loop`` under ``jax.jit``, not reverse-differentiable).

    References
    ----------
    .. [1] J. Solomon, F. de Goes, G. Peyre, M. Cuturi, A. Butscher, A. Nguyen, T. Du,
       L. Guibas. Convolutional Wasserstein distances: efficient optimal transportation on
       geometric domains. ACM Trans. Graph. 34(4), 2015.
    .. [2] H. Janati, M. Cuturi, A. Gramfort. Debiased Sinkhorn barycenters. ICML 2020.

    Examples
    --------
    >>> import numpy as np, otkit as ot
    >>> A = np.zeros((2, 9, 9)); A[0, 2, 2] = A[1, 6, 6] = 1.0
    >>> b = ot.convolutional_barycenter2d(A, 0.004)
    >>> tuple(int(i) for i in np.unravel_index(np.argmax(b), b.shape))
    (4, 4)
"""


def convolutional_barycenter2d(
    A,
    reg,
    weights=None,
    method="sinkhorn",
    numItermax=10000,
    stopThr=1e-4,
    verbose=False,
    log=False,
    warn=True,
    **kwargs,
):
    r"""Entropic Wasserstein barycenter of 2D images by Gaussian convolutions.

    .. math::
        b^\star = \arg\min_{b} \sum_{k=1}^N w_k\, W_\varepsilon(b, a_k)

    with :math:`W_\varepsilon` the entropic OT cost of :func:`otkit.barycenter` for the
    squared Euclidean distance between pixel centres on the unit square; the Gibbs kernel is
    applied as separable Gaussian convolutions.
    """
    return _solve(A, reg, weights, method, numItermax, stopThr, verbose, log, warn, kwargs, False)


def convolutional_barycenter2d_debiased(
    A,
    reg,
    weights=None,
    method="sinkhorn",
    numItermax=10000,
    stopThr=1e-3,
    verbose=False,
    log=False,
    warn=True,
    **kwargs,
):
    r"""Debiased entropic Wasserstein barycenter of 2D images (Janati et al. 2020).

    .. math::
        b^\star = \arg\min_{b} \sum_{k=1}^N w_k\, S_\varepsilon(b, a_k)

    with the Sinkhorn divergence :math:`S_\varepsilon` of :func:`otkit.barycenter_debiased`:
    sharp barycenters (identical inputs are their own barycenter), same convolutions.
    """
    return _solve(A, reg, weights, method, numItermax, stopThr, verbose, log, warn, kwargs, True)


convolutional_barycenter2d.__doc__ += _DOC_PARAMETERS
convolutional_barycenter2d_debiased.__doc__ += _DOC_PARAMETERS
