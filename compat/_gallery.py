"""Gallery part of the POT compatibility harness (``pot_harness.py gallery``).

Each in-scope POT example runs twice in a temporary copy of POT's ``examples/`` (and
``data/``) folder, with ``MPLBACKEND=Agg`` and a timeout: once as is (POT), once with only its
import lines rewritten for otkit. The two runs are compared on what they print (every float on
stdout, lines about timing left out) and on what they plot (a fingerprint of every figure's
data, see ``_gallery_runner.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# POT 0.9.7 gallery scripts that use only the families otkit offers (exact OT, 1D, sliced,
# Sinkhorn, barycenters, unbalanced Sinkhorn/MM/1D, plots, solve) plus POT's small helpers
# (ot.datasets, ot.utils.dist0, ot.tic/toc): path under examples/ -> what it exercises.
GALLERY_IN_SCOPE = {
    "plot_Intro_OT.py": "emd, sinkhorn on a small city-bakery problem (prints costs)",
    "plot_OT_2D_samples.py": "emd, sinkhorn, empirical_sinkhorn, solve, plot2D_samples_mat",
    "plot_OT_L1_vs_L2.py": "emd with sqeuclidean/euclidean/cityblock costs",
    "plot_compute_emd.py": "emd2 and sinkhorn2 over families of 1D Gaussians",
    "plot_solve_variants.py": "ot.solve: exact, entropic, quadratic... regularizations",
    "plot_sparse_emd.py": "emd with a sparse (scipy.sparse) cost matrix, new in 0.9.7",
    "others/plot_logo.py": "emd between two point sets (the POT logo)",
    "backends/plot_Sinkhorn_gradients.py": "solve(grad='autodiff'/'envelope'/'last_step'), torch",
    "backends/plot_sliced_wass_grad_flow_pytorch.py": "sliced Wasserstein gradient flow, torch",
    "backends/plot_unmix_optim_torch.py": "emd2 in a torch optimization (uses utils.proj_simplex)",
    "backends/plot_wass1d_torch.py": "wasserstein_1d gradient flow, torch (utils.proj_simplex)",
    "backends/plot_wass2_gan_torch.py": "emd2 as a GAN loss, torch",
    "barycenters/plot_barycenter_1D.py": "entropic barycenter of 1D histograms",
    "barycenters/plot_barycenter_lp_vs_entropic.py": "lp.barycenter vs bregman.barycenter",
    "barycenters/plot_convolutional_barycenter.py": "convolutional_barycenter2d on images",
    "barycenters/plot_debiased_barycenter.py": "barycenter_debiased, convolutional, debiased",
    "barycenters/plot_free_support_barycenter.py": "lp.free_support_barycenter (and Sinkhorn)",
    "barycenters/plot_free_support_sinkhorn_barycenter.py": "free_support_sinkhorn_barycenter",
    "sliced-wasserstein/plot_sliced_wasserstein_scaler.py": "sliced_wasserstein_distance with "
    "utils.DataScaler (0.9.7)",
    "sliced-wasserstein/plot_variance.py": "sliced_wasserstein_distance variance vs projections",
    "unbalanced-partial/plot_UOT_1D.py": "sinkhorn_unbalanced, mm_unbalanced, uot_1d",
    "unbalanced-partial/plot_UOT_barycenter_1D.py": "barycenter_unbalanced vs barycenter",
    "unbalanced-partial/plot_conv_sinkhorn_ti.py": "translation-invariant unbalanced Sinkhorn",
}

# The other scripts of the gallery and why each is left out.
GALLERY_EXCLUDED = {
    "plot_OT_1D.py": "needs ot.smooth.smooth_ot_dual (smooth OT, not offered)",
    "plot_optim_OTreg.py": "ot.optim.cg / gcg (not offered)",
    "plot_quickstart_guide.py": "also Gromov, Gaussian, factored, GeomLoss-backed solvers",
    "plot_bsp_ot.py": "BSP-OT (not offered)",
    "plot_sgot.py": "Spectral-Grassmann OT (not offered)",
    "backends/plot_dual_ot_pytorch.py": "ot.stochastic dual losses (not offered)",
    "backends/plot_stoch_continuous_ot_pytorch.py": "ot.stochastic (not offered)",
    "backends/plot_optim_gromov_pytorch.py": "Gromov-Wasserstein (not offered)",
    "backends/plot_ot_batch.py": "ot.batch (not offered)",
    "backends/plot_ssw_unif_torch.py": "spherical sliced Wasserstein (not offered)",
    "barycenters/plot_free_support_barycenter_generic_cost.py": "lp.free_support_barycenter_generic_costs (not offered)",
    "barycenters/plot_gaussian_barycenter.py": "Gaussian/Bures barycenters (not offered)",
    "barycenters/plot_generalized_free_support_barycenter.py": "lp.generalized_free_support_barycenter (not offered)",
    "barycenters/plot_gmm_barycenter.py": "GMM OT (not offered)",
    "sliced-wasserstein/plot_compute_wasserstein_circle.py": "OT on the circle (not offered)",
    "sliced-wasserstein/plot_sliced_plans.py": "sliced transport plans (not offered)",
    "sliced-wasserstein/plot_variance_ssw.py": "spherical sliced Wasserstein (not offered)",
    "unbalanced-partial/plot_UOT_sliced.py": "sliced unbalanced OT (not offered)",
    "unbalanced-partial/plot_unbalanced_OT.py": "also ot.partial.partial_wasserstein",
    "unbalanced-partial/plot_entropic_partial_wasserstein_logscale.py": "partial OT",
    "unbalanced-partial/plot_partial_1d.py": "partial OT",
    "unbalanced-partial/plot_partial_wass_and_gromov.py": "partial OT and partial GW",
    "unbalanced-partial/plot_regpath.py": "regularization path (not offered)",
    "domain-adaptation/": "ot.da transport classes (not offered)",
    "gromov/": "Gromov-Wasserstein family (not offered; several need networkx)",
    "gaussian_gmm/": "Gaussian mixture OT (not offered)",
    "lowrank/": "low-rank Sinkhorn / GW, factored OT (not offered)",
    "others/plot_COOT.py": "CO-optimal transport (not offered)",
    "others/plot_EWCA.py": "ot.dr (not offered; needs pymanopt)",
    "others/plot_SSNB.py": "ot.mapping Brenier potentials (not offered; needs cvxpy)",
    "others/plot_WDA.py": "ot.dr (not offered; needs pymanopt/autograd)",
    "others/plot_WeakOT_VS_OT.py": "weak OT (not offered)",
    "others/plot_dmmot.py": "d-MMOT (not offered)",
    "others/plot_outlier_detection_with_COOT_and_unbalanced_COOT.py": "COOT (not offered)",
    "others/plot_stochastic.py": "ot.stochastic (not offered)",
}

# The rewrite: import lines only (``import ot`` -> ``import otkit as ot`` ...), nothing else.
_REWRITES = (
    (re.compile(r"^(\s*)import ot(\s*(#.*)?)$"), r"\1import otkit as ot\2"),
    (re.compile(r"^(\s*)import ot\.([\w.]+)"), r"\1import otkit.\2"),
    (re.compile(r"^(\s*)from ot\.([\w.]+) import"), r"\1from otkit.\2 import"),
    (re.compile(r"^(\s*)from ot import"), r"\1from otkit import"),
)
# floats only (a decimal point or an exponent), not digits inside words (x1, W2, 2D)
_FLOAT = re.compile(
    r"(?<![\w.])[-+]?(?:(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|nan|inf)(?!\w|\.\w)",
    re.IGNORECASE,
)
# lines whose numbers differ from run to run (timings) are not compared
_TIMING = re.compile(r"(?i)elapsed|\btime|duration|\bsec(ond)?s?\b|\d\s*(?:s|ms)\b")


def rewrite_imports(source: str) -> tuple[str, int]:
    """``source`` with POT's import lines pointed at otkit, and the number of lines changed."""
    lines, changed = source.splitlines(keepends=True), 0
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        for pattern, repl in _REWRITES:
            new = pattern.sub(repl, body)
            if new != body:
                lines[i] = new + line[len(body) :]
                changed += 1
                break
    return "".join(lines), changed


