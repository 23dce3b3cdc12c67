"""Bad input to emd/emd2: a clear ValueError/TypeError naming the argument, never a crash or
a silently wrong number; awkward but valid input (non-contiguous, read-only, integer) works."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import to_np, to_xp
from oracles import linprog_ot, random_problem

import otkit as ot

SOLVERS = [ot.emd, ot.emd2]


@pytest.fixture
def problem():
    return random_problem(5, 4, seed=0)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_cost(solver, problem, bad, xp):
    a, b, M = problem
    M = M.copy()
    M[1, 2] = bad
    with pytest.raises(ValueError, match="M contains 1 NaN or infinite"):
        solver(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ["a", "b"])
def test_negative_weights(solver, problem, name):
    a, b, M = problem
    weights = {"a": a.copy(), "b": b.copy()}
    weights[name][0] = -0.1
    weights[name][1] += 0.1
    with pytest.raises(ValueError, match=f"^{name} has negative entries"):
        solver(weights["a"], weights["b"], M)


@pytest.mark.parametrize("name", ["a", "b"])
def test_nan_weights(problem, name):
    a, b, M = problem
    weights = {"a": a.copy(), "b": b.copy()}
    weights[name][0] = np.nan
    with pytest.raises(ValueError, match=f"^{name} contains 1 NaN"):
        ot.emd(weights["a"], weights["b"], M)


@pytest.mark.parametrize("solver", SOLVERS)
def test_different_masses(solver, problem, xp):
    a, b, M = problem
    with pytest.raises(ValueError, match="a and b must have the same total mass"):
        solver(to_xp(xp, a), to_xp(xp, 2 * b), to_xp(xp, M))


def test_check_marginals_false_rescales_b(problem):
    a, b, M = problem
    np.testing.assert_allclose(
        ot.emd2(a, 1.5 * b, M, check_marginals=False), ot.emd2(a, b, M), rtol=1e-14
    )


def test_zero_mass(problem):
    a, b, M = problem
    with pytest.raises(ValueError, match="a sums to zero"):
        ot.emd(np.zeros_like(a), b, M)


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((4,), (4,), (5, 4)), r"a.shape == \(4,\), expected \(5,\) to match M.shape\[0\]"),
        (((5,), (3,), (5, 4)), r"b.shape == \(3,\), expected \(4,\) to match M.shape\[1\]"),
        (((5,), (4,), (20,)), r"M must be a 2-D array, got shape \(20,\)"),
        (((5,), (4,), ()), r"M must be a 2-D array, got shape \(\)"),
        (((5,), (4,), (5, 4, 1)), r"M must be a 2-D array"),
        (((5, 1), (4,), (5, 4)), r"a must be a 1-D array"),
    ],
)
def test_shape_mismatch(shapes, message, xp):
    sa, sb, sM = shapes
    a = np.full(sa, 1.0 / max(np.prod(sa), 1))
    b = np.full(sb, 1.0 / max(np.prod(sb), 1))
    M = np.ones(sM)
    with pytest.raises(ValueError, match=message):
        ot.emd(to_xp(xp, a), to_xp(xp, b), to_xp(xp, M))


def test_2d_b_only_in_emd2(problem):
    a, b, M = problem
    with pytest.raises(ValueError, match="b must be a 1-D array"):
        ot.emd(a, np.stack([b, b], 1), M)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
def test_empty_cost(solver, shape):
    with pytest.raises(ValueError, match="M is empty"):
        solver([], [], np.zeros(shape))


def test_integer_inputs_are_converted():
    a = np.array([1, 1])
    M = np.array([[0, 3], [3, 0]])
    G = ot.emd(a, a, M)
    assert G.dtype == np.float64
    np.testing.assert_array_equal(G, [[1.0, 0.0], [0.0, 1.0]])


def test_non_contiguous_and_read_only_inputs():
    a, b, M = random_problem(6, 9, seed=4)
    big = np.zeros((12, 18))
    big[::2, ::2] = M
    M_strided = big[::2, ::2]
    assert not M_strided.flags.c_contiguous
    M_fortran = np.asfortranarray(M)
    M_readonly = M.copy()
    M_readonly.setflags(write=False)
    a_readonly = a.copy()
    a_readonly.setflags(write=False)
    expected = linprog_ot(a, b, M)[1]
    for cost in (M_strided, M_fortran, M_readonly):
        np.testing.assert_allclose(ot.emd2(a_readonly, b, cost), expected, rtol=1e-10)
    assert M_readonly.flags.writeable is False


def test_mixed_libraries_raise_type_error():
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    a, b, M = random_problem(4, 3, seed=1)
    with pytest.raises(TypeError, match="'M' and 'a'.*torch.*jax"):
        ot.emd(jnp.asarray(a), b, torch.tensor(M))
    with pytest.raises(TypeError, match="argument 'M' is a NumPy array while 'a' is a torch"):
        ot.emd(torch.tensor(a), torch.tensor(b), M)


def test_bad_potentials_init(problem):
    a, b, M = problem
    with pytest.raises(ValueError, match="potentials_init must be a pair"):
        ot.emd(a, b, M, potentials_init=np.zeros(5))
    with pytest.raises(
        ValueError, match=r"potentials_init must be a pair of arrays of shapes \(5,\) and \(4,\)"
    ):
        ot.emd(a, b, M, potentials_init=(np.zeros(4), np.zeros(4)))


def test_errors_under_jax_jit_name_the_argument(problem):
    jax = pytest.importorskip("jax")
    a, b, M = problem
    M = M.copy()
    M[0, 0] = np.nan
    # under jit nothing can be raised: NaN, and otkit's own message as a warning
    with pytest.warns(UserWarning, match="M contains 1 NaN"):
        value = jax.jit(ot.emd2)(*(jax.numpy.asarray(x) for x in (a, b, M)))
    assert np.isnan(float(value))


def test_torch_nan_cost_raises_before_backward():
    torch = pytest.importorskip("torch")
    a, b, M = random_problem(4, 3, seed=1)
    M[0, 0] = np.nan
    with pytest.raises(ValueError, match="M contains"):
        ot.emd2(torch.tensor(a), torch.tensor(b), torch.tensor(M, requires_grad=True))


def test_plan_is_never_silently_zero_on_float32(xp):
    a, b, M = random_problem(20, 20, seed=3)
    G = ot.emd(to_xp(xp, a, "float32"), to_xp(xp, b, "float32"), to_xp(xp, M, "float32"))
    np.testing.assert_allclose(to_np(G).sum(), 1.0, rtol=1e-5)
