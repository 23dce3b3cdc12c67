"""Run every ``benchmarks/bench_*.py`` and rewrite README's performance table.

Each script runs in its own subprocess (``--quick`` is passed on to the scripts that accept
it when this script gets ``--quick``); a failing script is reported and the others still
run. Then the table between ``<!-- perf-table-start -->`` and ``<!-- perf-table-end -->`` in
README.md is rewritten from the latest full-run results: ``benchmarks/results/<name>.json``
(written by the scripts, see ``_summary.py``) or, for results saved before those existed,
the ratio columns (``otkit / PEER``) of ``benchmarks/results/<name>.md``. Quick runs write
``*_quick.*`` files, which the table ignores.

Usage::

    python benchmarks/run_all.py                     # every benchmark (long), then the table
    python benchmarks/run_all.py --quick --only emd  # smoke run of one script, then the table
    python benchmarks/run_all.py --table-only        # rebuild the table from saved results
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
README = ROOT / "README.md"
START, END = "<!-- perf-table-start -->", "<!-- perf-table-end -->"

__all__ = ["main", "markdown_entries", "performance_table", "replace_table", "run_scripts"]


# --- running the scripts ------------------------------------------------------------------------


def scripts(only=None) -> list[Path]:
    """The benchmark scripts, all or those named in ``only`` ('emd', 'bench_emd', ...)."""
    found = sorted(BENCHMARKS.glob("bench_*.py"))
    if not only:
        return found
    wanted = {name.removesuffix(".py").removeprefix("bench_") for name in only}
    chosen = [path for path in found if _name(path) in wanted]
    missing = wanted - {_name(path) for path in chosen}
    if missing:
        known = ", ".join(_name(path) for path in found)
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(missing))} (known: {known})")
    return chosen


def _name(script: Path) -> str:
    return script.stem.removeprefix("bench_")


def accepts_quick(script: Path) -> bool:
    """Whether the script's command line has a ``--quick`` option (asked with ``--help``)."""
    try:
        shown = subprocess.run(
            [sys.executable, str(script), "--help"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return False
    return shown.returncode == 0 and "--quick" in shown.stdout


def run_scripts(paths, quick: bool, timeout: float | None) -> list[str]:
    """Run each script in a subprocess; returns the names of those that failed."""
    failed = []
    for script in paths:
        command = [sys.executable, str(script)]
        if quick and accepts_quick(script):
            command.append("--quick")
        elif quick:
            print(f"note: {script.name} has no --quick option; it runs in full")
        print(f"== {' '.join(command[1:])}", flush=True)
        try:
            code = subprocess.run(command, check=False, cwd=ROOT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        if code != 0:
            print(f"!! {script.name} failed ({code})", flush=True)
            failed.append(script.name)
    return failed


# --- reading the results ----------------------------------------------------------------------


def load_results(name: str):
    """(entries, date, report file) of the full run of benchmark ``name``, or None."""
    summary, report = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    if summary.exists():
        data = json.loads(summary.read_text())
        return data["entries"], data.get("date", ""), data.get("report", report.name)
    if report.exists():
        text = report.read_text()
        date = re.search(r"^- Date: (.+)$", text, flags=re.MULTILINE)
        return markdown_entries(text), date.group(1).strip() if date else "", report.name
    return None


def _tables(text: str):
    """The markdown tables of ``text``, each as (header cells, rows of cells)."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2 and set("".join(block[1])) <= set("-: "):
            tables.append((block[0], block[2:]))
        block = []
    return tables


def _number(cell: str):
    try:
        return float(cell.strip("*` "))
    except ValueError:
        return None


_RATIO = re.compile(r"(otkit[^/]*?)\s*/\s*(.+)")
_SECONDS = re.compile(r"(.+?)(?: median)? \(s\)")


def markdown_entries(text: str) -> list[dict]:
    """Entries {case, otkit, otkit_seconds, peer, peer_seconds, ratio} from the ratio columns
    (``otkit / PEER``) of a markdown report.

    A ratio column is read when both of its sides have a time column (``otkit (s)``,
    ``POT median (s)``, ...) or when its table has no time column at all (a table of
    ratios only); the case is made of the columns left of the first time or ratio column.
    A case reported twice (a report assembled from several runs) counts once, with its
    last value.
    """
    entries = {}
    for header, rows in _tables(text):
        seconds = {m.group(1): i for i, h in enumerate(header) if (m := _SECONDS.fullmatch(h))}
        ratios = [
            (i, m.group(1), m.group(2)) for i, h in enumerate(header) if (m := _RATIO.fullmatch(h))
        ]
        ratios = [r for r in ratios if not seconds or (r[1] in seconds and r[2] in seconds)]
        if not ratios:
            continue
        first = min([*seconds.values(), *(i for i, _, _ in ratios)])
        keys = [i for i in range(first) if header[i].lower() != "repeats"]
        for row in rows:
            cells = [cell.strip("*` ") for cell in row]
            case = ", ".join(
                f"{header[i]}={cells[i]}" if _number(cells[i]) is not None else cells[i]
                for i in keys
                if cells[i]
            )
            for column, mine, peer in ratios:
                ratio = _number(row[column]) if column < len(row) else None
                if ratio is None:
                    continue
                entries[case, mine, peer] = {
                    "case": case,
                    "otkit": mine,
                    "otkit_seconds": _number(row[seconds[mine]]) if seconds else None,
                    "peer": peer,
                    "peer_seconds": _number(row[seconds[peer]]) if seconds else None,
                    "ratio": ratio,
                }
    return list(entries.values())


# --- the README table ---------------------------------------------------------------------------


def performance_table(names) -> str:
    """Markdown: one row per (benchmark, otkit variant, peer) with the spread of the ratios."""
    lines = [
        (
            "| benchmark | comparison | cases | otkit / peer, median | fastest … slowest case "
            "| run | details |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        loaded = load_results(name)
        if loaded is None:
            continue
        entries, date, report = loaded
        groups: dict[tuple[str, str], list[float]] = {}
        for item in entries:
            if item.get("ratio") is not None:
                key = (item.get("otkit", "otkit"), item["peer"])
                groups.setdefault(key, []).append(float(item["ratio"]))
        for (mine, peer), ratios in groups.items():
            spread = f"{min(ratios):.2f} … {max(ratios):.2f}" if len(ratios) > 1 else ""
            lines.append(
                f"| {name} | {mine} vs {peer} | {len(ratios)} | **{statistics.median(ratios):.2f}** "
                f"| {spread} | {date} | [{report}](benchmarks/results/{report}) |"
            )
    note = (
        "Ratios are otkit's time over the peer's on the same inputs (below 1: otkit is "
        "faster), from the latest full run of each benchmark on the machine its report "
        "names; timings on a shared machine are noisy."
    )
    return "\n".join([note, "", *lines])


def replace_table(readme: str, table: str) -> str:
    """``readme`` with the text between the two markers replaced by ``table``."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the markers {START} ... {END} (in '## Performance')")
    return readme[: start + len(START)] + "\n" + table + "\n" + readme[end:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick where accepted")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="benchmarks to run (emd, 1d, ...)"
    )
    parser.add_argument("--table-only", action="store_true", help="only rebuild README's table")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per script")
    args = parser.parse_args(argv)
    failed = []
    if not args.table_only:
        failed = run_scripts(scripts(args.only), args.quick, args.timeout)
    names = [_name(path) for path in scripts()]
    README.write_text(replace_table(README.read_text(), performance_table(names)))
    print(f"rewrote the performance table of {README.relative_to(ROOT)}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
