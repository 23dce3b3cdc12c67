"""Bad input to sinkhorn / sinkhorn2: clear errors that name the argument."""

from __future__ import annotations

import numpy as np
import pytest
from oracles import random_problem

import otkit as ot


@pytest.fixture
def problem():
    return random_problem(4, 3, seed=0)


@pytest.mark.parametrize("fn", [ot.sinkhorn, ot.sinkhorn2])
@pytest.mark.parametrize("reg", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_reg(problem, fn, reg):
    with pytest.raises(ValueError, match=r"reg must be a finite real number > 0"):
        fn(*problem, reg)


def test_reg_of_wrong_type(problem):
    with pytest.raises(TypeError, match="reg"):
        ot.sinkhorn(*problem, "large")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_cost(problem, bad):
    a, b, M = problem
    M[1, 2] = bad
    with pytest.raises(ValueError, match="M contains 1 NaN or infinite"):
        ot.sinkhorn2(a, b, M, 0.1)


def test_negative_weights(problem):
    a, b, M = problem
    a = a.copy()
    a[0] = -0.1
    with pytest.raises(ValueError, match="a has negative entries"):
        ot.sinkhorn(a, b, M, 0.1)


def test_mismatched_shapes(problem):
    a, b, M = problem
    with pytest.raises(ValueError, match=r"a.shape == \(3,\), expected \(4,\)"):
        ot.sinkhorn(a[:3], b, M, 0.1)
    with pytest.raises(ValueError, match=r"b.shape == \(4,\)"):
        ot.sinkhorn(a, np.full(4, 0.25), M, 0.1)


def test_mismatched_mass(problem):
    a, b, M = problem
    with pytest.raises(ValueError, match="same total mass"):
        ot.sinkhorn(a, 2 * b, M, 0.1)


def test_empty_inputs():
    with pytest.raises(ValueError, match="M is empty"):
        ot.sinkhorn([], [], np.zeros((0, 3)), 0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "sinkhorn_fast"}, "method must be one of"),
        ({"grad": "unrolled"}, "grad must be one of"),
        ({"warmstart_type": "duals"}, "warmstart_type must be"),
        ({"numItermax": -1}, "numItermax must be an integer >= 0"),
        ({"stopThr": -1.0}, "stopThr must be"),
        ({"warmstart": (np.zeros(2), np.zeros(3))}, "warmstart arrays must have shapes"),
        ({"warmstart": 3.0}, "warmstart must be a pair"),
        ({"acceleration": "anderson"}, "acceleration must be None or 'overrelax'"),
        ({"omega": 1.5}, "omega is the factor of acceleration='overrelax'"),
        (
            {"acceleration": "overrelax", "omega": 2.0},
            r"omega must be a finite real number in \[1, 2\)",
        ),
        ({"acceleration": "overrelax", "method": "greenkhorn"}, "does not apply to"),
    ],
)
def test_bad_options(problem, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ot.sinkhorn(*problem, 0.1, **kwargs)


def test_omega_of_wrong_type(problem):
    with pytest.raises(TypeError, match="omega must be a real number"):
        ot.sinkhorn(*problem, 0.1, acceleration="overrelax", omega="fast")


def test_unknown_keyword(problem):
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        ot.sinkhorn(*problem, 0.1, stop_thr=1e-3)


def test_mixed_libraries(problem):
    torch = pytest.importorskip("torch")
    a, b, M = problem
    with pytest.raises(TypeError, match="convert them to one library"):
        ot.sinkhorn(torch.tensor(a), b, M, 0.1)


def test_host_only_method_refuses_jit_and_autodiff(problem):
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    a, b, M = (jnp.asarray(x) for x in problem)
    with pytest.raises(ValueError, match="greenkhorn"):
        jax.jit(lambda M: ot.sinkhorn2(a, b, M, 0.1, method="greenkhorn"))(M)
    ta, tb, tM = (torch.tensor(x) for x in problem)
    with pytest.raises(ValueError, match="grad='autodiff'"):
        ot.sinkhorn2(ta, tb, tM, 0.1, method="greenkhorn", grad="autodiff")
