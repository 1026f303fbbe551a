"""Search and dashboard latency on a synthetic database of 100,000 articles.

The database is built through the store API (not the model): demo article texts with variations,
10 articles per story, random unit vectors as body embeddings under the MiniLM model name (random
vectors are fine for latency; the query vectors come from the real model, timed separately).
Then ~50 queries per mode are timed, median and p95, plus the first render of Top stories.

    python bench/search_latency.py                # build /tmp/aggregator-bench.db once, reuse it
    python bench/search_latency.py --rebuild --articles 100000 --queries 50

Targets: p95 < 50 ms for keyword, semantic and hybrid; Top stories first render < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.embed import model_name  # noqa: E402
from aggregator.models import Article  # noqa: E402
from aggregator.search import embed_query, hybrid_by_vector, keyword, semantic_by_vector  # noqa: E402
from aggregator.store import Store, to_blob  # noqa: E402
from aggregator.store.read import Filters, Reader  # noqa: E402
from aggregator.store.vectors import matrix_from_blobs  # noqa: E402

START = datetime(2024, 3, 1, tzinfo=UTC)
PER_STORY = 10
DIM = 384
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


def demo_texts() -> list[dict[str, str]]:
    texts = []
    for path in sorted((REPO / "data" / "demo" / "events").glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8"))["articles"]:
            if "body" not in item:  # syndicated copies carry no text of their own
                continue
            texts.append(
                {
                    "title": item["title"],
                    "body": " ".join(str(part) for part in item["body"])
                    if isinstance(item["body"], list)
                    else str(item["body"]),
                    "language": item["language"],
                    "outlet": item["outlet"],
                }
            )
    return texts


def build(path: Path, n_articles: int, seed: int = 7) -> None:
    """Articles, random unit vectors and stories through the store API, in big transactions."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    texts = demo_texts()
    model = model_name("minilm")
    path.unlink(missing_ok=True)
    store = Store(path)
    fetched = datetime.now(UTC)
    try:
        for start in range(0, n_articles, 2000):
            batch = []
            for number in range(start, min(n_articles, start + 2000)):
                base = texts[number % len(texts)]
                sentences = base["body"].split(". ")
                rng.shuffle(sentences)
                story = number // PER_STORY
                batch.append(
                    (
                        Article(
                            url=f"https://bench.example/{number}",
                            source=f"{base['outlet']} {number % 40}",
                            title=f"{base['title']} ({story})",
                            text=". ".join(sentences) + f" Ref {number}.",
                            published=START + timedelta(minutes=story * 8 + number % PER_STORY),
                            language=base["language"],
                            tags=(rng.choice(["ev", "industry", "policy", "india", "china"]),),
                        ),
                        [],
                    )
                )
            with store.transaction() as conn:
                ids = store.insert_articles(conn, batch, fetched=fetched)
            matrix = vectors.standard_normal((len(ids), DIM)).astype(np.float32)
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            store.save_embeddings(
                model, [(i, "body", f"h{i}", to_blob(v)) for i, v in zip(ids, matrix, strict=True)]
            )
            print(f"\r  {start + len(batch):>7} articles", end="", file=sys.stderr)
        print(file=sys.stderr)
        rows = store.conn.execute(
            "SELECT a.id, a.title, a.source, a.language, a.published, a.tags, e.vector "
            "FROM articles a JOIN embeddings e ON e.article_id = a.id AND e.field = 'body' "
            "ORDER BY a.id"
        ).fetchall()
        with store.transaction() as conn:
            for first in range(0, len(rows), PER_STORY):
                members = rows[first : first + PER_STORY]
                story_id = first // PER_STORY + 1
                store.assign(conn, [(int(r[0]), story_id) for r in members], fetched)
                store.save_story(conn, _story_record(story_id, members, model))
    finally:
        store.close()


