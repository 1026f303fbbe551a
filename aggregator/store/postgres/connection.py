"""A PostgreSQL connection shaped like the SQLite one the store's shared queries use.

psycopg 3 is imported here and only here, when a ``postgresql://`` location is opened; without it
the error names the package to install. The connection runs in autocommit mode (each read sees
the latest committed data, as a dashboard on another machine should) and
:meth:`PgConnection.transaction` opens a real transaction for each write. Parameters are written
``?`` as for SQLite and bound on the client side, so a value compares as SQLite would compare
it, whatever the column's type. Every database error becomes a :class:`StorageError` naming the
server (password masked) and the statement's error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aggregator.errors import StorageError
from aggregator.store.engine import describe

INSTALL_HINT = (
    "a postgresql:// database needs the psycopg package: pip install 'psycopg[binary]' "
    "(or pip install 'aggregator[postgres]')"
)

# a quoted string or identifier, a parameter, or a literal percent sign
_SQL_PIECE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


@functools.lru_cache(maxsize=2048)
def pg_sql(sql: str) -> str:
    """``?`` parameters (outside quotes) as psycopg's ``%s``, and literal ``%`` doubled."""

    def replace(match: re.Match[str]) -> str:
        piece = match.group()
        if piece == "?":
            return "%s"
        return piece.replace("%", "%%")

    return _SQL_PIECE.sub(replace, sql)


class PgRow(tuple[Any, ...]):
    """A row readable by position and by column name, with ``keys()``, like ``sqlite3.Row``."""

    _names: tuple[str, ...]
    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                key = self._index[key]
            except KeyError:
                raise IndexError(f"no column named {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(column.name for column in cursor.description or ())
    index = {name: position for position, name in enumerate(names)}

    def make(values: Sequence[Any]) -> PgRow:
        row = PgRow(values)
        row._names = names
        row._index = index
        return row

    return make


def psycopg_module() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StorageError(INSTALL_HINT) from exc
    return psycopg


class PgConnection:
    """One psycopg connection, executing the store's ``?``-style SQL."""

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        psycopg = psycopg_module()
        self.where = describe(url)
        self.url = url
        try:
            self.raw: Any = psycopg.connect(
                url,
                autocommit=True,
                cursor_factory=psycopg.ClientCursor,
                row_factory=_row_factory,
            )
            self.raw.execute("SET TIME ZONE 'UTC'")
            if readonly:
                self.raw.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to {self.where}: {_message(exc)}") from exc
        self._error = psycopg.Error

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        try:
            return self.raw.execute(pg_sql(sql), tuple(parameters))
        except self._error as exc:
            raise StorageError(f"query failed on {self.where}: {_message(exc)}") from exc

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cursor = self.raw.cursor()
        try:
            cursor.executemany(pg_sql(sql), [tuple(p) for p in parameters])
        except self._error as exc:
            raise StorageError(f"query failed on {self.where}: {_message(exc)}") from exc
        return cursor

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """One atomic write on this connection; it rolls back when the block raises."""
        try:
            with self.raw.transaction():
                yield self
        except self._error as exc:
            raise StorageError(f"cannot commit to {self.where}: {_message(exc)}") from exc

    def close(self) -> None:
        self.raw.close()


def _message(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
