"""otkit.datasets: POT's numbers for the same seed, closed forms, RNG hygiene, input checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import to_xp

from otkit import datasets
from otkit.datasets import (
    DATASETS,
    get_1D_gauss,
    get_2D_samples_gauss,
    get_data_classif,
    make_1D_gauss,
    make_2D_samples_gauss,
    make_data_classif,
    make_gauss_hd,
)

# The covariances of POT's gallery, a scalar variance and less usual spellings.
COVARIANCES = [
    np.array([[1, 0], [0, 1]]),
    np.array([[1, -0.8], [-0.8, 1]]),
    np.array([[1, 0], [0, 2]]),
    0.2**2 * np.array([[1, 0], [0, 1]]),
    [[2.0, 0.3], [0.3, 0.5]],
    0.7,
    np.array([0.3]),
]
SEEDS = [0, 1, 42, 1985]


@pytest.fixture
def pot():
    return pytest.importorskip("ot")


@pytest.fixture
def restore_global_rng():
    """Tests that seed NumPy's global state (to run POT's defaults) put it back."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def assert_bitwise(actual, expected):
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


def assert_global_rng_untouched(call):
    before = np.random.get_state()
    call()
    after = np.random.get_state()
    assert before[0] == after[0] and before[2:] == after[2:]
    np.testing.assert_array_equal(before[1], after[1])


# --- make_1D_gauss --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, m, s", [(100, 20, 5), (100, 60, 8), (100, 60, 10), (7, 2.3, 0.7), (50, -3.5, 12.0)]
)
def test_1d_gauss_closed_form(n, m, s):
    weights = [math.exp(-((i - m) ** 2) / (2 * s * s)) for i in range(n)]
    expected = np.array(weights) / math.fsum(weights)
    h = make_1D_gauss(n, m, s)
    assert h.shape == (n,) and h.dtype == np.float64
    np.testing.assert_allclose(h, expected, rtol=1e-13, atol=0)
    assert math.isclose(math.fsum(h), 1.0, rel_tol=1e-14)


@pytest.mark.parametrize(
    "n, m, s", [(100, 20, 5), (100, 60, 8), (100, 60, 10), (7, 2.3, 0.7), (1, 0, 1), (30, 4, 2)]
)
def test_1d_gauss_matches_pot(pot, n, m, s):
    assert_bitwise(make_1D_gauss(n, m, s), pot.datasets.make_1D_gauss(n, m, s))


def test_1d_gauss_far_from_the_grid_puts_the_mass_on_the_nearest_bins():
    # Every direct term underflows here (POT returns NaN); the limit of the ratio is exact.
    np.testing.assert_array_equal(make_1D_gauss(10, 1000.0, 1.0), np.eye(10)[9])
    # Bin 1 relative to bin 0: exp(-(401^2 - 400^2) / 2) = exp(-400.5).
    np.testing.assert_allclose(
        make_1D_gauss(10, -400.0, 1.0), [1.0, math.exp(-400.5)] + [0.0] * 8, rtol=1e-13, atol=0
    )
    expected = np.zeros(10)
    expected[4:6] = 0.5
    np.testing.assert_array_equal(make_1D_gauss(10, 4.5, 0.01), expected)


def test_1d_gauss_takes_scalars_of_any_backend(xp):
    h = make_1D_gauss(40, to_xp(xp, 12.5), to_xp(xp, 3.0))
    assert isinstance(h, np.ndarray)
    np.testing.assert_array_equal(h, make_1D_gauss(40, 12.5, 3.0))


# --- make_2D_samples_gauss ------------------------------------------------------------------


@pytest.mark.parametrize("sigma", COVARIANCES, ids=range(len(COVARIANCES)))
@pytest.mark.parametrize("seed", SEEDS)
def test_2d_samples_match_pot(pot, seed, sigma):
    mean = np.array([4, 4])
    expected = pot.datasets.make_2D_samples_gauss(57, mean, sigma, random_state=seed)
    assert_bitwise(make_2D_samples_gauss(57, mean, sigma, random_state=seed), expected)


