"""The store on PostgreSQL with pgvector: the engine for deployments past one machine.

:class:`PostgresStore` and :class:`PostgresReader` are what ``Store(url)`` and ``Reader(url)``
return for a ``postgresql://`` URL. They inherit every query written once for both engines and
replace what PostgreSQL does differently: connecting and migrating (``schema_version`` instead
of ``PRAGMA user_version``, under an advisory lock so that workers starting together migrate
once), transactions, feed leases and the locks refresh workers share
(:mod:`aggregator.store.postgres.leases`), embeddings (also written as pgvector values),
full-text and vector search (:mod:`aggregator.store.postgres.search`) and the story ranking's
date arithmetic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.errors import StorageError
from aggregator.models import Feed
from aggregator.store import Store, due_parameters, from_blob, iso, worker_name
from aggregator.store.engine import Connection, Location, describe
from aggregator.store.fts import AliasLookup
from aggregator.store.postgres.connection import PgConnection
from aggregator.store.postgres.leases import (
    CLAIM,
    LIVE,
    LIVE_RUNS,
    PgHostGate,
    mark_live,
    orphaned,
)
from aggregator.store.postgres.schema import migrations
from aggregator.store.postgres.search import KeywordSearch, PgVectorIndex, vector_literal
from aggregator.store.read import Reader, check_version
from aggregator.store.records import Filters
from aggregator.store.schema import SCHEMA_VERSION
from aggregator.store.stories import HALF_LIFE_HOURS
from aggregator.store.vectors import VectorIndex

if TYPE_CHECKING:
    from aggregator.fetch import HostGate
    from aggregator.store.postgres.bulk import PgBulkLoad

# advisory lock keys (any bigint the application reserves)
MIGRATE_LOCK = 0x61677201
DERIVE_LOCK = 0x61677202

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

    _gone = f" AND id NOT IN ({LIVE})"

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
        """Nothing to hold: refreshes on one PostgreSQL database are workers that share its
        feeds by leases (:meth:`lease_feeds`) and take turns only to derive
        (:meth:`derive_lock`)."""
        yield

    def lease_feeds(
        self,
        run: int,
        names: Sequence[str],
        *,
        now: datetime,
        until: datetime,
        limit: int,
        started: datetime,
        force: bool = False,
    ) -> list[str]:
        if not names or limit <= 0:
            return []
        params = [
            list(names),
            iso(now),
            *due_parameters(now, started, force),
            limit,
            run,
            worker_name(),
            iso(until),
        ]
        # One statement is one transaction in autocommit: no BEGIN and COMMIT round trips. The
        # lock keeps it out of a transaction another thread has open on this connection.
        with self.lock:
            rows = self.pg.execute(CLAIM, params).fetchall()
        return [str(r[0]) for r in sorted(rows, key=lambda r: int(r[1]))]

    def start_run(self, started: datetime) -> int:
        """Record a run, and hold its live lock (see :func:`mark_live`) from before the record
        is visible to other workers, so that none of them takes it for a killed run; the lock
        is let go by :meth:`finish_run`, or with the connection."""
        with self.transaction() as conn:
            run = Store.start_run(self, started)
            conn.execute("SELECT pg_advisory_lock(?, ?)", (LIVE_RUNS, run))
        return run

    def finish_run(
        self, run_id: int, finished: datetime, status: str, report: dict[str, Any]
    ) -> None:
        Store.finish_run(self, run_id, finished, status, report)
        self.conn.execute("SELECT pg_advisory_unlock(?, ?)", (LIVE_RUNS, run_id))

    def orphaned_leases(self, now: datetime) -> list[str]:
        return orphaned(self.conn, now)

    @contextmanager
    def working(self, run: int) -> Iterator[None]:
        with mark_live(self.conn, run):
            yield

    @contextmanager
    def derive_lock(self) -> Iterator[None]:
        """A session advisory lock, waited for: one worker at a time embeds leftovers, clusters
        and runs the saved searches, each seeing what the one before it committed."""
        self.conn.execute("SELECT pg_advisory_lock(?)", (DERIVE_LOCK,))
        try:
            yield
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(?)", (DERIVE_LOCK,))

    @contextmanager
    def host_gate(self, per_host: int) -> Iterator[HostGate | None]:
        gate = PgHostGate(self.url, per_host)
        try:
            yield gate
        finally:
            gate.close()

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
        """Make the feeds table list the configured feeds, keeping their state. Only new or
        changed feeds are written: an upsert of every row would lock them all while other
        workers claim feeds, and their claims skip locked rows."""
        wanted = {f.name: (f.url, f.language, json.dumps(list(f.tags))) for f in feeds}
        stored = {
            str(r[0]): (r[1], r[2], r[3])
            for r in self.conn.execute("SELECT name, url, language, tags FROM feeds")
        }
        changed = [(name, *row) for name, row in wanted.items() if stored.get(name) != row]
        if not changed:
            return
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO feeds (name, url, language, tags) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET url = excluded.url, "
                "language = excluded.language, tags = excluded.tags",
                changed,
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

    def data_version(self) -> str:
        """The server's transaction snapshot (next transaction id, those in progress): it changes
        whenever a write anywhere on the server starts or commits, so a commit made on another
        machine is never missed (a write to another database only costs a needless reread)."""
        row = self.conn.execute("SELECT pg_current_snapshot()::text").fetchone()
        return str(row[0])

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