def _story_record(story_id: int, members: list[Any], model: str) -> dict[str, Any]:
    published = sorted(str(r["published"]) for r in members)
    languages = Counter(str(r["language"]) for r in members)
    sources = Counter(str(r["source"]) for r in members)
    days = Counter(p[:10] for p in published)
    centroid = matrix_from_blobs([bytes(r["vector"]) for r in members]).mean(axis=0)
    centroid /= float(np.linalg.norm(centroid)) or 1.0
    tags = sorted({t for r in members for t in json.loads(r["tags"])})
    return {
        "id": story_id,
        "created": published[0],
        "updated": published[-1],
        "first_published": published[0],
        "last_published": published[-1],
        "n_articles": len(members),
        "n_sources": len(sources),
        "n_languages": len(languages),
        "languages": json.dumps(list(languages)),
        "sources": json.dumps(list(sources)),
        "tags": json.dumps(tags),
        "headline": str(members[0]["title"]),
        "lead_article_id": int(members[0]["id"]),
        "keywords": "[]",
        "entities": "[]",
        "timeline": json.dumps(sorted(days.items())),
        "model": model,
        "vector": to_blob(centroid.astype(np.float32)),
    }


def timed(call: Callable[[], object], runs: int = 1) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return times


def row(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{label:<40} {len(times):>5} {statistics.median(times):>10.2f} {p95:>10.2f}"


def first_render(path: Path) -> float:
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
    parser.add_argument("--db", type=Path, default=Path("/tmp/aggregator-bench.db"))
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=len(QUERIES))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    if args.rebuild or not args.db.exists():
        began = time.perf_counter()
        build(args.db, args.articles)
        print(f"built {args.db} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    else:
        Store(args.db).close()  # a database built by an older version is migrated first
    queries = (QUERIES * (1 + args.queries // len(QUERIES)))[: args.queries]
    none = Filters()
    one_language = Filters(languages=("de",))

    # Warm-up: the first render in this process pays the Streamlit import once; the timed render
    # below starts from empty caches, so it includes opening the database and every query.
    first_render(args.db)
    render = [first_render(args.db) for _ in range(3)]

    with Reader(args.db) as reader:
        counts = reader.counts()
        model = model_name("minilm")
        full_load = timed(lambda: _full_load(reader, model), runs=3)
        cold = timed(lambda: reader.vector_index(model))
        refresh_check = timed(lambda: reader.vector_index(model), runs=50)
        embed_query("warm up the model", "minilm")
        embed_times, vectors = [], []
        for query in queries:
            began = time.perf_counter()
            vectors.append(embed_query(query, "minilm"))
            embed_times.append((time.perf_counter() - began) * 1000)
        results: dict[str, list[float]] = {}
        for label, filters in (("", none), (" [language=de]", one_language)):
            results.update(_modes(reader, label, filters, queries, vectors))
        top_page = timed(lambda: reader.story_page(limit=20, offset=0), runs=20)
        related = timed(lambda: reader.related_stories(42, limit=6), runs=20)

    print(f"\n{counts['articles']} articles, {counts['stories']} stories; times in ms\n")
    print(f"{'measure':<40} {'runs':>5} {'median':>10} {'p95':>10}")
    print("-" * 68)
    for label, times in results.items():
        print(row(label, times))
    print(row("query embedding (MiniLM)", embed_times))
    semantic_total = [
        a + b for a, b in zip(results["semantic (vector only)"], embed_times, strict=True)
    ]
    hybrid_total = [
        a + b for a, b in zip(results["hybrid (vector only)"], embed_times, strict=True)
    ]
    print(row("semantic incl. query embedding", semantic_total))
    print(row("hybrid incl. query embedding", hybrid_total))
    print(row("vector index: first load (cached after)", cold))
    print(row("vector index: unchanged check", refresh_check))
    print(row("old way: reload all vectors per query", full_load))
    print(row("story_page (ranking, 1 page of 20)", top_page))
    print(row("related stories (centroids)", related))
    print(row("Top stories first render (AppTest)", render))


def _modes(
    reader: Reader, label: str, filters: Filters, queries: list[str], vectors: list[Any]
) -> dict[str, list[float]]:
    """Per-query times of keyword, semantic and hybrid search under one set of filters."""
    results: dict[str, list[float]] = {}
    results["keyword" + label] = [
        timed(lambda q=q: keyword(reader, q, limit=20, filters=filters))[0] for q in queries
    ]
    results["semantic (vector only)" + label] = [
        timed(lambda v=v: semantic_by_vector(reader, v, limit=20, filters=filters, model="minilm"))[
            0
        ]
        for v in vectors
    ]
    results["hybrid (vector only)" + label] = [
        timed(
            lambda q=q, v=v: hybrid_by_vector(
                reader, q, v, limit=20, filters=filters, model="minilm"
            )
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