def test_2d_samples_continue_a_random_state_as_pot(pot):
    ours, theirs = np.random.RandomState(3), np.random.RandomState(3)
    for n, sigma in [(10, 1.0), (11, [[1, -0.8], [-0.8, 1]]), (0, 2.0), (4, 0.5)]:
        expected = pot.datasets.make_2D_samples_gauss(n, [0, 1], sigma, random_state=theirs)
        assert_bitwise(make_2D_samples_gauss(n, [0, 1], sigma, random_state=ours), expected)


def test_2d_samples_with_a_generator_are_the_affine_map_of_its_normals():
    sigma = np.array([[2.0, 0.6], [0.6, 1.0]])
    # Closed form of the principal square root of a 2 x 2 positive definite matrix.
    root_det = math.sqrt(np.linalg.det(sigma))
    root = (sigma + root_det * np.eye(2)) / math.sqrt(np.trace(sigma) + 2 * root_det)
    np.testing.assert_allclose(root @ root, sigma, rtol=1e-14)
    z = np.random.default_rng(5).standard_normal((30, 2))
    X = make_2D_samples_gauss(30, [1.0, -1.0], sigma, random_state=np.random.default_rng(5))
    np.testing.assert_allclose(X, z @ root + [1.0, -1.0], rtol=1e-13, atol=1e-14)


def test_2d_samples_singular_covariance_lies_on_its_line():
    X = make_2D_samples_gauss(200, [0.0, 1.0], [[1.0, 1.0], [1.0, 1.0]], random_state=0)
    assert np.all(np.isreal(X)) and X.dtype == np.float64
    np.testing.assert_allclose(X[:, 1] - X[:, 0], 1.0, atol=1e-12)


def test_2d_samples_covariance_is_recovered():
    sigma = np.array([[1.0, -0.8], [-0.8, 1.0]])
    X = make_2D_samples_gauss(20000, [3.0, -2.0], sigma, random_state=7)
    # Sample mean and covariance: standard errors about 0.007 and 0.01 at n = 20000.
    np.testing.assert_allclose(X.mean(axis=0), [3.0, -2.0], atol=0.04)
    np.testing.assert_allclose(np.cov(X.T), sigma, atol=0.05)


def test_2d_samples_take_arrays_of_any_backend(xp):
    sigma = np.array([[1.0, -0.8], [-0.8, 1.0]])
    X = make_2D_samples_gauss(9, to_xp(xp, [4.0, 4.0]), to_xp(xp, sigma), random_state=2)
    assert isinstance(X, np.ndarray) and X.shape == (9, 2)
    np.testing.assert_array_equal(X, make_2D_samples_gauss(9, [4.0, 4.0], sigma, random_state=2))


# --- make_data_classif ----------------------------------------------------------------------

CLASSIF_CASES = [
    ("3gauss", {}),
    ("3gauss", {"nz": 0.2}),
    ("3gauss2", {}),
    ("3gauss2", {"nz": 1.3}),
    ("gaussrot", {"nz": 0.1}),
    ("gaussrot", {"nz": 0.1, "theta": 2 * np.pi / 20}),
    ("gaussrot", {"theta": -1.0}),
    ("2gauss_prop", {"nz": 0.3, "p": 0.2, "bias": [0, 2]}),
    ("2gauss_prop", {"nz": 0.3, "p": 0.9, "bias": [0, -2]}),
    ("2gauss_prop", {"nz": 0.3, "p": 0.4, "bias": np.array([4, 0])}),
    ("2gauss_prop", {}),
]


def test_every_dataset_is_covered():
    assert set(DATASETS) == {case[0] for case in CLASSIF_CASES}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dataset, options", CLASSIF_CASES)
def test_classif_matches_pot(pot, dataset, options, seed):
    for n in [0, 1, 2, 50, 51, 100, 151]:
        X_pot, y_pot = pot.datasets.make_data_classif(dataset, n, random_state=seed, **options)
        X, y = make_data_classif(dataset, n, random_state=seed, **options)
        assert_bitwise(X, X_pot)
        assert_bitwise(y, y_pot)


def test_classif_continues_a_random_state_as_pot(pot):
    ours, theirs = np.random.RandomState(11), np.random.RandomState(11)
    for dataset, options in CLASSIF_CASES:
        X_pot, y_pot = pot.datasets.make_data_classif(dataset, 31, random_state=theirs, **options)
        X, y = make_data_classif(dataset, 31, random_state=ours, **options)
        assert_bitwise(X, X_pot)
        assert_bitwise(y, y_pot)