def _numbers(stdout: str) -> list[tuple[str, list[float]]]:
    out = []
    for line in stdout.splitlines():
        if _TIMING.search(line):
            continue
        values = [float(tok) for tok in _FLOAT.findall(line)]
        if values:
            out.append((line.strip(), values))
    return out


def compare_stdout(pot: str, otk: str, rtol: float, atol: float) -> tuple[bool, str, int]:
    """(same numbers, first differing line pair or '', how many numbers were compared)."""
    a, b = _numbers(pot), _numbers(otk)
    flat_a = [v for _, vs in a for v in vs]
    flat_b = [v for _, vs in b for v in vs]
    for (la, va), (lb, vb) in zip(a, b):
        if len(va) != len(vb) or not np.allclose(va, vb, rtol=rtol, atol=atol, equal_nan=True):
            return False, f"POT: {la[:160]!r} | otkit: {lb[:160]!r}", len(flat_a)
    if len(flat_a) != len(flat_b):
        extra = a[len(b)][0] if len(a) > len(b) else b[len(a)][0]
        return (
            False,
            f"{len(flat_a)} vs {len(flat_b)} numbers; first extra line {extra[:160]!r}",
            len(flat_a),
        )
    return True, "", len(flat_a)


def compare_figures(pot: list, otk: list, rtol: float, atol: float) -> tuple[str, str]:
    """('same'/'different'/'none', first difference) between two figure fingerprints.

    Each statistic agrees within ``max(rtol, 1e-4)``, relative to its own size (sum of
    |x|, sum of x²) or to the size of the data (the signed sum, the min and the max; see
    :func:`_stats_close`), or within ``atol`` plus 1e-7 times the largest magnitude of that
    artist's data.
    """
    if not pot and not otk:
        return "none", ""
    if len(pot) != len(otk):
        return "different", f"{len(pot)} vs {len(otk)} figures"
    for f_i, (fa, fb) in enumerate(zip(pot, otk)):
        names_a, names_b = [x[0] for x in fa], [x[0] for x in fb]
        if names_a != names_b:
            only = sorted(set(names_a) ^ set(names_b))[:3]
            return "different", f"figure {f_i}: artists differ ({len(fa)} vs {len(fb)}; {only})"
        for (name, sa), (_, sb) in zip(fa, fb):
            if sa == sb:
                continue
            if sa is None or sb is None or sa[0] != sb[0] or len(sa) != len(sb):
                return "different", f"figure {f_i} {name}: {_short(sa)} vs {_short(sb)}"
            if any(isinstance(x, str) for x in sa[1:] + sb[1:]):
                return "different", f"figure {f_i} {name}: {_short(sa)} vs {_short(sb)}"
            if not _stats_close(sa, sb, max(rtol, 1e-4), atol):
                return "different", f"figure {f_i} {name}: {_short(sa)} vs {_short(sb)}"
    return "same", ""


