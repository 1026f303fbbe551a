"""Run every benchmark in bench/ and print one table.

Each benchmark runs as its own process (so memory and model caches do not leak between them).
A benchmark reports its headline figures on lines of the form
``BENCH {"bench": ..., "metric": ..., "value": ..., "target": ..., "ok": ...}``; for one that
prints no such line, the table shows its last line of output instead.

    python bench/run_all.py [--only refresh_throughput,no_change] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SKIP = {
    "run_all.py": "this runner",
    "build_demo_gold.py": "regenerates data/demo/gold.jsonl; not a measurement",
    "cluster_tune.py": "a tuning tool over labelled files given as arguments",
}


def run_one(script: Path, timeout: float) -> tuple[list[dict[str, Any]], float]:
    """The BENCH rows of one script (or one row describing its output or failure)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=BENCH.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        row = {"metric": "timed out", "value": f"> {timeout:.0f} s", "target": "", "ok": False}
        return [row], time.perf_counter() - started
    seconds = time.perf_counter() - started
    rows = []
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            try:
                rows.append(json.loads(line.removeprefix("BENCH ")))
            except json.JSONDecodeError:
                continue
    if rows:
        return rows, seconds
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return [{"metric": "failed", "value": tail[:70], "target": "", "ok": False}], seconds
    lines = [ln.strip() for ln in done.stdout.splitlines() if ln.strip()]
    last = lines[-1] if lines else "(no output)"
    return [{"metric": "last line", "value": last[:70], "target": "", "ok": None}], seconds


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated script names (no .py)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    scripts = [
        s
        for s in sorted(BENCH.glob("*.py"))
        if s.name not in SKIP and (not wanted or s.stem in wanted)
    ]
    table: list[tuple[str, str, str, str, str, str]] = []
    for script in scripts:
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        rows, seconds = run_one(script, args.timeout)
        for row in rows:
            verdict = {True: "ok", False: "MISS", None: ""}[row.get("ok")]
            table.append(
                (
                    row.get("bench", script.stem),
                    str(row.get("metric", "")),
                    _cell(row.get("value", "")),
                    str(row.get("target", "")),
                    verdict,
                    f"{seconds:.0f}",
                )
            )
    header = ("benchmark", "metric", "value", "target", "", "run s")
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    return 1 if any(r[4] == "MISS" for r in table) else 0


if __name__ == "__main__":
    sys.exit(main())
