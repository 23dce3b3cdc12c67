"""Run one gallery script as ``__main__`` and dump a fingerprint of the data it plotted.

Usage: ``python _gallery_runner.py SCRIPT DUMP.json`` (cwd: the script's folder,
``MPLBACKEND=Agg``). The script runs unchanged through :func:`runpy.run_path`; before each
``plt.show()``/``plt.close()`` and at the end, every open figure is summarized: for each axes,
its lines (x, y data), collections (offsets and color arrays) and images (arrays), each as
(shape, sum, sum of |x|, sum of x², min, max). The harness compares the dumps of the POT run
and the otkit run. ``help()`` prints a fixed line instead of a docstring (otkit's
docstrings are its own words, not POT's).
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


def _figure_summary(fig) -> list:
    artists = []
    for ax_i, ax in enumerate(fig.get_axes()):
        for i, line in enumerate(ax.get_lines()):
            artists.append([f"ax{ax_i}.line{i}", _stats(line.get_xydata())])
        for i, coll in enumerate(ax.collections):
            offsets = coll.get_offsets()
            if offsets is not None and np.size(offsets):
                artists.append([f"ax{ax_i}.collection{i}.offsets", _stats(offsets)])
            array = coll.get_array()
            if array is not None:
                artists.append([f"ax{ax_i}.collection{i}.array", _stats(array)])
            if hasattr(coll, "get_segments"):
                segs = coll.get_segments()
                if segs:
                    artists.append(
                        [
                            f"ax{ax_i}.collection{i}.segments",
                            _stats(np.concatenate([np.asarray(s) for s in segs])),
                        ]
                    )
        for i, image in enumerate(ax.get_images()):
            artists.append([f"ax{ax_i}.image{i}", _stats(image.get_array())])
        heights = [p.get_height() for p in ax.patches if hasattr(p, "get_height")]
        if heights:
            artists.append([f"ax{ax_i}.patches.heights", _stats(heights)])
    return artists


def main() -> int:
    script, dump = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
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
