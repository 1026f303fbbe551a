"""Bulk loads: rows written straight into the store's tables, ids included, many at a time.

For building large databases (benchmarks, imports of an archive) faster than article by article
through :meth:`aggregator.store.Store.insert_articles`: the caller supplies the rows as the
tables hold them (derived columns such as ``url_key`` and ``content_hash`` included) and the
load skips the per-article duplicate checks. ``Store.bulk_load()`` opens one::

    with store.bulk_load() as load:
        load.rows("articles", ("id", "url", ...), rows)
        load.rows("embeddings", ("article_id", "model", "field", "text_hash", "vector"), rows)
    print(load.timings)

On SQLite each call is one transaction of inserts, and the search index's triggers index the
articles as they arrive. On PostgreSQL (:class:`aggregator.store.postgres.bulk.PgBulkLoad`) the
rows go through ``COPY``, the full-text and vector indexes are dropped first and built once at
the end, and :attr:`BulkLoad.timings` keeps the time of each step.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aggregator.errors import StorageError

if TYPE_CHECKING:
    from aggregator.store import Store

TABLES = ("articles", "embeddings", "mentions", "stories", "story_merges")
"""The tables a bulk load writes to."""

_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


def check_target(table: str, columns: Sequence[str]) -> None:
    """Refuse a table a bulk load does not write, or a column name that is not a plain name."""
    if table not in TABLES:
        raise StorageError(f"a bulk load writes {', '.join(TABLES)}, not {table!r}")
    bad = [c for c in columns if not _NAME.match(c)]
    if bad or not columns:
        raise StorageError(f"bad column names for a bulk load into {table}: {bad or 'none'}")


class BulkLoad:
    """A bulk load on SQLite; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.timings: dict[str, float] = {}
        self.loaded: dict[str, int] = {}

    def __enter__(self) -> BulkLoad:
        self.prepare()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def prepare(self) -> None:
        """Ready the tables for many rows (nothing to do on SQLite)."""

    def finish(self) -> None:
        """Bring the indexes and the planner's statistics up to date after the rows."""
        began = time.perf_counter()
        with self.store.lock:
            self.store.conn.execute("ANALYZE")
        self._time("analyze", began)

    def rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Write ``rows`` (values in the order of ``columns``) into ``table`` in one
        transaction; returns how many were written. A row whose key is taken fails the load."""
        check_target(table, columns)
        began = time.perf_counter()
        batch = [tuple(r) for r in rows]
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        )
        with self.store.transaction() as conn:
            conn.executemany(sql, batch)
        self._count(table, len(batch))
        self._time("load", began)
        return len(batch)

    def _count(self, table: str, count: int) -> None:
        self.loaded[table] = self.loaded.get(table, 0) + count

    def _time(self, step: str, began: float) -> None:
        self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - began
