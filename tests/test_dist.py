"""``otkit.dist`` and ``otkit.unif``: values against SciPy, gradients, errors, backends.

``scipy.spatial.distance.cdist`` is the oracle: same metric names, same ``w=`` weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_same_backend, is_backend, rtol_for, to_np, to_xp
from scipy.spatial.distance import cdist

import otkit as ot

# (metric, options) pairs; options go to both otkit.dist and scipy's cdist.
METRIC_CASES = [
    ("sqeuclidean", {}),
    ("euclidean", {}),
    ("cityblock", {}),
    ("minkowski", {"p": 1.5}),
    ("minkowski", {"p": 3}),
    ("minkowski", {"p": math.inf}),
    ("cosine", {}),
    ("correlation", {}),
    ("chebyshev", {}),
]
# Metrics that are smooth away from coinciding points (cityblock and the maxima are not).
DIFFERENTIABLE_CASES = [
    (metric, options)
    for metric, options in METRIC_CASES
    if metric not in ("cityblock", "chebyshev") and options.get("p") != math.inf
]


def case_id(case) -> str:
    metric, options = case
    return metric + "".join(f"-p{value}" for value in options.values())


def point_clouds(n=6, m=5, d=3, seed=0):
    """Two clouds away from the origin, so that the matrix-product expansion cancels."""
    rng = np.random.default_rng(seed)
    return rng.normal(loc=2.0, size=(n, d)), rng.normal(loc=1.0, size=(m, d))


def feature_weights(d=3, seed=1):
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=d)


def oracle_tolerance(metric, x1, x2, w, dtype_name, reference):
    """Absolute error allowed between otkit (in ``dtype_name``) and SciPy (float64).

    Direct sums (cityblock, minkowski) are accurate to a few ulps of the result. The
    expansion ||x||^2 + ||y||^2 - 2<x, y> behind (sq)euclidean has an absolute error e with
    |e| <= (2d + 4) eps (||x||^2 + ||y||^2) (three length-d sums, then two additions); the
    square root turns it into |sqrt(D^2 + e) - D| <= min(sqrt(|e|), |e| / D). Cosine values
    are O(1), so their error is absolute.
    """
    eps = float(np.finfo(dtype_name).eps)
    relative = rtol_for(dtype_name) * np.abs(reference)
    if metric in ("cosine", "correlation"):
        return rtol_for(dtype_name) + relative
    if metric in ("sqeuclidean", "euclidean"):
        weights = np.ones(x1.shape[1]) if w is None else w
        squared_norms = (x1**2 @ weights)[:, None] + (x2**2 @ weights)[None, :]
        expansion = (2 * x1.shape[1] + 4) * eps * squared_norms
        if metric == "sqeuclidean":
            return relative + expansion
        with np.errstate(divide="ignore"):
            return relative + np.minimum(np.sqrt(expansion), expansion / reference)
    return relative


def rounded(x, dtype_name):
    """``x`` rounded to ``dtype_name`` and back, so the oracle sees the same inputs."""
    return np.asarray(x, dtype=dtype_name).astype(np.float64)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", METRIC_CASES, ids=case_id)
def test_dist_matches_scipy_cdist(xp, dtype_name, case, weighted):
    metric, options = case
    x1, x2 = point_clouds()
    w = feature_weights() if weighted else None
    x1, x2 = rounded(x1, dtype_name), rounded(x2, dtype_name)
    w = None if w is None else rounded(w, dtype_name)
    reference = cdist(x1, x2, metric=metric, w=w, **options)
    x1_xp = to_xp(xp, x1, dtype_name)
    w_xp = None if w is None else to_xp(xp, w, dtype_name)
    M = ot.dist(x1_xp, to_xp(xp, x2, dtype_name), metric=metric, w=w_xp, **options)
    assert_same_backend(M, x1_xp)
    assert tuple(M.shape) == reference.shape
    error = np.abs(to_np(M) - reference)
    assert np.all(error <= oracle_tolerance(metric, x1, x2, w, dtype_name, reference))


@pytest.mark.parametrize("case", METRIC_CASES, ids=case_id)
def test_x2_none_means_x1(xp, dtype_name, case):
    metric, options = case
    x1 = rounded(point_clouds()[0], dtype_name)
    reference = cdist(x1, x1, metric=metric, **options)
    x1_xp = to_xp(xp, x1, dtype_name)
    M = ot.dist(x1_xp, metric=metric, **options)
    assert_same_backend(M, x1_xp)
    error = np.abs(to_np(M) - reference)
    assert np.all(error <= oracle_tolerance(metric, x1, x1, None, dtype_name, reference))


@pytest.mark.parametrize("same_object", [False, True], ids=["x2=None", "x2=x1"])
@pytest.mark.parametrize(
    "metric", ["sqeuclidean", "euclidean", "cityblock", "minkowski", "chebyshev"]
)
def test_self_distances_are_exactly_zero(xp, dtype_name, metric, same_object):
    x1 = to_xp(xp, point_clouds()[0], dtype_name)
    M = ot.dist(x1, x1 if same_object else None, metric=metric)
    np.testing.assert_array_equal(np.diagonal(to_np(M)), 0.0)


def test_integer_input_becomes_default_float(xp):
    x1, x2 = np.arange(6).reshape(3, 2), np.arange(4).reshape(2, 2) * 3
    x1_xp = to_xp(xp, x1, "int64")
    M = ot.dist(x1_xp, to_xp(xp, x2, "int64"))
    default_float = xp.__array_namespace_info__().default_dtypes()["real floating"]
    assert M.dtype == default_float
    np.testing.assert_array_equal(to_np(M), cdist(x1, x2, "sqeuclidean"))


@pytest.mark.parametrize("case", METRIC_CASES, ids=case_id)
def test_lists_give_numpy_float64(case):
    metric, options = case
    x1, x2 = point_clouds()
    M = ot.dist(x1.tolist(), x2.tolist(), metric=metric, **options)
    assert isinstance(M, np.ndarray) and M.dtype == np.float64
    reference = cdist(x1, x2, metric=metric, **options)
    error = np.abs(M - reference)
    assert np.all(error <= oracle_tolerance(metric, x1, x2, None, "float64", reference))


def test_list_beside_an_array_takes_its_library_dtype_and_device(xp, dtype_name):
    x1, x2 = point_clouds()
    x2_xp = to_xp(xp, x2, dtype_name)
    M = ot.dist(x1.tolist(), x2_xp)
    assert_same_backend(M, x2_xp)


def test_numpy_weights_beside_another_library(xp, dtype_name):
    x1, x2 = point_clouds()
    w = feature_weights()
    x1_xp = to_xp(xp, x1, dtype_name)
    M = ot.dist(x1_xp, to_xp(xp, x2, dtype_name), metric="cityblock", w=w)
    assert_same_backend(M, x1_xp)
    reference = cdist(rounded(x1, dtype_name), rounded(x2, dtype_name), "cityblock", w=w)
    np.testing.assert_allclose(to_np(M), reference, rtol=rtol_for(dtype_name))


def test_read_only_numpy_input_is_not_written():
    x1, x2 = point_clouds()
    x1.flags.writeable = False
    x2.flags.writeable = False
    M = ot.dist(x1, x2, metric="euclidean")
    np.testing.assert_allclose(M, cdist(x1, x2), rtol=rtol_for("float64"))


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cityblock", "minkowski"])
def test_points_without_features_are_at_distance_zero(xp, metric):
    M = ot.dist(to_xp(xp, np.zeros((3, 0))), to_xp(xp, np.zeros((2, 0))), metric=metric)
    np.testing.assert_array_equal(to_np(M), np.zeros((3, 2)))


def test_cosine_distance_to_a_zero_vector_is_one(xp):
    x1 = np.array([[0.0, 0.0], [1.0, 2.0]])
    x2 = np.array([[3.0, -1.0], [0.0, 0.0]])
    M = to_np(ot.dist(to_xp(xp, x1), to_xp(xp, x2), metric="cosine"))
    expected = np.array([[1.0, 1.0], [1.0 - 1.0 / np.sqrt(50.0), 1.0]])
    np.testing.assert_allclose(M, expected, rtol=rtol_for("float64"))


def test_dist_under_jax_jit_matches_eager():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x1, x2 = point_clouds()
    w = feature_weights()
    jitted = jax.jit(lambda a, b, weights: ot.dist(a, b, metric="euclidean", w=weights))
    M = jitted(jax.numpy.asarray(x1), jax.numpy.asarray(x2), jax.numpy.asarray(w))
    np.testing.assert_allclose(np.asarray(M), cdist(x1, x2, "euclidean", w=w), rtol=1e-12)


# --- gradients ------------------------------------------------------------------------------


def cost_weights(n, m, seed=2):
    """Fixed random weights R: the tests differentiate sum(R * M), which mixes all entries."""
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=(n, m))


@pytest.mark.parametrize("case", DIFFERENTIABLE_CASES, ids=case_id)
def test_torch_gradient_matches_finite_differences(case):
    torch = pytest.importorskip("torch")
    metric, options = case
    x1, x2 = point_clouds(n=4, m=3)
    inputs = tuple(torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (x1, x2))
    weights = torch.tensor(feature_weights(), dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda a, b: ot.dist(a, b, metric=metric, w=weights, **options), inputs
    )


@pytest.mark.parametrize(
    ("n", "m", "d"),
    [(8, 7, 2), (100, 90, 2), (60, 70, 3), (100, 90, 5)],  # the sizes of the torch shortcuts
)
def test_torch_sqeuclidean_at_every_size_matches_numpy_and_its_gradient(n, m, d):
    """Small torch clouds take shortcuts by size (direct differences, per-feature planes,
    the expansion): each gives NumPy's values (the planes bit for bit, as NumPy sums the
    features in order) and the gradient of sum(R * M), 2 sum_j R_ij (x_i - y_j)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(n + m + d)
    x1, x2 = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5
    expected = ot.dist(x1, x2)
    t1 = torch.tensor(x1, requires_grad=True)
    costs = ot.dist(t1, torch.tensor(x2))
    if d <= 3:
        np.testing.assert_array_equal(costs.detach().numpy(), expected)
    else:
        np.testing.assert_allclose(costs.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    R = cost_weights(n, m)
    (gradient,) = torch.autograd.grad((costs * torch.tensor(R)).sum(), [t1])
    direct = 2 * (R[:, :, None] * (x1[:, None, :] - x2[None, :, :])).sum(axis=1)
    np.testing.assert_allclose(gradient.numpy(), direct, rtol=1e-12, atol=1e-12)


def central_differences(function, arrays, step=1e-6):
    """Gradient of ``function(*arrays)`` (NumPy float64) with respect to each array."""
    gradients = []
    for index, array in enumerate(arrays):
        gradient = np.zeros_like(array)
        for position in np.ndindex(array.shape):
            shifted = [a.copy() for a in arrays]
            shifted[index][position] += step
            forward = function(*shifted)
            shifted[index][position] -= 2 * step
            gradient[position] = (forward - function(*shifted)) / (2 * step)
        gradients.append(gradient)
    return gradients


# jax.grad traces dist in both modes, so dist runs the same code; eager op-by-op dispatch
# costs seconds per case, so it runs for one metric only.
JAX_GRADIENT_CASES = [(case, True) for case in DIFFERENTIABLE_CASES] + [
    (DIFFERENTIABLE_CASES[0], False)
]


@pytest.mark.parametrize(
    "case,jit",
    JAX_GRADIENT_CASES,
    ids=[case_id(case) + ("-jit" if jit else "-eager") for case, jit in JAX_GRADIENT_CASES],
)
def test_jax_gradient_matches_finite_differences(case, jit):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    metric, options = case
    x1, x2 = point_clouds(n=4, m=3)
    R = cost_weights(4, 3)

    def objective(a, b):
        return jax.numpy.sum(R * ot.dist(a, b, metric=metric, **options))

    gradient = jax.grad(objective, argnums=(0, 1))
    if jit:
        gradient = jax.jit(gradient)
    computed = gradient(jax.numpy.asarray(x1), jax.numpy.asarray(x2))
    expected = central_differences(
        lambda a, b: np.sum(R * cdist(a, b, metric=metric, **options)), [x1, x2]
    )
    # Central differences with step h = 1e-6 on O(1) values: truncation O(h^2) plus
    # rounding O(eps / h) ~ 1e-10, both far below this tolerance.
    for got, want in zip(computed, expected):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-8)


