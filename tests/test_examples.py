"""The scripts of examples/ run end to end, at their small sizes, and write their figures.

Each script runs in a subprocess (``sys.executable``) with ``OTKIT_EXAMPLE_SMALL=1``,
``OTKIT_EXAMPLE_OUTPUT`` and the working directory set to a temporary folder, and the
Agg matplotlib backend. The gallery scripts (``plot_*.py``) must also start with the
reST title sphinx-gallery needs.
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

# The figures a script must write; a script not listed here must write at least one.
EXPECTED_FIGURES = {
    "quickstart.py": ["emd_plan.png"],
    "plot_point_clouds.py": [
        "point_clouds_data.png",
        "point_clouds_plans.png",
        "point_clouds_flow_jax.gif",
        "point_clouds_flow_torch.gif",
        "point_clouds_paths.png",
    ],
    "plot_divergence_flows.py": [
        "divergence_bias.png",
        "divergence_flows.png",
        "divergence_spread.png",
        "divergence_reach.png",
    ],
    "plot_logml_exercises.py": [
        "exercise_1d_quantiles.png",
        "exercise_sliced.png",
        "exercise_sinkhorn.png",
        "exercise_barycenters.png",
        "exercise_displacement.png",
    ],
    "plot_sinkhorn_initializers.py": [
        "initializers_digits.png",
        "initializers_convergence.png",
    ],
}
# Optional modules a script imports (matplotlib is needed by all of them).
REQUIRED_MODULES = {
    "plot_point_clouds.py": ["torch", "jax"],
    "plot_divergence_flows.py": ["torch"],
    "plot_gradient_flow_2d.py": ["torch"],
    "plot_logml_exercises.py": ["torch", "jax"],
    "plot_sinkhorn_initializers.py": ["sklearn"],
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
def test_example_runs_and_writes_its_figures(script, tmp_path):
    _skip_without(REQUIRED_MODULES.get(script.name, []))
    env = dict(
        os.environ,
        OTKIT_EXAMPLE_SMALL="1",
        OTKIT_EXAMPLE_OUTPUT=str(tmp_path),
        MPLBACKEND="Agg",
        # The problems are tiny: one thread per library avoids oversubscribing the CPU.
        OMP_NUM_THREADS="1",
    )
    result = subprocess.run(
        [sys.executable, str(script)],
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
    expected = EXPECTED_FIGURES.get(script.name)
    if expected is None:
        assert written, f"{script.name} wrote no PNG or GIF file"
    else:
        missing = [name for name in expected if not (tmp_path / name).is_file()]
        assert not missing, f"{script.name} did not write {missing}; it wrote {written}"
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
