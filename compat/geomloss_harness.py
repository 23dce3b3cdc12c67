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
``compare_stdout`` (every float printed; durations and SamplesLoss's ``verbose=True``
diagnostics left out, the other numbers of their lines kept) and ``compare_figures``. Every
``SamplesLoss`` call is also recorded (``_gallery_probe.py``): the calls made on the same
inputs are compared (values, gradients) and reported, and a figure count that follows an
optimizer's number of loss evaluations, with the same final states, is not a difference.
Where otkit differs from GeomLoss as is, GeomLoss runs again annealed (``scaling`` 0.95, then
0.99: nearer its converged values, which otkit computes). A script that needs KeOps
(``pykeops`` imports), a data download, or a module that is not installed is reported as
skipped with the reason. See compat/README.md.
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import importlib.util
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _gallery import _run_script, compare_figures, compare_stdout, finish_run
from _gallery_probe import OTKIT_RUN_MODULE, PROBE_MODULE, compare_calls, summarize
from pot_harness import git_archive, otkit_revision

# The only change made to a script: this import line (any indentation, trailing comment kept).
_SWITCH = re.compile(r"^(\s*)from geomloss import SamplesLoss(\s*(#.*)?)$")
_OTHER_GEOMLOSS = re.compile(r"^\s*(from geomloss\b|import geomloss\b)")
_KEOPS = re.compile(r"^\s*(?:from|import)\s+pykeops\b[^\n]*", re.MULTILINE)
_DOWNLOAD = re.compile(r"urlretrieve|urlopen|requests\.get|wget ")
# Tolerance levels at which two runs are compared; the report gives the tightest that holds.
LEVELS = (1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1)
STATUSES = ("pass", "pass, annealed", "differs", "runs, no reference", "fail", "skipped")
# A number followed by a unit of time ("0.20s", "12 ms"): left out of the comparison, the rest
# of its line kept ("0.20s, cost = 0.010139" compares the cost).
_DURATION = re.compile(
    r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*(?:ms|s|sec|secs|seconds?)\b"
)
# Diagnostic lines printed by SamplesLoss(..., verbose=True): otkit's one-line convergence
# summary (every backend), GeomLoss's multiscale clustering/truncation report (KeOps only).
# Neither is a result of the script: left out of both runs, and counted in the report.
_VERBOSE = re.compile(
    r"^\s*(?:SamplesLoss\('\w+'(?:, cost=\.\.\.|, backend='multiscale')?\): .*marginal error"
    r"|\d+x\d+ clusters, computed at scale"
    r"|Successive scales :"
    r"|Extrapolate from coarse to fine"
    r"|Keep \d+/\d+ = )"
)

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

from _samplesloss_probe import install  # noqa: E402 - the harness's call recorder

install(geomloss.SamplesLoss)
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
    (shim / "_samplesloss_probe.py").write_text(PROBE_MODULE)
    (shim / "_otkit_run.py").write_text(OTKIT_RUN_MODULE)
    shimmed = []
    if importlib.util.find_spec("imageio") is None:
        (shim / "imageio.py").write_text(_IMAGEIO_STANDIN)
        shimmed.append("imageio")
    return shimmed, str(shim)


def clean_stdout(text: str) -> tuple[str, int]:
    """``text`` without SamplesLoss's verbose diagnostics and without durations (the other
    numbers of a line that gives a duration are kept); and how many verbose lines were
    left out."""
    kept, verbose = [], 0
    for line in text.splitlines():
        if _VERBOSE.match(line):
            verbose += 1
            continue
        kept.append(_DURATION.sub("", line))
    return "\n".join(kept), verbose