def euclidean_self_gradient(x):
    """d/dx of sum_ij ||x_i - x_j||, with the zero-distance terms contributing 0."""
    differences = x[:, None, :] - x[None, :, :]
    lengths = np.linalg.norm(differences, axis=-1)
    np.fill_diagonal(lengths, 1.0)
    return 2.0 * np.sum(differences / lengths[..., None], axis=1)


@pytest.mark.parametrize("same_object", [False, True], ids=["x2=None", "x2=x1"])
def test_torch_euclidean_gradient_at_zero_distance(dtype_name, same_object):
    torch = pytest.importorskip("torch")
    x = point_clouds()[0] * 10
    x_torch = torch.tensor(x, dtype=getattr(torch, dtype_name), requires_grad=True)
    ot.dist(x_torch, x_torch if same_object else None, metric="euclidean").sum().backward()
    gradient = x_torch.grad.numpy()
    assert np.all(np.isfinite(gradient))
    scale = np.abs(gradient).max()
    expected = euclidean_self_gradient(rounded(x, dtype_name))
    np.testing.assert_allclose(gradient, expected, atol=rtol_for(dtype_name) * scale)


@pytest.mark.parametrize("same_object", [False, True], ids=["x2=None", "x2=x1"])
def test_jax_euclidean_gradient_at_zero_distance(dtype_name, same_object):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x = point_clouds()[0] * 10

    def objective(a):
        return jax.numpy.sum(ot.dist(a, a if same_object else None, metric="euclidean"))

    gradient = np.asarray(jax.jit(jax.grad(objective))(jax.numpy.asarray(x, dtype=dtype_name)))
    assert np.all(np.isfinite(gradient))
    scale = np.abs(gradient).max()
    expected = euclidean_self_gradient(rounded(x, dtype_name))
    np.testing.assert_allclose(gradient, expected, atol=rtol_for(dtype_name) * scale)


