"""OTResult and LazyTensor: POT's attributes and constructor, plans in every form (dense,
sparse, lazy), marginals, displacements, citations; on every backend."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import assert_same_backend, to_np, to_xp

import otkit as ot
from otkit.utils._result import LazyTensor, OTResult, with_changes

POT_INIT = (
    "potentials", "value", "value_linear", "value_quad", "plan", "log", "backend",
    "sparse_plan", "lazy_plan", "status", "batch_size",
)  # fmt: skip


def _plan(seed=0, n=5, m=4):
    rng = np.random.default_rng(seed)
    return rng.random((n, m))


def test_has_every_attribute_of_pots_otresult():
    pot = pytest.importorskip("ot")
    ours = set(dir(OTResult))
    missing = [name for name in dir(pot.utils.OTResult) if name not in ours]
    assert missing == []
    for name in ("backend", "batch_size", "converged", "n_iter", "errors", "method"):
        assert name in ours


def test_constructor_takes_pots_keywords_in_pots_order():
    pot = pytest.importorskip("ot")
    ours = inspect.signature(OTResult.__init__).parameters
    theirs = inspect.signature(pot.utils.OTResult.__init__).parameters
    positional = [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs)  # self and POT's keywords, same order
    assert ours["batch_size"].default == theirs["batch_size"].default == 100
    extras = [n for n, p in ours.items() if p.kind is p.KEYWORD_ONLY]
    assert {"n_iter", "errors", "converged", "method", "citation"} <= set(extras)


def test_pot_style_positional_construction():
    plan = _plan()
    f, g = np.arange(5.0), np.arange(4.0)
    res = OTResult((f, g), 1.0, 0.5, None, plan, {"k": 1}, None, None, None, "done", 7)
    assert res.potential_a is f and res.potential_b is g
    assert (res.value, res.value_linear, res.value_quad) == (1.0, 0.5, None)
    assert res.plan is plan and res.log == {"k": 1} and res.status == "done"
    assert res.batch_size == 7 and res.lazy_plan is None


def test_empty_result_is_all_none():
    res = OTResult()
    assert res.plan is None and res.sparse_plan is None and res.marginals is None
    assert res.potentials is None and res.potential_a is None and res.backend is None
    assert res.log is None and res.errors == []  # POT: every field None
    assert "Computational Optimal Transport" in res.citation


def test_marginals_and_backend_on_every_backend(xp):
    plan_np = _plan()
    plan = to_xp(xp, plan_np)
    res = OTResult(plan=plan)
    np.testing.assert_allclose(to_np(res.marginal_a), plan_np.sum(1), rtol=1e-14)
    np.testing.assert_allclose(to_np(res.marginal_b), plan_np.sum(0), rtol=1e-14)
    assert_same_backend(res.marginal_a, plan)
    assert res.marginals[0] is res.marginal_a
    import array_api_compat

    assert res.backend is array_api_compat.array_namespace(plan)


def test_sparse_plan_is_csr_on_numpy_and_dense_elsewhere(xp):
    plan_np = _plan()
    plan_np[plan_np < 0.5] = 0.0
    res = OTResult(plan=to_xp(xp, plan_np))
    sparse = res.sparse_plan
    if xp.__name__ == "array_api_compat.numpy":
        from scipy.sparse import csr_array

        assert isinstance(sparse, csr_array) and sparse.nnz == np.count_nonzero(plan_np)
        np.testing.assert_array_equal(sparse.toarray(), plan_np)
    else:  # as POT's torch and JAX backends: the dense plan
        assert sparse is res.plan


def test_plan_from_a_sparse_plan():
    from scipy.sparse import coo_array

    plan = _plan()
    res = OTResult(sparse_plan=coo_array(plan))
    np.testing.assert_array_equal(res.plan, plan)
    np.testing.assert_allclose(res.marginal_a, plan.sum(1), rtol=1e-14)


@pytest.mark.parametrize("batch_size", [1, 2, 100])
def test_lazy_plan_marginals_by_blocks(xp, batch_size):
    plan_np = _plan(n=7, m=3)
    plan = to_xp(xp, plan_np)
    lazy = LazyTensor((7, 3), lambda i, j, P: P[i, j], P=plan)
    res = OTResult(lazy_plan=lazy, batch_size=batch_size)
    assert res.plan is None and res.lazy_plan is lazy
    np.testing.assert_allclose(to_np(res.marginal_a), plan_np.sum(1), rtol=1e-14)
    np.testing.assert_allclose(to_np(res.marginal_b), plan_np.sum(0), rtol=1e-14)
    assert_same_backend(res.marginal_b, plan)


def test_lazy_tensor_indexing():
    v = np.arange(4.0)
    T = LazyTensor((4, 4), lambda i, j, v: v[i, None] + v[None, j], v=v)
    assert T.shape == (4, 4) and T.ndim == 2 and T.v is v
    np.testing.assert_array_equal(T[:], v[:, None] + v[None, :])
    np.testing.assert_array_equal(T[1:3], (v[:, None] + v[None, :])[1:3])
    assert repr(T) == "LazyTensor(shape=(4, 4),attributes=(v))"  # POT's format
    with pytest.raises(TypeError, match="int and slice"):
        T[[0, 1]]
    with pytest.raises(NotImplementedError, match="int and slice"):  # what POT raises
        T["error"]
    with pytest.raises(IndexError, match="3 keys"):
        T[0, 0, 0]
    with pytest.raises(TypeError, match="getitem must be callable"):
        LazyTensor((2, 2), None)


def test_displacements_without_positions_raise_a_clear_error():
    res = ot.solve(_plan())
    with pytest.raises(NotImplementedError, match="a_to_b is not available.*positions"):
        _ = res.a_to_b
    with pytest.raises(NotImplementedError, match="b_to_a is not available"):
        _ = res.b_to_a


def test_displacements_are_computed_once_on_access():
    calls = []

    def a_to_b():
        calls.append(1)
        return np.ones((3, 2))

    res = OTResult(a_to_b=a_to_b, b_to_a=np.zeros((2, 2)))
    np.testing.assert_array_equal(res.a_to_b, np.ones((3, 2)))
    assert res.a_to_b is res.a_to_b and calls == [1]
    np.testing.assert_array_equal(res.b_to_a, np.zeros((2, 2)))


def test_plan_factory_runs_once():
    calls = []
    res = OTResult(plan_factory=lambda: calls.append(1) or _plan())
    assert res.plan is res.plan and calls == [1]


def test_read_only_and_with_changes():
    res = OTResult(value=1.0, method="emd", n_iter=3)
    with pytest.raises(AttributeError, match="read-only"):
        res.value = 2.0
    with pytest.raises(AttributeError):
        res.plan = _plan()
    other = with_changes(res, value=2.0)
    assert (other.value, other.method, other.n_iter, res.value) == (2.0, "emd", 3, 1.0)
    with pytest.raises(TypeError, match="unknown OTResult field"):
        with_changes(res, colour="red")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        OTResult(batch_size=0)


def test_repr_names_method_value_and_plan():
    text = repr(OTResult(value=0.25, method="sinkhorn", status="converged", plan=_plan()))
    assert text.startswith("OTResult(method='sinkhorn', value=0.25, status='converged'")
    assert "plan shape=(5, 4)" in text


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ("network simplex", "bonneel2011displacement", "ahuja1993network")),
        ({"reg": 0.5}, ("Sinkhorn", "cuturi2013sinkhorn")),
        ({"reg": 0.5, "method": "greenkhorn"}, ("altschuler2017near",)),
        ({"reg": 0.5, "unbalanced": 1.0}, ("Unbalanced", "chizat2018scaling")),
        ({"unbalanced": 1.0}, ("majorization", "chapel2021unbalanced")),
    ],
)
def test_citation_names_the_solver(kwargs, expected):
    citation = ot.solve(_plan(), **kwargs).citation
    for text in expected:
        assert text in citation
    assert "peyre2019computational" in citation
    assert citation.count("@") == citation.count("\n}") >= 2  # whole BibTeX entries


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"method": "sliced"}, "bonneel2015sliced"),
        ({"method": "max_sliced"}, "deshpande2019max"),
        ({"method": "gaussian"}, "dowson1982frechet"),
        ({"method": "1d"}, "quantile"),
        ({"reg": 1.0, "lazy": True}, "cuturi2013sinkhorn"),
        ({"reg": 1.0, "debias": True, "method": "online"}, "feydy2019interpolating"),
    ],
)
def test_sample_citation_names_the_solver(kwargs, expected):
    rng = np.random.default_rng(0)
    res = ot.solve_sample(rng.normal(size=(5, 2)), rng.normal(size=(4, 2)), **kwargs)
    assert expected in res.citation
