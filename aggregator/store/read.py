"""Read-only queries for the CLI and the dashboard, on a read-only connection.

:class:`Reader` joins the query families, each in its own module: story ranking, story pages and
entities in :mod:`aggregator.store.stories` (the ranking formula is documented there), keyword
search, vectors and export in :mod:`aggregator.store.articles`, the row types and filters in
:mod:`aggregator.store.records`, and the full-text query language in :mod:`aggregator.store.fts`.
Every public name stays importable from here, so callers need to know only this module.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.errors import StorageError
from aggregator.store import connect, iso, parse_iso
from aggregator.store.articles import ArticleQueries
from aggregator.store.corrections import CorrectionQueries, CorrectionRow
from aggregator.store.engine import Location, is_postgres
from aggregator.store.fts import KeywordQuery, fts_query, keyword_query
from aggregator.store.records import (
    ARTICLE_COLUMNS,
    ArticleRow,
    EntityRow,
    Facets,
    Filters,
    StoryDetail,
    StoryPage,
    StoryRow,
    article_filters,
    http_url,
)
from aggregator.store.schema import SCHEMA_VERSION
from aggregator.store.stories import HALF_LIFE_HOURS, SCORE_SQL, StoryQueries, story_score
from aggregator.store.vectors import CachedIndex, VectorIndex

# The watches module builds its own keyword query from these.
_article_filters = article_filters


def check_version(where: str, version: int) -> None:
    """Refuse a database whose schema this aggregator does not read, saying what to do."""
    if version == 0:
        raise StorageError(f"{where} is not an aggregator database (no schema)")
    if version < SCHEMA_VERSION:
        raise StorageError(
            f"{where} has schema version {version}; this aggregator reads version "
            f"{SCHEMA_VERSION}: run `aggregator refresh` (or `aggregator import`) once to "
            "upgrade it"
        )
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{where} has schema version {version}, newer than this aggregator "
            f"({SCHEMA_VERSION}); upgrade the aggregator"
        )


class Reader(StoryQueries, ArticleQueries, CorrectionQueries):
    """Read-only access; safe beside a running refresh (WAL).

    ``Reader(location)`` reads the engine the location names, like ``Store(location)``.
    """

    def __new__(cls, location: Location) -> Reader:
        if cls is Reader and is_postgres(location):
            from aggregator.store.postgres import PostgresReader

            return super().__new__(PostgresReader)
        return super().__new__(cls)

    def __init__(self, location: Location) -> None:
        path = Path(location)
        self.path = path
        self.conn = connect(path, readonly=True)
        try:
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{path} is not a readable aggregator database: {exc}") from exc
        check_version(str(path), version)
        self._indexes: dict[str, CachedIndex] = {}
        self._story_indexes: dict[str, tuple[str, VectorIndex]] = {}
        self._opened = uuid.uuid4().hex

    def close(self) -> None:
        self.conn.close()

    def data_version(self) -> str:
        """A token that changes whenever anything is committed to the database, by any process
        or machine: what a long-lived reader (the dashboard) keys its cached reads by, so that
        the first read after a refresh elsewhere sees it.

        On SQLite, ``PRAGMA data_version`` on this connection (it changes when another
        connection commits), with this reader's own mark, since the pragma counts per
        connection."""
        row = self.conn.execute("PRAGMA data_version").fetchone()
        return f"{self._opened}:{int(row[0])}"

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def counts(self) -> dict[str, int]:
        row = self._rows(
            "SELECT (SELECT count(*) FROM articles) AS articles,"
            " (SELECT count(*) FROM stories) AS stories,"
            " (SELECT count(*) FROM feeds) AS feeds,"
            " (SELECT count(DISTINCT source) FROM articles) AS sources,"
            " (SELECT count(DISTINCT language) FROM articles) AS languages,"
            " (SELECT count(*) FROM articles WHERE story_id IS NULL) AS unclustered"
        )[0]
        return {key: int(row[key]) for key in row.keys()}  # noqa: SIM118 (Row iterates values)

    def facets(self) -> Facets:
        """The values the filters can take: languages, sources, tags and the date range."""
        languages = self._rows(
            "SELECT DISTINCT value FROM stories, json_each(stories.languages) ORDER BY value"
        )
        sources = self._rows("SELECT DISTINCT source FROM articles ORDER BY source")
        tags = self._rows(
            "SELECT DISTINCT value FROM feeds, json_each(feeds.tags) "
            "UNION SELECT DISTINCT value FROM stories, json_each(stories.tags) ORDER BY 1"
        )
        span = self._rows("SELECT min(published) AS a, max(published) AS b FROM articles")[0]
        return Facets(
            languages=tuple(str(r[0]) for r in languages),
            sources=tuple(str(r[0]) for r in sources),
            tags=tuple(str(r[0]) for r in tags),
            first=parse_iso(span["a"]),
            last=parse_iso(span["b"]),
        )

    def refresh_running(self) -> bool:
        """Whether a refresh has started and not finished (within the last six hours)."""
        cutoff = iso(datetime.now(UTC) - timedelta(hours=6))
        rows = self._rows(
            "SELECT 1 FROM runs WHERE status = 'running' AND finished IS NULL AND started >= ? "
            "LIMIT 1",
            (cutoff,),
        )
        return bool(rows)

    def feeds(self) -> list[dict[str, Any]]:
        reference = self.reference_now()
        week = iso(reference - timedelta(days=7))
        month = iso(reference - timedelta(days=30))
        rows = self._rows(
            "SELECT f.*, "
            " (SELECT count(*) FROM articles a WHERE a.source = f.name) AS articles,"
            " (SELECT count(*) FROM articles a WHERE a.source = f.name AND a.published >= ?)"
            "   AS articles_7d,"
            " (SELECT count(*) FROM articles a WHERE a.source = f.name AND a.published >= ?)"
            "   AS articles_30d "
            "FROM feeds f ORDER BY f.name",
            (week, month),
        )
        return [dict(r) for r in rows]

    def last_run(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        if not rows:
            return None
        run = dict(rows[0])
        run["report"] = json.loads(run["report"] or "{}")
        return run


__all__ = [
    "ARTICLE_COLUMNS",
    "HALF_LIFE_HOURS",
    "SCORE_SQL",
    "ArticleRow",
    "CorrectionRow",
    "EntityRow",
    "Facets",
    "Filters",
    "KeywordQuery",
    "Reader",
    "StoryDetail",
    "StoryPage",
    "StoryRow",
    "fts_query",
    "http_url",
    "keyword_query",
    "story_score",
]
