"""GeomLoss gallery harness: do GeomLoss's own example scripts run on ``otkit.SamplesLoss``?

``python compat/geomloss_harness.py --geomloss-repo GITDIR`` (or ``--examples DIR``) extracts
GeomLoss's ``examples/`` folder (scripts and their data) into a temporary folder, and runs
each gallery script (``plot_*.py``, what sphinx-gallery executes) in a subprocess on the Agg
backend, on torch CPU, with a timeout:

* once with GeomLoss itself (the reference), and a second time to tell run-to-run noise
  (timings) from differences;
* once with the one-line switch ``from geomloss import SamplesLoss`` →
  ``from otkit import SamplesLoss``, and nothing else changed.

The runs go through ``_gallery_runner.py`` (the POT gallery's runner: fixed seeds, a
fingerprint of every figure's data) and are compared with ``_gallery.py``'s
``compare_stdout`` (every float printed, timing lines left out) and ``compare_figures``. A
script that needs KeOps (``pykeops`` imports), a data download, or a module that is not
installed is reported as skipped with the reason. See compat/README.md.
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _gallery import _run_script, compare_figures, compare_stdout, finish_run
from pot_harness import git_archive, otkit_revision

# The only change made to a script: this import line (any indentation, trailing comment kept).
_SWITCH = re.compile(r"^(\s*)from geomloss import SamplesLoss(\s*(#.*)?)$")
_OTHER_GEOMLOSS = re.compile(r"^\s*(from geomloss\b|import geomloss\b)")
_KEOPS = re.compile(r"^\s*(?:from|import)\s+pykeops\b[^\n]*", re.MULTILINE)
_DOWNLOAD = re.compile(r"urlretrieve|urlopen|requests\.get|wget ")
# Tolerance levels at which two runs are compared; the report gives the tightest that holds.
LEVELS = (1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1)
STATUSES = ("pass", "pass, annealed", "differs", "runs, no reference", "fail", "skipped")

# GeomLoss reads its PNG data with ``imageio.imread``. Where imageio is not installed, both
# runs (GeomLoss and otkit) get this stand-in on their path: PNG decoding by matplotlib,
# uint8 channels as imageio returns them, ``mode="F"`` as Pillow's float luminance
# (L = 0.299 R + 0.587 G + 0.114 B, in 0..255).
_IMAGEIO_STANDIN = '''"""Stand-in for imageio.imread written by compat/geomloss_harness.py (PNG only)."""
import numpy as np
import matplotlib.image as _image


def imread(uri, mode=None, **kwargs):
    img = _image.imread(uri)
    if img.dtype.kind == "f":
        img = np.round(img * 255).astype(np.uint8)
    if mode == "F":
        rgb = img.astype(np.float32)
        if rgb.ndim == 3:
            rgb = (299 * rgb[..., 0] + 587 * rgb[..., 1] + 114 * rgb[..., 2]) / 1000
        return rgb
    if mode is not None:
        raise ValueError(f"the harness's imageio stand-in only knows mode='F', not {mode!r}")
    return img
'''

# Imported by the reference runs before the script (the runner's LIBRARY argument). Without
# KeOps, GeomLoss's backends 'online' and 'multiscale' fail on CPU; the reference then uses
# GeomLoss's own dense engine ('tensorized'): the same loss, without the clustering and
# kernel truncation of 'multiscale'. With OTKIT_HARNESS_GEOMLOSS_SCALING set (the
# "annealed" reference), every SamplesLoss anneals with at least that scaling: GeomLoss runs
# one Sinkhorn iteration per annealing stage, so a scaling near 1 brings its values and
# gradients near the converged ones that otkit computes.
_REFERENCE_MODULE = '''"""GeomLoss reference run of compat/geomloss_harness.py."""
import importlib.util
import os

import geomloss

_KEOPS = importlib.util.find_spec("pykeops") is not None
_SCALING = os.environ.get("OTKIT_HARNESS_GEOMLOSS_SCALING")
_init = geomloss.SamplesLoss.__init__


def __init__(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    if not _KEOPS and self.backend in ("online", "multiscale"):
        print(f"[harness] GeomLoss backend {self.backend!r} -> 'tensorized' (no KeOps)")
        self.backend = "tensorized"
    if _SCALING and self.scaling < float(_SCALING):
        self.scaling = float(_SCALING)


geomloss.SamplesLoss.__init__ = __init__
'''


def switch_import(source: str) -> tuple[str, int]:
    """``source`` with ``from geomloss import SamplesLoss`` lines pointed at otkit."""
    lines, changed = source.splitlines(keepends=True), 0
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        new = _SWITCH.sub(r"\1from otkit import SamplesLoss\2", body)
        if new != body:
            lines[i] = new + line[len(body) :]
            changed += 1
    return "".join(lines), changed


def _imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def skip_reason(script: Path, shimmed: set[str]) -> str:
    """Why ``script`` cannot run here ('' if it can): KeOps, downloads, missing modules."""
    source = script.read_text(encoding="utf-8")
    reasons = []
    keops = sorted({m.group(0).strip() for m in _KEOPS.finditer(source)})
    if keops:
        reasons.append("needs KeOps outside SamplesLoss (" + "; ".join(keops) + ")")
    if _DOWNLOAD.search(source):
        reasons.append("downloads its data from the web")
    siblings = {p.stem for p in script.parent.glob("*.py")}
    missing = sorted(
        m
        for m in _imported_modules(source) - siblings - shimmed - {"pykeops"}
        if importlib.util.find_spec(m) is None
    )
    if missing:
        reasons.append("needs " + ", ".join(missing) + " (not installed)")
    return "; ".join(reasons)


def _agreement(compare, ref, other) -> float | None:
    """The tightest level of :data:`LEVELS` at which ``compare`` finds no difference."""
    for level in LEVELS:
        if compare(ref, other, level, 1e-8)[0] in (True, "same", "none"):
            return level
    return None


def _locate(args) -> tuple[Path, str, Path | None]:
    """(examples folder, description, temporary folder to delete)."""
    if args.examples:
        return args.examples.resolve(), str(args.examples.resolve()), None
    if args.geomloss_repo is None:
        raise SystemExit("needs --geomloss-repo GITDIR (GeomLoss's git) or --examples DIR")
    tmp = Path(tempfile.mkdtemp(prefix="otkit-geomloss-src-"))
    commit = git_archive(args.geomloss_repo, "examples", tmp)
    return tmp / "examples", f"git {commit[:10]} of {args.geomloss_repo}", tmp


def _classify(examples: Path, wanted: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """(gallery scripts to consider, other .py files -> why they are not run)."""
    scripts, others = [], {}
    for path in sorted(examples.rglob("*.py")):
        rel = path.relative_to(examples).as_posix()
        if path.name == "__init__.py":
            continue
        if path.name.startswith("plot_"):
            scripts.append(rel)
        else:
            users = [
                p.relative_to(examples).as_posix()
                for p in path.parent.glob("*.py")
                if re.search(rf"^\s*(from|import) {path.stem}\b", p.read_text(), re.MULTILINE)
            ]
            others[rel] = (
                f"helper module of {', '.join(sorted(users))}"
                if users
                else "not a gallery example (sphinx-gallery executes plot_*.py only)"
            )
    if wanted:
        chosen = [s for s in scripts if any(s == w or Path(s).stem == Path(w).stem for w in wanted)]
        unknown = [w for w in wanted if not any(Path(s).stem == Path(w).stem for s in chosen)]
        if unknown:
            raise SystemExit(f"no gallery script {', '.join(unknown)} under {examples}")
        scripts = chosen
    return scripts, others


def _prepare_path(work: Path) -> tuple[list[str], str]:
    """Write the stand-in modules; return (shimmed module names, PYTHONPATH entry)."""
    shim = work / "shim"
    shim.mkdir()
    (shim / "_geomloss_reference.py").write_text(_REFERENCE_MODULE)
    shimmed = []
    if importlib.util.find_spec("imageio") is None:
        (shim / "imageio.py").write_text(_IMAGEIO_STANDIN)
        shimmed.append("imageio")
    return shimmed, str(shim)


def _compare(ref: dict, ref2: dict, otk: dict, rtol: float) -> dict:
    """Agreement levels of ``otk`` with ``ref``; parts where ``ref2`` (GeomLoss again)
    differs from ``ref`` by more than ``rtol`` are timings or noise, not compared."""
    parts = {
        "numbers": (compare_stdout, ref["stdout"], ref2["stdout"], otk["stdout"]),
        "figures": (compare_figures, ref["figures"], ref2["figures"], otk["figures"]),
    }
    out = {"agree_to": {}, "reproducible_to": {}, "not_compared": [], "problems": []}
    for what, (compare, a, a2, b) in parts.items():
        noise = _agreement(compare, a, a2)
        level = _agreement(compare, a, b)
        out["agree_to"][what], out["reproducible_to"][what] = level, noise
        if noise is None or noise > rtol:
            out["not_compared"].append(what)
        elif level is None or level > rtol:
            out["problems"].append(f"{what}: {compare(a, b, rtol, 1e-8)[1]}")
    return out


def _run_annealed(work: Path, rel: str, args) -> dict:
    os.environ["OTKIT_HARNESS_GEOMLOSS_SCALING"] = str(args.annealed_scaling)
    try:
        return _run_script(work / "geomloss_annealed", rel, args.timeout, "_geomloss_reference")
    finally:
        del os.environ["OTKIT_HARNESS_GEOMLOSS_SCALING"]


def _judge(row: dict, work: Path, rel: str, ref: dict, otk: dict, args) -> None:
    """Fill ``row`` for a script that ran on both: pass, pass against the annealed
    reference, or differs."""
    ref2 = (
        _run_script(work / "geomloss2", rel, args.timeout, "_geomloss_reference")
        if args.reference_twice
        else ref
    )
    plain = _compare(ref, ref2, otk, args.rtol)
    row.update(
        numbers_compared=compare_stdout(ref["stdout"], otk["stdout"], 1.0, 0.0)[2],
        n_figures=[len(ref["figures"]), len(otk["figures"])],
        agree_to=plain["agree_to"],
        reference_reproducible_to=plain["reproducible_to"],
        not_compared=plain["not_compared"],
        figure_fingerprints={"geomloss": ref["figures"], "otkit": otk["figures"]},
    )
    notes = []
    if plain["not_compared"]:
        notes.append(
            " and ".join(plain["not_compared"]) + " not reproducible on GeomLoss: not compared"
        )
    if not plain["problems"]:
        row.update(status="pass", detail="; ".join(notes))
        return
    annealed = _run_annealed(work, rel, args) if args.annealed_scaling else None
    if annealed is not None and annealed["ok"]:
        second = _compare(annealed, annealed, otk, args.rtol)
        # the annealed run is compared only where the plain reference was reproducible
        problems = [p for p in second["problems"] if p.split(":")[0] not in plain["not_compared"]]
        row["annealed_agree_to"] = second["agree_to"]
        row["annealed_seconds"] = annealed["seconds"]
        row["figure_fingerprints"]["geomloss_annealed"] = annealed["figures"]
        if not problems:
            notes.insert(0, "differs from GeomLoss as is: " + "; ".join(plain["problems"]))
            row.update(status="pass, annealed", detail="; ".join(notes))
            return
    elif annealed is not None:
        notes.append(f"annealed GeomLoss fails: {annealed['error']}")
    row.update(status="differs", detail="; ".join(plain["problems"] + notes))


def run(args) -> int:
    examples, source, tmp_src = _locate(args)
    scripts, others = _classify(examples, args.scripts)
    commit, dirty = otkit_revision()
    work = Path(tempfile.mkdtemp(prefix="otkit-geomloss-gallery-"))
    shimmed, shim_path = _prepare_path(work)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [shim_path] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # torch CPU, even on a machine with a GPU
    # one thread each: on a shared machine, idle OpenMP threads spinning for a core cost
    # more than they bring on these small problems
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    for name in ("geomloss", "geomloss2", "geomloss_annealed", "otkit"):
        shutil.copytree(examples, work / name / "examples")
    print(
        f"GeomLoss gallery ({source}), otkit {commit}{' (dirty tree)' if dirty else ''}; "
        f"{len(scripts)} scripts, timeout {args.timeout} s, rtol {args.rtol}"
        + (f"; stand-in for {', '.join(shimmed)}" if shimmed else ""),
        flush=True,
    )
    rows = []
    for rel in scripts:
        target = work / "otkit" / "examples" / rel
        new, changed = switch_import(target.read_text(encoding="utf-8"))
        row = {"script": rel, "import_lines_switched": changed}
        leftover = [ln.strip() for ln in new.splitlines() if _OTHER_GEOMLOSS.match(ln)]
        if leftover:
            row["geomloss_imports_left"] = leftover
        reason = skip_reason(target, set(shimmed))
        if reason:
            row.update(status="skipped", detail=reason)
        else:
            target.write_text(new, encoding="utf-8")
            ref = _run_script(work / "geomloss", rel, args.timeout, "_geomloss_reference")
            otk = _run_script(work / "otkit", rel, args.timeout, "otkit")
            row.update(
                geomloss_runs=ref["ok"],
                geomloss_error=ref["error"],
                geomloss_seconds=ref["seconds"],
                otkit_runs=otk["ok"],
                otkit_error=otk["error"],
                otkit_seconds=otk["seconds"],
                reference_backend_replaced="[harness] GeomLoss backend" in ref["stdout"],
            )
            if not otk["ok"]:
                row.update(status="fail", detail=otk["error"])
            elif not ref["ok"]:
                row.update(status="runs, no reference", detail=f"GeomLoss: {ref['error']}")
            else:
                _judge(row, work, rel, ref, otk, args)
        rows.append(row)
        _print_row(row)
    counts = {k: sum(r["status"] == k for r in rows) for k in STATUSES}
    print(
        f"\nTOTAL {len(rows)} gallery scripts: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f"; {len(others)} other files not run"
    )
    report = None
    if args.json:
        report = {
            "kind": "geomloss-gallery",
            "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "otkit_commit": commit,
            "otkit_tree_dirty": dirty,
            "geomloss_version": _version("geomloss"),
            "examples": source,
            "rtol": args.rtol,
            "levels": LEVELS,
            "annealed_scaling": args.annealed_scaling,
            "timeout": args.timeout,
            "stand_ins": shimmed,
            "totals": dict(counts, scripts=len(rows)),
            "scripts": rows,
            "not_run": others,
        }
    return finish_run(args, report, work, tmp_src)


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - informative only
        return "not installed"


def _print_row(row: dict) -> None:
    detail = row.get("detail", "")
    if "agree_to" in row:
        levels = ", ".join(f"{k} {v}" for k, v in row["agree_to"].items())
        detail = f"agree to {levels}" + (f"; {detail}" if detail else "")
    if "annealed_agree_to" in row:
        levels = ", ".join(f"{k} {v}" for k, v in row["annealed_agree_to"].items())
        detail += f"; annealed GeomLoss: agree to {levels}"
    if row.get("reference_backend_replaced"):
        detail += " [reference: GeomLoss 'tensorized']"
    print(f"{row['script']:52s} {row['status']:19s} {detail}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--geomloss-repo", type=Path, help="GeomLoss git checkout or mirror")
    parser.add_argument("--examples", type=Path, help="or: a folder of GeomLoss's examples")
    parser.add_argument("--scripts", nargs="+", help="only these scripts (paths or names)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per script run")
    parser.add_argument(
        "--rtol",
        type=float,
        default=1e-2,
        help="relative tolerance of a pass, on printed numbers and figure data (default 1e-2)",
    )
    parser.add_argument(
        "--annealed-scaling",
        type=float,
        default=0.95,
        help="scaling of the annealed GeomLoss reference, run where otkit differs from "
        "GeomLoss as is (0: no annealed run; default 0.95)",
    )
    parser.add_argument(
        "--no-reference-twice",
        dest="reference_twice",
        action="store_false",
        help="skip the second GeomLoss run (it tells timings from real differences)",
    )
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads per run")
    parser.add_argument("--json", help="write the full report to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
