"""Entropic free-support barycenter (Sinkhorn plans on online point clouds)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot


def _grid(rng, scale=1.0, noise=0.05):
    """A perturbed 3 x 3 grid of spacing ``scale``: well separated atoms."""
    g = np.stack(np.meshgrid(np.arange(3.0), np.arange(3.0)), axis=-1).reshape(-1, 2)
    return scale * (g + noise * rng.normal(size=g.shape))


def _clouds(rng, sizes=(10, 10, 10)):
    spreads, shifts = (1.0, 0.7, 1.3), ([0.0, 0.0], [3.0, 1.0], [-1.0, 2.0])
    return [rng.normal(size=(m, 2)) * s + t for m, s, t in zip(sizes, spreads, shifts)]


def test_public_names():
    assert ot.bregman.free_support_sinkhorn_barycenter is ot.free_support_sinkhorn_barycenter
    assert "free_support_sinkhorn_barycenter" in ot.__all__
    assert "free_support_sinkhorn_barycenter" in ot.bregman.__all__


def test_matches_numpy_on_every_backend(xp, dtype_name):
    # Same algorithm on every backend; a fixed number of steps (stopThr=0) so that the
    # runs compare step for step. float64: the Sinkhorn solves stop at a marginal error
    # <= 1e-9 (L2, mass units), which moves a row's projection by at most about
    # err / b_i * diameter = 1e-9 * 8 * 6 ~ 5e-8 per step. float32: inner_tol = 1e-5 by
    # default, so 5e-4 per step, and 3 steps.
    rng = np.random.default_rng(0)
    Ys = _clouds(rng)
    nus = [np.full(10, 0.1)] * 3
    X0 = rng.normal(size=(8, 2))
    kwargs = {"reg": 0.5, "numItermax": 3, "stopThr": 0.0}
    expected = ot.free_support_sinkhorn_barycenter(Ys, nus, X0, **kwargs)
    X0_x = to_xp(xp, X0, dtype_name)
    X = ot.free_support_sinkhorn_barycenter(
        [to_xp(xp, y, dtype_name) for y in Ys],
        [to_xp(xp, nu, dtype_name) for nu in nus],
        X0_x,
        **kwargs,
    )
    assert_same_backend(X, X0_x)
    assert tuple(X.shape) == (8, 2)
    atol = 1e-7 if dtype_name == "float64" else 2e-3
    np.testing.assert_allclose(to_np(X), expected, atol=atol)


def test_numpy_weights_with_torch_points():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    Ys = _clouds(rng, sizes=(6, 7, 8))
    nus = [ot.unif(len(y)) for y in Ys]
    X0 = rng.normal(size=(5, 2))
    expected = ot.free_support_sinkhorn_barycenter(Ys, nus, X0, reg=0.5, numItermax=2)
    X = ot.free_support_sinkhorn_barycenter(
        [torch.as_tensor(y) for y in Ys], nus, torch.as_tensor(X0), reg=0.5, numItermax=2
    )
    assert isinstance(X, torch.Tensor) and X.dtype == torch.float64
    np.testing.assert_allclose(X.numpy(), expected, atol=1e-7)


def test_translation_equivariance():
    # |x + s - y - t_l|^2 = |x - y|^2 + (terms in x only) + (terms in y only): the
    # separable terms go into the potentials and leave every entropic plan unchanged, so
    # the barycenter of the translated inputs is the translated barycenter, with
    # s = sum_l w_l t_l. The runs differ only by rounding and by where each Sinkhorn solve
    # stops (marginal error <= 1e-11: projections within ~1e-11 * 10 * 20 = 2e-9).
    rng = np.random.default_rng(2)
    Ys = [rng.normal(size=(m, 2)) * s for m, s in ((6, 1.0), (8, 0.7), (10, 1.3))]
    nus = [rng.uniform(0.5, 1.5, size=len(y)) for y in Ys]
    nus = [nu / nu.sum() for nu in nus]
    shifts = [np.array([5.0, -3.0]), np.array([-2.0, 7.0]), np.array([10.0, 1.0])]
    w = np.array([0.2, 0.3, 0.5])
    X0 = rng.normal(size=(7, 2))
    kwargs = {"reg": 0.3, "weights": w, "numItermax": 8, "stopThr": 0.0, "inner_tol": 1e-11}
    kwargs["numInnerItermax"] = 5000
    X = ot.free_support_sinkhorn_barycenter(Ys, nus, X0, **kwargs)
    s = sum(w_l * t for w_l, t in zip(w, shifts))
    X_shifted = ot.free_support_sinkhorn_barycenter(
        [y + t for y, t in zip(Ys, shifts)], nus, X0 + s, **kwargs
    )
    np.testing.assert_allclose(X_shifted, X + s, atol=1e-8)


def test_tends_to_the_exact_barycenter_as_reg_vanishes():
    # Exact barycenter (network simplex plans) of two 4-point squares, from the same start.
    # For a linear program with a unique solution, the entropic solution converges to it
    # exponentially fast in 1/reg (Cominetti & San Martin 1994): the plans' off-assignment
    # mass, hence the gap of the projections, is ~ exp(-gap / reg). The gaps here are
    # ~1, so the error must fall steeply with reg and be at rounding level at reg = 0.05.
    rng = np.random.default_rng(2)
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    Ys = [
        square + 0.05 * rng.normal(size=square.shape),
        2.0 * square + [3.0, 1.0] + 0.05 * rng.normal(size=square.shape),
    ]
    nus = [ot.unif(4)] * 2
    w = np.array([0.4, 0.6])
    X0 = Ys[0][[1, 0, 3, 2]] * 1.5 + [1.0, 0.0]
    exact = ot.free_support_barycenter(Ys, nus, X0, weights=w, stopThr=1e-20)
    errors = []
    for reg in (0.3, 0.1, 0.05):
        with warnings.catch_warnings():
            # At reg 0.1 the plans are nearly permutations and Sinkhorn crawls: 300
            # iterations leave a marginal error ~1e-7, whose effect is below 1e-5 here.
            warnings.simplefilter("ignore", UserWarning)
            X = ot.free_support_sinkhorn_barycenter(
                Ys, nus, X0, reg=reg, weights=w, numInnerItermax=300, stopThr=1e-10
            )
        errors.append(np.abs(X - exact).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] < 1e-2  # the entropic bias at reg = 0.3 (measured 3.6e-3)
    assert errors[1] < 1e-5
    assert errors[2] < 1e-9


def test_single_measure_gives_its_support():
    # With weights (1, 0) the barycenter minimises OT_eps(mu_X, nu) alone. Its fixed point
    # is X = the atoms of nu when their pairwise gaps are large against reg: each
    # projection is y_sigma(i) up to the plan's off-assignment mass ~ exp(-0.5 / 0.02)
    # ~ 1e-11 (grid spacing 1: the smallest cost gap between assignments is ~0.5 or more).
    # The measure of weight 0 is skipped (it would not enter the update).
    rng = np.random.default_rng(3)
    Y = _grid(rng)
    Z = rng.normal(size=(5, 2))
    X0 = Y[rng.permutation(9)] + 0.2 * rng.normal(size=Y.shape)
    X, log = ot.free_support_sinkhorn_barycenter(
        [Y, Z], [ot.unif(9), ot.unif(5)], X0, reg=0.02, weights=[1.0, 0.0], log=True
    )
    assert log["inner_n_iter"][1] == 0
    assert ot.emd2(ot.unif(9), ot.unif(9), ot.dist(X, Y)) < 1e-20
    # Each atom moved to the nearest point of Y to where it started (no two to the same).
    nearest = np.argmin(ot.dist(X, Y), axis=1)
    assert sorted(nearest.tolist()) == list(range(9))
    np.testing.assert_allclose(X, Y[nearest], atol=1e-10)


def test_two_equal_atoms_split_a_measure_of_two():
    # One measure with atoms 0 and 4 (1-D): the barycenter with two atoms started at 1, 3
    # lands on 0 and 4 up to the entropic leak ~ 4 exp(-16 / 0.1), i.e. exactly.
    x = np.array([[0.0], [4.0]])
    X = ot.free_support_sinkhorn_barycenter([x], [ot.unif(2)], np.array([[1.0], [3.0]]), 0.1)
    np.testing.assert_allclose(X, x, atol=1e-12)


def test_log_and_stopping():
    rng = np.random.default_rng(4)
    Ys = _clouds(rng, sizes=(6, 8, 10))
    nus = [ot.unif(len(y)) for y in Ys]
    X0 = rng.normal(size=(5, 2))
    X, log = ot.free_support_sinkhorn_barycenter(
        Ys, nus, X0, reg=1.0, stopThr=1e-6, numItermax=200, log=True
    )
    norms = log["displacement_square_norms"]
    assert log["n_iter"] == len(norms) < 200
    assert log["converged"] and norms[-1] < 1e-6 <= min(norms[:-1])
    assert len(log["inner_n_iter"]) == len(log["inner_err"]) == 3
    assert max(log["inner_err"]) <= 1e-9
    # The b-weighted mean of the atoms is the w-weighted mean of the input means (each
    # projection carries b to nu_l), whatever the blur.
    expected_mean = np.mean([nu @ y for y, nu in zip(Ys, nus)], axis=0)
    np.testing.assert_allclose(X.mean(axis=0), expected_mean, atol=1e-9)


def test_unconverged_sinkhorn_warns():
    rng = np.random.default_rng(5)
    Ys = _clouds(rng, sizes=(6, 6, 6))
    nus = [ot.unif(6)] * 3
    with pytest.warns(UserWarning, match="numInnerItermax"):
        ot.free_support_sinkhorn_barycenter(
            Ys, nus, Ys[0], reg=0.01, numInnerItermax=1, numItermax=2
        )


def _bad(rng):
    Y = rng.normal(size=(4, 2))
    return [Y, Y + 1.0], [ot.unif(4), ot.unif(4)], Y.copy()


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"reg": 0.0}, ValueError, "reg"),
        ({"reg": -1.0}, ValueError, "reg"),
        ({"reg": float("nan")}, ValueError, "reg"),
        ({"reg": "a"}, TypeError, "reg"),
        ({"X_init": np.zeros(4)}, ValueError, "X_init"),
        ({"X_init": np.full((3, 2), np.nan)}, ValueError, "X_init"),
        ({"X_init": np.zeros((4, 3))}, ValueError, r"measures_locations\[0\]"),
        ({"measures_locations": "nan"}, ValueError, r"measures_locations\[1\]"),
        ({"measures_weights": "sum"}, ValueError, r"measures_weights\[0\] must sum to 1"),
        ({"measures_weights": "neg"}, ValueError, r"measures_weights\[0\]"),
        ({"measures_weights": "shape"}, ValueError, r"measures_weights\[1\]"),
        ({"measures_weights": "short"}, ValueError, "same length"),
        ({"measures_locations": [], "measures_weights": []}, ValueError, "non-empty"),
        ({"weights": np.array([0.5, 0.6])}, ValueError, "weights must sum to 1"),
        ({"weights": np.array([1.0])}, ValueError, "weights.shape"),
        ({"weights": np.array([1.5, -0.5])}, ValueError, "weights has negative"),
        ({"b": ot.unif(3)}, ValueError, "b.shape"),
        ({"b": np.array([0.5, 0.5, 0.0, 0.0])}, ValueError, "zero entries"),
        ({"b": np.full(4, 0.3)}, ValueError, "b must sum to 1"),
        ({"numItermax": -1}, ValueError, "numItermax"),
        ({"numInnerItermax": 1.5}, ValueError, "numInnerItermax"),
        ({"stopThr": -1.0}, ValueError, "stopThr"),
        ({"method": "greenkhorn"}, ValueError, "method"),
        ({"isLazy": True}, TypeError, "isLazy"),
    ],
)
def test_bad_input_raises(change, error, match):
    locations, masses, X0 = _bad(np.random.default_rng(6))
    kwargs = {"measures_locations": locations, "measures_weights": masses, "X_init": X0, "reg": 0.5}
    special = {
        "nan": lambda: [locations[0], np.where(locations[1] > 0, np.nan, locations[1])],
        "sum": lambda: [masses[0] * 2.0, masses[1]],
        "neg": lambda: [np.array([0.5, 0.5, 0.5, -0.5]), masses[1]],
        "shape": lambda: [masses[0], ot.unif(3)],
        "short": lambda: [masses[0]],
    }
    for key, value in change.items():
        kwargs[key] = special[value]() if isinstance(value, str) and value in special else value
    with pytest.raises(error, match=match):
        ot.free_support_sinkhorn_barycenter(**kwargs)


def test_mixed_libraries_raise():
    torch = pytest.importorskip("torch")
    Y = np.random.default_rng(7).normal(size=(4, 2))
    with pytest.raises(TypeError, match="measures_locations"):
        ot.free_support_sinkhorn_barycenter(
            [torch.as_tensor(Y), Y], [ot.unif(4)] * 2, torch.as_tensor(Y), reg=0.5
        )