def _stats_close(sa: list, sb: list, rtol: float, atol: float) -> bool:
    """Whether two fingerprints [shape, sum, sum |x|, sum x², min, max] agree.

    The sum of |x| and the sum of x² are compared relative to themselves; the signed sum
    relative to the sum of |x| (data centred on 0 sums to nearly 0), and the min and max
    relative to the largest magnitude of the data (a smallest value of 0.004 against 0.006
    in an image of values up to 1 is a 0.2% difference, not 50%). Every statistic also
    gets ``atol`` plus 1e-7 times that magnitude (a solver's -5e-8 where the other has an
    exact 0 on data reaching 99 is not a difference)."""
    a, b = np.asarray(sa[1:], dtype=float), np.asarray(sb[1:], dtype=float)
    if a.size != 5:
        return bool(np.allclose(a, b, rtol=rtol, atol=atol))
    scale = max(abs(x) for x in (a[3], a[4], b[3], b[4]))
    reference = np.abs(b)
    reference[0] = max(reference[0], a[1], b[1])
    reference[3:] = scale
    return bool(np.all(np.abs(a - b) <= atol + 1e-7 * scale + rtol * reference))


def _short(stats) -> str:
    if stats is None:
        return "None"
    head = [stats[0]] + [round(x, 6) if isinstance(x, float) else x for x in stats[1:4]]
    return str(head)


