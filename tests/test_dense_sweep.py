"""The compiled iterations of the host-kernel loops (otkit/bregman/_dense_sweep.pyx).

Oracle: the NumPy iteration they replace, on random kernels far from convergence (row and
column sums of 30 to 60 positive terms accumulated in another order: relative differences
of a few units of 1e-16 in float64; in float32 the inputs are float32 and every output is
rounded once more, a few units of 6e-8), and the documented exceptional cases (a scaling
out of range, NaN).
"""

from __future__ import annotations

import numpy as np
import pytest

from otkit.bregman import _dense_sweep
from otkit.bregman._dense_pair import _relaxed

FULL, GIVEN, ROWS = _dense_sweep.FULL, _dense_sweep.GIVEN, _dense_sweep.ROWS
ScalingSweep, SelfSweep = _dense_sweep.ScalingSweep, _dense_sweep.SelfSweep

RTOL = {np.float64: 1e-13, np.float32: 1e-6}


def _problem(dtype, n=37, m=53, seed=0):
    rng = np.random.default_rng(seed)
    K = rng.uniform(0.1, 1.0, size=(n, m)).astype(dtype)
    a = rng.uniform(0.5, 1.5, size=n).astype(dtype)
    b = rng.uniform(0.5, 1.5, size=m).astype(dtype)
    a /= a.sum()
    b /= b.sum()
    u = rng.uniform(0.01, 0.1, size=n).astype(dtype)
    v = rng.uniform(0.01, 0.1, size=m).astype(dtype)
    cols = rng.uniform(0.5, 2.0, size=m).astype(dtype)
    return K, a, b, u, v, cols


def _numpy_iteration(K, a, b, u, v, cols, w):
    """The iteration in float64 NumPy: rows, errors, then the relaxed updates."""
    K, a, b, u, v, cols = (np.asarray(t, dtype=np.float64) for t in (K, a, b, u, v, cols))
    rows = K @ v
    err_rows = np.sum((u * rows - a) ** 2)
    err_cols = np.sum((v * cols - b) ** 2)
    u_new = _relaxed(u, a / rows, w)
    cols_new = u_new @ K
    v_new = _relaxed(v, b / cols_new, w)
    return rows, err_rows, err_cols, u_new, cols_new, v_new


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("w", [1.0, 1.3, 1.9])
def test_a_step_is_the_numpy_iteration(dtype, w):
    """w = 1.9 clips the factor of most updates (u, v are far from a / rows, b / cols)."""
    K, a, b, u, v, cols = _problem(dtype)
    sweep = ScalingSweep(K, a, b, 1e30)
    sweep.set(u, v, cols)
    code, err_rows, err_cols = sweep.step(w)
    rows, want_rows, want_cols, u_new, cols_new, v_new = _numpy_iteration(K, a, b, u, v, cols, w)
    rtol = RTOL[dtype]
    assert code == 0
    np.testing.assert_allclose(sweep.rows, rows, rtol=rtol)
    np.testing.assert_allclose([err_rows, err_cols], [want_rows, want_cols], rtol=rtol)
    np.testing.assert_allclose(sweep.u_next, u_new, rtol=rtol)
    np.testing.assert_allclose(sweep.cols, cols_new, rtol=rtol)
    np.testing.assert_allclose(sweep.v_next, v_new, rtol=rtol)
    np.testing.assert_array_equal(sweep.u, u)  # (taken at commit only)
    sweep.commit()
    np.testing.assert_allclose(sweep.u, u_new, rtol=rtol)
    np.testing.assert_allclose(sweep.v, v_new, rtol=rtol)


def test_the_rows_then_the_updates_is_the_whole_step():
    """ROWS computes the row sums and errors only; GIVEN then updates from them, at the
    factor it is given: the same numbers as FULL at that factor."""
    K, a, b, u, v, cols = _problem(np.float64)
    whole = ScalingSweep(K, a, b, 1e30)
    whole.set(u, v, cols)
    want = whole.step(1.6)
    split = ScalingSweep(K, a, b, 1e30)
    split.set(u, v, cols)
    code, err_rows, err_cols = split.step(1.0, ROWS)
    assert (code, err_rows, err_cols) == want
    np.testing.assert_array_equal(split.cols, cols)  # (nothing updated)
    assert split.step(1.6, GIVEN)[0] == 0
    np.testing.assert_array_equal(split.rows, whole.rows)
    for name in ("u_next", "v_next", "cols"):
        np.testing.assert_array_equal(getattr(split, name), getattr(whole, name))
    with pytest.raises(ValueError, match="mode"):
        split.step(1.0, 7)
    assert FULL == 0


