"""Copy a SQLite database into PostgreSQL, then prove the copy by counts and checksums.

Every table the two schemas share is copied with its ids, in key order, a batch per
transaction; a row already there is overwritten with the SQLite one (``ON CONFLICT ... DO
UPDATE``), so running the copy again changes nothing, and a copy that was interrupted resumes
from the last batch it committed. Body vectors are written as pgvector values on the way. The
identity sequences are then moved past the copied ids, so new rows get new ids.

The check reads both databases again: per table, the number of rows and a checksum of every
row's values over the columns both have. The checksum is a sum of row hashes, so it does not
depend on the order either engine returns rows in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.errors import StorageError
from aggregator.store import Store, connect, from_blob
from aggregator.store.engine import Connection, describe
from aggregator.store.postgres.bulk import advance_sequences
from aggregator.store.postgres.search import vector_literal

log = logging.getLogger(__name__)

BATCH = 1000
# parents before children (articles before the rows that name them)
ORDER = (
    "feeds",
    "articles",
    "embeddings",
    "mentions",
    "stories",
    "story_merges",
    "runs",
    "watches",
    "watch_hits",
    "corrections",
)
# copied whole (a few rows, keyed by name), or a batch of articles at a time
WHOLE = ("feeds",)
GROUPED = {"embeddings": "article_id", "mentions": "article_id"}
CONFLICT = {
    "feeds": ("name",),
    "embeddings": ("article_id", "model", "field"),
    "mentions": ("article_id", "entity_id"),
    "story_merges": ("absorbed",),
}
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class TableCheck:
    """One table after the copy: rows and checksums on each side."""

    table: str
    copied: int
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


def _columns_sqlite(conn: Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def _columns_pg(conn: Connection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name::text FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? AND is_generated = 'NEVER' "
        "ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _tables_sqlite(conn: Connection) -> list[str]:
    """The SQLite tables that hold data: not the full-text indexes, nor the tables FTS5 keeps
    them in (each named after its index), which PostgreSQL replaces with its own."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    indexes = [str(r[0]) for r in rows if str(r[1]).upper().startswith("CREATE VIRTUAL TABLE")]
    return [
        str(r[0])
        for r in rows
        if str(r[0]) not in indexes and not any(str(r[0]).startswith(f"{i}_") for i in indexes)
    ]


def _row_hash(values: Sequence[Any]) -> int:
    digest = hashlib.blake2b(digest_size=8)
    for value in values:
        if isinstance(value, bytes | bytearray | memoryview):
            digest.update(b"b" + bytes(value))
        elif isinstance(value, float):
            digest.update(b"f" + repr(value).encode())
        elif isinstance(value, bool | int):
            digest.update(b"i" + str(int(value)).encode())
        elif value is None:
            digest.update(b"n")
        else:
            digest.update(b"s" + str(value).encode())
        digest.update(b"\x1f")
    return int.from_bytes(digest.digest(), "big")


def _checksum(conn: Connection, table: str, columns: Sequence[str]) -> tuple[int, str]:
    total = 0
    count = 0
    for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
        total = (total + _row_hash(tuple(row))) & _MASK
        count += 1
    return count, f"{total:016x}"