def _first_error(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Warning|Interrupt|Exit)\b.*", line.strip()):
            return line.strip()[:300]
    return (lines[-1].strip() if lines else "")[:300]


def _run_script(root: Path, rel: str, timeout: int, library: str) -> dict:
    script = root / "examples" / rel
    dump = script.with_suffix(".figures.json")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0", PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / "_gallery_runner.py"), str(script), str(dump), library],
            cwd=script.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code = -9
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = f"TimeoutError: no result after {timeout} s"
    figures = json.loads(dump.read_text()) if dump.exists() else []
    return {
        "ok": code == 0,
        "code": code,
        "seconds": round(time.perf_counter() - start, 1),
        "stdout": stdout,
        "error": "" if code == 0 else _first_error(stderr),
        "figures": figures,
    }


def _copy_tree(src_examples: Path, data: Path | None, dest: Path) -> None:
    shutil.copytree(src_examples, dest / "examples")
    if data is not None and data.is_dir():
        shutil.copytree(data, dest / "data")


def _locate_sources(args) -> tuple[Path, Path | None, str, Path | None]:
    """(examples folder, data folder, description, temporary folder to delete)."""
    if args.examples:
        examples = args.examples.resolve()
        data = examples.parent / "data"
        return examples, data if data.is_dir() else None, str(examples), None
    if args.pot_repo is None:
        raise SystemExit("gallery needs --pot-repo GITDIR (POT's git) or --examples DIR")
    from pot_harness import git_archive

    tmp = Path(tempfile.mkdtemp(prefix="otkit-compat-src-"))
    commit = git_archive(args.pot_repo, "examples", tmp)
    git_archive(args.pot_repo, "data", tmp)
    return tmp / "examples", tmp / "data", f"git {commit[:10]} of {args.pot_repo}", tmp


def _select(examples: Path, wanted: list[str] | None) -> list[str]:
    available = {p.relative_to(examples).as_posix() for p in examples.rglob("*.py")}
    if wanted:
        chosen = []
        for w in wanted:
            hits = [a for a in available if a == w or a.endswith("/" + w) or Path(a).stem == w]
            if not hits:
                raise SystemExit(f"no example script {w!r} under {examples}")
            chosen += hits
        return sorted(set(chosen))
    return [s for s in GALLERY_IN_SCOPE if s in available]


