"""Scalar options share one validation vocabulary (otkit._validation): Python and NumPy
numbers and 0-d arrays are accepted; bools, strings, NaN, out-of-range and huge values are
errors naming the argument; NaN warm starts are errors; float16/bfloat16 inputs are computed
in float32 and returned in their dtype."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot
from otkit._validation import check_choice, check_integer, check_real

RNG = np.random.default_rng(0)
A = np.array([0.2, 0.3, 0.5])
B = np.array([0.4, 0.6])
M = RNG.random((3, 2))
X = RNG.normal(size=(6, 2))
Y = RNG.normal(size=(5, 2)) + 0.5
IMAGES = np.stack([np.full((4, 4), 1 / 16), np.eye(4) / 4])
CLOUD_M = ot.dist(X, Y)


def _quiet(fn):
    def call(value):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(value)

    return call


# (function, option, kind, call with that option's value)
CASES = [
    ("sinkhorn", "reg", "positive", lambda v: ot.sinkhorn(A, B, M, v)),
    ("sinkhorn", "numItermax", "count", lambda v: ot.sinkhorn(A, B, M, 1.0, numItermax=v)),
    ("sinkhorn", "stopThr", "tolerance", lambda v: ot.sinkhorn(A, B, M, 1.0, stopThr=v)),
    ("sinkhorn2", "numItermax", "count", lambda v: ot.sinkhorn2(A, B, M, 1.0, numItermax=v)),
    ("sinkhorn2", "stopThr", "tolerance", lambda v: ot.sinkhorn2(A, B, M, 1.0, stopThr=v)),
    (
        "sinkhorn",
        "omega",
        "optional_relaxation",
        lambda v: ot.sinkhorn(A, B, M, 1.0, acceleration="overrelax", omega=v),
    ),
    (
        "sinkhorn_epsilon_scaling",
        "numInnerItermax",
        "count",
        lambda v: ot.sinkhorn(A, B, M, 0.5, "sinkhorn_epsilon_scaling", numInnerItermax=v),
    ),
    (
        "sinkhorn_epsilon_scaling",
        "epsilon0",
        "optional_positive",
        lambda v: ot.sinkhorn(A, B, M, 0.5, "sinkhorn_epsilon_scaling", epsilon0=v),
    ),
    ("sinkhorn_unbalanced", "reg", "positive", lambda v: ot.sinkhorn_unbalanced(A, B, M, v, 1.0)),
    (
        "sinkhorn_unbalanced",
        "numItermax",
        "count",
        lambda v: ot.sinkhorn_unbalanced(A, B, M, 1.0, 1.0, numItermax=v),
    ),
    (
        "sinkhorn_unbalanced",
        "stopThr",
        "tolerance",
        lambda v: ot.sinkhorn_unbalanced(A, B, M, 1.0, 1.0, stopThr=v),
    ),
    (
        "mm_unbalanced",
        "numItermax",
        "count",
        lambda v: ot.unbalanced.mm_unbalanced(A, B, M, 1.0, numItermax=v),
    ),
    (
        "mm_unbalanced",
        "stopThr",
        "tolerance",
        lambda v: ot.unbalanced.mm_unbalanced(A, B, M, 1.0, stopThr=v),
    ),
    (
        "uot_1d",
        "numItermax",
        "count",
        lambda v: ot.unbalanced.uot_1d(X[:, 0], Y[:, 0], 1.0, numItermax=v),
    ),
    ("uot_1d", "p", "exponent", lambda v: ot.unbalanced.uot_1d(X[:, 0], Y[:, 0], 1.0, p=v)),
    (
        "barycenter",
        "numItermax",
        "positive_count",
        lambda v: ot.barycenter(np.stack([A, A[::-1]], 1), ot.dist(A[:, None]), 1.0, numItermax=v),
    ),
    (
        "barycenter",
        "stopThr",
        "tolerance",
        lambda v: ot.barycenter(np.stack([A, A[::-1]], 1), ot.dist(A[:, None]), 1.0, stopThr=v),
    ),
    (
        "convolutional_barycenter2d",
        "reg",
        "positive",
        lambda v: ot.bregman.convolutional_barycenter2d(IMAGES, v, numItermax=5),
    ),
    (
        "convolutional_barycenter2d",
        "numItermax",
        "positive_count",
        lambda v: ot.bregman.convolutional_barycenter2d(IMAGES, 0.1, numItermax=v),
    ),
    (
        "sliced_wasserstein_distance",
        "n_projections",
        "positive_count",
        lambda v: ot.sliced_wasserstein_distance(X, Y, n_projections=v, seed=0),
    ),
    (
        "sliced_wasserstein_distance",
        "p",
        "exponent",
        lambda v: ot.sliced_wasserstein_distance(X, Y, n_projections=3, p=v, seed=0),
    ),
    (
        "sliced_wasserstein_distance",
        "seed",
        "optional_seed",
        lambda v: ot.sliced_wasserstein_distance(X, Y, n_projections=3, seed=v),
    ),
    (
        "max_sliced_wasserstein_distance",
        "max_iter",
        "count",
        lambda v: ot.max_sliced_wasserstein_distance(
            X, Y, n_projections=3, seed=0, maximize=True, max_iter=v
        ),
    ),
    ("wasserstein_1d", "p", "exponent", lambda v: ot.wasserstein_1d(X[:, 0], Y[:, 0], p=v)),
    (
        "emd2_1d",
        "p",
        "exponent",
        lambda v: ot.emd2_1d(X[:, 0], Y[:, 0], metric="minkowski", p=v),
    ),
    ("solve", "reg", "optional_nonnegative", lambda v: ot.solve(M, A, B, reg=v)),
    ("solve", "max_iter", "optional_count", lambda v: ot.solve(M, A, B, reg=1.0, max_iter=v)),
    ("solve", "tol", "optional_tolerance", lambda v: ot.solve(M, A, B, reg=1.0, tol=v)),
    (
        "solve_sample",
        "batch_size",
        "optional_positive_count",
        lambda v: ot.solve_sample(X, Y, reg=1.0, lazy=True, batch_size=v, max_iter=5),
    ),
    (
        "solve_sample",
        "reach",
        "optional_positive",
        lambda v: ot.solve_sample(X, Y, reg=1.0, reach=v, max_iter=5),
    ),
    (
        "empirical_sinkhorn",
        "batchSize",
        "positive_count",
        lambda v: ot.bregman.empirical_sinkhorn(X, Y, 1.0, isLazy=True, batchSize=v, numIterMax=5),
    ),
    (
        "empirical_sinkhorn",
        "stopThr",
        "tolerance",
        lambda v: ot.bregman.empirical_sinkhorn(X, Y, 1.0, isLazy=True, stopThr=v, numIterMax=5),
    ),
    (
        "sinkhorn_divergence",
        "blur",
        "optional_positive",
        lambda v: ot.sinkhorn_divergence(X, Y, blur=v),
    ),
    (
        "sinkhorn_divergence",
        "stopThr",
        "optional_tolerance",
        lambda v: ot.sinkhorn_divergence(X, Y, blur=0.5, stopThr=v),
    ),
    (
        "sinkhorn_divergence",
        "numItermax",
        "count",
        lambda v: ot.sinkhorn_divergence(X, Y, blur=0.5, numItermax=v),
    ),
    (
        "sinkhorn_divergence",
        "batch_size",
        "optional_positive_count",
        lambda v: ot.sinkhorn_divergence(X, Y, blur=0.5, batch_size=v),
    ),
    ("dist", "p", "exponent_or_inf", lambda v: ot.dist(X, Y, metric="minkowski", p=v)),
]

NAN, INF = float("nan"), float("inf")
COMMON_BAD = [(True, TypeError), ("1", TypeError), (np.array([1, 2]), TypeError)]
NONE_BAD = [(None, TypeError)]
BAD = {
    "count": [
        (-1, ValueError),
        (2.5, ValueError),
        (NAN, ValueError),
        (INF, ValueError),
        (10**20, ValueError),
    ],
    "tolerance": [(-1, ValueError), (NAN, ValueError), (INF, ValueError)],
    "positive": [(0, ValueError), (-1.0, ValueError), (NAN, ValueError), (INF, ValueError)],
    "nonnegative": [(-1.0, ValueError), (NAN, ValueError), (INF, ValueError)],
    "exponent": [(0.5, ValueError), (NAN, ValueError), (INF, ValueError)],
    "relaxation": [(0.5, ValueError), (2.0, ValueError), (NAN, ValueError)],
    "seed": [(-1, ValueError), (2**32, ValueError), (2.0, TypeError)],
}
BAD["positive_count"] = [(0, ValueError), *BAD["count"]]
BAD["exponent_or_inf"] = [(0.5, ValueError), (NAN, ValueError)]
GOOD = {
    "count": [7, np.int32(7), np.array(7), np.float64(7.0)],
    # stopThr = 1 (int): stops at the first check (0 would run every iteration: slow).
    "tolerance": [1e-3, np.float32(1e-3), np.array(1e-3), np.int64(1)],
    "positive": [0.5, np.float32(0.5), np.array(0.5), np.int64(1)],
    "nonnegative": [0.5, np.float32(0.5), np.array(0.5), 0, np.int64(1)],
    "exponent": [1, np.float32(1.5), np.int64(2), np.array(2.0)],
    "relaxation": [1.0, 1.5, np.float32(1.5), np.array(1.2)],
    "seed": [0, np.int64(3), np.uint32(3), np.array(3), np.random.default_rng(0)],
}
GOOD["positive_count"] = GOOD["count"]
GOOD["exponent_or_inf"] = [*GOOD["exponent"], INF]
OPTIONAL = ("count", "tolerance", "positive", "nonnegative", "positive_count", "relaxation", "seed")
for kind in OPTIONAL:
    BAD["optional_" + kind] = BAD[kind]
    GOOD["optional_" + kind] = [None, *GOOD[kind]]


def _bad_cases():
    for fn, option, kind, call in CASES:
        none = [] if kind.startswith("optional_") else NONE_BAD
        for value, error in COMMON_BAD + none + BAD[kind]:
            yield pytest.param(call, option, value, error, id=f"{fn}-{option}-{value!r}"[:60])


def _good_cases():
    for fn, option, kind, call in CASES:
        for value in GOOD[kind]:
            yield pytest.param(call, value, id=f"{fn}-{option}-{value!r}"[:60])


@pytest.mark.parametrize(("call", "option", "value", "error"), list(_bad_cases()))
def test_bad_scalar_is_an_error_naming_the_option(call, option, value, error):
    with pytest.raises(error, match=rf"\b{option}\b"):
        _quiet(call)(value)


@pytest.mark.parametrize(("call", "value"), list(_good_cases()))
def test_good_scalar_is_accepted(call, value):
    result = _quiet(call)(value)
    first = result[0] if isinstance(result, tuple) else result
    first = getattr(first, "value", first)  # OTResult
    assert np.all(np.isfinite(to_np(first)))


def test_integral_float_means_the_integer():
    # POT's loops compare ``ii < numItermax``: 5.0 and 5 run the same iterations.
    kw = {"warn": False, "log": True, "stopThr": 0.0}
    _, log_float = ot.sinkhorn(A, B, M, 1.0, numItermax=5.0, **kw)
    _, log_int = ot.sinkhorn(A, B, M, 1.0, numItermax=5, **kw)
    assert log_float["n_iter"] == log_int["n_iter"] == 5


def test_torch_scalar_options():
    torch = pytest.importorskip("torch")
    value = ot.sinkhorn2(A, B, M, torch.tensor(1.0), numItermax=torch.tensor(50))
    assert np.isfinite(float(value))
    with pytest.raises(TypeError, match="numItermax"):
        ot.sinkhorn2(A, B, M, 1.0, numItermax=torch.tensor(True))


# --- the vocabulary itself ------------------------------------------------------------------


def test_check_real_messages():
    with pytest.raises(ValueError, match=r"^stopThr must be a finite real number >= 0, got -1$"):
        check_real(-1, "stopThr", minimum=0)
    with pytest.raises(ValueError, match=r"omega must be a finite real number in \[1, 2\)"):
        check_real(2.0, "omega", minimum=1, maximum=2, inclusive=(True, False))
    assert check_real(math.inf, "reg_m", minimum=0, allow_inf=True) == math.inf
    assert check_real(None, "tol", allow_none=True) is None
    assert type(check_real(np.float32(0.25), "x")) is float


def test_check_integer_messages():
    with pytest.raises(ValueError, match=r"numItermax must be an integer <= 2\*\*62"):
        check_integer(10**20, "numItermax")
    with pytest.raises(ValueError, match=r"numItermax must be an integer >= 0, got -1"):
        check_integer(-1, "numItermax")
    with pytest.raises(ValueError, match=r"numItermax must be an integer, got 2.5"):
        check_integer(2.5, "numItermax")
    with pytest.raises(TypeError, match="seed must be an integer"):
        check_integer(3.0, "seed", integral_floats=False)
    assert check_integer(np.array(12, dtype=np.uint8), "n") == 12
    assert type(check_integer(np.int64(3), "n")) is int


def test_check_choice_is_case_insensitive_like_pot():
    assert check_choice("Sinkhorn_LOG", "method", ("sinkhorn", "sinkhorn_log")) == "sinkhorn_log"
    with pytest.raises(ValueError, match="method must be one of 'a', 'b'; got 'c'"):
        check_choice("c", "method", ("a", "b"))
    with pytest.raises(ValueError, match="grad"):
        check_choice("Autodiff", "grad", ("autodiff",), case_sensitive=True)


def test_traced_scalars_pass_through():
    jax = pytest.importorskip("jax")
    seen = []

    def f(reg):
        seen.append(check_real(reg, "reg", minimum=0) is reg)
        seen.append(check_integer(reg, "n") is reg)
        return reg

    jax.make_jaxpr(f)(1.0)
    assert seen == [True, True]


def test_method_names_are_case_insensitive():
    expected = ot.barycenter(np.stack([A, A[::-1]], 1), ot.dist(A[:, None]), 1.0)
    upper = ot.barycenter(np.stack([A, A[::-1]], 1), ot.dist(A[:, None]), 1.0, method="Sinkhorn")
    np.testing.assert_array_equal(upper, expected)


# --- warm starts ----------------------------------------------------------------------------

METHODS = ["sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "greenkhorn"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_warmstart_is_an_error(method, bad):
    warm = (np.array([0.0, bad, 0.0]), np.zeros(2))
    with pytest.raises(ValueError, match="warmstart"):
        ot.sinkhorn(A, B, M, 1.0, method=method, warmstart=warm)


def test_non_finite_warmstart_on_every_backend(xp):
    warm = (to_xp(xp, [0.0, np.nan, 0.0]), to_xp(xp, np.zeros(2)))
    with pytest.raises(ValueError, match="warmstart"):
        ot.sinkhorn2(to_xp(xp, A), to_xp(xp, B), to_xp(xp, M), 1.0, warmstart=warm)


def test_non_finite_warmstart_online():
    warm = (np.full(6, np.nan), np.zeros(5))
    with pytest.raises(ValueError, match="warmstart"):
        ot.bregman.empirical_sinkhorn(X, Y, 1.0, isLazy=True, warmstart=warm)


@pytest.mark.parametrize("method", METHODS)
def test_warmstart_of_zero_weight_rows_may_be_infinite(method):
    # log u = -inf where a = 0: log["warmstart"] must still be accepted back.
    a = np.array([0.5, 0.0, 0.5])
    plan, log = ot.sinkhorn(a, B, M, 1.0, method=method, log=True)
    assert np.isneginf(log["warmstart"][0][1])
    again = ot.sinkhorn(a, B, M, 1.0, method=method, warmstart=log["warmstart"])
    np.testing.assert_allclose(again, plan, atol=1e-12)


def test_finite_warmstart_still_works():
    _, log = ot.sinkhorn(A, B, M, 1.0, log=True)
    plan = ot.sinkhorn(A, B, M, 1.0, warmstart=log["warmstart"])
    np.testing.assert_allclose(plan.sum(1), A, atol=1e-8)


# --- float16 / bfloat16 ---------------------------------------------------------------------


def _low_precision_arrays(library, dtype_name):
    """The test data rounded to ``dtype_name``, and the same rounded values in float64."""
    if library == "torch":
        torch = pytest.importorskip("torch")
        dtype = getattr(torch, dtype_name)

        def convert(x):
            return torch.tensor(x, dtype=dtype)
    else:
        jnp = pytest.importorskip("jax.numpy")
        dtype = getattr(jnp, dtype_name)

        def convert(x):
            return jnp.asarray(x, dtype=dtype)

    low = [convert(x) for x in (CLOUD_M, X, Y)]
    exact = [_as_float64(x) for x in low]
    return low, exact


def _as_float64(x):
    """Any array (torch bfloat16 included, which NumPy cannot take directly) as float64."""
    if hasattr(x, "float"):
        x = x.float()
    return np.asarray(to_np(x), dtype=np.float64)


# float32 computation, then one rounding of the result to the input's precision: relative
# error about eps(dtype) / 2 (bfloat16: 2**-9, float16: 2**-12), plus float32 noise.
RTOL = {"bfloat16": 2**-7, "float16": 2**-9}
LOW = [(lib, dt) for lib in ("torch", "jax") for dt in ("bfloat16", "float16")]


@pytest.mark.parametrize(("library", "dtype_name"), LOW)
def test_sinkhorn_low_precision_is_computed_in_float32(library, dtype_name):
    (cost, _, _), (cost64, _, _) = _low_precision_arrays(library, dtype_name)
    value = ot.sinkhorn2([], [], cost, 1.0, stopThr=1e-6)
    plan = ot.sinkhorn([], [], cost, 1.0, stopThr=1e-6)
    assert_same_backend(value, cost)
    assert_same_backend(plan, cost)
    expected = ot.sinkhorn2([], [], cost64, 1.0, stopThr=1e-9)
    np.testing.assert_allclose(_as_float64(value), expected, rtol=RTOL[dtype_name])
    np.testing.assert_allclose(
        _as_float64(plan), ot.sinkhorn([], [], cost64, 1.0), rtol=RTOL[dtype_name], atol=1e-4
    )


def test_sinkhorn_low_precision_log_follows_the_input_dtype():
    torch = pytest.importorskip("torch")
    cost = torch.tensor(CLOUD_M, dtype=torch.bfloat16)
    _, log = ot.sinkhorn2([], [], cost, 1.0, log=True)
    assert log["f"].dtype == torch.bfloat16
    assert log["log_u"].dtype == torch.bfloat16


@pytest.mark.parametrize(("library", "dtype_name"), LOW)
def test_sliced_low_precision_is_computed_in_float32(library, dtype_name):
    (_, xs, xt), (_, xs64, xt64) = _low_precision_arrays(library, dtype_name)
    value = ot.sliced_wasserstein_distance(xs, xt, n_projections=20, seed=0)
    assert_same_backend(value, xs)
    expected = ot.sliced_wasserstein_distance(xs64, xt64, n_projections=20, seed=0)
    np.testing.assert_allclose(_as_float64(value), expected, rtol=RTOL[dtype_name])


@pytest.mark.parametrize(("library", "dtype_name"), LOW)
def test_one_d_low_precision_keeps_the_dtype(library, dtype_name):
    (_, xs, xt), (_, xs64, xt64) = _low_precision_arrays(library, dtype_name)
    value = ot.wasserstein_1d(xs[:, 0], xt[:, 0], p=2)
    assert_same_backend(value, xs)
    expected = ot.wasserstein_1d(xs64[:, 0], xt64[:, 0], p=2)
    np.testing.assert_allclose(_as_float64(value), expected, rtol=RTOL[dtype_name])


def test_zero_dimensional_arrays_of_every_backend(xp):
    reg, tol = to_xp(xp, 1.0), to_xp(xp, 1e-6)
    n_iter = xp.asarray(200)
    value = ot.sinkhorn2(A, B, M, reg, numItermax=n_iter, stopThr=tol)
    np.testing.assert_allclose(float(value), ot.sinkhorn2(A, B, M, 1.0, stopThr=1e-6))
    with pytest.raises(TypeError, match="numItermax"):
        ot.sinkhorn2(A, B, M, 1.0, numItermax=xp.asarray(True))


def test_samples_loss_rejects_an_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        ot.SamplesLoss(backend="foo")


@pytest.mark.parametrize("function", [ot.emd, ot.emd2])
@pytest.mark.parametrize(
    ("option", "value", "error"),
    [("numItermax", 10**20, ValueError), ("numItermax", "10", TypeError),
     ("numItermax", -1, ValueError), ("numThreads", "foo", ValueError),
     ("numThreads", 0, ValueError), ("numThreads", 1.5, ValueError)],
)  # fmt: skip
def test_exact_solver_options(function, option, value, error):
    with pytest.raises(error, match=option):
        function(A, B, M, **{option: value})
