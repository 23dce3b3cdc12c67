"""The helpers of ``otkit.utils`` (POT's ``ot.utils``) on every backend.

Oracles: bisection for the simplex projection, closed forms and NumPy for the matrices and
the scaler, POT's outputs where POT is right, and invariants (masses, optimality).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import assert_same_backend, rtol_for, to_np, to_xp
from scipy.spatial.distance import cdist

import otkit as ot
from otkit import utils

# --- proj_simplex ---------------------------------------------------------------------------


def bisection_projection(v, z):
    """Projection onto {x >= 0, sum x = z} of each column of ``v`` (float64), by bisection
    on the threshold t of x = max(v - t, 0): sum max(v - t, 0) decreases in t from
    >= z at t = min(v) - z to 0 at t = max(v). 200 halvings leave an interval below 1 ulp."""
    columns = v[:, None] if v.ndim == 1 else v
    masses = np.broadcast_to(np.asarray(z, dtype=np.float64), (columns.shape[1],))
    out = np.empty_like(columns)
    for j in range(columns.shape[1]):
        low, high = columns[:, j].min() - masses[j], columns[:, j].max()
        for _ in range(200):
            middle = (low + high) / 2
            if np.maximum(columns[:, j] - middle, 0).sum() > masses[j]:
                low = middle
            else:
                high = middle
        out[:, j] = np.maximum(columns[:, j] - (low + high) / 2, 0)
    return out[:, 0] if v.ndim == 1 else out


SIMPLEX_CASES = [((7,), 3.0), ((6, 3), 1.0), ((6, 3), np.array([0.5, 1.0, 4.0]))]


@pytest.mark.parametrize("shape,z", SIMPLEX_CASES, ids=["vector-z3", "matrix", "z-per-column"])
def test_proj_simplex_matches_bisection(xp, dtype_name, shape, z):
    v = np.random.default_rng(0).normal(size=shape)
    v = np.asarray(v, dtype=dtype_name).astype(np.float64)
    v_xp = to_xp(xp, v, dtype_name)
    z_arg = to_xp(xp, z, dtype_name) if isinstance(z, np.ndarray) else z
    projected = utils.proj_simplex(v_xp, z_arg)
    assert_same_backend(projected, v_xp)
    expected = bisection_projection(v, np.asarray(z, dtype=dtype_name))
    # Sums of n entries of size ~z: the error is a few ulps of z per entry.
    np.testing.assert_allclose(to_np(projected), expected, atol=rtol_for(dtype_name) * 4)
    assert np.all(to_np(projected) >= 0)
    np.testing.assert_allclose(to_np(projected).sum(axis=0), z, rtol=rtol_for(dtype_name))


def test_proj_simplex_is_the_closest_point():
    # Variational inequality of a projection onto a convex set: <v - P, q - P> <= 0 for
    # every q of the simplex.
    rng = np.random.default_rng(1)
    v = rng.normal(size=8) * 2
    projected = utils.proj_simplex(v)
    for q in rng.dirichlet(np.ones(8), size=200):
        assert (v - projected) @ (q - projected) <= 1e-12


def test_proj_simplex_keeps_points_of_the_simplex(xp):
    q = np.random.default_rng(2).dirichlet(np.ones(5), size=3).T * 2.0
    np.testing.assert_allclose(to_np(utils.proj_simplex(to_xp(xp, q), 2.0)), q, atol=1e-15)


def test_proj_simplex_of_zero_mass_is_zero():
    np.testing.assert_array_equal(utils.proj_simplex(np.array([3.0, -1.0, 2.0]), 0), 0.0)


def test_proj_simplex_matches_pot():
    pot = pytest.importorskip("ot")
    v = np.random.default_rng(3).normal(size=(10, 4))
    for z in (1, 3):
        np.testing.assert_allclose(
            utils.proj_simplex(v, z), pot.utils.proj_simplex(v, z), atol=1e-15
        )
        np.testing.assert_allclose(
            utils.proj_simplex(v[:, 0], z), pot.utils.proj_simplex(v[:, 0], z), atol=1e-15
        )


def projection_jacobian(v, z):
    """I - 1 1^T / |S| on the support S of the projection, 0 elsewhere."""
    support = bisection_projection(v, z) > 0
    jacobian = np.diag(support.astype(float))
    jacobian -= np.outer(support, support) / support.sum()
    return jacobian


def test_proj_simplex_torch_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    v = torch.tensor(rng.normal(size=(6, 2)), requires_grad=True)
    z = torch.tensor([1.0, 2.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(utils.proj_simplex, (v, z))


def test_proj_simplex_jax_jacobian_is_the_closed_form():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    v = np.random.default_rng(5).normal(size=7)
    jacobian = jax.jit(jax.jacobian(lambda x: utils.proj_simplex(x, 1.5)))(jax.numpy.asarray(v))
    np.testing.assert_allclose(np.asarray(jacobian), projection_jacobian(v, 1.5), atol=1e-14)


@pytest.mark.parametrize("z", [-1.0, float("nan")])
def test_proj_simplex_negative_mass_is_named(z):
    with pytest.raises(ValueError, match="z must be >= 0"):
        utils.proj_simplex(np.ones(3), z)


@pytest.mark.parametrize("shape", [(), (2, 2, 2), (0,)])
def test_proj_simplex_bad_v_is_named(shape):
    with pytest.raises(ValueError, match="v"):
        utils.proj_simplex(np.ones(shape))


def test_proj_simplex_z_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"z.shape == \(2,\)"):
        utils.proj_simplex(np.ones((4, 3)), np.ones(2))


# --- center_ot_dual -------------------------------------------------------------------------


@pytest.mark.parametrize("k,uniform", [(None, False), (2, True)], ids=["1-D", "2-D-uniform"])
def test_center_ot_dual_balances_the_duals(xp, dtype_name, k, uniform):
    rng = np.random.default_rng(6)
    shape_u, shape_v = ((5,), (4,)) if k is None else ((5, k), (4, k))
    u, v = rng.normal(size=shape_u), rng.normal(size=shape_v)
    a, b = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(4))
    u_xp, v_xp = to_xp(xp, u, dtype_name), to_xp(xp, v, dtype_name)
    weights = (None, None) if uniform else (to_xp(xp, a, dtype_name), to_xp(xp, b, dtype_name))
    u_c, v_c = utils.center_ot_dual(u_xp, v_xp, *weights)
    assert_same_backend(u_c, u_xp)
    assert_same_backend(v_c, v_xp)
    a, b = (np.full(5, 0.2), np.full(4, 0.25)) if uniform else (a, b)
    u_c, v_c = to_np(u_c), to_np(v_c)
    tol = rtol_for(dtype_name) * 10
    # a.u' = b.v', and (u', v') = (u + c, v - c) for one constant c per problem.
    np.testing.assert_allclose(a @ u_c, b @ v_c, atol=tol)
    shift = u_c - to_np(u_xp)
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=tol)
    np.testing.assert_allclose(to_np(v_xp) - v_c, np.broadcast_to(shift[0], v.shape), atol=tol)


def test_center_ot_dual_matches_pot():
    pytest.importorskip("ot")
    from ot.lp._network_simplex import center_ot_dual as pot_center

    rng = np.random.default_rng(7)
    u, v, a, b = rng.normal(size=5), rng.normal(size=4), rng.random(5), rng.random(4)
    for args in ((u, v), (u, v, a, b), (u[:, None] * [1, 2], v[:, None] * [3, 1], a, b)):
        for ours, theirs in zip(utils.center_ot_dual(*args), pot_center(*args)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-15)


def test_center_ot_dual_takes_numpy_weights_beside_torch():
    torch = pytest.importorskip("torch")
    u, v = torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0])
    u_c, v_c = utils.center_ot_dual(u, v, np.array([0.5, 0.5]), [])
    np.testing.assert_allclose(u_c.numpy(), [0.5, 2.5])
    np.testing.assert_allclose(v_c.numpy(), [1.5, 1.5])


def test_center_ot_dual_weights_of_the_wrong_size_are_named():
    with pytest.raises(ValueError, match=r"b.shape == \(3,\).*v.shape == \(2,\)"):
        utils.center_ot_dual(np.zeros(2), np.zeros(2), None, np.ones(3))


# --- list_to_array --------------------------------------------------------------------------


def test_list_to_array_follows_the_first_nonempty_array(xp, dtype_name):
    M = to_xp(xp, np.ones((2, 2)), dtype_name)
    a, b, M_out = utils.list_to_array([], [0.25, 0.75], M)
    assert M_out is M
    for converted in (a, b):
        assert_same_backend(converted, M)
    assert tuple(a.shape) == (0,)
    np.testing.assert_allclose(to_np(b), [0.25, 0.75])


def test_list_to_array_without_arrays_gives_numpy_float64():
    a, M = utils.list_to_array([], [[1.0, 2.0], [3.0, 4.0]])
    assert a.dtype == np.float64 and a.shape == (0,)
    np.testing.assert_array_equal(M, [[1.0, 2.0], [3.0, 4.0]])
    single = utils.list_to_array([1, 2])
    assert isinstance(single, np.ndarray) and single.dtype == np.float64


def test_list_to_array_keeps_arrays_and_rejects_mixed_libraries():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="lst"):
        utils.list_to_array(np.ones(2), torch.ones(2))
    with pytest.raises(ValueError, match="nx"):
        utils.list_to_array([1.0], np.ones(2), nx=torch)


# --- matrices: dist0, euclidean_distances, kernel, laplacian, dots, clean_zeros -----------


def test_dist0_is_the_squared_distance_of_the_grid():
    n = 6
    M = utils.dist0(n)
    grid = np.arange(n)
    np.testing.assert_array_equal(M, (grid[:, None] - grid[None, :]) ** 2)
    assert M.dtype == np.float64 and M[0, -1] == (n - 1) ** 2


def test_dist0_unknown_method_is_named():
    with pytest.raises(ValueError, match="method must be 'lin_square'"):
        utils.dist0(3, method="lin")


def test_euclidean_distances_match_cdist(xp, dtype_name):
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    X_xp = to_xp(xp, X, dtype_name)
    for squared in (False, True):
        D = utils.euclidean_distances(X_xp, to_xp(xp, Y, dtype_name), squared=squared)
        assert_same_backend(D, X_xp)
        expected = cdist(X, Y, "sqeuclidean" if squared else "euclidean")
        np.testing.assert_allclose(to_np(D), expected, rtol=rtol_for(dtype_name) * 10)
    np.testing.assert_array_equal(np.diag(to_np(utils.euclidean_distances(X_xp, X_xp))), 0.0)


def test_kernel_is_the_gaussian_of_the_squared_distances(xp, dtype_name):
    rng = np.random.default_rng(9)
    x1, x2 = rng.normal(size=(5, 2)), rng.normal(size=(3, 2))
    x1_xp = to_xp(xp, x1, dtype_name)
    for method in ("gaussian", "RBF", "gauss"):
        K = utils.kernel(x1_xp, to_xp(xp, x2, dtype_name), method=method, sigma=0.7)
        assert_same_backend(K, x1_xp)
        expected = np.exp(-cdist(x1, x2, "sqeuclidean") / (2 * 0.7**2))
        np.testing.assert_allclose(to_np(K), expected, rtol=rtol_for(dtype_name) * 10)
    np.testing.assert_allclose(np.diag(to_np(utils.kernel(x1_xp, x1_xp))), 1.0)


def test_kernel_unknown_method_is_named():
    with pytest.raises(ValueError, match="method must be one of"):
        utils.kernel(np.ones((2, 1)), np.ones((2, 1)), method="laplace")


def test_laplacian_is_degree_minus_adjacency(xp, dtype_name):
    rng = np.random.default_rng(10)
    W = rng.random((5, 5))
    W = W + W.T
    W_xp = to_xp(xp, W, dtype_name)
    L = utils.laplacian(W_xp)
    assert_same_backend(L, W_xp)
    np.testing.assert_allclose(to_np(L), np.diag(W.sum(0)) - W, rtol=rtol_for(dtype_name))
    np.testing.assert_allclose(to_np(L).sum(axis=1), 0.0, atol=rtol_for(dtype_name) * 10)


def test_laplacian_of_a_rectangle_is_named():
    with pytest.raises(ValueError, match="x must be a square matrix"):
        utils.laplacian(np.ones((2, 3)))


def test_dots_is_the_chained_product(xp):
    rng = np.random.default_rng(11)
    A, B, C = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(2, 5))
    product = utils.dots(*(to_xp(xp, x) for x in (A, B, C)))
    np.testing.assert_allclose(to_np(product), A @ B @ C, rtol=1e-13)


def test_clean_zeros_drops_the_empty_bins(xp):
    a, b = np.array([0.0, 0.5, 0.5, 0.0]), np.array([0.5, 0.0, 0.5])
    M = np.arange(12.0).reshape(4, 3)
    a2, b2, M2 = utils.clean_zeros(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M))
    np.testing.assert_array_equal(to_np(a2), [0.5, 0.5])
    np.testing.assert_array_equal(to_np(b2), [0.5, 0.5])
    np.testing.assert_array_equal(to_np(M2), M[1:3][:, [0, 2]])


# --- cost_normalization ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 5), (3, 3)], ids=["even", "odd"])
def test_cost_normalization_matches_numpy(xp, shape):
    C = np.random.default_rng(12).random(shape) * 10
    C_xp = to_xp(xp, C)
    expected = {
        None: C,
        "median": C / np.median(C),
        "max": C / C.max(),
        "log": np.log(1 + C),
        "loglog": np.log(1 + np.log(1 + C)),
    }
    for norm, want in expected.items():
        got = utils.cost_normalization(C_xp, norm)
        assert_same_backend(got, C_xp)
        np.testing.assert_allclose(to_np(got), want, rtol=1e-14)


def test_cost_normalization_value_and_no_side_effect():
    C = np.array([[1.0, 2.0], [3.0, 8.0]])
    original = C.copy()
    normalized, value = utils.cost_normalization(C, "max", return_value=True)
    assert float(value) == 8.0
    np.testing.assert_array_equal(normalized, C / 8)
    np.testing.assert_array_equal(C, original)
    np.testing.assert_array_equal(utils.cost_normalization(C, "median", value=2.0), C / 2)


def test_cost_normalization_matches_pot():
    pot = pytest.importorskip("ot")
    C = np.random.default_rng(13).random((6, 5))
    for norm in (None, "median", "max", "log", "loglog"):
        expected = pot.utils.cost_normalization(C.copy(), norm)
        # otkit takes log1p(C), POT log(1 + C): the rounding of 1 + C, an absolute 1 ulp of 1.
        np.testing.assert_allclose(
            utils.cost_normalization(C, norm), expected, rtol=1e-15, atol=2.3e-16
        )


def test_cost_normalization_unknown_norm_is_named():
    with pytest.raises(ValueError, match="norm must be None or one of"):
        utils.cost_normalization(np.ones((2, 2)), "error")


# --- DataScaler and apply_scaler ------------------------------------------------------------


def two_clouds():
    rng = np.random.default_rng(14)
    return rng.normal(5.0, 2.0, size=(20, 3)), rng.normal(10.0, 3.0, size=(15, 3))


def numpy_scaling(norm, X, rows):
    """The scaling of X with statistics from ``rows``, written out in NumPy."""
    if norm == "standard":
        return (X - rows.mean(0)) / rows.std(0)
    if norm == "minmax":
        return (X - rows.min(0)) / (rows.max(0) - rows.min(0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("norm", ["standard", "minmax", "l2"])
def test_data_scaler_fits_jointly(xp, dtype_name, norm):
    X_s, X_t = (np.asarray(x, dtype=dtype_name).astype(np.float64) for x in two_clouds())
    X_s_xp, X_t_xp = to_xp(xp, X_s, dtype_name), to_xp(xp, X_t, dtype_name)
    scaler = utils.DataScaler(norm).fit([X_s_xp, X_t_xp])
    rows = np.concatenate([X_s, X_t])
    out_s, out_t = scaler.transform([X_s_xp, X_t_xp])
    assert_same_backend(out_s, X_s_xp)
    for out, X in ((out_s, X_s), (out_t, X_t)):
        np.testing.assert_allclose(
            to_np(out), numpy_scaling(norm, X, rows), rtol=rtol_for(dtype_name), atol=1e-5
        )
    joint = np.concatenate([to_np(out_s), to_np(out_t)])
    if norm == "standard":
        np.testing.assert_allclose(joint.mean(0), 0.0, atol=rtol_for(dtype_name) * 10)
        np.testing.assert_allclose(joint.std(0), 1.0, rtol=rtol_for(dtype_name) * 10)
    elif norm == "minmax":
        np.testing.assert_allclose(joint.min(0), 0.0, atol=rtol_for(dtype_name))
        np.testing.assert_allclose(joint.max(0), 1.0, rtol=rtol_for(dtype_name))
    transformed = utils.DataScaler(norm).fit_transform([X_s_xp, X_t_xp])
    assert isinstance(transformed, list) and len(transformed) == 2
    np.testing.assert_allclose(to_np(transformed[1]), to_np(out_t), rtol=rtol_for(dtype_name))


@pytest.mark.parametrize("norm", ["standard", "minmax", "l2"])
def test_data_scaler_matches_pot(norm):
    pot = pytest.importorskip("ot")
    X_s, X_t = two_clouds()
    ours = utils.DataScaler(norm).fit([X_s, X_t])
    theirs = pot.utils.DataScaler(norm).fit([X_s, X_t])
    np.testing.assert_allclose(ours.transform(X_t), theirs.transform(X_t), rtol=1e-14)
    for name in ("mean_", "std_", "min_", "max_"):
        if getattr(theirs, name) is None:
            assert getattr(ours, name) is None
        else:
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-15)


@pytest.mark.parametrize("norm,match", [("standard", "Zero variance"), ("minmax", "Zero range")])
def test_data_scaler_constant_feature_warns_and_is_centred_only(norm, match):
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    with pytest.warns(RuntimeWarning, match=match):
        scaled = utils.DataScaler(norm).fit_transform(X)
    np.testing.assert_array_equal(scaled[:, 1], 0.0)
    np.testing.assert_allclose(scaled[:, 0], numpy_scaling(norm, X[:, :1], X[:, :1])[:, 0])


def test_data_scaler_zero_row_warns_and_is_left_as_is():
    X = np.array([[0.0, 0.0], [3.0, 4.0]])
    with pytest.warns(RuntimeWarning, match="Zero-norm"):
        scaled = utils.DataScaler("l2").fit_transform(X)
    np.testing.assert_allclose(scaled, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15)


def test_data_scaler_errors():
    with pytest.raises(ValueError, match="Invalid norm 'bogus'"):
        utils.DataScaler("bogus")
    with pytest.raises(RuntimeError, match="must be fitted"):
        utils.DataScaler().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="X is an empty list"):
        utils.DataScaler().fit([])
    with pytest.raises(ValueError, match="same number of features"):
        utils.DataScaler().fit([np.ones((2, 2)), np.ones((2, 3))])
    np.testing.assert_allclose(
        utils.DataScaler("l2").transform(np.array([[3.0, 4.0]])), [[0.6, 0.8]]
    )


def test_data_scaler_library_mismatch_is_named():
    torch = pytest.importorskip("torch")
    scaler = utils.DataScaler().fit(np.random.default_rng(0).normal(size=(4, 2)))
    with pytest.raises(ValueError, match="Backend mismatch: X is a torch array"):
        scaler.transform(torch.ones(2, 2))


def test_apply_scaler_dispatch():
    X_s, X_t = two_clouds()
    assert utils.apply_scaler(X_s, X_t) == (X_s, X_t)
    scaler = utils.DataScaler("minmax").fit([X_s, X_t])
    out_s, out_t = utils.apply_scaler(X_s, X_t, scaler)
    np.testing.assert_array_equal(out_t, scaler.transform(X_t))
    out_s, out_t = utils.apply_scaler(X_s, X_t, lambda x: 2 * x)
    np.testing.assert_array_equal(out_s, 2 * X_s)
    with pytest.raises(ValueError, match="scaler must be None"):
        utils.apply_scaler(X_s, X_t, "standard")


# --- timers ---------------------------------------------------------------------------------


def test_tic_toc_toq(capsys):
    ot.tic()
    time.sleep(0.02)
    elapsed = ot.toc("took {} s")
    quiet = ot.toq()
    assert 0.02 <= elapsed <= quiet
    assert capsys.readouterr().out == f"took {elapsed} s\n"
    utils.tic()
    assert utils.toq() < quiet


# --- small helpers --------------------------------------------------------------------------


def test_check_random_state():
    assert utils.check_random_state(None) is np.random.mtrand._rand
    state = np.random.RandomState(3)
    assert utils.check_random_state(state) is state
    np.testing.assert_array_equal(
        utils.check_random_state(5).rand(3), np.random.RandomState(5).rand(3)
    )
    with pytest.raises(ValueError, match="seed must be None, an int"):
        utils.check_random_state("error")


def test_check_params():
    assert utils.check_params(first="OK", second=20) is True
    with pytest.warns(UserWarning, match="second"):
        assert utils.check_params(first="OK", second=None) is False


def test_get_parameter_pair():
    assert utils.get_parameter_pair(0.5) == (0.5, 0.5)
    assert utils.get_parameter_pair([2]) == (2, 2)
    assert utils.get_parameter_pair((1, 3)) == (1, 3)
    with pytest.raises(ValueError, match="length 1 or 2"):
        utils.get_parameter_pair((1, 2, 3))


def test_is_all_finite(xp):
    finite = to_xp(xp, np.ones(3))
    assert utils.is_all_finite(finite, finite) is True
    for bad in (np.nan, np.inf):
        assert utils.is_all_finite(finite, to_xp(xp, np.array([1.0, bad]))) is False


def test_label_normalization(xp):
    y = to_xp(xp, np.arange(5) + 3, "int64")
    np.testing.assert_array_equal(to_np(utils.label_normalization(y)), np.arange(5))
    np.testing.assert_array_equal(to_np(utils.label_normalization(y, start=1)), np.arange(5) + 1)
    assert utils.label_normalization(y, start=3) is y


def test_labels_to_masks(xp):
    y = to_xp(xp, np.array([1, 0, 2, 2, 1]), "int64")
    masks = utils.labels_to_masks(y)
    np.testing.assert_array_equal(to_np(masks), np.eye(3)[[1, 0, 2, 2, 1]])
    assert masks.dtype == y.dtype
    like = to_xp(xp, np.ones(1), "float32")
    assert_same_backend(utils.labels_to_masks(y, type_as=like), like)


def test_parmap():
    assert utils.parmap(lambda i: i * i, range(4)) == [0, 1, 4, 9]


def test_get_coordinate_circle(xp):
    turns = np.random.default_rng(15).random(10)
    points = np.stack([np.cos(2 * np.pi * turns), np.sin(2 * np.pi * turns)], axis=1)
    u = utils.get_coordinate_circle(to_xp(xp, points))
    np.testing.assert_allclose(to_np(u), turns, atol=1e-14)


def test_proj_sdp_clips_the_eigenvalues(xp):
    angle = np.pi / 8
    U = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    S = np.stack([U @ np.diag([1.0, -1.0]) @ U.T] * 2)
    S_xp = to_xp(xp, S)
    P = utils.proj_SDP(S_xp)
    assert_same_backend(P, S_xp)
    expected = U @ np.diag([1.0, 0.0]) @ U.T
    np.testing.assert_allclose(to_np(P), np.stack([expected] * 2), atol=1e-14)
    np.testing.assert_allclose(
        to_np(utils.proj_SDP(S_xp[0, ...], vmin=0.5)), U @ np.diag([1.0, 0.5]) @ U.T, atol=1e-14
    )


# --- the public names -----------------------------------------------------------------------


def test_pot_helpers_are_exported():
    names = [
        "DataScaler", "apply_scaler", "center_ot_dual", "check_params", "check_random_state",
        "clean_zeros", "cost_normalization", "dist", "dist0", "dots", "euclidean_distances",
        "get_coordinate_circle", "get_parameter_pair", "is_all_finite", "kernel",
        "label_normalization", "labels_to_masks", "laplacian", "list_to_array", "parmap",
        "proj_SDP", "proj_simplex", "tic", "toc", "toq", "unif",
    ]  # fmt: skip
    assert set(names) <= set(utils.__all__)
    assert all(callable(getattr(utils, name)) for name in names)
    assert ot.tic is utils.tic and ot.toc is utils.toc and ot.toq is utils.toq