def test_euclidean_gradient_at_duplicate_points_is_finite():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    ot.dist(x, x.detach().clone(), metric="euclidean").sum().backward()
    assert torch.all(torch.isfinite(x.grad))


def test_cosine_gradient_at_a_zero_vector_is_finite():
    torch = pytest.importorskip("torch")
    x1 = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    x2 = torch.tensor([[3.0, -1.0], [2.0, 2.0]], dtype=torch.float64, requires_grad=True)
    ot.dist(x1, x2, metric="cosine").sum().backward()
    assert torch.all(torch.isfinite(x1.grad)) and torch.all(torch.isfinite(x2.grad))


def test_weighted_sqeuclidean_gradient_at_a_zero_weight_is_finite():
    torch = pytest.importorskip("torch")
    x1, x2 = (torch.tensor(x) for x in point_clouds())
    w = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ot.dist(x1, x2, w=w).sum().backward()
    # d/dw_k sum_ij (x1_ik - x2_jk)^2, the same at w_k = 0 as anywhere.
    expected = ((x1[:, None, :] - x2[None, :, :]) ** 2).sum(dim=(0, 1))
    np.testing.assert_allclose(w.grad.numpy(), expected.numpy(), rtol=1e-12)


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["fakeone", "wminkowski", "Euclidean", 3])
def test_unknown_metric_is_named(metric):
    x1, x2 = point_clouds()
    with pytest.raises(ValueError, match=f"metric must be one of .*got {metric!r}"):
        ot.dist(x1, x2, metric=metric)


