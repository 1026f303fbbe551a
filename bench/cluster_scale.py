"""Clustering cost against history: 1,000 new articles into 10,000 and into 100,000 stored ones.

The archive grows at a constant rate (``--per-day``), so a larger archive is a longer history, not
a denser one: the story window holds about the same number of articles in both databases. The
time is that of the pipeline's own clustering step on a real SQLite file (load the window's
members, assign the new articles, consolidate, rewrite the touched stories' summaries), with
vectors drawn around topic centres and texts drawn from topic vocabularies.

    python bench/cluster_scale.py [--sizes 10000,100000] [--new 1000] [--per-day 500]

Target: time at 100k ÷ time at 10k <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config import Settings  # noqa: E402
from aggregator.entities import KnowledgeBase  # noqa: E402
from aggregator.models import Article  # noqa: E402
from aggregator.pipeline import Pipeline, RunReport  # noqa: E402
from aggregator.store import Store, iso, to_blob  # noqa: E402

MODEL = "bench-random-384"
DIM = 384
START = datetime(2024, 1, 1, tzinfo=UTC)


class StoredVectorsOnly:
    """An embedder whose vectors are all stored already; it is never asked to encode."""

    name = MODEL
    dim = DIM
    multilingual = False

    def encode(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        raise AssertionError("the benchmark stores every vector itself")


class Topics:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.words = [f"w{i}" for i in range(30_000)]

    def article(self, number: int, when: datetime, topic: int) -> tuple[Article, np.ndarray]:
        rng = random.Random(topic)
        vocabulary = rng.sample(self.words, 40)
        text = " ".join(self.rng.choice(vocabulary) for _ in range(120))
        centre = np.random.default_rng(topic).standard_normal(DIM)
        vector = centre / np.linalg.norm(centre) + 0.6 * self.np.standard_normal(DIM) / DIM**0.5
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        article = Article(
            url=f"https://bench.example/{number}",
            source=f"outlet-{number % 40}",
            title=" ".join(vocabulary[:6]) + f" {number}",
            text=text,
            published=when,
            language="en",
        )
        return article, vector


def add_articles(
    store: Store,
    topics: Topics,
    first: int,
    count: int,
    start: datetime,
    per_day: int,
    cluster: bool,
) -> None:
    """Insert ``count`` articles from ``start`` at ``per_day``, with vectors; existing ones also
    get stories (five articles of a topic each), as earlier refreshes would have left them."""
    step = timedelta(days=1) / per_day
    for offset in range(0, count, 2000):
        batch = []
        for n in range(first + offset, first + min(offset + 2000, count)):
            when = start + (n - first) * step
            batch.append(topics.article(n, when, topic=n // 25))
        with store.transaction() as conn:
            ids = store.insert_articles(conn, [(a, []) for a, _ in batch], fetched=start)
            rows = []
            for article_id, (_, vector) in zip(ids, batch, strict=True):
                blob = to_blob(vector)
                rows += [
                    (article_id, "title", f"t{article_id}", blob),
                    (article_id, "body", f"b{article_id}", blob),
                ]
            conn.executemany(
                "INSERT INTO embeddings (article_id, model, field, text_hash, vector) "
                "VALUES (?, ?, ?, ?, ?)",
                [(a, MODEL, f, h, b) for a, f, h, b in rows],
            )
            if cluster:
                stories: dict[int, list[tuple[int, datetime]]] = {}
                for article_id, (article, _) in zip(ids, batch, strict=True):
                    story = ids[0] + ((article_id - ids[0]) // 5) * 5
                    stories.setdefault(story, []).append((article_id, article.published or start))
                store.assign(
                    conn, [(a, s) for s, members in stories.items() for a, _ in members], start
                )
                for story, members in stories.items():
                    times = [t for _, t in members]
                    store.save_story(
                        conn,
                        {
                            "id": story,
                            "created": iso(start),
                            "updated": iso(start),
                            "first_published": iso(min(times)),
                            "last_published": iso(max(times)),
                            "n_articles": len(members),
                            "n_sources": len(members),
                            "n_languages": 1,
                            "languages": json.dumps(["en"]),
                            "headline": f"story {story}",
                            "lead_article_id": members[0][0],
                            "model": MODEL,
                        },
                    )


def build(path: Path, size: int, per_day: int) -> datetime:
    """A database of ``size`` clustered articles; returns the moment after the last one."""
    topics = Topics(seed=size)
    start = START
    with Store(path) as store:
        add_articles(store, topics, 0, size, start, per_day, cluster=True)
    return start + timedelta(days=size / per_day)


def measure(path: Path, size: int, new: int, per_day: int, cache: Path) -> tuple[float, int]:
    built = cache / f"scale-{size}-{per_day}.db"
    end = START + timedelta(days=size / per_day)
    if not built.exists():
        began = time.perf_counter()
        build(built, size, per_day)
        print(f"built {size:,} articles in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    shutil.copy(built, path)
    settings = Settings(db=path)
    with Store(path) as store:
        add_articles(store, Topics(seed=size + 1), size, new, end, per_day, cluster=False)
    pipeline = Pipeline(settings, Store(path), StoredVectorsOnly(), KnowledgeBase([]))
    with pipeline:
        since = end - pipeline.cluster_settings().window()
        window = len(pipeline.store.window_members(since, MODEL))
        began = time.perf_counter()
        pipeline.cluster_pending(RunReport())
        return time.perf_counter() - began, window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=500)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cache = Path(tempfile.gettempdir()) / "aggregator-cluster-scale"
    cache.mkdir(exist_ok=True)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            seconds, window = measure(Path(tmp) / f"{size}.db", size, args.new, args.per_day, cache)
            times[size] = seconds
            print(
                f"{args.new:,} new into {size:,} stored ({window:,} in the story window): "
                f"{seconds:.2f} s"
            )
    ratio = times[sizes[-1]] / times[sizes[0]]
    print(f"ratio {sizes[-1]:,} / {sizes[0]:,}: {ratio:.2f} (target <= 1.2)")
    print(
        "BENCH "
        + json.dumps(
            {
                "bench": "cluster_scale",
                "metric": f"cluster 1k new at {sizes[-1] // 1000}k ÷ at {sizes[0] // 1000}k stored",
                "value": round(ratio, 3),
                "target": "<= 1.2",
                "ok": ratio <= 1.2,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