def _run(root: Path, rel: str, library: str, args, scaling: float | None = None) -> dict:
    """One run of ``rel`` (GeomLoss's annealed at ``scaling``), its SamplesLoss calls
    recorded; stdout cleaned by :func:`clean_stdout` (the raw text kept as ``raw_stdout``)."""
    probe = root / f"calls-{Path(rel).stem}.json"
    probe.unlink(missing_ok=True)
    os.environ["OTKIT_HARNESS_PROBE"] = str(probe)
    if scaling is not None:
        os.environ["OTKIT_HARNESS_GEOMLOSS_SCALING"] = str(scaling)
    try:
        out = _run_script(root, rel, args.timeout, library)
    finally:
        os.environ.pop("OTKIT_HARNESS_PROBE", None)
        os.environ.pop("OTKIT_HARNESS_GEOMLOSS_SCALING", None)
    out["raw_stdout"] = out["stdout"]
    out["stdout"], out["verbose_lines"] = clean_stdout(out["stdout"])
    out["calls"] = json.loads(probe.read_text()) if probe.exists() else None
    return out


def _compare(ref: dict, ref2: dict, otk: dict, rtol: float) -> dict:
    """Agreement levels of ``otk`` with ``ref``; parts where ``ref2`` (GeomLoss again)
    differs from ``ref`` by more than ``rtol`` are timings or noise, not compared.

    The status depends on the printed numbers and the figures. The SamplesLoss calls made
    on the same inputs are compared too (``calls``, reported); a figure count that differs
    while the two runs made different numbers of loss evaluations and ended in the same
    states (the last call of every loss object: inputs and value within ``rtol``) follows
    the optimizer's iteration count, and those figures are not compared."""
    parts = {
        "numbers": (compare_stdout, ref["stdout"], ref2["stdout"], otk["stdout"]),
        "figures": (compare_figures, ref["figures"], ref2["figures"], otk["figures"]),
        "calls": (compare_calls, ref["calls"], ref2["calls"], otk["calls"]),
    }
    out = {"agree_to": {}, "reproducible_to": {}, "not_compared": [], "problems": [], "notes": []}
    out["not_reproducible"] = []
    calls = summarize(ref["calls"], otk["calls"])
    out["calls"] = calls
    for what, (compare, a, a2, b) in parts.items():
        noise = _agreement(compare, a, a2)
        level = _agreement(compare, a, b)
        out["agree_to"][what], out["reproducible_to"][what] = level, noise
        if noise is None or noise > rtol:
            out["not_compared"].append(what)
            out["not_reproducible"].append(what)
        elif level is None or level > rtol:
            if what == "calls":
                continue  # reported, not a status criterion
            if what == "figures" and _figure_count_follows_optimizer(ref, ref2, otk, calls, rtol):
                out["not_compared"].append(what)
                out["notes"].append(
                    f"figures not compared: {len(a)} vs {len(b)} figures, drawn per loss "
                    f"evaluation ({calls['calls'][0]} vs {calls['calls'][1]} SamplesLoss "
                    f"calls), final states agree to {calls['final_state_error']:.1e}"
                )
                continue
            message = compare(a, b, rtol, 1e-8)[1].replace("POT: ", "GeomLoss: ", 1)
            out["problems"].append(f"{what}: {message}")
    return out


def _figure_count_follows_optimizer(ref, ref2, otk, calls, rtol) -> bool:
    """Whether two runs' different figure counts are explained by an optimizer's number
    of loss evaluations: GeomLoss draws the same count twice, the call counts differ in the
    same direction as the figure counts, the calls on the same inputs and the final states
    of every loss object agree within ``rtol``."""
    n_ref, n_otk = len(ref["figures"]), len(otk["figures"])
    if calls is None or n_ref == n_otk or len(ref2["figures"]) != n_ref:
        return False
    c_ref, c_otk = calls["calls"]
    return (
        (c_ref - c_otk) * (n_ref - n_otk) > 0
        and calls["same_input_pairs"] > 0
        and max(calls["value_error"], calls["gradient_error"]) <= rtol
        and calls["final_state_error"] <= rtol
    )


