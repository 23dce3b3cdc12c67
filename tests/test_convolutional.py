"""Convolutional (separable Gaussian kernel) barycenters of images on a grid."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot

METHODS = ["sinkhorn", "sinkhorn_log"]


def _blob(height, width, cy, cx, s):
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.exp(-((yy / (height - 1) - cy) ** 2 + (xx / (width - 1) - cx) ** 2) / (2 * s * s))
    return img / img.sum()


def _images(height=7, width=5):
    return np.stack([_blob(height, width, 0.3, 0.3, 0.2), _blob(height, width, 0.7, 0.6, 0.3)])


def _grid_cost(height, width):
    yy, xx = np.mgrid[0:height, 0:width]
    points = np.stack([yy.ravel() / (height - 1), xx.ravel() / (width - 1)], axis=1)
    return ot.dist(points, points)


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("method", METHODS)
def test_convolution_equals_the_dense_kernel_of_the_grid(method, debiased):
    # exp(-|p - q|^2 / reg) on the unit-square grid factorises over the two axes: the
    # convolutional barycenter of non-square images is the dense one on the flattened grid.
    A = _images(7, 5)
    weights = np.array([0.3, 0.7])
    conv = ot.convolutional_barycenter2d_debiased if debiased else ot.convolutional_barycenter2d
    dense = ot.barycenter_debiased if debiased else ot.barycenter
    b = conv(A, 0.05, weights=weights, method=method, stopThr=1e-7)
    expected = dense(
        A.reshape(2, -1).T, _grid_cost(7, 5), 0.05, weights=weights, method=method, stopThr=1e-7
    )
    assert b.shape == (7, 5)
    np.testing.assert_allclose(b.ravel(), expected, atol=1e-12)


def test_barycenter_of_translated_blobs_is_centred_between_them():
    # A blob translated by +-t: the barycenter's centroid is the mean position (the
    # translation equivariance of W2 barycenters, up to the square's boundary: the blobs sit
    # away from it).
    A = np.stack([_blob(30, 40, 0.5, 0.35, 0.06), _blob(30, 40, 0.5, 0.65, 0.06)])
    b = ot.convolutional_barycenter2d_debiased(A, 2e-3, stopThr=1e-6)
    yy, xx = np.mgrid[0:30, 0:40]
    centroid = [(b * yy / 29).sum(), (b * xx / 39).sum()]
    np.testing.assert_allclose(centroid, [0.5, 0.5], atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_debiased_of_identical_images_is_the_image(method):
    img = _blob(12, 9, 0.4, 0.5, 0.2)
    b = ot.convolutional_barycenter2d_debiased(
        np.stack([img, img]), 0.02, method=method, stopThr=1e-8
    )
    np.testing.assert_allclose(b, img, atol=1e-5)  # slow tail: see test_barycenter.py


def test_debiased_with_weights_one_zero_is_the_first_image():
    A = _images(9, 8)
    b = ot.convolutional_barycenter2d_debiased(A, 0.02, weights=np.array([1.0, 0.0]), stopThr=1e-8)
    np.testing.assert_allclose(b, A[0], atol=1e-5)


def test_small_reg_runs_in_the_log_domain():
    # At reg = 1e-4 on a 40 x 40 grid exp(-1/reg) underflows: 'sinkhorn' switches to the
    # log domain and returns the log-domain result instead of NaN.
    A = np.stack([_blob(40, 40, 0.3, 0.3, 0.05), _blob(40, 40, 0.7, 0.7, 0.05)])
    b, log = ot.convolutional_barycenter2d(A, 1e-4, log=True, numItermax=50, warn=False)
    assert log["log_domain"]
    assert np.all(np.isfinite(b))
    b_log = ot.convolutional_barycenter2d(A, 1e-4, method="sinkhorn_log", numItermax=50, warn=False)
    np.testing.assert_allclose(b, b_log, atol=1e-12)


@pytest.mark.parametrize("method, debiased", [("sinkhorn", False), ("sinkhorn_log", True)])
def test_convolutional_on_every_backend(xp, dtype_name, method, debiased):
    A = _images(6, 5)
    conv = ot.convolutional_barycenter2d_debiased if debiased else ot.convolutional_barycenter2d
    A_x = to_xp(xp, A, dtype_name)
    b = conv(A_x, 0.05, method=method, stopThr=1e-5)
    assert_same_backend(b, A_x)
    assert tuple(b.shape) == (6, 5)
    atol = 1e-10 if dtype_name == "float64" else 1e-5
    np.testing.assert_allclose(to_np(b), conv(A, 0.05, method=method, stopThr=1e-5), atol=atol)


@pytest.mark.parametrize("method", ["sinkhorn_log"])
def test_convolutional_under_jax_jit(method):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    A = _images(6, 5)
    fn = jax.jit(lambda A: ot.convolutional_barycenter2d(A, 0.05, method=method, stopThr=1e-7))
    np.testing.assert_allclose(
        np.asarray(fn(jax.numpy.asarray(A))),
        ot.convolutional_barycenter2d(A, 0.05, method=method, stopThr=1e-7),
        atol=1e-12,
    )


def test_convolutional_non_convergence_warns():
    with pytest.warns(UserWarning, match="convolutional_barycenter2d did not converge"):
        ot.convolutional_barycenter2d(_images(), 0.05, numItermax=2)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"A": np.full((2, 3, 3), 0.2)}, ValueError, "each histogram of A must sum to 1"),
        ({"A": np.full((3, 3), 1 / 9)}, ValueError, "A must be a 3-D array"),
        ({"weights": np.array([0.5, 0.6])}, ValueError, "weights must sum to 1"),
        ({"weights": np.ones(3) / 3}, ValueError, r"weights.shape == \(3,\), expected \(2,\)"),
        ({"reg": 0.0}, ValueError, "reg must be a finite real number > 0"),
        ({"method": "greenkhorn"}, ValueError, "method must be one of"),
    ],
)
def test_convolutional_bad_input(kwargs, error, message):
    args = {"A": np.full((2, 3, 3), 1 / 9), "reg": 0.1}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        ot.convolutional_barycenter2d(**args)


def test_convolutional_is_reachable_under_pot_names():
    assert ot.bregman.convolutional_barycenter2d is ot.convolutional_barycenter2d
    assert ot.bregman.convolutional_barycenter2d_debiased is ot.convolutional_barycenter2d_debiased
