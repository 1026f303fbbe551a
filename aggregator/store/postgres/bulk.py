"""Bulk loads on PostgreSQL: binary ``COPY``, with the search indexes built once at the end.

Maintaining a GIN and an HNSW index row by row costs far more than building them once over the
loaded table, so a load into an empty database (:meth:`PgBulkLoad.prepare`) drops both
(``articles_fts``, ``embeddings_hnsw``), the rows go in through ``COPY ... (FORMAT BINARY)`` a
call at a time (each call one transaction; the generated ``tsvector`` is computed as the
articles arrive), and :meth:`PgBulkLoad.finish`
builds the indexes again, moves the id sequences past the loaded ids and runs ``ANALYZE``. A
load into a database that holds articles already keeps the indexes, which index the new rows as
they arrive: rebuilding them over a large archive would cost far more than a batch.
Searches keep working during the load, without the indexes; the indexes are rebuilt even when a
load fails half-way, so the database is never left without them.

The index builds get ``maintenance_work_mem`` (``memory``, 2 GB by default: an HNSW graph built
in memory is many times faster than one that spills) and two parallel maintenance workers.
Body vectors are also written as pgvector values, as :meth:`PostgresStore.save_embeddings`
does, when the caller gives only the float32 ``vector`` blob.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from aggregator.errors import StorageError
from aggregator.store.bulk import BulkLoad, check_target
from aggregator.store.postgres.connection import psycopg_module
from aggregator.store.postgres.schema import FULLTEXT_INDEX, VECTOR_INDEX

if TYPE_CHECKING:
    from aggregator.store import Store
    from aggregator.store.postgres import PostgresStore

INDEXES = {
    "fulltext index": ("articles_fts", FULLTEXT_INDEX),
    "vector index": ("embeddings_hnsw", VECTOR_INDEX),
}
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)


def _vector(value: Any) -> bytes:
    """A float32 blob (or array) as pgvector's binary form: dimensions, 0, big-endian floats."""
    array = (
        np.frombuffer(value, dtype=np.float32)
        if isinstance(value, bytes | memoryview)
        else (np.asarray(value, dtype=np.float32))
    )
    return struct.pack(">hh", len(array), 0) + array.astype(">f4").tobytes()


_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "bigint": lambda v: struct.pack(">q", int(v)),
    "integer": lambda v: struct.pack(">i", int(v)),
    "double precision": lambda v: struct.pack(">d", float(v)),
    "text": lambda v: str(v).encode("utf-8"),
    "bytea": bytes,
    "vector": _vector,
}


class PgBulkLoad(BulkLoad):
    """A bulk load on PostgreSQL; see the module docstring."""

    store: PostgresStore

    def __init__(self, store: PostgresStore, *, memory: str = "2GB") -> None:
        super().__init__(store)
        self.memory = memory
        self.rebuild = False

    def prepare(self) -> None:
        with self.store.transaction() as conn:
            self.rebuild = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM articles)").fetchone()[0]
            if not self.rebuild:
                return  # rebuilding a large archive's indexes costs more than indexing a batch
            for name, _ in INDEXES.values():
                conn.execute(f"DROP INDEX IF EXISTS {name}")

    def finish(self) -> None:
        conn = self.store.conn
        with self.store.lock:
            if self.rebuild:
                self._build_indexes()
            advance_sequences(self.store)
            began = time.perf_counter()
            for table in self.loaded:
                conn.execute(f"ANALYZE {table}")
            self._time("analyze", began)

    def _build_indexes(self) -> None:
        conn = self.store.conn
        with self.store.lock:
            conn.execute(f"SET maintenance_work_mem = '{self.memory}'")
            conn.execute("SET max_parallel_maintenance_workers = 2")
            try:
                for step, (name, sql) in INDEXES.items():
                    began = time.perf_counter()
                    conn.execute(sql.replace(f"INDEX {name}", f"INDEX IF NOT EXISTS {name}", 1))
                    self._time(step, began)
            finally:
                conn.execute("RESET maintenance_work_mem")
                conn.execute("RESET max_parallel_maintenance_workers")

    def rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        check_target(table, columns)
        names = list(columns)
        extra: Callable[[Sequence[Any]], tuple[Any, ...]] = lambda row: ()  # noqa: E731
        if table == "embeddings" and "embedding" not in names and "vector" in names:
            blob = names.index("vector")
            names.append("embedding")
            extra = lambda row: (row[blob],)  # noqa: E731
        types = self._types(table, names)
        encoders = [_ENCODERS[t] for t in types]
        count = struct.pack(">h", len(names))
        began = time.perf_counter()
        written = 0
        error = psycopg_module().Error
        with self.store.transaction():
            try:
                with (
                    self.store.pg.raw.cursor() as cursor,
                    cursor.copy(
                        f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.write(_HEADER)
                    for row in rows:
                        values = (*row, *extra(row))
                        parts = [count]
                        for encode, value in zip(encoders, values, strict=True):
                            if value is None:
                                parts.append(_NULL)
                            else:
                                data = encode(value)
                                parts.append(struct.pack(">i", len(data)) + data)
                        copy.write(b"".join(parts))
                        written += 1
                    copy.write(_TRAILER)
            except error as exc:
                raise StorageError(
                    f"bulk load into {table} failed on {self.store.where}: {exc}"
                ) from exc
        self._count(table, written)
        self._time("load", began)
        return written

    def _types(self, table: str, columns: Sequence[str]) -> list[str]:
        rows = self.store.conn.execute(
            "SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_attribute a "
            "WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (table,),
        ).fetchall()
        found = {str(r[0]): str(r[1]) for r in rows}
        missing = [c for c in columns if c not in found]
        if missing:
            raise StorageError(f"{table} on {self.store.where} has no column {', '.join(missing)}")
        odd = [f"{c} ({found[c]})" for c in columns if found[c] not in _ENCODERS]
        if odd:
            raise StorageError(f"a bulk load cannot write {table}.{', '.join(odd)}")
        return [found[c] for c in columns]


def advance_sequences(store: Store) -> None:
    """Move every identity sequence past the largest id its table holds, so that rows written
    with their ids (a copy, a bulk load) do not make the next insert collide."""
    rows = store.conn.execute(
        "SELECT table_name::text FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND column_name = 'id' AND is_identity = 'YES'"
    ).fetchall()
    with store.transaction() as conn:
        for (table,) in rows:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