def cmd_gallery(args, otkit_revision) -> int:
    examples, data, source, tmp_src = _locate_sources(args)
    scripts = _select(examples, args.scripts)
    missing = [s for s in GALLERY_IN_SCOPE if not (examples / s).exists()]
    commit, dirty = otkit_revision()
    work = Path(tempfile.mkdtemp(prefix="otkit-compat-gallery-"))
    _copy_tree(examples, data, work / "pot")
    _copy_tree(examples, data, work / "otkit")
    if args.pot_twice:
        _copy_tree(examples, data, work / "pot2")
    print(
        f"POT gallery ({source}), otkit {commit}{' (dirty tree)' if dirty else ''}; "
        f"{len(scripts)} scripts, timeout {args.timeout} s, rtol {args.rtol}"
    )
    rows = []
    for rel in scripts:
        target = work / "otkit" / "examples" / rel
        new, changed = rewrite_imports(target.read_text(encoding="utf-8"))
        target.write_text(new, encoding="utf-8")
        pot = _run_script(work / "pot", rel, args.timeout, "ot")
        otk = _run_script(work / "otkit", rel, args.timeout, "otkit")
        row = {
            "script": rel,
            "import_lines_rewritten": changed,
            "pot_runs": pot["ok"],
            "pot_error": pot["error"],
            "pot_seconds": pot["seconds"],
            "otkit_runs": otk["ok"],
            "otkit_error": otk["error"],
            "otkit_seconds": otk["seconds"],
        }
        if not pot["ok"]:
            row["status"] = "POT itself fails"
        elif not otk["ok"]:
            row["status"] = "fails"
        else:
            same, diff, count = compare_stdout(pot["stdout"], otk["stdout"], args.rtol, args.atol)
            fig, fig_diff = compare_figures(pot["figures"], otk["figures"], args.rtol, args.atol)
            # a second POT run: numbers or figures that differ between two POT runs are noise
            pot2 = _run_script(work / "pot2", rel, args.timeout, "ot") if args.pot_twice else pot
            pot_same = (
                pot2["ok"]
                and compare_stdout(pot["stdout"], pot2["stdout"], args.rtol, args.atol)[0]
            )
            pot_fig = compare_figures(pot["figures"], pot2["figures"], args.rtol, args.atol)[0]
            row["pot_reproducible"] = {"numbers": bool(pot_same), "figures": pot_fig != "different"}
            if not pot_same:
                diff = "POT's own two runs print different numbers: " + (diff or "(same here)")
            if pot_fig == "different":
                fig = "not reproducible on POT"
            row["figure_fingerprints"] = {"pot": pot["figures"], "otkit": otk["figures"]}
            row.update(
                numbers_compared=count,
                numbers_same=same,
                numbers_diff=diff,
                figures=fig,
                figures_diff=fig_diff,
                n_figures=len(pot["figures"]),
            )
            if not pot_same:
                row["status"] = "runs, POT not reproducible"
            else:
                row["status"] = "runs, same numbers" if same else "runs, different numbers"
        rows.append(row)
        _print_row(row)
    counts = {
        k: sum(r["status"] == k for r in rows)
        for k in (
            "runs, same numbers",
            "runs, different numbers",
            "runs, POT not reproducible",
            "fails",
            "POT itself fails",
        )
    }
    runs = sum(v for k, v in counts.items() if k.startswith("runs"))
    same_figs = sum(r.get("figures") == "same" for r in rows)
    print(
        f"\nTOTAL {len(rows)} scripts: runs {runs} (same numbers {counts['runs, same numbers']},"
        f" different numbers {counts['runs, different numbers']}, POT not reproducible "
        f"{counts['runs, POT not reproducible']}), fails {counts['fails']},"
        f" POT itself fails {counts['POT itself fails']}; figure data identical in {same_figs}"
    )
    if missing:
        print(f"in-scope scripts not found in this gallery: {', '.join(missing)}")
    report = None
    if args.json:
        report = {
            "kind": "gallery",
            "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "otkit_commit": commit,
            "otkit_tree_dirty": dirty,
            "examples": source,
            "rtol": args.rtol,
            "atol": args.atol,
            "timeout": args.timeout,
            "totals": dict(counts, runs=runs, figures_same=same_figs, scripts=len(rows)),
            "scripts": rows,
            "missing_in_scope": missing,
            "excluded": GALLERY_EXCLUDED,
        }
    return finish_run(args, report, work, tmp_src)


def _print_row(row: dict) -> None:
    status = row["status"]
    if status == "fails":
        detail = row["otkit_error"]
    elif status == "POT itself fails":
        detail = row["pot_error"]
    else:
        detail = f"{row['numbers_compared']} numbers"
        if row["numbers_diff"]:
            detail += f"; {row['numbers_diff']}"
        detail += f"; figures {row['figures']}"
        if row["figures_diff"]:
            detail += f" ({row['figures_diff']})"
    print(f"{row['script']:58s} {status:25s} {detail}", flush=True)


def finish_run(args, report: dict | None, work, tmp_src) -> int:
    """Write the JSON report (when ``--json`` was given) and remove the work folders unless
    ``--keep``; the exit status of a harness run."""
    if report is not None:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"JSON report: {args.json}")
    if args.keep:
        print(f"kept: {work}" + (f" and {tmp_src}" if tmp_src else ""))
    else:
        shutil.rmtree(work, ignore_errors=True)
        if tmp_src is not None:
            shutil.rmtree(tmp_src, ignore_errors=True)
    return 0
