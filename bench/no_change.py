"""A refresh where nothing changed, against the full refresh before it, in the same run.

The synthetic site of ``refresh_throughput`` serves ``--feeds`` feeds; half answer a conditional
GET with 304, half send the same bytes again without validators. The second refresh (forced, so
every feed is contacted) must fetch no page, compute no embedding and never load the model.

    python bench/no_change.py [--feeds 200] [--per-feed 6]

Target: no-change refresh ÷ full refresh < 0.02.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refresh_throughput import SyntheticSite, demo_sources, timed_refresh

from aggregator.embed import load_embedder


def _embeddings(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM embeddings").fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--per-feed", type=int, default=6)
    parser.add_argument("--model", default="minilm-onnx")
    parser.add_argument("--per-host", type=int, default=8)
    args = parser.parse_args()
    with (
        SyntheticSite(demo_sources(), args.feeds, args.per_feed) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        db = Path(tmp) / "bench.db"
        full, first = timed_refresh(site, db, args.model, args.per_host)
        pages_before, embedded_before = site.counts.pages, _embeddings(db)
        feeds_before, not_modified_before = site.counts.feeds, site.counts.not_modified
        load_embedder.cache_clear()  # so a model loaded by the second run would show
        again, second = timed_refresh(site, db, args.model, args.per_host)
        loaded = load_embedder.cache_info().currsize
        added = _embeddings(db) - embedded_before
    ratio = again / full
    print(
        f"full refresh: {first.new_articles} articles from {args.feeds} feeds in {full:.2f} s; "
        f"no-change refresh: {again:.3f} s ({second.feeds_unchanged} unchanged, "
        f"{site.counts.not_modified - not_modified_before} answered 304, "
        f"{site.counts.feeds - feeds_before} resent the same bytes)"
    )
    print(
        f"second run: pages fetched {site.counts.pages - pages_before}, "
        f"embeddings added {added}, "
        f"new articles {second.new_articles}, models loaded by it {loaded}"
    )
    print(
        "BENCH "
        + json.dumps(
            {
                "bench": "no_change",
                "metric": f"no-change ÷ full refresh ({args.feeds} feeds)",
                "value": round(ratio, 4),
                "target": "< 0.02",
                "ok": ratio < 0.02,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
