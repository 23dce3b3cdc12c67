"""``otkit.backend``: namespace detection, host bridge, shims, loops and seeded draws."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.special
from conftest import assert_same_backend, default_device, rtol_for, to_np, to_xp

from otkit.backend import (
    as_generator,
    contiguous,
    device_of,
    fori_loop,
    from_numpy,
    get_namespace,
    logsumexp,
    logsumexp_add,
    random_normal,
    result_float_dtype,
    stop_gradient,
    to_numpy,
    while_loop,
    workspace_like,
)

NO_FRAMEWORK = "assert 'torch' not in sys.modules and 'jax' not in sys.modules, sorted(sys.modules)"


def run_python(code: str) -> None:
    """Run ``code`` in a fresh interpreter and fail with its stderr if it fails."""
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


def default_float(xp):
    return xp.__array_namespace_info__().default_dtypes()["real floating"]


# --- no framework at import -----------------------------------------------------------------


def test_import_otkit_imports_neither_torch_nor_jax():
    run_python(f"import sys, otkit\n{NO_FRAMEWORK}")


def test_import_otkit_imports_no_scipy_nor_matplotlib():
    # importing scipy.optimize alone costs ~0.7 s: only the functions that need it import it
    run_python(
        "import sys, otkit\n"
        "assert not any(m.split('.')[0] in ('scipy', 'matplotlib') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith(('scipy', 'matplotlib')))"
    )


def test_numpy_calls_import_neither_torch_nor_jax():
    run_python(
        "import sys\n"
        "import numpy as np\n"
        "import otkit\n"
        "x = np.random.default_rng(0).normal(size=(5, 2))\n"
        "M = otkit.dist(x, x[:4] + 1.0, metric='euclidean')\n"
        "plan = otkit.emd(otkit.unif(5), otkit.unif(4), M)\n"
        "cost = otkit.emd2(otkit.unif(5), otkit.unif(4), M)\n"
        f"{NO_FRAMEWORK}"
    )


# --- get_namespace --------------------------------------------------------------------------


def test_get_namespace_torch_and_jax_names_both_arguments():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    with pytest.raises(TypeError, match=r"'cost'.*'target'.*torch.*jax"):
        get_namespace(cost=torch.ones(2), target=jax.numpy.ones(2))


def test_get_namespace_numpy_array_beside_torch_names_both_arguments():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"'M'.*'a'"):
        get_namespace(a=torch.ones(2), M=np.ones((2, 2)))


def test_get_namespace_lists_take_the_namespace_of_the_others(xp):
    x = to_xp(xp, np.ones((2, 2)))
    assert get_namespace(a=[0.5, 0.5], M=x, b=(0.5, 0.5), reg=0.1) is get_namespace(M=x)


def test_get_namespace_without_arrays_is_numpy():
    xp = get_namespace(a=[1.0, 2.0], b=None, reg=0.5)
    assert xp.__name__.endswith("numpy")


def test_get_namespace_allows_numpy_weights_beside_another_library(xp):
    M = to_xp(xp, np.ones((2, 3)))
    xp_found = get_namespace(a=np.full(2, 0.5), b=np.full(3, 1 / 3), M=M)
    assert xp_found is get_namespace(M=M)


def test_get_namespace_names_a_scipy_sparse_argument():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"'M' is a scipy.sparse matrix"):
        get_namespace(a=np.full(2, 0.5), M=sparse.csr_matrix(np.ones((2, 2))))


def test_get_namespace_names_a_complex_argument(xp):
    M = to_xp(xp, np.ones((2, 2)))
    z = to_xp(xp, np.ones(2) + 1j, dtype="complex128")
    with pytest.raises(TypeError, match=r"'b' has a complex dtype"):
        get_namespace(a=[0.5, 0.5], b=z, M=M)


def test_sinkhorn_on_a_scipy_sparse_cost_is_a_type_error_naming_it():
    # (emd and emd2 solve the LP on a sparse cost's entries; the dense solvers refuse it,
    # where NumPy's conversion raised "setting an array element with a sequence")
    import otkit as ot

    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"'M' is a scipy.sparse matrix"):
        ot.sinkhorn2(np.full(2, 0.5), np.full(2, 0.5), sparse.csr_matrix(np.ones((2, 2))), 1.0)


def test_get_namespace_of_array_api_strict_is_strict():
    strict = pytest.importorskip("array_api_strict")
    assert get_namespace(M=strict.ones((2, 2)), a=[0.5, 0.5]) is strict


# --- host bridge ----------------------------------------------------------------------------


def test_host_round_trip_keeps_dtype_and_device(xp, dtype_name):
    x = to_xp(xp, np.arange(6.0).reshape(2, 3) / 7, dtype_name)
    host = to_numpy(x, dtype=None)
    assert isinstance(host, np.ndarray) and host.dtype == np.dtype(dtype_name)
    back = from_numpy(host, get_namespace(x=x), device=device_of(x))
    assert_same_backend(back, x)
    np.testing.assert_array_equal(to_np(back), to_np(x))


def test_host_round_trip_through_float64_keeps_dtype_and_values(xp, dtype_name):
    x = to_xp(xp, np.arange(6.0).reshape(2, 3) / 7, dtype_name)
    host = to_numpy(x)
    assert host.dtype == np.float64
    back = from_numpy(host, get_namespace(x=x), dtype=x.dtype, device=device_of(x))
    assert_same_backend(back, x)
    np.testing.assert_array_equal(to_np(back), to_np(x))


def test_to_numpy_detaches_torch_tensors_that_require_grad():
    torch = pytest.importorskip("torch")
    x = torch.ones(3, requires_grad=True) * 2.0
    np.testing.assert_array_equal(to_numpy(x), np.full(3, 2.0))


def test_to_numpy_of_torch_bfloat16_is_float32_exactly():
    # NumPy has no bfloat16; float32 holds every bfloat16 value
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.1, 1.0 / 3.0, 3.0e38], dtype=torch.bfloat16)
    host = to_numpy(x, None)
    assert host.dtype == np.float32
    np.testing.assert_array_equal(host, x.float().numpy())
    assert to_numpy(x).dtype == np.float64


def test_from_numpy_read_only_array_to_torch_warns_nothing():
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as torch_xp

    host = np.arange(3.0)
    host.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensor = from_numpy(host, torch_xp)
    assert tensor.dtype == torch.float64


def test_device_of_lists_is_none():
    assert device_of([1.0, 2.0]) is None


# --- result_float_dtype ---------------------------------------------------------------------


def test_result_float_dtype_of_integers_is_the_default_float(xp):
    x = to_xp(xp, np.arange(3), "int64")
    assert result_float_dtype(xp, x, [1, 2]) == default_float(xp)


def test_result_float_dtype_promotes_float32_and_float64(xp):
    x32 = to_xp(xp, np.ones(2), "float32")
    x64 = to_xp(xp, np.ones(2), "float64")
    assert result_float_dtype(xp, x32, x64) == x64.dtype


def test_result_float_dtype_keeps_float32(xp):
    x32 = to_xp(xp, np.ones(2), "float32")
    assert result_float_dtype(xp, x32, to_xp(xp, np.ones(2), "int64")) == x32.dtype


def test_result_float_dtype_ignores_numpy_weights_beside_torch():
    torch = pytest.importorskip("torch")
    M = torch.ones((2, 2), dtype=torch.float32)
    xp = get_namespace(M=M, a=np.ones(2))
    assert result_float_dtype(xp, M, np.ones(2)) == torch.float32


# --- logsumexp ------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_logsumexp_matches_scipy(xp, dtype_name, axis):
    values = np.random.default_rng(0).normal(scale=10.0, size=(4, 5))
    values = values.astype(dtype_name).astype(np.float64)
    x = to_xp(xp, values, dtype_name)
    result = logsumexp(x, axis=axis)
    expected = scipy.special.logsumexp(values, axis=axis)
    assert_same_backend(result, x)
    assert tuple(result.shape) == np.shape(expected)
    # Shifted by the maximum, each exp() and the sum are accurate to a few ulps of the
    # result's scale, which is that of the largest |value|.
    np.testing.assert_allclose(
        to_np(result), expected, rtol=0, atol=rtol_for(dtype_name) * np.abs(values).max()
    )


@pytest.mark.parametrize("axis", [0, 1])
def test_logsumexp_of_all_minus_inf_slices_is_minus_inf(xp, axis):
    values = np.array([[-np.inf, -np.inf, -np.inf], [0.0, 1.0, -np.inf]])
    values = values if axis == 1 else values.T
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = to_np(logsumexp(to_xp(xp, values), axis=axis))
    np.testing.assert_array_equal(result, scipy.special.logsumexp(values, axis=axis))


def test_logsumexp_of_minus_inf_everywhere_is_minus_inf(xp):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = logsumexp(to_xp(xp, np.full((2, 3), -np.inf)))
    assert float(to_np(result)) == -np.inf


def test_logsumexp_of_large_values_does_not_overflow(xp, dtype_name):
    values = np.array([[1e4, 1e4 - 1.0], [-1e4, 3e4]], dtype=dtype_name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = to_np(logsumexp(to_xp(xp, values, dtype_name), axis=1))
    expected = scipy.special.logsumexp(values.astype(np.float64), axis=1)
    np.testing.assert_allclose(result, expected, rtol=rtol_for(dtype_name))


def test_logsumexp_propagates_nan(xp):
    result = to_np(logsumexp(to_xp(xp, np.array([[np.nan, 0.0], [1.0, 2.0]])), axis=1))
    assert np.isnan(result[0]) and np.isfinite(result[1])


@pytest.mark.parametrize("axis", [0, 1])
def test_logsumexp_add_in_a_workspace_matches_scipy(xp, dtype_name, axis):
    # Terms far below a slice's maximum are raised to the dtype's exponent floor before
    # exp(); slices of -inf (zero weights) give -inf, and nothing warns.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6)) * 300.0
    x[2, :] = -np.inf
    x[:, 3] = -np.inf
    y = rng.normal(size=(1, 6)) if axis == 1 else rng.normal(size=(5, 1))
    x_xp = to_xp(xp, x.astype(dtype_name), dtype_name)
    workspace = workspace_like(x_xp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = to_np(logsumexp_add(x_xp, to_xp(xp, y, dtype_name), axis, workspace=workspace))
    expected = scipy.special.logsumexp(x.astype(dtype_name).astype(np.float64) + y, axis=axis)
    np.testing.assert_allclose(result, expected, rtol=rtol_for(dtype_name))


def test_workspace_like_is_a_buffer_only_where_it_may_be_overwritten(xp):
    x = to_xp(xp, np.zeros((2, 3)))
    workspace = workspace_like(x)
    if xp.__name__.startswith(("array_api_compat.numpy", "array_api_compat.torch")):
        assert tuple(workspace.shape) == (2, 3) and workspace.dtype == x.dtype
    else:
        assert workspace is None


def test_contiguous_keeps_values_and_lays_rows_out_contiguously(xp):
    x = xp.permute_dims(to_xp(xp, np.arange(6.0).reshape(2, 3)), (1, 0))
    result = contiguous(x)
    np.testing.assert_array_equal(to_np(result), np.arange(6.0).reshape(2, 3).T)
    if hasattr(result, "is_contiguous"):
        assert result.is_contiguous()
    elif isinstance(result, np.ndarray):
        assert result.flags.c_contiguous


@pytest.mark.parametrize(
    "row_dtype, cost_dtype, scale",
    [
        ("float64", "float64", 5.0),
        ("float32", "float32", 5.0),
        ("float32", "float64", 5.0),  # promoted by the cost: the expression's path
        ("float32", "float32", np.float64(5.0)),  # promoted by the scale, likewise
    ],
)
def test_exp_outer_sum_on_numpy_is_the_expression_bit_for_bit(row_dtype, cost_dtype, scale):
    # NumPy works in one buffer, in the expression's order: the same bits and dtype
    from otkit.backend._shims import exp_outer_sum

    rng = np.random.default_rng(3)
    row, col = rng.normal(size=37).astype(row_dtype), rng.normal(size=29).astype(row_dtype)
    C = rng.random((37, 29)).astype(cost_dtype)
    expected = np.exp((row[:, None] + col[None, :] - C) * scale)
    result = exp_outer_sum(row, col, C, scale)
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)


# --- stop_gradient --------------------------------------------------------------------------


def test_stop_gradient_blocks_torch_gradient():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (stop_gradient(x) * x).sum().backward()
    # Only the un-stopped factor is differentiated: d/dx (c * x) = c = x.
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -2.0, 3.0])


def test_stop_gradient_gives_zero_jax_gradient():
    jax = pytest.importorskip("jax")
    gradient = jax.grad(lambda x: jax.numpy.sum(stop_gradient(x) ** 2))(jax.numpy.ones(3))
    np.testing.assert_array_equal(np.asarray(gradient), np.zeros(3))


def test_stop_gradient_keeps_values(xp):
    x = to_xp(xp, np.array([1.0, 2.0]))
    result = stop_gradient(x)
    assert_same_backend(result, x)
    np.testing.assert_array_equal(to_np(result), [1.0, 2.0])


# --- loops ----------------------------------------------------------------------------------


def test_fori_loop_eager(xp):
    state = (to_xp(xp, np.array(1.0)), to_xp(xp, np.array(0.0)))
    product, total = fori_loop(1, 5, lambda i, s: (s[0] * i, s[1] + i), state, xp=xp)
    assert float(to_np(product)) == 24.0 and float(to_np(total)) == 10.0


def test_while_loop_eager(xp):
    result = while_loop(lambda s: s < 100.0, lambda s: s * 3.0, to_xp(xp, np.array(1.0)), xp=xp)
    assert float(to_np(result)) == 243.0


def jit_and_jaxpr(function, *args):
    """Value of ``jax.jit(function)(*args)`` and the text of its jaxpr."""
    jax = pytest.importorskip("jax")
    return jax.jit(function)(*args), str(jax.make_jaxpr(function)(*args))


@pytest.mark.parametrize("pass_xp", [False, True], ids=["xp=None", "xp=jax"])
def test_fori_loop_compiles_under_jit(pass_xp):
    jax = pytest.importorskip("jax")
    xp = jax.numpy if pass_xp else None
    value, jaxpr = jit_and_jaxpr(
        lambda s: fori_loop(0, 50, lambda i, s: s * 0.5 + i, s, xp=xp), jax.numpy.ones(3)
    )
    expected = 1.0
    for i in range(50):
        expected = expected * 0.5 + i
    np.testing.assert_allclose(np.asarray(value), np.full(3, expected), rtol=rtol_for("float32"))
    # One loop primitive in the program, not 50 unrolled multiplications.
    assert ("scan" in jaxpr or "while" in jaxpr) and jaxpr.count("mul") == 1


def test_fori_loop_with_traced_bound_under_jit():
    jax = pytest.importorskip("jax")
    value = jax.jit(lambda n, s: fori_loop(0, n, lambda i, s: s + 2.0, s))(7, jax.numpy.ones(2))
    np.testing.assert_array_equal(np.asarray(value), np.full(2, 15.0))


@pytest.mark.parametrize("pass_xp", [False, True], ids=["xp=None", "xp=jax"])
def test_while_loop_compiles_under_jit(pass_xp):
    jax = pytest.importorskip("jax")
    xp = jax.numpy if pass_xp else None
    value, jaxpr = jit_and_jaxpr(
        lambda s: while_loop(lambda s: s[0] < 100.0, lambda s: (s[0] * 3.0, s[1] + 1), s, xp=xp),
        (jax.numpy.asarray(1.0), jax.numpy.asarray(0)),
    )
    assert float(value[0]) == 243.0 and int(value[1]) == 5
    assert "while" in jaxpr


# --- seeded draws ---------------------------------------------------------------------------


def test_random_normal_draws_the_same_numbers_on_every_backend(xp, dtype_name):
    draws = random_normal(
        (3, 4), seed=7, xp=xp, dtype=getattr(xp, dtype_name), device=default_device(xp)
    )
    expected = np.random.default_rng(7).standard_normal((3, 4)).astype(dtype_name)
    assert draws.dtype == getattr(xp, dtype_name)
    assert device_of(draws) == device_of(to_xp(xp, np.ones(1), dtype_name))
    np.testing.assert_array_equal(to_np(draws), expected)


def test_random_normal_same_seed_same_draws():
    np.testing.assert_array_equal(random_normal(5, seed=3), random_normal(5, seed=3))


def test_random_normal_from_a_generator_continues_its_stream():
    generator = np.random.default_rng(11)
    first, second = random_normal(4, seed=generator), random_normal(4, seed=generator)
    expected = np.random.default_rng(11).standard_normal(8)
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)


@pytest.mark.parametrize("seed", [None, 5, np.int64(5)], ids=["None", "int", "numpy-int"])
def test_seeded_draws_leave_the_global_numpy_state_alone(seed):
    key_before, position_before, *gauss_before = np.random.get_state()[1:]
    as_generator(seed).standard_normal(3)
    random_normal((2, 2), seed=seed)
    key_after, position_after, *gauss_after = np.random.get_state()[1:]
    np.testing.assert_array_equal(key_before, key_after)
    assert (position_before, gauss_before) == (position_after, gauss_after)


def test_as_generator_returns_a_given_generator():
    generator = np.random.default_rng(0)
    assert as_generator(generator) is generator


@pytest.mark.parametrize("seed", ["3", 1.5, True, [1, 2], np.random.RandomState(0)])
def test_bad_seed_is_a_type_error(seed):
    with pytest.raises(TypeError, match="seed must be"):
        as_generator(seed)