def test_feature_mismatch_names_x1_and_x2(xp):
    x1, x2 = point_clouds(d=3)
    with pytest.raises(ValueError, match=r"x1.*x2"):
        ot.dist(to_xp(xp, x1), to_xp(xp, x2[:, :2]))


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)], ids=["1-D", "3-D"])
def test_x1_of_wrong_dimension_is_named(xp, shape):
    with pytest.raises(ValueError, match="x1"):
        ot.dist(to_xp(xp, np.ones(shape)), to_xp(xp, np.ones((2, 4))))


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)], ids=["1-D", "3-D"])
def test_x2_of_wrong_dimension_is_named(xp, shape):
    with pytest.raises(ValueError, match="x2"):
        ot.dist(to_xp(xp, np.ones((2, 4))), to_xp(xp, np.ones(shape)))


@pytest.mark.parametrize(
    ("p", "error"),
    [(0.5, ValueError), (0.0, ValueError), (-1.0, ValueError), (math.nan, ValueError),
     (None, TypeError), (True, TypeError)],
)  # fmt: skip
def test_minkowski_exponent_below_one_is_rejected(p, error):
    x1, x2 = point_clouds()
    with pytest.raises(error, match="p must be"):
        ot.dist(x1, x2, metric="minkowski", p=p)


