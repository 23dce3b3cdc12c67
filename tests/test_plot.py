"""otkit.plot: what each function draws, on every backend, and its input checks."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.sparse
from conftest import to_xp
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import LogNorm

import otkit
from otkit.plot import (
    animate,
    plot1D_mat,
    plot2D_samples_mat,
    plot_convergence,
    plot_plan,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def small_axes():
    return plt.subplots(figsize=(2, 2), dpi=30)[1]


def sample_problem():
    """Points on a grid (distinct, exact coordinates) and a plan with distinct entries."""
    xs = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    xt = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    G = np.array([[0.4, 0.0, 1e-12, 0.0], [0.0, 0.2, 0.1, 0.0], [0.0, 0.0, 0.05, 0.25]])
    return xs, xt, G


def drawn_pairs(lines, xs, xt):
    """(i, j) of every segment, found from its endpoints."""
    pairs = []
    for segment in lines.get_segments():
        i = int(np.flatnonzero(np.all(xs == segment[0], axis=1))[0])
        j = int(np.flatnonzero(np.all(xt == segment[1], axis=1))[0])
        pairs.append((i, j))
    return pairs


# --- import ---------------------------------------------------------------------------------


def test_import_does_not_import_matplotlib():
    code = (
        "import sys, otkit, otkit.plot\n"
        "assert 'matplotlib' not in sys.modules, 'import otkit.plot loaded matplotlib'\n"
        "otkit.plot.plot_plan([[1.0]])\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr


def test_plot_is_a_lazy_attribute_of_otkit():
    import otkit.plot as plot_module

    assert otkit.plot is plot_module
    with pytest.raises(AttributeError, match="no attribute 'not_a_module'"):
        otkit.not_a_module  # noqa: B018


# --- plot2D_samples_mat -----------------------------------------------------------------------


def test_segments_are_the_entries_above_threshold(xp):
    xs, xt, G = sample_problem()
    lines = plot2D_samples_mat(to_xp(xp, xs), to_xp(xp, xt), to_xp(xp, G), ax=small_axes())
    assert isinstance(lines, LineCollection)
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(G > 1e-8 * G.max()))}
    pairs = drawn_pairs(lines, xs, xt)
    assert len(pairs) == len(expected) == 5  # not the 1e-12 entry
    assert set(pairs) == expected


def test_segment_opacity_is_plan_over_its_maximum(xp):
    xs, xt, G = sample_problem()
    lines = plot2D_samples_mat(to_xp(xp, xs), to_xp(xp, xt), to_xp(xp, G), ax=small_axes())
    pairs = drawn_pairs(lines, xs, xt)
    alphas = lines.get_colors()[:, 3]
    np.testing.assert_allclose(alphas, [G[i, j] / G.max() for i, j in pairs], rtol=1e-12)
    assert alphas.max() == 1.0


def test_threshold_is_relative_to_the_largest_entry():
    xs, xt, G = sample_problem()
    lines = plot2D_samples_mat(xs, xt, G, thr=0.4, ax=small_axes())
    assert set(drawn_pairs(lines, xs, xt)) == {(0, 0), (1, 1), (2, 3)}  # G > 0.16
    lines = plot2D_samples_mat(xs, xt, G, thr=0.5, ax=small_axes())
    assert set(drawn_pairs(lines, xs, xt)) == {(0, 0), (2, 3)}  # strict: G = 0.2 is left out


def test_scaling_the_plan_draws_the_same_segments():
    xs, xt, G = sample_problem()
    ax = small_axes()
    small = plot2D_samples_mat(xs, xt, G, ax=ax)
    large = plot2D_samples_mat(xs, xt, 1e6 * G, ax=ax)
    np.testing.assert_array_equal(np.array(small.get_segments()), large.get_segments())
    np.testing.assert_allclose(small.get_colors(), large.get_colors(), rtol=1e-12)


def test_color_alpha_and_keywords_reach_the_collection():
    xs, xt, G = sample_problem()
    ax = small_axes()
    lines = plot2D_samples_mat(xs, xt, G, ax=ax, c="r", alpha=0.5, linewidths=3.0, label="G")
    np.testing.assert_array_equal(lines.get_colors()[:, :3], np.tile([1.0, 0.0, 0.0], (5, 1)))
    assert lines.get_colors()[:, 3].max() == pytest.approx(0.5)
    assert lines.get_linewidths()[0] == 3.0 and lines.get_label() == "G"
    assert lines in ax.collections


def test_default_axes_is_the_current_axes():
    xs, xt, G = sample_problem()
    lines = plot2D_samples_mat(xs, xt, G)
    assert lines in plt.gca().collections


def test_sparse_plan_draws_like_the_dense_one():
    xs, xt, G = sample_problem()
    ax = small_axes()
    dense = plot2D_samples_mat(xs, xt, G, ax=ax)
    sparse = plot2D_samples_mat(xs, xt, scipy.sparse.csr_matrix(G), ax=ax)
    assert set(drawn_pairs(sparse, xs, xt)) == set(drawn_pairs(dense, xs, xt))


def test_zero_plan_draws_nothing():
    xs, xt, G = sample_problem()
    lines = plot2D_samples_mat(xs, xt, np.zeros_like(G), ax=small_axes())
    assert len(lines.get_segments()) == 0


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"xs": np.zeros(3)}, ValueError, "xs must be an \\(n, 2\\) array"),
        ({"xt": np.zeros((4, 3))}, ValueError, "xt must be an \\(n, 2\\) array"),
        ({"G": np.zeros((4, 3))}, ValueError, "G.shape == \\(4, 3\\), expected \\(3, 4\\)"),
        ({"G": np.full((3, 4), np.nan)}, ValueError, "G contains NaN"),
        ({"G": scipy.sparse.csr_matrix((4, 3))}, ValueError, "G.shape"),
        ({"G": None}, TypeError, "G is None"),
        ({"xs": "abc"}, TypeError, "xs must be a numeric"),
        ({"thr": -1.0}, ValueError, "thr must be"),
    ],
    ids=["xs-1d", "xt-3cols", "G-shape", "G-nan", "sparse-shape", "G-none", "xs-str", "thr"],
)
def test_plot2D_samples_mat_rejects_bad_input(change, error, match):
    xs, xt, G = sample_problem()
    args = {"xs": xs, "xt": xt, "G": G, "thr": 1e-8} | change
    with pytest.raises(error, match=match):
        plot2D_samples_mat(**args, ax=small_axes())


# --- plot_plan --------------------------------------------------------------------------------


def test_plot_plan_shows_the_plan_with_a_colorbar(xp):
    _, _, G = sample_problem()
    ax = small_axes()
    image = plot_plan(to_xp(xp, G), ax=ax, title="plan")
    np.testing.assert_array_equal(image.get_array(), G)
    assert (image.norm.vmin, image.norm.vmax) == (0.0, G.max())
    assert len(ax.figure.axes) == 2  # the plot and its colorbar
    assert ax.get_title() == "plan"


def test_plot_plan_log_scale_spans_the_positive_entries():
    _, _, G = sample_problem()
    image = plot_plan(G, ax=small_axes(), log=True, colorbar=False)
    assert isinstance(image.norm, LogNorm)
    assert (image.norm.vmin, image.norm.vmax) == (1e-12, G.max())
    assert len(image.axes.figure.axes) == 1


def test_plot_plan_accepts_sparse():
    _, _, G = sample_problem()
    image = plot_plan(scipy.sparse.coo_matrix(G), ax=small_axes())
    np.testing.assert_array_equal(image.get_array(), G)


@pytest.mark.parametrize(
    "G, kwargs, match",
    [
        (np.ones(3), {}, "G must be an \\(n, m\\) array"),
        (np.ones((0, 3)), {}, "G is empty"),
        (np.array([[1.0, np.inf]]), {}, "G contains NaN or infinite"),
        (np.zeros((2, 2)), {"log": True}, "no positive entry"),
    ],
    ids=["1d", "empty", "inf", "log-zeros"],
)
def test_plot_plan_rejects_bad_input(G, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_plan(G, ax=small_axes(), **kwargs)


# --- plot1D_mat ---------------------------------------------------------------------------------


def histograms():
    a = np.array([0.1, 0.2, 0.3, 0.4])
    b = np.array([0.5, 0.3, 0.2])
    return a, b, np.outer(a, b)


def test_plot1D_mat_yx_layout(xp):
    a, b, M = histograms()
    plt.figure(figsize=(2, 2), dpi=30)
    ax_source, ax_target, ax_coupling = plot1D_mat(
        to_xp(xp, a), to_xp(xp, b), to_xp(xp, M), title="T"
    )
    np.testing.assert_array_equal(ax_coupling.get_images()[0].get_array(), M)
    source, target = ax_source.get_lines()[0], ax_target.get_lines()[0]
    np.testing.assert_array_equal(source.get_xydata(), np.c_[a, np.arange(4)])
    np.testing.assert_array_equal(target.get_xydata(), np.c_[np.arange(3), b])
    assert ax_source.xaxis_inverted() and ax_coupling.yaxis_inverted()  # rows down the page
    assert ax_target.get_title() == "T"


def test_plot1D_mat_xy_layout():
    a, b, M = histograms()
    ax_source, ax_target, ax_coupling = plot1D_mat(a, b, M, plot_style="xy")
    image = ax_coupling.get_images()[0]
    np.testing.assert_array_equal(image.get_array(), M.T)
    assert image.origin == "lower"
    np.testing.assert_array_equal(ax_source.get_lines()[0].get_xydata(), np.c_[np.arange(4), a])
    np.testing.assert_array_equal(ax_target.get_lines()[0].get_xydata(), np.c_[b, np.arange(3)])
    assert ax_source.yaxis_inverted() and ax_target.xaxis_inverted()


def test_plot1D_mat_labels_and_colors():
    a, b, M = histograms()
    ax_source, ax_target, _ = plot1D_mat(
        a, b, M, a_label="source", b_label="target", color_source="g", color_target="m"
    )
    assert [t.get_text() for t in ax_source.get_legend().get_texts()] == ["source"]
    assert [t.get_text() for t in ax_target.get_legend().get_texts()] == ["target"]
    assert ax_source.get_lines()[0].get_color() == "g"
    assert ax_target.get_lines()[0].get_color() == "m"


@pytest.mark.parametrize(
    "change, match",
    [
        ({"M": np.ones((3, 4))}, "M.shape == \\(3, 4\\), expected \\(4, 3\\)"),
        ({"a": np.ones((4, 1))}, "a must be a 1-D array"),
        ({"plot_style": "xx"}, "plot_style must be 'yx' or 'xy'"),
    ],
    ids=["M-shape", "a-2d", "style"],
)
def test_plot1D_mat_rejects_bad_input(change, match):
    a, b, M = histograms()
    with pytest.raises(ValueError, match=match):
        plot1D_mat(**({"a": a, "b": b, "M": M} | change))


# --- animate ------------------------------------------------------------------------------------


def moving_cloud(n_frames=4):
    rng = np.random.default_rng(0)
    start, target = rng.normal(size=(5, 2)), rng.normal(size=(6, 2)) + 3
    frames = [start + t * np.array([1.0, 1.0]) for t in range(n_frames)]
    plans = [rng.uniform(size=(5, 6)) * (rng.uniform(size=(5, 6)) > 0.5) for _ in frames]
    return frames, plans, target


def test_animation_has_one_frame_per_cloud():
    frames, _, _ = moving_cloud(5)
    ax = small_axes()
    animation = animate(frames, ax=ax)
    ax.figure.canvas.draw()  # starts the animation (no "deleted without rendering" warning)
    assert len(list(animation.new_frame_seq())) == 5


def test_animation_draws_the_last_cloud_and_its_plan(tmp_path, xp):
    frames, plans, target = moving_cloud(3)
    ax = small_axes()
    animation = animate(
        [to_xp(xp, f) for f in frames],
        [to_xp(xp, p) for p in plans],
        target=to_xp(xp, target),
        ax=ax,
        titles=["a", "b", "c"],
        filename=tmp_path / "cloud.gif",
    )
    lines, target_points, cloud = ax.collections
    np.testing.assert_array_equal(cloud.get_offsets(), frames[-1])
    np.testing.assert_array_equal(target_points.get_offsets(), target)
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(plans[-1]))}
    assert set(drawn_pairs(lines, frames[-1], target)) == expected
    assert ax.get_title() == "c"
    assert animation is not None


def test_gif_has_every_frame(tmp_path):
    from PIL import Image

    frames, plans, target = moving_cloud(4)
    path = tmp_path / "flow.gif"
    animate(frames, plans[0], target=target, ax=small_axes(), filename=path)
    assert path.stat().st_size > 0
    with Image.open(path) as gif:
        assert gif.n_frames == 4


def test_html_embeds_every_frame(tmp_path):
    frames, _, target = moving_cloud(3)
    path = tmp_path / "flow.html"
    animate(np.stack(frames), target=target, ax=small_axes(), filename=path)
    html = path.read_text(encoding="utf-8")
    assert "<script" in html
    assert html.count("data:image/png;base64") == 3


def test_single_plan_is_drawn_in_every_frame(tmp_path):
    frames, plans, target = moving_cloud(2)
    ax = small_axes()
    animate(frames, plans[0], target=target, ax=ax, filename=tmp_path / "a.gif")
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(plans[0]))}
    assert set(drawn_pairs(ax.collections[0], frames[-1], target)) == expected


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"frames": []}, ValueError, "frames is empty"),
        ({"frames": [np.zeros((5, 3))]}, ValueError, "frames\\[0\\] must be an \\(n, 2\\)"),
        ({"frames": np.zeros((5, 2))}, ValueError, "frames must be a \\(T, n, 2\\) array"),
        ({"frames": None}, TypeError, "frames must be a sequence"),
        ({"target": None}, ValueError, "pass target="),
        ({"plans": [np.ones((5, 6))]}, ValueError, "plans has 1 entries"),
        ({"plans": np.ones((5, 5))}, ValueError, "plans\\[0\\].shape == \\(5, 5\\)"),
        ({"filename": "movie.mp4"}, ValueError, "filename must end with"),
        ({"titles": ["only one"]}, ValueError, "titles must be"),
        ({"interval": 0}, ValueError, "interval must be > 0"),
    ],
    ids=["empty", "3d-points", "2d-array", "none", "no-target", "n-plans", "plan-shape",
         "suffix", "titles", "interval"],
)  # fmt: skip
def test_animate_rejects_bad_input(change, error, match):
    frames, plans, target = moving_cloud(2)
    args = {"frames": frames, "plans": plans, "target": target} | change
    with pytest.raises(error, match=match):
        animate(**args, ax=small_axes())


# --- plot_convergence --------------------------------------------------------------------------


def band_vertices(ax):
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    return band.get_paths()[0].vertices


def contains_values(vertices_y, values):
    return bool(np.isclose(vertices_y[:, None], values[None, :], rtol=1e-12).any(axis=0).all())


def test_one_trace_is_one_line_on_a_log_axis():
    errors = [1.0, 0.1, 0.01, 0.001]
    ax = plot_convergence(errors, ax=small_axes())
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xydata(), np.c_[[1, 2, 3, 4], errors])
    assert ax.get_yscale() == "log"
    assert not ax.collections and ax.get_legend() is None


def test_several_runs_give_the_mean_and_a_std_band(xp):
    runs = np.array([[1.0, 0.5, 0.2], [3.0, 1.0, 0.4]])
    ax = plot_convergence(to_xp(xp, runs), ax=small_axes(), labels="sinkhorn")
    (line,) = ax.get_lines()
    mean, std = runs.mean(axis=0), runs.std(axis=0)
    np.testing.assert_allclose(line.get_ydata(), mean, rtol=1e-12)
    vertices = band_vertices(ax)
    assert contains_values(vertices[:, 1], mean - std) and contains_values(
        vertices[:, 1], mean + std
    )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sinkhorn"]


def test_list_of_runs_matches_the_array_of_runs():
    runs = np.array([[1.0, 0.5, 0.2], [3.0, 1.0, 0.4], [2.0, 0.1, 0.01]])
    from_array = plot_convergence(runs, ax=small_axes())
    from_list = plot_convergence([list(run) for run in runs], ax=small_axes())
    np.testing.assert_array_equal(from_array.get_lines()[0].get_xydata(),
                                  from_list.get_lines()[0].get_xydata())  # fmt: skip
    np.testing.assert_array_equal(band_vertices(from_array), band_vertices(from_list))


def test_runs_of_different_lengths_average_the_runs_still_going():
    ax = plot_convergence([[4.0, 2.0, 1.0], [2.0]], ax=small_axes(), band=None)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [3.0, 2.0, 1.0])
    assert not ax.collections


def test_dict_draws_one_curve_per_method_with_bands_for_several_runs():
    errors = {"zeros": np.array([[1.0, 0.5], [2.0, 0.7]]), "gaussian": [1.0, 0.1]}
    ax = plot_convergence(errors, ax=small_axes())
    assert len(ax.get_lines()) == 2
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["zeros", "gaussian"]


def test_minmax_band_and_linear_axis():
    runs = np.array([[1.0, 0.5], [3.0, 0.1]])
    ax = plot_convergence(runs, ax=small_axes(), band="minmax", log=False, step=10)
    vertices = band_vertices(ax)
    assert contains_values(vertices[:, 1], np.array([1.0, 3.0, 0.1, 0.5]))
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [10, 20])
    assert ax.get_yscale() == "linear"


@pytest.mark.parametrize(
    "errors, kwargs, error, match",
    [
        ([], {}, ValueError, "errors must be a sequence of errors"),
        (np.ones((2, 2, 2)), {}, ValueError, "errors must be a sequence of errors"),
        ([[1.0], []], {}, ValueError, "empty run"),
        ([1.0, [1.0, 2.0]], {}, ValueError, "errors must be a sequence"),
        ({"a": [1.0]}, {"labels": ["a"]}, TypeError, "labels must be None"),
        ({}, {}, ValueError, "empty dict"),
        ([1.0, 0.5], {"labels": ["a", "b"]}, ValueError, "labels has 2 entries"),
        ([1.0, 0.5], {"band": "var"}, ValueError, "band must be"),
        ([1.0, 0.5], {"step": 0}, ValueError, "step must be"),
        ("abc", {}, TypeError, "errors must be a sequence"),
    ],
    ids=["empty", "3d", "empty-run", "mixed", "dict-labels", "empty-dict", "labels",
         "band", "step", "string"],
)  # fmt: skip
def test_plot_convergence_rejects_bad_input(errors, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_convergence(errors, ax=small_axes(), **kwargs)


@pytest.mark.parametrize("bounds", [(None, None), (1.0, 4.0), (2.0, None)])
def test_rescale_for_imshow_plot_against_the_affine_map(xp, bounds):
    a_y, b_y = bounds
    x_np = np.linspace(-1.0, 3.0, 9)
    y_np = x_np**2
    xr, yr = otkit.plot.rescale_for_imshow_plot(
        to_xp(xp, x_np), to_xp(xp, y_np), 20, m=11, a_y=a_y, b_y=b_y
    )
    low = y_np.min() if a_y is None else a_y
    high = y_np.max() if b_y is None else b_y
    kept = (y_np >= low) & (y_np <= high)
    np.testing.assert_allclose(xr, 19 * (x_np[kept] + 1.0) / 4.0, rtol=1e-12)
    np.testing.assert_allclose(yr, 10 * (y_np[kept] - low) / (high - low), rtol=1e-12)


def test_rescale_for_imshow_plot_matches_pot():
    ot = pytest.importorskip("ot.plot")
    x = np.linspace(0.0, 3.0, 7)
    for kwargs in ({}, {"a_y": 1.0, "b_y": 4.0}, {"m": 5}):
        expected = ot.rescale_for_imshow_plot(x, x**2, 10, **kwargs)
        got = otkit.plot.rescale_for_imshow_plot(x, x**2, 10, **kwargs)
        for e, g in zip(expected, got):
            np.testing.assert_allclose(g, e, rtol=1e-12)


def test_rescale_for_imshow_plot_errors():
    x = np.arange(3.0)
    with pytest.raises(ValueError, match="must agree"):
        otkit.plot.rescale_for_imshow_plot(x, x[:2], 4)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        otkit.plot.rescale_for_imshow_plot(x, x, 0)
    with pytest.raises(ValueError, match="b_y must be >= a_y"):
        otkit.plot.rescale_for_imshow_plot(x, x, 4, a_y=2.0, b_y=1.0)