def test_a_row_scaling_out_of_range_is_reported_and_nothing_taken():
    """Kernel entries of 1e-6: every exact row scaling is near 1e3 / m, above the bound 10."""
    K, a, b, u, v, cols = _problem(np.float64)
    K *= 1e-6
    sweep = ScalingSweep(K, a, b, 10.0)
    sweep.set(u, v, cols)
    code, err_rows, _ = sweep.step(1.0)
    assert code == 1
    np.testing.assert_allclose(sweep.u_next, a / (K @ v), rtol=1e-13)
    np.testing.assert_array_equal(sweep.u, u)
    np.testing.assert_array_equal(sweep.cols, cols)  # (not computed)
    np.testing.assert_allclose(err_rows, np.sum((u * (K @ v) - a) ** 2), rtol=1e-13)


def test_a_column_scaling_out_of_range_is_reported_after_the_rows():
    """One column of the kernel at 1e-40: its scaling b_j / c_j is far above the bound."""
    K, a, b, u, v, cols = _problem(np.float64)
    K[:, 5] = 1e-40
    sweep = ScalingSweep(K, a, b, 1e10)
    sweep.set(u, v, cols)
    code, *_ = sweep.step(1.0)
    assert code == 2
    u_new = a / (K @ v)
    np.testing.assert_allclose(sweep.u_next, u_new, rtol=1e-13)
    np.testing.assert_allclose(sweep.cols, u_new @ K, rtol=1e-13)
    assert sweep.v_next[5] > 1e10
    np.testing.assert_array_equal(sweep.v, v)


@pytest.mark.parametrize("w", [1.0, 1.5])
def test_nan_is_out_of_range(w):
    K, a, b, u, v, cols = _problem(np.float64)
    K[3, 4] = np.nan
    sweep = ScalingSweep(K, a, b, 1e30)
    sweep.set(u, v, cols)
    code, err_rows, _ = sweep.step(w)
    assert code == 1 and np.isnan(err_rows) and np.isnan(sweep.u_next[3])
    assert np.isfinite(np.delete(sweep.u_next, 3)).all()


def test_bad_arrays_are_rejected():
    K, a, b, *_ = _problem(np.float64)
    with pytest.raises(TypeError, match="kernel"):
        ScalingSweep(K.T, a, b, 1e30)  # (not C-contiguous)
    with pytest.raises(TypeError, match="b"):
        ScalingSweep(K, a, b[:-1], 1e30)
    with pytest.raises(TypeError, match="a"):
        ScalingSweep(K, a.astype(np.float32), b, 1e30)
    with pytest.raises(TypeError, match="kernel"):
        SelfSweep(K, a, 1e30)  # (not square)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_self_step_is_the_averaged_numpy_step(dtype):
    K, a, *_ = _problem(dtype, n=41, m=41, seed=3)
    K = (0.5 * (K + K.T)).astype(dtype)
    sweep = SelfSweep(K, a, 1e30)
    p = K @ np.ones(41, dtype=dtype)
    sweep.start(p)
    err = sweep.step()
    s = np.sqrt(a.astype(np.float64) / p.astype(np.float64))  # (from s = 1)
    products = K.astype(np.float64) @ s
    rtol = RTOL[dtype]
    np.testing.assert_allclose(sweep.s, s, rtol=rtol)
    np.testing.assert_allclose(sweep.p, products, rtol=rtol)
    np.testing.assert_allclose(err, np.sum((s * products - a) ** 2), rtol=rtol)


def test_a_self_step_out_of_range_changes_nothing():
    K, a, *_ = _problem(np.float64, n=41, m=41, seed=3)
    K = 1e-8 * (K + K.T)
    sweep = SelfSweep(K, a, 100.0)
    p = K @ np.ones(41)
    sweep.start(p)
    assert sweep.step() is None  # (sqrt(a / p) is near 1e3)
    np.testing.assert_array_equal(sweep.s, np.ones(41))
    np.testing.assert_array_equal(sweep.p, p)