def test_classif_names_are_case_insensitive():
    X, y = make_data_classif("3GAUSS", 30, random_state=1)
    X_lower, y_lower = make_data_classif("3gauss", 30, random_state=1)
    assert_bitwise(X, X_lower)
    assert_bitwise(y, y_lower)


@pytest.mark.parametrize("n", [3, 10, 100, 101])
def test_classif_labels_are_contiguous_blocks(n):
    y = make_data_classif("3gauss", n, random_state=0)[1]
    assert y.dtype == np.int_ and y.shape == (n,)
    np.testing.assert_array_equal(y, 1 + (3 * np.arange(n)) // n)
    assert np.all(np.diff(y) >= 0) and np.ptp(np.bincount(y)[1:]) <= 1
    y = make_data_classif("gaussrot", n, random_state=0)[1]
    np.testing.assert_array_equal(np.bincount(y)[1:], [(n + 1) // 2, n // 2])


@pytest.mark.parametrize("n, p", [(50, 0.2), (51, 0.9), (50, 0.4), (10, 0.0), (10, 1.0)])
def test_2gauss_prop_counts(n, p):
    X, y = make_data_classif("2gauss_prop", n, p=p, random_state=0)
    # POT's counts, floor(p n) and floor((1 - p) n): 45 + 5 = 50 points for n = 51, p = 0.9.
    assert y.tolist() == [1] * int(p * n) + [0] * int((1 - p) * n)
    assert X.shape == (y.shape[0], 2)


def test_gaussrot_rotates_the_unrotated_set():
    theta = 0.7
    X0, y0 = make_data_classif("gaussrot", 40, nz=0.2, random_state=4)
    X, y = make_data_classif("gaussrot", 40, nz=0.2, theta=theta, random_state=4)
    c, s = math.cos(theta), math.sin(theta)
    np.testing.assert_allclose(X, X0 @ np.array([[c, s], [-s, c]]), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), np.linalg.norm(X0, axis=1), rtol=1e-14)


@pytest.mark.parametrize(
    "dataset, centers, scales",
    [
        ("3gauss", [[-1, -1], [-1, 1], [1, 0]], [0.6, 0.6, 0.8]),
        ("3gauss2", [[-2, -2], [-2, 2], [2, 0]], [0.4, 0.4, 0.8]),
    ],
)
def test_three_gaussians_class_statistics(dataset, centers, scales):
    X, y = make_data_classif(dataset, 30000, nz=0.4, random_state=0)
    for label, center, scale in zip((1, 2, 3), centers, scales):
        points = X[y == label]
        # 10000 points a class: standard errors scale/100 (mean), scale/140 (std).
        np.testing.assert_allclose(points.mean(axis=0), center, atol=5 * scale / 100)
        np.testing.assert_allclose(points.std(axis=0), scale, rtol=0.04)


# --- make_gauss_hd --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("dim, sub_the_same", [(2, False), ((1, 3), True)])
def test_gauss_hd_matches_pot_seeded_globally(pot, restore_global_rng, seed, dim, sub_the_same):
    np.random.seed(seed)
    Xs_pot, Xt_pot, params_pot = pot.datasets.make_gauss_hd(
        12, 12, p=6, dim=dim, sub_the_same=sub_the_same
    )
    Xs, Xt, params = make_gauss_hd(
        12, 12, p=6, dim=dim, sub_the_same=sub_the_same, random_state=np.random.RandomState(seed)
    )
    assert_bitwise(Xs, Xs_pot)
    assert_bitwise(Xt, Xt_pot)
    assert params.keys() == params_pot.keys()
    for key, value in params_pot.items():
        assert_bitwise(np.asarray(params[key]), np.asarray(value))


def test_gauss_hd_model():
    Xs, Xt, params = make_gauss_hd(5, 8, p=7, dim=(2, 3), a=(10.0, 4.0), b=(1.0, 2.0), m_diff=2.5)
    assert Xs.shape == (5, 7) and Xt.shape == (8, 7)
    for side, a, b, d in [("s", 10.0, 1.0, 2), ("t", 4.0, 2.0, 3)]:
        basis, cov = params["U" + side], params["C" + side]
        np.testing.assert_allclose(basis.T @ basis, np.eye(d), atol=1e-12)
        np.testing.assert_allclose(np.linalg.eigvalsh(cov), [b] * (7 - d) + [a] * d, rtol=1e-12)
        np.testing.assert_allclose(cov @ basis, a * basis, atol=1e-12)
        np.testing.assert_allclose(params["l" + side], [a - b] * d)
    np.testing.assert_array_equal(params["mt"], [2.5, 0, 0, 0, 0, 0, 0])


# --- randomness -----------------------------------------------------------------------------

GENERATORS = [
    lambda rs: make_2D_samples_gauss(20, [0, 0], [[1, 0.5], [0.5, 1]], random_state=rs),
    lambda rs: make_data_classif("3gauss", 20, random_state=rs)[0],
    lambda rs: make_data_classif("gaussrot", 20, random_state=rs)[0],
    lambda rs: make_data_classif("2gauss_prop", 20, random_state=rs)[0],
    lambda rs: make_gauss_hd(4, 4, p=3, dim=1, random_state=rs)[0],
]


@pytest.mark.parametrize("generate", GENERATORS)
@pytest.mark.parametrize(
    "random_state",
    [None, 0, np.int64(7), 2**32 - 1, np.random.RandomState(1), np.random.default_rng(1)],
    ids=["None", "int", "np.int64", "max", "RandomState", "Generator"],
)
def test_global_rng_state_untouched(generate, random_state):
    assert_global_rng_untouched(lambda: generate(random_state))


@pytest.mark.parametrize("generate", GENERATORS)
def test_none_uses_fresh_unseeded_draws(generate):
    np.random.seed(0)
    first = generate(None)
    np.random.seed(0)
    assert not np.array_equal(first, generate(None))


@pytest.mark.parametrize("generate", GENERATORS)
def test_int_seed_is_reproducible_and_generators_accepted(generate):
    assert_bitwise(generate(5), generate(5))
    assert_bitwise(generate(np.random.default_rng(5)), generate(np.random.default_rng(5)))
    assert not np.array_equal(generate(5), generate(6))


def test_numpy_random_module_means_the_global_state_as_pot_default(pot, restore_global_rng):
    np.random.seed(1985)
    expected = [pot.datasets.make_data_classif("2gauss_prop", 51, nz=0.3, p=0.9)[0]]
    expected.append(pot.datasets.make_2D_samples_gauss(10, [0, 0], [[1, -0.8], [-0.8, 1]]))
    np.random.seed(1985)
    ours = [make_data_classif("2gauss_prop", 51, nz=0.3, p=0.9, random_state=np.random)[0]]
    ours.append(make_2D_samples_gauss(10, [0, 0], [[1, -0.8], [-0.8, 1]], random_state=np.random))
    for actual, reference in zip(ours, expected):
        assert_bitwise(actual, reference)


# --- deprecated aliases ---------------------------------------------------------------------


def test_get_1d_gauss_warns_and_matches():
    with pytest.warns(DeprecationWarning, match="Function get_1D_gauss is deprecated") as record:
        h = get_1D_gauss(30, 10, sigma=3)
    assert record[0].filename == __file__
    assert_bitwise(h, make_1D_gauss(30, 10, 3))


def test_get_2d_samples_gauss_warns_and_uses_random_state():
    with pytest.warns(DeprecationWarning, match="Function get_2D_samples_gauss is deprecated"):
        X = get_2D_samples_gauss(8, [1, 2], 0.5, random_state=3)
    assert_bitwise(X, make_2D_samples_gauss(8, [1, 2], 0.5, random_state=3))


def test_get_data_classif_warns_and_forwards_every_argument():
    with pytest.warns(DeprecationWarning, match="Function get_data_classif is deprecated"):
        X, y = get_data_classif("2gauss_prop", 20, nz=0.1, random_state=2, p=0.3, bias=[1, 1])
    X_new, y_new = make_data_classif("2gauss_prop", 20, nz=0.1, p=0.3, random_state=2, bias=[1, 1])
    assert_bitwise(X, X_new)
    assert_bitwise(y, y_new)
    with pytest.warns(DeprecationWarning):
        X, _ = get_data_classif("gaussrot", 10, nz=0.2, theta=0.4, random_state=2)
    assert_bitwise(X, make_data_classif("gaussrot", 10, nz=0.2, theta=0.4, random_state=2)[0])


def test_aliases_match_pot_deprecation_category(pot):
    for name in ["get_1D_gauss", "get_2D_samples_gauss", "get_data_classif"]:
        assert hasattr(pot.datasets, name) and hasattr(datasets, name)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        pot.datasets.get_1D_gauss(5, 2, 1)
    assert record[0].category is DeprecationWarning


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: make_1D_gauss(0, 1, 1), ValueError, "n"),
        (lambda: make_1D_gauss(10.0, 1, 1), TypeError, "n"),
        (lambda: make_1D_gauss(True, 1, 1), TypeError, "n"),
        (lambda: make_1D_gauss(10, float("nan"), 1), ValueError, "m"),
        (lambda: make_1D_gauss(10, [1, 2], 1), ValueError, "m"),
        (lambda: make_1D_gauss(10, 1, 0), ValueError, "s"),
        (lambda: make_1D_gauss(10, 1, -2.0), ValueError, "s"),
        (lambda: make_1D_gauss(10, 1, "2"), TypeError, "s"),
        (lambda: make_2D_samples_gauss(-1, [0, 0], 1), ValueError, "n"),
        (lambda: make_2D_samples_gauss(5, [0, 0, 0], 1), ValueError, "m"),
        (lambda: make_2D_samples_gauss(5, [0, 0], -1.0), ValueError, "sigma"),
        (lambda: make_2D_samples_gauss(5, [0, 0], [1.0, 2.0]), ValueError, "sigma"),
        (lambda: make_2D_samples_gauss(5, [0, 0], np.eye(3)), ValueError, "sigma"),
        (lambda: make_2D_samples_gauss(5, [0, 0], [[1, 0.5], [0, 1]]), ValueError, "sigma"),
        (lambda: make_2D_samples_gauss(5, [0, 0], [[1, 2], [2, 1]]), ValueError, "sigma"),
        (lambda: make_2D_samples_gauss(5, [0, 0], [[1, 0], [0, np.inf]]), ValueError, "sigma"),
        (lambda: make_2D_samples_gauss(5, [0, 0], 1, random_state=-1), ValueError, "random_state"),
        (lambda: make_2D_samples_gauss(5, [0, 0], 1, random_state=2**32), ValueError, "random_"),
        (lambda: make_2D_samples_gauss(5, [0, 0], 1, random_state=1.5), TypeError, "random_state"),
        (lambda: make_2D_samples_gauss(5, [0, 0], 1, random_state=True), TypeError, "random_"),
        (lambda: make_2D_samples_gauss(5, [0, 0], 1, random_state=math), TypeError, "random_"),
        (lambda: make_data_classif("moons", 10), ValueError, "dataset"),
        (lambda: make_data_classif(3, 10), TypeError, "dataset"),
        (lambda: make_data_classif("3gauss", -5), ValueError, "n"),
        (lambda: make_data_classif("3gauss", 10, nz=-0.1), ValueError, "nz"),
        (lambda: make_data_classif("gaussrot", 10, theta=np.inf), ValueError, "theta"),
        (lambda: make_data_classif("2gauss_prop", 10, p=1.5), ValueError, "p"),
        (lambda: make_data_classif("2gauss_prop", 10, p=-0.1), ValueError, "p"),
        (lambda: make_data_classif("2gauss_prop", 10, bias=[1, 2, 3]), ValueError, "bias"),
        (lambda: make_data_classif("2gauss_prop", 10, b=[1, 2]), TypeError, "'b'"),
        (lambda: make_gauss_hd(0, 5), ValueError, "ns"),
        (lambda: make_gauss_hd(5, 5, p=4, dim=5), ValueError, "dim"),
        (lambda: make_gauss_hd(5, 5, p=4, dim=(1, 2, 3)), ValueError, "dim"),
        (lambda: make_gauss_hd(5, 5, p=4, dim=2, a=(1.0, 0.0)), ValueError, "a"),
        (lambda: make_gauss_hd(5, 5, p=4, dim=2, sub_the_same="yes"), TypeError, "sub_the_same"),
    ],
)
def test_bad_arguments_name_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()