def _judge(row: dict, work: Path, rel: str, ref: dict, otk: dict, args) -> None:
    """Fill ``row`` for a script that ran on both: pass, pass against an annealed
    reference (the scalings of ``--annealed-scaling`` in turn), or differs."""
    ref2 = (
        _run(work / "geomloss2", rel, "_geomloss_reference", args) if args.reference_twice else ref
    )
    plain = _compare(ref, ref2, otk, args.rtol)
    row.update(
        numbers_compared=compare_stdout(ref["stdout"], otk["stdout"], 1.0, 0.0)[2],
        verbose_lines_left_out=[ref["verbose_lines"], otk["verbose_lines"]],
        n_figures=[len(ref["figures"]), len(otk["figures"])],
        agree_to=plain["agree_to"],
        reference_reproducible_to=plain["reproducible_to"],
        not_compared=plain["not_compared"],
        calls=_jsonable(plain["calls"]),
        figure_fingerprints={"geomloss": ref["figures"], "otkit": otk["figures"]},
    )
    notes = list(plain["notes"])
    if any(row["verbose_lines_left_out"]):
        notes.append(
            "verbose lines left out (GeomLoss, otkit): "
            + ", ".join(map(str, row["verbose_lines_left_out"]))
        )
    if plain["not_reproducible"]:
        notes.append(
            " and ".join(plain["not_reproducible"]) + " not reproducible on GeomLoss: not compared"
        )
    if not plain["problems"]:
        row.update(status="pass", detail="; ".join(notes))
        return
    row["annealed_runs"] = []
    trend = [(None, plain["calls"])]
    for scaling in [s for s in args.annealed_scaling if s > 0]:
        annealed = _run(work / "geomloss_annealed", rel, "_geomloss_reference", args, scaling)
        if not annealed["ok"]:
            notes.append(f"GeomLoss annealed at {scaling} fails: {annealed['error']}")
            break
        second = _compare(annealed, annealed, otk, args.rtol)
        # the annealed run is compared only where the plain reference was reproducible
        problems = [p for p in second["problems"] if p.split(":")[0] not in plain["not_compared"]]
        row["annealed_runs"].append(
            {
                "scaling": scaling,
                "agree_to": second["agree_to"],
                "calls": _jsonable(second["calls"]),
                "seconds": annealed["seconds"],
                "problems": problems,
            }
        )
        row["annealed_agree_to"] = second["agree_to"]
        row["figure_fingerprints"][f"geomloss_annealed_{scaling}"] = annealed["figures"]
        trend.append((scaling, second["calls"]))
        if not problems:
            notes = second["notes"] + notes
            notes.insert(0, "differs from GeomLoss as is: " + "; ".join(plain["problems"]))
            row.update(status="pass, annealed", detail=f"at scaling {scaling}; " + "; ".join(notes))
            return
    note = _trend_note(trend)
    if note:
        notes.append(note)
    row.update(status="differs", detail="; ".join(plain["problems"] + notes))


def _jsonable(summary: dict | None) -> dict | None:
    """A call summary with its infinite errors (no comparable call) written as None."""
    if summary is None:
        return None
    return {
        k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in summary.items()
    }


def _trend_note(trend: list) -> str:
    """A note when GeomLoss's gradients on the same inputs come nearer otkit's at every
    scaling step (GeomLoss as is, then annealed): its own answer has not converged."""
    errors = [
        (s, c["gradient_error"])
        for s, c in trend
        if c is not None and c["same_input_pairs"] and np.isfinite(c["gradient_error"])
    ]
    if len(errors) < 2 or any(b >= a for (_, a), (_, b) in itertools.pairwise(errors)):
        return ""
    steps = " -> ".join(f"{e:.2g}" for _, e in errors)
    scalings = "/".join("as is" if s is None else str(s) for s, _ in errors)
    return (
        f"GeomLoss's gradients on the same inputs approach otkit's as it anneals "
        f"(relative error {steps} at scaling {scalings})"
    )


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
            ref = _run(work / "geomloss", rel, "_geomloss_reference", args)
            otk = _run(work / "otkit", rel, "_otkit_run", args)
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
    for run in row.get("annealed_runs", []):
        levels = ", ".join(f"{k} {v}" for k, v in run["agree_to"].items())
        detail += f"; GeomLoss annealed at {run['scaling']}: agree to {levels}"
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
        nargs="+",
        default=[0.95, 0.99],
        help="scalings of the annealed GeomLoss references, run in turn where otkit differs "
        "from GeomLoss as is, until one agrees (0: no annealed run; default 0.95 0.99)",
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