def test_floor_exp_is_numpys_floored_exp_in_float32():
    """Within two units in the last place of float32 (2 * 2^-23 relative) from below the
    floor to the largest finite float; +inf beyond it, NaN kept."""
    exponents = np.linspace(-120.0, 88.7, 401 * 499).astype(np.float32).reshape(401, 499)
    floor = -69.0
    want = np.exp(np.maximum(exponents.astype(np.float64), floor))
    got = _dense_sweep.floor_exp(exponents.copy(), floor)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2.0 * 2.0**-23, atol=0)
    special = np.array([[89.0, np.inf, np.nan, -np.inf]], dtype=np.float32)
    out = _dense_sweep.floor_exp(special, floor)
    assert np.isposinf(out[0, :2]).all() and np.isnan(out[0, 2])
    np.testing.assert_allclose(out[0, 3], np.exp(np.float64(floor)), rtol=2.0**-22)
    with pytest.raises(TypeError, match="kernel"):
        _dense_sweep.floor_exp(exponents.astype(np.float64), floor)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_stage_updates_are_numpys(dtype):
    """update(f, g, e): g - e log(c / b), then f - e log(r / a), in place, as NumPy computes
    them from :meth:`StageSums.compute`; the largest |f| + |g| returned; None and f, g
    untouched when a sum leaves the range."""
    K, a, b, *_ = _problem(dtype)
    a, b = a.astype(np.float64), b.astype(np.float64)
    rng = np.random.default_rng(5)
    f, g = rng.normal(size=K.shape[0]), rng.normal(size=K.shape[1])
    stage = _dense_sweep.StageSums(K, a, b, 1e30)
    dg, df = (v.copy() for v in stage.compute())
    want_g, want_f = g - 0.7 * dg, f - 0.7 * df
    top = stage.update(f, g, 0.7)
    np.testing.assert_array_equal(g, want_g)
    np.testing.assert_array_equal(f, want_f)
    assert top == np.max(np.abs(want_f)) + np.max(np.abs(want_g))
    narrow = _dense_sweep.StageSums(K, a, b, 1.0 + 1e-9)
    before = f.copy()
    assert narrow.update(f, g, 0.7) is None
    np.testing.assert_array_equal(f, before)
    with pytest.raises(TypeError, match="f must"):
        stage.update(f.astype(np.float32), g, 0.7)


def test_single_copy_rounds_to_float32_without_subnormals():
    """float32 rounding of each entry; below the smallest normal float32, 0 (NaN and inf
    kept)."""
    tiny = float(np.finfo(np.float32).tiny)
    K = np.array([[1.0 / 3.0, 1e-30, tiny, tiny * 0.999, 1e-40], [0.0, 1e300, np.inf, np.nan, 2.5]])
    got = _dense_sweep.single_copy(K)
    assert got.dtype == np.float32 and got.shape == K.shape
    with np.errstate(over="ignore"):
        want = K.astype(np.float32)
    want[0, 3:] = 0.0
    np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="kernel"):
        _dense_sweep.single_copy(np.ones((2, 2), dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_stage_sums_are_numpys(dtype):
    """log(c / b) and log(r / a) for c = 1 K, r = K (b / c): within the rounding of the
    sums to the kernel's dtype (and of NumPy's own float32 products), relative to the
    logarithms' arguments (absolute on the logarithms)."""
    K, a, b, *_ = _problem(dtype)
    a, b = a.astype(np.float64), b.astype(np.float64)
    stage = _dense_sweep.StageSums(K, a, b, 1e30)
    dg, df = stage.compute()
    cols = np.ones(K.shape[0]) @ K.astype(np.float64)
    rows = K.astype(np.float64) @ (b / cols)
    atol = 1e-14 if dtype == np.float64 else 4 * 2.0**-24
    np.testing.assert_allclose(dg, np.log(cols / b), rtol=0, atol=atol)
    np.testing.assert_allclose(df, np.log(rows / a), rtol=0, atol=atol)


def test_stage_sums_out_of_range_are_none():
    """A column of 1e-40 (b / c near 1e38, above the bound), then rows scaled by 1e-20
    (a / r near 1e20): the stage reports None either way."""
    K, a, b, *_ = _problem(np.float64)
    column = K.copy()
    column[:, 2] = 1e-40
    assert _dense_sweep.StageSums(column, a, b, 1e30).compute() is None
    rows = K.copy()
    rows[4] *= 1e-20  # (its column sums barely move: only a_4 / r_4 leaves the range)
    assert _dense_sweep.StageSums(rows, a, b, 1e10).compute() is None
    assert _dense_sweep.StageSums(K, a, b, 1e10).compute() is not None
