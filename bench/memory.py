"""Peak resident memory of a full refresh, measured in a child process running the real CLI.

The synthetic site of ``refresh_throughput`` is served from this process; a child runs
``aggregator --db ... --feeds ... --model ... refresh --force`` into a fresh database and reports
its own peak RSS (``getrusage``), so the server and this script are not counted.

    python bench/memory.py [--feeds 200] [--per-feed 6] [--models e5-onnx,minilm]

Target: peak RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refresh_throughput import REPO, SyntheticSite, demo_sources

from aggregator.config import dump_feeds

LIMIT_MB = 1024.0


def child(argv: list[str]) -> int:
    """Run the CLI in this process, then print its peak RSS in MB (ru_maxrss is in KiB)."""
    from aggregator.cli import main as cli_main

    sys.argv = ["aggregator", *argv]
    try:
        cli_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("PEAK " + json.dumps({"peak_mb": round(peak, 1), "exit": code}))
    return 0


def measure(site: SyntheticSite, model: str, tmp: Path) -> dict[str, float]:
    feeds = tmp / f"feeds-{model}.yaml"
    feeds.write_text(dump_feeds(site.feed_list()), encoding="utf-8")
    db = tmp / f"{model}.db"
    argv = ["--db", str(db), "--feeds", str(feeds), "--model", model, "refresh", "--force"]
    done = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        env={"AGGREGATOR_PER_HOST": "8", **_environ()},
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PEAK ")]
    if not lines:
        raise SystemExit(f"the child refresh failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(lines[-1].removeprefix("PEAK "))
    return result


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--per-feed", type=int, default=6)
    parser.add_argument("--models", default="e5-onnx")
    args = parser.parse_args()
    peaks: dict[str, float] = {}
    with (
        SyntheticSite(demo_sources(), args.feeds, args.per_feed) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for model in args.models.split(","):
            result = measure(site, model.strip(), Path(tmp))
            peaks[model] = result["peak_mb"]
            print(
                f"refresh of {site.articles} articles with {model}: peak RSS "
                f"{result['peak_mb']:.0f} MB (exit {result['exit']:.0f})"
            )
    worst = max(peaks.values())
    print(
        "BENCH "
        + json.dumps(
            {
                "bench": "memory",
                "metric": f"refresh peak RSS, MB ({', '.join(peaks)})",
                "value": worst,
                "target": f"< {LIMIT_MB:.0f}",
                "ok": worst < LIMIT_MB,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