@pytest.mark.parametrize("shape", [(2,), (4,), (3, 1)])
def test_weights_of_wrong_shape_are_rejected(xp, shape):
    x1, x2 = point_clouds(d=3)
    with pytest.raises(ValueError, match="w.shape"):
        ot.dist(to_xp(xp, x1), to_xp(xp, x2), w=to_xp(xp, np.ones(shape)))


def test_negative_weights_are_rejected(xp):
    x1, x2 = point_clouds(d=3)
    with pytest.raises(ValueError, match="w has negative entries"):
        ot.dist(to_xp(xp, x1), to_xp(xp, x2), w=to_xp(xp, np.array([1.0, -0.5, 1.0])))


def test_torch_and_jax_clouds_are_a_type_error():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    x1, x2 = point_clouds()
    with pytest.raises(TypeError, match=r"'x1'.*'x2'"):
        ot.dist(torch.tensor(x1), jax.numpy.asarray(x2))


def test_numpy_and_torch_clouds_are_a_type_error():
    torch = pytest.importorskip("torch")
    x1, x2 = point_clouds()
    with pytest.raises(TypeError, match=r"'x1'.*'x2'"):
        ot.dist(x1, torch.tensor(x2))


# --- SciPy metrics and POT's keywords (backend, nx, use_tensor) -----------------------------


def available_in_scipy(metric) -> bool:
    try:
        cdist(np.zeros((1, 2)), np.ones((1, 2)), metric=metric)
    except ValueError:
        return False
    return True


SCIPY_METRICS = [m for m in ot.utils.SCIPY_METRICS if available_in_scipy(m)]
UNWEIGHTED_SCIPY = ("jensenshannon", "mahalanobis", "seuclidean")


