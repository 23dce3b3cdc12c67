"""The scripts of examples/ run end to end and draw their figures.

The gallery scripts (``plot_*.py``) are plain teaching scripts, as sphinx-gallery expects:
they end their cells with ``plt.show()`` and know nothing about tests. Each script runs here
in a subprocess (``sys.executable``) through :data:`DRIVER`, in a temporary working
directory, on the Agg matplotlib backend: the driver replaces ``plt.show`` by a function
that saves every open figure as a PNG file (and closes it), and saves the animations the
script keeps in its globals as GIF files, so that the test can check what was drawn. The
gallery scripts must also start with the reST title sphinx-gallery needs.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("plot_*.py")) + [EXAMPLES / "quickstart.py"]
GALLERY = sorted(EXAMPLES.glob("plot_*.py"))

# Runs a script as __main__ with plt.show saving the open figures to figure_NN.png and, at
# the end, the matplotlib animations left in the script's globals to animation_NN.gif.
DRIVER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.animation import Animation

count = 0

def show(*args, **kwargs):
    global count
    for number in plt.get_fignums():
        count += 1
        plt.figure(number).savefig(f"figure_{count:02d}.png", dpi=40)
    plt.close("all")

plt.show = show
script = sys.argv[1]
sys.argv = [script]
namespace = runpy.run_path(script, run_name="__main__")
show()
animations = [value for value in namespace.values() if isinstance(value, Animation)]
for index, animation in enumerate(animations, start=1):
    animation.save(f"animation_{index:02d}.gif", writer="pillow", dpi=40)
"""

# What each script must draw: figures shown (PNG) and animations kept (GIF); quickstart.py
# writes its own figure. A script not listed here must draw at least one figure.
EXPECTED = {
    "quickstart.py": {"emd_plan.png": 1},
    "plot_point_clouds.py": {"figure_*.png": 5, "animation_*.gif": 2},
    "plot_divergence_flows.py": {"figure_*.png": 4},
    "plot_gradient_flow_2d.py": {"figure_*.png": 1},
    "plot_logml_exercises.py": {"figure_*.png": 5},
    "plot_sinkhorn_initializers.py": {"figure_*.png": 2},
    "plot_meta_ot.py": {"figure_*.png": 3},
    "plot_samples_loss.py": {"figure_*.png": 3},
    "plot_pairwise_digits.py": {"figure_*.png": 4},
}
# Optional modules a script imports (matplotlib is needed by all of them).
REQUIRED_MODULES = {
    "plot_point_clouds.py": ["torch", "jax"],
    "plot_divergence_flows.py": ["torch"],
    "plot_gradient_flow_2d.py": ["torch"],
    "plot_logml_exercises.py": ["torch", "jax"],
    "plot_sinkhorn_initializers.py": ["sklearn"],
    "plot_meta_ot.py": ["sklearn", "torch"],
    "plot_samples_loss.py": ["torch"],
    "plot_pairwise_digits.py": ["sklearn"],  # Dask is optional: its cell is skipped
}
SIGNATURES = {".png": (b"\x89PNG\r\n\x1a\n",), ".gif": (b"GIF87a", b"GIF89a")}
TIMEOUT_S = 300  # per script; they take a few seconds each


def _skip_without(modules):
    for module in ["matplotlib", *modules]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs the optional dependency {module!r}, which is not installed")


def _check_figure(path: Path) -> None:
    data = path.read_bytes()
    assert data, f"{path.name} is empty"
    assert data.startswith(SIGNATURES[path.suffix.lower()]), (
        f"{path.name} is not a valid {path.suffix} file"
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_example_runs_and_draws_its_figures(script, tmp_path):
    _skip_without(REQUIRED_MODULES.get(script.name, []))
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        # The problems are small: one thread per library avoids oversubscribing the CPU.
        OMP_NUM_THREADS="1",
    )
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(script)],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"{script.name} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
    )
    written = sorted(p for p in tmp_path.rglob("*") if p.suffix.lower() in SIGNATURES)
    expected = EXPECTED.get(script.name, {"figure_*.png": None})
    for pattern, count in expected.items():
        found = sorted(tmp_path.glob(pattern))
        if count is None:
            assert found, f"{script.name} drew no figure; it wrote {written}"
        else:
            assert len(found) == count, (
                f"{script.name}: expected {count} files {pattern}, got {[p.name for p in found]}"
            )
    for path in written:
        _check_figure(path)


@pytest.mark.parametrize("script", GALLERY, ids=lambda path: path.name)
def test_gallery_example_starts_with_a_title(script):
    """sphinx-gallery needs a docstring that opens with a title underlined by '='."""
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")), clean=False)
    assert docstring, f"{script.name} has no module docstring"
    lines = docstring.strip("\n").splitlines()
    assert len(lines) >= 4, f"{script.name}: the docstring needs a title and a paragraph"
    title, underline = lines[0].rstrip(), lines[1].rstrip()
    assert title and set(underline) == {"="} and len(underline) == len(title), (
        f"{script.name}: the docstring must start with a title line underlined by '=' of the "
        f"same length, got {title!r} / {underline!r}"
    )
    assert not lines[2].strip() and lines[3].strip(), (
        f"{script.name}: the title must be followed by a blank line and a paragraph"
    )
