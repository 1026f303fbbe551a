"""The store on PostgreSQL with pgvector: the engine for deployments past one machine.

:class:`PostgresStore` and :class:`PostgresReader` are what ``Store(url)`` and ``Reader(url)``
return for a ``postgresql://`` URL. They inherit every query written once for both engines and
replace what PostgreSQL does differently: connecting and migrating (``schema_version`` instead
of ``PRAGMA user_version``, under an advisory lock so that workers starting together migrate
once), transactions, the refresh lock, embeddings (also written as pgvector values), full-text
and vector search (:mod:`aggregator.store.postgres.search`) and the story ranking's date
arithmetic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.errors import LockedError, StorageError
from aggregator.models import Feed
from aggregator.store import Store, from_blob
from aggregator.store.engine import Connection, Location, describe
from aggregator.store.fts import AliasLookup
from aggregator.store.postgres.connection import PgConnection
from aggregator.store.postgres.schema import migrations
from aggregator.store.postgres.search import KeywordSearch, PgVectorIndex, vector_literal
from aggregator.store.read import Reader, check_version
from aggregator.store.records import Filters
from aggregator.store.schema import SCHEMA_VERSION
from aggregator.store.stories import HALF_LIFE_HOURS
from aggregator.store.vectors import VectorIndex

if TYPE_CHECKING:
    from aggregator.store.postgres.bulk import PgBulkLoad

# advisory lock keys (any bigint the application reserves)
MIGRATE_LOCK = 0x61677201
REFRESH_LOCK = 0x61677202

# The ranking of aggregator.store.stories.SCORE_SQL in PostgreSQL's date arithmetic; the first
# parameter is "now". tests/test_search.py holds it equal to story_score on both engines.
SCORE_SQL = f"""
    (ln(1 + s.n_articles) + ln(1 + s.n_sources) + 0.5 * (s.n_languages - 1))
    * power(2, -greatest(0.0, extract(epoch FROM (?::timestamptz
        - s.last_published::timestamptz)) / 3600) / {HALF_LIFE_HOURS})
    * (1 + greatest(coalesce((SELECT sum((t.value ->> 1)::int)
        FROM jsonb_array_elements(s.timeline::jsonb) AS t(value)
        WHERE t.value ->> 0 >= to_char(s.last_published::timestamptz - interval '1 day',
            'YYYY-MM-DD')), 0) - 1, 0)
        * 1.0 / greatest(s.n_articles, 1))
"""


def schema_version(conn: Connection) -> int:
    """The migrations run so far (0 for an empty database)."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)


class PostgresStore(Store):
    """Writes on PostgreSQL; the queries themselves are :class:`Store`'s."""

    def __init__(self, location: Location) -> None:
        self.url = str(location)
        self.where = describe(location)
        self.path = Path(self.where)
        self.lock = threading.RLock()
        self.pg = PgConnection(self.url)
        self.conn = self.pg
        self.migrate()

    def close(self) -> None:
        self.pg.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.lock, self.pg.transaction() as conn:
            yield conn

    @contextmanager
    def refresh_lock(self) -> Iterator[None]:
        """A session advisory lock: one refresh at a time on this database."""
        row = self.conn.execute("SELECT pg_try_advisory_lock(?)", (REFRESH_LOCK,)).fetchone()
        if not row[0]:
            raise LockedError(f"another refresh is running on {self.where}")
        try:
            yield
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(?)", (REFRESH_LOCK,))

    def migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_LOCK,))
            version = schema_version(conn)
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.where} has schema version {version}, newer than this aggregator "
                    f"({SCHEMA_VERSION}); upgrade the aggregator"
                )
            if version == SCHEMA_VERSION:
                return
            available = {str(r[0]) for r in conn.execute("SELECT cfgname::text FROM pg_ts_config")}
            steps = migrations(available)
            if len(steps) != SCHEMA_VERSION:
                raise StorageError(
                    f"this aggregator has {SCHEMA_VERSION} SQLite migrations but {len(steps)} "
                    "PostgreSQL ones; every migration needs its PostgreSQL twin"
                )
            for number in range(version, SCHEMA_VERSION):
                conn.execute(steps[number])
                conn.execute("UPDATE schema_version SET version = ?", (number + 1,))

    def bulk_load(self) -> PgBulkLoad:
        """A bulk load by ``COPY``, the search indexes built at the end
        (:mod:`aggregator.store.postgres.bulk`)."""
        from aggregator.store.postgres.bulk import PgBulkLoad

        return PgBulkLoad(self)

    def sync_feeds(self, feeds: Sequence[Feed]) -> None:
        """Make the feeds table list the configured feeds, keeping their state."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO feeds (name, url, language, tags) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET url = excluded.url, "
                "language = excluded.language, tags = excluded.tags",
                [(f.name, f.url, f.language, json.dumps(list(f.tags))) for f in feeds],
            )

    def save_embeddings(self, model: str, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
        """Store (article_id, field, text_hash, vector blob) rows, each also as a pgvector."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO embeddings (article_id, model, field, text_hash, vector, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?::vector) ON CONFLICT (article_id, model, field) "
                "DO UPDATE SET text_hash = excluded.text_hash, vector = excluded.vector, "
                "embedding = excluded.embedding",
                [
                    (aid, model, field, digest, blob, vector_literal(from_blob(blob)))
                    for aid, field, digest, blob in rows
                ],
            )


class PostgresReader(Reader):
    """Reads on PostgreSQL: each query sees what is committed, wherever it was written."""

    score_sql = SCORE_SQL

    def __init__(self, location: Location) -> None:
        self.url = str(location)
        self.where = describe(location)
        self.path = Path(self.where)
        self.conn = PgConnection(self.url, readonly=True)
        check_version(self.where, schema_version(self.conn))
        self._indexes = {}
        self._story_indexes: dict[str, tuple[str, VectorIndex]] = {}
        self._keywords = KeywordSearch(self.conn)

    def _keyword_scores(
        self,
        query: str,
        *,
        limit: int,
        filters: Filters | None,
        names: AliasLookup | None,
        any_word: bool = False,
    ) -> list[tuple[int, float]]:
        """(article id, score) of the best ``limit`` matches: ``ts_rank`` with the title
        weighted 3:1 over the body, on the same expression SQLite runs (stems included)."""
        parsed = self.keyword_query(query, names=names, any_word=any_word)
        rows = self._keywords.matches(
            parsed.expression, "a.id", filters=filters or Filters(), limit=limit
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def nearest_passing(
        self, model: str, vector: Any, k: int, filters: Filters, *, oversample: int
    ) -> tuple[list[int], list[float]]:
        """The ``k`` nearest articles that pass ``filters``, in one query: the HNSW index
        scanned on (iterative scan) until ``k`` rows pass (``oversample`` is not needed)."""
        return PgVectorIndex(self.conn, model).nearest(vector, k, filters=filters)

    def vector_index(self, model: str) -> Any:
        """The body embeddings of ``model``, searched in the database (HNSW, cosine)."""
        return PgVectorIndex(self.conn, model)