class Copy:
    """A SQLite database copied into a PostgreSQL one (its schema migrated on opening)."""

    def __init__(
        self,
        source: Path,
        target: Store,
        *,
        progress: Callable[[str, int], None] = lambda table, rows: None,
    ) -> None:
        if not source.exists():
            raise StorageError(f"database {source} does not exist: nothing to copy")
        Store(source).close()  # bring an older SQLite file to the current schema first
        self.source = connect(source, readonly=True)
        self.target = target
        self.progress = progress

    def close(self) -> None:
        self.source.close()

    def tables(self) -> list[tuple[str, list[str]]]:
        """The tables to copy, in order, with the columns both databases have."""
        present = set(_tables_sqlite(self.source))
        missing = sorted(t for t in present if not _columns_pg(self.target.conn, t))
        if missing:
            raise StorageError(
                f"{self.target.where} has no table for {', '.join(missing)}: this aggregator's "
                "PostgreSQL schema is older than the SQLite database"
            )
        ordered = [t for t in ORDER if t in present] + sorted(present - set(ORDER))
        found = []
        for table in ordered:
            target_columns = set(_columns_pg(self.target.conn, table))
            columns = [c for c in _columns_sqlite(self.source, table) if c in target_columns]
            found.append((table, columns))
        return found

    def run(self) -> list[TableCheck]:
        """Copy every table, move the id sequences on, and check the result."""
        copied = {table: self._copy(table, columns) for table, columns in self.tables()}
        advance_sequences(self.target)
        return self.verify(copied)

    def verify(self, copied: dict[str, int] | None = None) -> list[TableCheck]:
        checks = []
        for table, columns in self.tables():
            source_rows, source_sum = _checksum(self.source, table, columns)
            target_rows, target_sum = _checksum(self.target.conn, table, columns)
            checks.append(
                TableCheck(
                    table,
                    (copied or {}).get(table, 0),
                    source_rows,
                    target_rows,
                    source_sum,
                    target_sum,
                )
            )
        return checks

    def _batches(self, table: str, columns: Sequence[str]) -> Iterator[list[Any]]:
        """The rows still to copy, a batch at a time, from just after the last key copied.

        Rows of a composite key (embeddings, mentions) come a batch of whole articles at a
        time, so a committed batch never holds part of an article's rows.
        """
        select = f"SELECT {', '.join(columns)} FROM {table}"
        if table in WHOLE:
            yield [tuple(r) for r in self.source.execute(select).fetchall()]
            return
        key = GROUPED.get(table) or CONFLICT.get(table, ("id",))[0]
        low = self.target.conn.execute(f"SELECT max({key}) FROM {table}").fetchone()[0]
        while True:
            after, params = ("", ()) if low is None else (f" WHERE {key} > ?", (low,))
            keys = [
                r[0]
                for r in self.source.execute(
                    f"SELECT DISTINCT {key} FROM {table}{after} ORDER BY {key} LIMIT ?",
                    (*params, BATCH),
                ).fetchall()
            ]
            if not keys:
                return
            rows = self.source.execute(
                f"{select} WHERE {key} >= ? AND {key} <= ? ORDER BY {key}", (keys[0], keys[-1])
            ).fetchall()
            yield [tuple(r) for r in rows]
            low = keys[-1]

    def _copy(self, table: str, columns: Sequence[str]) -> int:
        keys = CONFLICT.get(table, ("id",))
        names = list(columns)
        values = ", ".join("?" for _ in names)
        if table == "embeddings":
            names.append("embedding")
            values += ", ?::vector"
        updates = ", ".join(f"{c} = excluded.{c}" for c in names if c not in keys)
        sql = (
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values}) "
            f"ON CONFLICT ({', '.join(keys)}) DO "
            + (f"UPDATE SET {updates}" if updates else "NOTHING")
        )
        blob = columns.index("vector") if table == "embeddings" else -1
        count = 0
        for rows in self._batches(table, columns):
            if blob >= 0:
                rows = [(*r, vector_literal(from_blob(bytes(r[blob])))) for r in rows]
            with self.target.transaction() as conn:
                conn.executemany(sql, rows)
            count += len(rows)
            self.progress(table, count)
        log.info("copied table=%s rows=%d", table, count)
        return count


def copy_to_sqlite(source: str, target: Path) -> None:
    """Copy the PostgreSQL database at the URL ``source`` into a new SQLite file ``target``,
    ids kept; SQLite's triggers build its search index as the articles arrive. For scratch
    copies (``aggregator eval --corrections``), so it is one transaction, without a check."""
    from aggregator.store.postgres import schema_version
    from aggregator.store.postgres.connection import PgConnection
    from aggregator.store.schema import SCHEMA_VERSION

    reading = PgConnection(source, readonly=True)
    try:
        version = schema_version(reading)
        if version != SCHEMA_VERSION:
            raise StorageError(
                f"{describe(source)} has schema version {version}, this aggregator "
                f"{SCHEMA_VERSION}: run `aggregator migrate` or upgrade the aggregator first"
            )
        with Store(target) as writing, writing.transaction() as conn:
            for table in [t for t in ORDER if t in _tables_sqlite(conn)]:
                wanted = set(_columns_pg(reading, table))
                columns = [c for c in _columns_sqlite(conn, table) if c in wanted]
                rows = reading.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' for _ in columns)})",
                    [
                        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                        for row in rows
                    ],
                )
    finally:
        reading.close()


def copy_to_postgres(
    source: Path, target: Store, *, progress: Callable[[str, int], None] = lambda t, n: None
) -> list[TableCheck]:
    """Copy the SQLite database ``source`` into ``target`` and check it (see the module)."""
    job = Copy(source, target, progress=progress)
    try:
        return job.run()
    finally:
        job.close()
