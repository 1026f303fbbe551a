"""Which database engine a location names, and the connection shape both engines share.

A location is a path (SQLite, the embedded default) or a ``postgresql://`` URL (PostgreSQL with
pgvector, for deployments that outgrow one machine). Only :mod:`aggregator.store` looks at it:
``Store(location)`` and ``Reader(location)`` open the engine it names, and everything above the
store sees the same methods and rows whichever it is.

The store's SQL is written once where the two dialects agree (``ON CONFLICT``, ``RETURNING``,
``IS NOT DISTINCT FROM``, ``?`` parameters); the PostgreSQL connection translates parameters and
provides the few SQLite functions the shared queries use (see :mod:`aggregator.store.postgres`).
Full-text search, vector search and the schema itself are written per engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from aggregator.config import DB_URL_SCHEMES, db_location

Location = Path | str
"""A SQLite file, or a ``postgresql://`` URL."""


class Cursor(Protocol):
    """What the store reads from an executed statement (``sqlite3.Cursor`` has this shape)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection as the store's queries use it: ``?`` parameters, rows readable by column
    name and by position. It is also the transaction handle the store's write methods take:
    code above the store receives one from ``Store.transaction()`` and passes it back."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def close(self) -> None: ...


class Row(Protocol):
    """A result row: by column name or position, with ``keys()`` (``sqlite3.Row`` has this)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> list[str]: ...


def is_postgres(location: Location) -> bool:
    """Whether ``location`` is a PostgreSQL URL rather than a SQLite file."""
    return isinstance(location, str) and urlsplit(location).scheme in DB_URL_SCHEMES


location = db_location


def describe(where: Location) -> str:
    """The location for messages and logs, with any password masked."""
    if not is_postgres(where):
        return str(where)
    parts = urlsplit(str(where))
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return str(where)


def absolute(where: Location) -> str:
    """The location as another process can use it: a SQLite path made absolute, a URL as is."""
    return str(where) if is_postgres(where) else str(Path(where).resolve())


def exists(where: Location) -> bool:
    """Whether there is a database to read: the file exists (a server is assumed to)."""
    return True if is_postgres(where) else Path(where).exists()
