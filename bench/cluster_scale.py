"""Clustering cost against history: 1,000 new articles into 10,000 and into 100,000 stored ones.

The archive grows at a constant rate (``--per-day``), so a larger archive is a longer history, not
a denser one: the story window holds about the same number of articles in both databases. The
time is that of the pipeline's own clustering step (load the window's members, assign the new
articles, consolidate, rewrite the touched stories' summaries) on SQLite or PostgreSQL, over the
synthetic archive of bench/corpus.py (demo texts in 13 languages, realistic vectors), built once
by bulk load and copied for each measurement.

    python bench/cluster_scale.py [--sizes 10000,100000] [--new 1000] [--per-day 500]
    python bench/cluster_scale.py --engine postgresql --sizes 100000,1000000

Target: time at the largest size ÷ time at the smallest <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from corpus import (  # noqa: E402
    DIM,
    BenchServer,
    Corpus,
    drop_database,
    engine_arguments,
    load,
    stored,
)

from aggregator.config import Settings  # noqa: E402
from aggregator.entities import KnowledgeBase  # noqa: E402
from aggregator.pipeline import Pipeline, RunReport  # noqa: E402
from aggregator.store import Store  # noqa: E402
from aggregator.store.engine import Location, is_postgres  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)
CACHE = Path(tempfile.gettempdir()) / "aggregator-cluster-scale"
DISTINCT = 1.5
"""Each story's random offset from its event's text vectors: large, so that stories reusing
an event's texts are distinct events to the clusterer, as the stories of a real window are."""


class StoredVectorsOnly:
    """An embedder whose vectors are all stored already; it is never asked to encode."""

    dim = DIM
    multilingual = True

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        raise AssertionError("the benchmark stores every vector itself")


def build(location: Location, corpus: Corpus, size: int) -> dict[str, float]:
    """``size`` clustered articles (five to a story), as earlier refreshes would have left them."""
    drop_database(location)
    with Store(location) as store:
        return load(store, corpus, 0, size, clustered=True, titles=True)


def measure(location: Location, corpus: Corpus, size: int, new: int) -> tuple[float, int]:
    """Seconds the pipeline's clustering step takes for ``new`` articles after ``size`` stored
    ones, and how many stored articles its story window holds."""
    with Store(location) as store:
        load(store, corpus, size, new, clustered=False, titles=True)
    pipeline = Pipeline(
        Settings(db=location), Store(location), StoredVectorsOnly(corpus.model), KnowledgeBase([])
    )
    with pipeline:
        since = corpus.published(size) - pipeline.cluster_settings().window()
        window = len(pipeline.store.window_members(since, corpus.model))
        began = time.perf_counter()
        pipeline.cluster_pending(RunReport())
        return time.perf_counter() - began, window


@contextmanager
def databases(engine: str, db: str | None) -> Iterator[Callable[[str, str | None], Location]]:
    """Makes the benchmark's databases: ``make(name, template)`` gives database ``name``, a
    copy of ``template`` when one is named (SQLite files under /tmp, or databases on a private
    PostgreSQL server or the server of the ``db`` URL)."""
    if engine == "sqlite" and not (db and is_postgres(db)):
        folder = Path(db) if db else CACHE
        folder.mkdir(exist_ok=True)

        def make_file(name: str, template: str | None) -> Location:
            if template is not None:
                shutil.copy(folder / f"{template}.db", folder / f"{name}.db")
            return folder / f"{name}.db"

        yield make_file
        return
    server = BenchServer() if not db else None
    try:
        if server is not None:
            yield lambda name, template: server.database(name, template=template)
        else:
            yield lambda name, template: on_server(str(db), name, template)
    finally:
        if server is not None:
            server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    engine_arguments(parser, f"files under {CACHE}")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=500)
    parser.add_argument("--model", default="e5-onnx", help="whose vectors the texts get")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    times = {}
    with databases(args.engine, args.db) as make:
        for size in sizes:
            corpus = Corpus(
                args.model,
                per_story=5,
                per_day=args.per_day,
                start=START,
                story_spread=DISTINCT,
            )
            built = f"bench_cluster_{size}_{args.per_day}"
            location = make(built, None)
            if args.rebuild or stored(location) != size:
                began = time.perf_counter()
                steps = build(location, corpus, size)
                print(
                    f"built {size:,} articles in {time.perf_counter() - began:.0f} s: "
                    + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in steps.items()),
                    file=sys.stderr,
                )
            seconds, window = measure(make("bench_cluster_run", built), corpus, size, args.new)
            times[size] = seconds
            engine = "PostgreSQL" if is_postgres(location) else "SQLite"
            print(
                f"{engine}: {args.new:,} new into {size:,} stored ({window:,} in the story "
                f"window): {seconds:.2f} s"
            )
    ratio = times[sizes[-1]] / times[sizes[0]]
    print(f"ratio {sizes[-1]:,} / {sizes[0]:,}: {ratio:.2f} (target <= 1.2)")
    print(
        "BENCH "
        + json.dumps(
            {
                "bench": "cluster_scale",
                "metric": f"cluster 1k new at {sizes[-1] // 1000}k ÷ at {sizes[0] // 1000}k stored"
                + (f", {engine}" if engine != "SQLite" else ""),
                "value": round(ratio, 3),
                "target": "<= 1.2",
                "ok": ratio <= 1.2,
            }
        )
    )
    return 0


def on_server(url: str, name: str, template: str | None) -> str:
    """Database ``name`` on the server of ``url`` (a fresh copy of ``template`` if given)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if template is not None:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        elif not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


if __name__ == "__main__":
    raise SystemExit(main())
