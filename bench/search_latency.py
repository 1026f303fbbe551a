"""Search and dashboard latency on a large synthetic archive, on SQLite or PostgreSQL.

The archive (bench/corpus.py) holds demo article texts in 13 languages, 10 articles per story,
with realistic vectors around the real embeddings of the demo texts under the chosen model; it
is built once by bulk load (COPY on PostgreSQL, indexes built after the load, each step timed)
and reused. Then ~50 queries per mode (some in German, French, Italian, Chinese) are timed
through the product's own search functions, warm, median and p95, with and without a language
filter; the query embedding is timed separately. Finally the first render of Top stories.

    python bench/search_latency.py                # build /tmp/aggregator-bench.db once, reuse it
    python bench/search_latency.py --rebuild --articles 100000 --queries 50
    python bench/search_latency.py --engine postgresql --articles 1000000   # private server
    python bench/search_latency.py --db postgresql://user@host/db --articles 300000

Targets: p95 < 50 ms for keyword and semantic, < 100 ms for hybrid; Top stories first render
< 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from corpus import Corpus, bench_database, drop_database, engine_arguments, load, stored  # noqa: E402

from aggregator.embed import model_name  # noqa: E402
from aggregator.search import embed_query, hybrid_by_vector, keyword, semantic_by_vector  # noqa: E402
from aggregator.store import Store  # noqa: E402
from aggregator.store.engine import Location, is_postgres  # noqa: E402
from aggregator.store.read import Filters, Reader  # noqa: E402
from aggregator.store.vectors import matrix_from_blobs  # noqa: E402

START = datetime(2024, 3, 1, tzinfo=UTC)
PER_STORY = 10
QUERIES = [
    "Xiaomi", "SU7 deliveries", '"record profit"', "tarif*", "Tesla layoffs", "BYD", "Renault",
    "Ampere IPO", "Volkswagen Chattanooga", "union vote", "Stellantis Leapmotor", "Tavares pay",
    "Ola Electric", "Hyundai India", "Mahindra XUV", "Tata demerger", "Curvv", "Maruti eVX",
    "Beijing auto show", "EU duties", "Chinese electric cars", "FSD China", "Toyota hybrid",
    "Honda Canada", "Fiat Grande Panda", "Q1 results", "Xiaomi earnings", "elettriche",
    "Strafzölle", "droits de douane", "小米", "特斯拉", "margin*", "battery plant", "IPO",
    "recall", "sedan", "investors", "profit warning", "price cut", "factory", "launch Europe",
    "shareholders", "deliveries", "subsidies", "autonomous driving", "charging", "hybrids",
    "exports", "layoffs",
]  # fmt: skip


def build(location: Location, n_articles: int, model: str) -> dict[str, float]:
    """Articles in stories of 10 with realistic vectors (see bench/corpus.py), by bulk load."""
    corpus = Corpus(model, per_story=PER_STORY, per_day=1800, start=START)
    with Store(location) as store:
        return load(store, corpus, 0, n_articles, clustered=True, titles=False)


def timed(call: Callable[[], object], runs: int = 1) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def row(label: str, times: list[float]) -> str:
    return f"{label:<40} {len(times):>5} {statistics.median(times):>10.2f} {p95(times):>10.2f}"


def first_render(path: Location) -> float:
    """Top stories rendered by Streamlit's AppTest in a fresh process-wide cache (ms)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["AGGREGATOR_DB"] = str(path)
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(REPO / "dashboard" / "streamlit_app.py"), default_timeout=60)
    began = time.perf_counter()
    app.run()
    elapsed = (time.perf_counter() - began) * 1000
    if app.exception or not app.title or app.title[0].value != "Top stories":
        raise SystemExit(f"Top stories did not render: {[e.value for e in app.exception]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    engine_arguments(parser, "/tmp/aggregator-bench.db")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=len(QUERIES))
    parser.add_argument("--model", default="e5-onnx", help="the model of the stored vectors")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-render", action="store_true", help="skip the Top stories render")
    parser.add_argument("--build-only", action="store_true", help="build the archive, time nothing")
    args = parser.parse_args()
    name = "aggregator-bench" if args.engine == "sqlite" else f"bench_search_{args.articles}"
    with bench_database(args.engine, args.db, name) as location:
        measure(location, args)


def measure(location: Location, args: argparse.Namespace) -> None:
    engine = "PostgreSQL" if is_postgres(location) else "SQLite"
    if args.rebuild or stored(location) != args.articles:
        drop_database(location)
        began = time.perf_counter()
        steps = build(location, args.articles, args.model)
        total = time.perf_counter() - began
        print(
            f"built {args.articles:,} articles on {engine} in {total:.0f} s: "
            + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in steps.items()),
            file=sys.stderr,
        )
    if args.build_only:
        return
    queries = (QUERIES * (1 + args.queries // len(QUERIES)))[: args.queries]
    none = Filters()
    one_language = Filters(languages=("de",))
    model = args.model

    render: list[float] = []
    if not args.no_render:
        # Warm-up: the first render in this process pays the Streamlit import once; the timed
        # render below starts from empty caches, so it includes opening the database and every
        # query.
        first_render(location)
        render = [first_render(location) for _ in range(3)]

    with Reader(location) as reader:
        counts = reader.counts()
        stored_model = model_name(model)
        cold = timed(lambda: reader.vector_index(stored_model))
        refresh_check = timed(lambda: reader.vector_index(stored_model), runs=50)
        full_load = (
            [] if is_postgres(location) else timed(lambda: _full_load(reader, stored_model), runs=3)
        )
        embed_query("warm up the model", model)
        embed_times, vectors = [], []
        for query in queries:
            began = time.perf_counter()
            vectors.append(embed_query(query, model))
            embed_times.append((time.perf_counter() - began) * 1000)
        results: dict[str, list[float]] = {}
        for label, filters in (("", none), (" [language=de]", one_language)):
            _modes(reader, label, filters, queries, vectors, model)  # warm the caches
            results.update(_modes(reader, label, filters, queries, vectors, model))
        top_page = timed(lambda: reader.story_page(limit=20, offset=0), runs=20)
        related = timed(lambda: reader.related_stories(42, limit=6), runs=20)

    print(
        f"\n{engine}: {counts['articles']:,} articles, {counts['stories']:,} stories, "
        f"vectors of {stored_model}; warm times in ms\n"
    )
    print(f"{'measure':<40} {'runs':>5} {'median':>10} {'p95':>10}")
    print("-" * 68)
    for label, times in results.items():
        print(row(label, times))
    print(row(f"query embedding ({model})", embed_times))
    semantic_total = [
        a + b for a, b in zip(results["semantic (vector only)"], embed_times, strict=True)
    ]
    hybrid_total = [
        a + b for a, b in zip(results["hybrid (vector only)"], embed_times, strict=True)
    ]
    print(row("semantic incl. query embedding", semantic_total))
    print(row("hybrid incl. query embedding", hybrid_total))
    print(row("vector index: first open", cold))
    print(row("vector index: unchanged check", refresh_check))
    if full_load:
        print(row("old way: reload all vectors per query", full_load))
    print(row("story_page (ranking, 1 page of 20)", top_page))
    print(row("related stories (centroids)", related))
    if render:
        print(row("Top stories first render (AppTest)", render))
    for mode, target in (
        ("keyword", 50),
        ("semantic (vector only)", 50),
        ("hybrid (vector only)", 100),
    ):
        value = p95(results[mode])
        print(
            "BENCH "
            + json.dumps(
                {
                    "bench": "search_latency",
                    "metric": f"{mode} p95 ms, {engine}, {counts['articles']:,} articles",
                    "value": round(value, 1),
                    "target": f"< {target}",
                    "ok": value < target,
                }
            )
        )


def _modes(
    reader: Reader,
    label: str,
    filters: Filters,
    queries: list[str],
    vectors: list[Any],
    model: str,
) -> dict[str, list[float]]:
    """Per-query times of keyword, semantic and hybrid search under one set of filters."""
    results: dict[str, list[float]] = {}
    results["keyword" + label] = [
        timed(lambda q=q: keyword(reader, q, limit=20, filters=filters))[0] for q in queries
    ]
    results["semantic (vector only)" + label] = [
        timed(lambda v=v: semantic_by_vector(reader, v, limit=20, filters=filters, model=model))[0]
        for v in vectors
    ]
    results["hybrid (vector only)" + label] = [
        timed(
            lambda q=q, v=v: hybrid_by_vector(reader, q, v, limit=20, filters=filters, model=model)
        )[0]
        for q, v in zip(queries, vectors, strict=True)
    ]
    return results


def _full_load(reader: Reader, model: str) -> None:
    rows = reader.conn.execute(
        "SELECT article_id, vector FROM embeddings WHERE model = ? AND field = 'body' "
        "ORDER BY article_id",
        (model,),
    ).fetchall()
    matrix_from_blobs([bytes(r[1]) for r in rows])


if __name__ == "__main__":
    main()