def positive_clouds(n=6, m=5, d=3, seed=3):
    """Positive data, where every SciPy metric is defined (jensenshannon needs it)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 2.0, size=(n, d)), rng.uniform(0.1, 2.0, size=(m, d))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("metric", SCIPY_METRICS)
def test_scipy_metrics_on_numpy_are_cdist(metric, weighted):
    if weighted and metric in UNWEIGHTED_SCIPY:
        pytest.skip(f"scipy's {metric} takes no weights")
    x1, x2 = positive_clouds()
    options = {"w": feature_weights()} if weighted else {}
    # The same call on the same float64 data: the values are SciPy's, bit for bit.
    np.testing.assert_array_equal(
        ot.dist(x1, x2, metric=metric, **options), cdist(x1, x2, metric=metric, **options)
    )


def test_scipy_metric_keeps_float32():
    x1, x2 = (x.astype(np.float32) for x in positive_clouds())
    M = ot.dist(x1, x2, metric="canberra")
    assert M.dtype == np.float32
    np.testing.assert_allclose(M, cdist(x1, x2, "canberra"), rtol=rtol_for("float32"))


def test_callable_metric_goes_to_cdist():
    x1, x2 = positive_clouds()

    def largest_ratio(u, v):
        return float(np.max(u / v))

    np.testing.assert_array_equal(
        ot.dist(x1, x2, metric=largest_ratio), cdist(x1, x2, metric=largest_ratio)
    )


@pytest.mark.parametrize(
    "metric", ["braycurtis", "hamming", len], ids=["braycurtis", "hamming", "callable"]
)
def test_scipy_metric_beyond_numpy_is_not_implemented(xp, metric):
    if is_backend(xp, "numpy"):
        pytest.skip("NumPy arrays go to SciPy")
    x1, x2 = (to_xp(xp, x) for x in positive_clouds())
    name = metric if isinstance(metric, str) else "callable"
    with pytest.raises(NotImplementedError, match=rf"{name}.*'sqeuclidean'.*backend='scipy'"):
        ot.dist(x1, x2, metric=metric)


@pytest.mark.parametrize("metric", ["sqeuclidean", "braycurtis"])
def test_backend_scipy_is_cdist_in_the_callers_library(xp, dtype_name, metric):
    x1, x2 = (rounded(x, dtype_name) for x in positive_clouds())
    x1_xp = to_xp(xp, x1, dtype_name)
    M = ot.dist(x1_xp, to_xp(xp, x2, dtype_name), metric=metric, backend="scipy")
    assert_same_backend(M, x1_xp)
    # SciPy computes in float64 on the rounded inputs; only the final rounding differs.
    expected = cdist(x1, x2, metric=metric)
    np.testing.assert_allclose(to_np(M), expected, rtol=float(np.finfo(dtype_name).eps))


def test_backend_scipy_gives_no_gradient():
    torch = pytest.importorskip("torch")
    x = torch.tensor(point_clouds()[0], requires_grad=True)
    assert not ot.dist(x, backend="scipy").requires_grad
    assert ot.dist(x).requires_grad


def test_backend_scipy_under_jax_jit_is_an_error():
    jax = pytest.importorskip("jax")
    x = jax.numpy.asarray(point_clouds()[0])
    with pytest.raises(NotImplementedError, match="jax.jit"):
        jax.jit(lambda a: ot.dist(a, backend="scipy"))(x)


def library_of(xp) -> str:
    for name in ("jax", "torch", "array_api_strict", "numpy"):  # "numpy" is in "jax.numpy"
        if is_backend(xp, name):
            return name
    raise ValueError(xp)


@pytest.mark.parametrize("backend", ["auto", "own library"])
def test_backend_auto_and_the_input_library_are_the_default(xp, backend):
    x1, x2 = (to_xp(xp, x) for x in point_clouds())
    backend = library_of(xp) if backend == "own library" else backend
    M = ot.dist(x1, x2, metric="euclidean", backend=backend)
    np.testing.assert_array_equal(to_np(M), to_np(ot.dist(x1, x2, metric="euclidean")))


@pytest.mark.parametrize("backend", ["torch", "cupy", "SciPy", None])
def test_other_backend_names_are_rejected(backend):
    x1, x2 = point_clouds()
    with pytest.raises(ValueError, match="backend must be 'auto', 'scipy' or .*'numpy'"):
        ot.dist(x1, x2, backend=backend)


def test_nx_namespace_of_the_input_is_accepted(xp):
    x1, x2 = (to_xp(xp, x) for x in point_clouds())
    np.testing.assert_array_equal(to_np(ot.dist(x1, x2, nx=xp)), to_np(ot.dist(x1, x2)))


def test_nx_pot_backend_of_the_input_is_accepted(xp):
    pot = pytest.importorskip("ot")
    if is_backend(xp, "array_api_strict"):
        pytest.skip("POT has no array_api_strict backend")
    x1, x2 = (to_xp(xp, x) for x in point_clouds())
    nx = pot.backend.get_backend(x1)
    np.testing.assert_array_equal(to_np(ot.dist(x1, x2, nx=nx)), to_np(ot.dist(x1, x2)))


def test_nx_of_another_library_is_rejected():
    pot = pytest.importorskip("ot")
    pytest.importorskip("torch")
    x1, x2 = point_clouds()
    with pytest.raises(ValueError, match="nx is the 'torch' backend but the arrays are numpy"):
        ot.dist(x1, x2, nx=pot.backend.TorchBackend())


@pytest.mark.parametrize("nx", ["numpy", 3, object()])
def test_nx_that_is_not_a_backend_is_a_type_error(nx):
    x1, x2 = point_clouds()
    with pytest.raises(TypeError, match="nx must be None, a POT backend object"):
        ot.dist(x1, x2, nx=nx)


@pytest.mark.parametrize("metric", ["cityblock", "minkowski"])
def test_use_tensor_gives_the_same_values(xp, metric):
    x1, x2 = (to_xp(xp, x) for x in point_clouds())
    M = ot.dist(x1, x2, metric=metric, p=3, use_tensor=True)
    np.testing.assert_array_equal(to_np(M), to_np(ot.dist(x1, x2, metric=metric, p=3)))


def test_use_tensor_must_be_a_bool():
    x1, x2 = point_clouds()
    with pytest.raises(TypeError, match="use_tensor"):
        ot.dist(x1, x2, use_tensor="yes")


@pytest.mark.parametrize("metric", UNWEIGHTED_SCIPY)
def test_weights_for_a_scipy_metric_without_weights_are_rejected(metric):
    x1, x2 = positive_clouds()
    with pytest.raises(ValueError, match=rf"w: metric '{metric}' takes no feature weights"):
        ot.dist(x1, x2, metric=metric, w=feature_weights())


def test_correlation_is_invariant_to_row_affine_maps(xp):
    # corr(a x + b, y) = corr(x, y) for a > 0: scale and shift each point differently.
    x1, x2 = point_clouds()
    rng = np.random.default_rng(4)
    mapped = x1 * rng.uniform(0.5, 3.0, size=(6, 1)) + rng.normal(size=(6, 1))
    M = ot.dist(to_xp(xp, x1), to_xp(xp, x2), metric="correlation")
    M_mapped = ot.dist(to_xp(xp, mapped), to_xp(xp, x2), metric="correlation")
    np.testing.assert_allclose(to_np(M_mapped), to_np(M), atol=1e-12)


def test_chebyshev_is_minkowski_with_infinite_exponent(xp):
    x1, x2 = (to_xp(xp, x) for x in point_clouds())
    w = to_xp(xp, np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(
        to_np(ot.dist(x1, x2, metric="chebyshev", w=w)),
        to_np(ot.dist(x1, x2, metric="minkowski", p=math.inf, w=w)),
    )


# POT ignores w except for minkowski, so POT is the oracle of unweighted costs only.
POT_METRICS = list(ot.METRICS) + SCIPY_METRICS


@pytest.mark.parametrize("metric", POT_METRICS)
def test_dist_matches_pot(metric):
    pot = pytest.importorskip("ot")
    x1, x2 = positive_clouds()
    expected = pot.dist(x1, x2, metric=metric)
    # Same formulas up to the order of the floating-point operations: a few ulps of the
    # squared norms for the matrix-product expansions, bit-equal for SciPy's metrics.
    np.testing.assert_allclose(ot.dist(x1, x2, metric=metric), expected, rtol=1e-13, atol=1e-14)


def test_weighted_minkowski_matches_pot():
    pot = pytest.importorskip("ot")
    x1, x2 = point_clouds()
    w = feature_weights()
    expected = pot.dist(x1, x2, metric="minkowski", p=3, w=w)
    np.testing.assert_allclose(ot.dist(x1, x2, metric="minkowski", p=3, w=w), expected, rtol=1e-13)


# --- unif -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 10])
def test_unif_is_uniform_numpy_float64(n):
    h = ot.unif(n)
    assert isinstance(h, np.ndarray) and h.dtype == np.float64 and h.shape == (n,)
    np.testing.assert_array_equal(h, np.full(n, 1.0 / n))


def test_unif_sums_to_one():
    np.testing.assert_allclose(ot.unif(7).sum(), 1.0, rtol=rtol_for("float64"))


def test_unif_numpy_integer_size():
    np.testing.assert_array_equal(ot.unif(np.int64(4)), np.full(4, 0.25))


def test_unif_type_as_keeps_library_dtype_and_device(xp, dtype_name):
    like = to_xp(xp, np.ones((2, 3)), dtype_name)
    h = ot.unif(5, type_as=like)
    assert_same_backend(h, like)
    np.testing.assert_allclose(to_np(h), np.full(5, 0.2), rtol=rtol_for(dtype_name))


def test_unif_type_as_integer_gives_default_float(xp):
    h = ot.unif(4, type_as=to_xp(xp, np.ones(3), "int64"))
    assert h.dtype == xp.__array_namespace_info__().default_dtypes()["real floating"]


@pytest.mark.parametrize("n", [0, -2, 2.5, 3.0, "3", True, None])
def test_unif_rejects_sizes_that_are_not_positive_integers(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        ot.unif(n)


@pytest.mark.parametrize("n", [4, 30, 120])  # direct differences, then the native expansion
@pytest.mark.parametrize("offset", [0.0, 1e6])  # far from the origin: the shifted path
def test_torch_sizes_and_paths_agree_with_numpy(n, offset):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3)) + offset
    y = rng.normal(size=(n + 1, 3)) + offset
    y[: n // 2] = x[: n // 2]  # equal rows: exact zeros on the diagonal
    expected = ot.dist(x, y)
    tx = torch.tensor(x, requires_grad=True)
    M = ot.dist(tx, torch.tensor(y))
    assert M.dtype == torch.float64
    # rounding of squared distances of size ~spread^2 (shifted clouds) or ~|x|^2
    np.testing.assert_allclose(M.detach().numpy(), expected, rtol=1e-12, atol=1e-9)
    assert np.all(np.diag(M.detach().numpy())[: n // 2] == 0.0)
    assert np.all(ot.dist(tx, tx).detach().numpy().diagonal() == 0.0)
    # d/dx_i of sum_j M_ij = sum_j 2 (x_i - y_j), exactly
    M.sum().backward()
    np.testing.assert_allclose(
        tx.grad.numpy(), 2.0 * (y.shape[0] * x - y.sum(axis=0)), rtol=1e-9, atol=1e-6
    )
