"""Run one gallery script as ``__main__`` and dump a fingerprint of the data it plotted.

Usage: ``python _gallery_runner.py SCRIPT DUMP.json [LIBRARY]`` (cwd: the script's folder,
``MPLBACKEND=Agg``; ``LIBRARY``, ``ot`` or ``otkit``, is imported before the seeding, because
importing POT draws from NumPy's global generator). The script runs unchanged through :func:`runpy.run_path`; before each
``plt.show()``/``plt.close()`` and at the end, every open figure is summarized: for each axes,
its line geometry, scatter offsets, color arrays and images, each as (shape, sum, sum of |x|,
sum of x², min, max). Line widths and transparencies are not compared. The harness compares
the dumps of the POT run and the otkit run. ``help()`` prints a fixed line instead of a
docstring (otkit's docstrings are its own words, not POT's). The global generators of
``random``, NumPy and torch are seeded with 0 first.
"""

from __future__ import annotations

import json
import runpy
import sys
import traceback
from pathlib import Path

import numpy as np


def _stats(values) -> list | None:
    try:
        arr = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)
    except (TypeError, ValueError):
        return None
    if arr.size == 0:
        return [list(arr.shape)]
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return [list(arr.shape), "no finite values"]
    return [
        list(arr.shape),
        float(finite.sum()),
        float(np.abs(finite).sum()),
        float((finite**2).sum()),
        float(finite.min()),
        float(finite.max()),
    ]


def _concat(arrays: list) -> np.ndarray | None:
    arrays = [np.asarray(a, dtype=float).reshape(-1, 2) for a in arrays if np.size(a)]
    return np.concatenate(arrays) if arrays else None


def _figure_summary(fig) -> list:
    """Per axes: all line geometry (``plot`` lines and line-collection segments together, so
    that one ``LineCollection`` and many ``Line2D`` drawing the same segments agree), all
    scatter offsets, all color arrays, each image, the bar heights. The statistics do not
    depend on the order of the points."""
    artists = []
    for ax_i, ax in enumerate(fig.get_axes()):
        geometry = [line.get_xydata() for line in ax.get_lines()]
        offsets, colors = [], []
        for coll in ax.collections:
            if hasattr(coll, "get_segments"):
                geometry += [np.asarray(seg) for seg in coll.get_segments()]
            else:
                off = coll.get_offsets()
                if off is not None and np.size(off):
                    offsets.append(off)
            array = coll.get_array()
            if array is not None and np.size(array):
                colors.append(np.ravel(np.ma.filled(np.ma.asarray(array, dtype=float), np.nan)))
        for key, data in (("lines", _concat(geometry)), ("offsets", _concat(offsets))):
            if data is not None:
                artists.append([f"ax{ax_i}.{key}", _stats(data)])
        if colors:
            artists.append([f"ax{ax_i}.color_arrays", _stats(np.concatenate(colors))])
        for i, image in enumerate(ax.get_images()):
            artists.append([f"ax{ax_i}.image{i}", _stats(image.get_array())])
        heights = [p.get_height() for p in ax.patches if hasattr(p, "get_height")]
        if heights:
            artists.append([f"ax{ax_i}.patches.heights", _stats(heights)])
    return artists


def main() -> int:
    script, dump = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    if len(sys.argv) > 3:
        # import the library first: ``import ot`` draws from np.random, and a script that
        # relies on the global generator must start from the same state in both runs
        __import__(sys.argv[3])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib._pylab_helpers import Gcf

    order: list[int] = []  # id(figure) in order of first snapshot
    snapshots: dict[int, list] = {}

    def snapshot() -> None:
        for manager in Gcf.get_all_fig_managers():
            fig = manager.canvas.figure
            if id(fig) not in snapshots:
                order.append(id(fig))
            try:
                snapshots[id(fig)] = _figure_summary(fig)
            except Exception as error:  # noqa: BLE001 - a fingerprint, never fatal
                snapshots[id(fig)] = [["error", str(error)]]

    original_show, original_close = plt.show, plt.close

    def show(*args, **kwargs):
        snapshot()
        return original_show(*args, **kwargs)

    def close(*args, **kwargs):
        snapshot()
        return original_close(*args, **kwargs)

    plt.show, plt.close = show, close
    # help() prints docstrings, which otkit writes in its own words: not compared
    import builtins

    builtins.help = lambda *args, **kwargs: print("[help() output omitted by the harness]")
    # fixed seeds for the global generators, so that a script drawing from np.random without
    # seeding it gives the same numbers on every run (with POT, which draws from np.random)
    import random

    random.seed(0)
    np.random.seed(0)
    if "torch" in script.read_text(encoding="utf-8"):
        import torch

        torch.manual_seed(0)
    sys.argv = [str(script)]
    sys.path.insert(0, str(script.parent))
    code = 0
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported to the harness through stderr
        traceback.print_exc()
        code = 1
    finally:
        snapshot()
        dump.write_text(json.dumps([snapshots[k] for k in order]))
    return code


if __name__ == "__main__":
    sys.exit(main())
