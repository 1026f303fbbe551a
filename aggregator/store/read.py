"""Read-only queries for the CLI and the dashboard, on a read-only connection.

Story ranking (``top_stories``) is documented in the README:

    score = (ln(1 + articles) + ln(1 + sources) + 0.5 * (languages - 1))
            * 2 ** (-age_hours / half_life_hours)
            * (1 + growth)

where age is measured from the story's newest article to *now* (the newest article in the database
when that is older than the clock, so an archive still ranks sensibly), and growth is the share of
the story's articles published in the 24 hours before its newest one.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from aggregator.errors import StorageError
from aggregator.store import connect, parse_iso

HALF_LIFE_HOURS = 24.0
_TOKEN = re.compile(r'"[^"]+"|\S+')


@dataclass(frozen=True)
class StoryRow:
    id: int
    headline: str
    n_articles: int
    n_sources: int
    n_languages: int
    languages: tuple[str, ...]
    sources: tuple[str, ...]
    tags: tuple[str, ...]
    keywords: tuple[str, ...]
    entities: tuple[str, ...]
    first_published: datetime
    last_published: datetime
    timeline: tuple[tuple[str, int], ...]
    lead_article_id: int | None
    score: float = 0.0


@dataclass(frozen=True)
class ArticleRow:
    id: int
    story_id: int | None
    url: str
    source: str
    title: str
    published: datetime
    language: str | None
    summary_only: bool
    excerpt: str
    external_id: str | None = None
    rank: float = 0.0


@dataclass(frozen=True)
class StoryDetail:
    story: StoryRow
    articles: tuple[ArticleRow, ...]
    requested_id: int
    mentions: tuple[tuple[str, str, int], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Filters:
    """Narrowing shared by stories and search; every field optional."""

    since: datetime | None = None
    until: datetime | None = None
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def fts_query(text: str) -> str:
    """User search text to an FTS5 query: words ANDed, "quoted phrases" kept, word* as prefix.

    Every token is quoted, so FTS5 operators typed by accident never cause a syntax error.
    """
    terms: list[str] = []
    for token in _TOKEN.findall(text):
        prefix = token.endswith("*") and not token.startswith('"')
        bare = token.strip('"').rstrip("*").replace('"', "")
        if not bare.strip():
            continue
        if token.upper() in ("AND", "OR", "NOT"):
            continue
        terms.append(f'"{bare}"' + ("*" if prefix else ""))
    return " ".join(terms)


def _story(row: sqlite3.Row, score: float = 0.0) -> StoryRow:
    return StoryRow(
        id=int(row["id"]),
        headline=row["headline"],
        n_articles=int(row["n_articles"]),
        n_sources=int(row["n_sources"]),
        n_languages=int(row["n_languages"]),
        languages=tuple(json.loads(row["languages"])),
        sources=tuple(json.loads(row["sources"])),
        tags=tuple(json.loads(row["tags"])),
        keywords=tuple(json.loads(row["keywords"])),
        entities=tuple(json.loads(row["entities"])),
        first_published=parse_iso(row["first_published"]) or datetime.now(UTC),
        last_published=parse_iso(row["last_published"]) or datetime.now(UTC),
        timeline=tuple((str(d), int(n)) for d, n in json.loads(row["timeline"])),
        lead_article_id=row["lead_article_id"],
        score=score,
    )


def _article(row: sqlite3.Row, rank: float = 0.0) -> ArticleRow:
    return ArticleRow(
        id=int(row["id"]),
        story_id=row["story_id"],
        url=row["url"],
        source=row["source"],
        title=row["title"],
        published=parse_iso(row["published"]) or datetime.now(UTC),
        language=row["language"],
        summary_only=bool(row["summary_only"]),
        excerpt=(row["excerpt"] or "")[:400],
        external_id=row["external_id"],
        rank=rank,
    )


ARTICLE_COLUMNS = (
    "a.id, a.story_id, a.url, a.source, a.title, a.published, a.language, a.summary_only, "
    "a.external_id, substr(a.text, 1, 400) AS excerpt"
)


def story_score(story: StoryRow, now: datetime) -> float:
    age_hours = max(0.0, (now - story.last_published).total_seconds() / 3600)
    recent_start = (story.last_published - timedelta(hours=24)).strftime("%Y-%m-%d")
    recent = sum(n for day, n in story.timeline if day >= recent_start)
    growth = recent / story.n_articles if story.n_articles else 0.0
    size = (
        math.log1p(story.n_articles) + math.log1p(story.n_sources) + 0.5 * (story.n_languages - 1)
    )
    return size * 2 ** (-age_hours / HALF_LIFE_HOURS) * (1 + growth)


class VectorIndex:
    """All body embeddings of one model as one normalised matrix; exact inner-product search."""

    def __init__(self, ids: list[int], matrix: Any) -> None:
        self.ids = ids
        self.matrix = np.asarray(matrix, dtype=np.float32)

    @property
    def size(self) -> int:
        return len(self.ids)

    def nearest(self, vector: Any, k: int) -> tuple[list[int], list[float]]:
        scores = self.matrix @ np.asarray(vector, dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [self.ids[i] for i in top], [float(scores[i]) for i in top]


class Reader:
    """Read-only access; safe beside a running refresh (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path, readonly=True)
        try:
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{path} is not a readable aggregator database: {exc}") from exc
        if version == 0:
            raise StorageError(f"{path} is not an aggregator database (no schema)")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return list(self.conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"query failed on {self.path}: {exc}") from exc

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

    def newest(self) -> datetime | None:
        row = self._rows("SELECT max(published) AS newest FROM articles")[0]
        return parse_iso(row["newest"])

    def reference_now(self) -> datetime:
        """The clock, or the newest article when the database is an archive."""
        clock = datetime.now(UTC)
        newest = self.newest()
        return newest if newest is not None and newest < clock - timedelta(days=2) else clock

    def top_stories(
        self, *, limit: int = 20, filters: Filters | None = None, now: datetime | None = None
    ) -> list[StoryRow]:
        filters = filters or Filters()
        clauses, params = ["1 = 1"], []
        if filters.since:
            clauses.append("s.last_published >= ?")
            params.append(filters.since.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if filters.until:
            clauses.append("s.first_published <= ?")
            params.append(filters.until.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for column, values in (
            ("languages", filters.languages),
            ("sources", filters.sources),
            ("tags", filters.tags),
        ):
            if values:
                marks = ", ".join("?" * len(values))
                clauses.append(
                    f"EXISTS (SELECT 1 FROM json_each(s.{column}) WHERE value IN ({marks}))"
                )
                params.extend(values)
        rows = self._rows(f"SELECT * FROM stories s WHERE {' AND '.join(clauses)}", params)
        reference = now or self.reference_now()
        stories = [_story(r) for r in rows]
        scored = sorted(
            (StoryRow(**{**s.__dict__, "score": story_score(s, reference)}) for s in stories),
            key=lambda s: (-s.score, -s.id),
        )
        return scored[:limit]

    def resolve_story_id(self, story_id: int) -> int:
        """Follow merges so that an old story id still leads to its story."""
        seen = set()
        current = story_id
        while current not in seen:
            seen.add(current)
            row = self._rows("SELECT into_id FROM story_merges WHERE absorbed = ?", (current,))
            if not row:
                return current
            current = int(row[0]["into_id"])
        return current

    def story(self, story_id: int) -> StoryDetail | None:
        resolved = self.resolve_story_id(story_id)
        rows = self._rows("SELECT * FROM stories WHERE id = ?", (resolved,))
        if not rows:
            return None
        articles = self._rows(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.story_id = ? "
            "ORDER BY a.published, a.id",
            (resolved,),
        )
        mentions = self._rows(
            "SELECT m.name, m.kind, sum(m.count) AS n FROM mentions m JOIN articles a "
            "ON a.id = m.article_id WHERE a.story_id = ? GROUP BY m.entity_id "
            "ORDER BY n DESC LIMIT 30",
            (resolved,),
        )
        return StoryDetail(
            story=_story(rows[0]),
            articles=tuple(_article(a) for a in articles),
            requested_id=story_id,
            mentions=tuple((m["name"], m["kind"], int(m["n"])) for m in mentions),
        )

    def search_keyword(
        self, query: str, *, limit: int = 50, filters: Filters | None = None
    ) -> list[ArticleRow]:
        """Full-text search (FTS5, BM25 with the title weighted 3:1 over the body)."""
        expression = fts_query(query)
        if not expression:
            return []
        clauses, params = _article_filters(filters or Filters())
        rows = self._rows(
            f"SELECT {ARTICLE_COLUMNS}, bm25(articles_fts, 3.0, 1.0) AS score "
            "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
            f"WHERE articles_fts MATCH ? {clauses} ORDER BY score LIMIT ?",
            (expression, *params, limit),
        )
        return [_article(r, rank=-float(r["score"])) for r in rows]

    def feeds(self) -> list[dict[str, Any]]:
        reference = self.reference_now()
        week = (reference - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        month = (reference - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
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

    def vector_index(self, model: str) -> VectorIndex:
        """The body embeddings of ``model`` as one matrix (exact search; see bench/search)."""
        rows = self._rows(
            "SELECT article_id, vector FROM embeddings WHERE model = ? AND field = 'body' "
            "ORDER BY article_id",
            (model,),
        )
        if not rows:
            return VectorIndex([], np.zeros((0, 1), dtype=np.float32))
        matrix = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype=np.float32)
        return VectorIndex([int(r[0]) for r in rows], matrix.reshape(len(rows), -1))

    def articles_by_id(
        self, ids: Sequence[int], *, filters: Filters | None = None
    ) -> list[ArticleRow]:
        if not ids:
            return []
        clauses, params = _article_filters(filters or Filters())
        rows = self._rows(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.id IN "
            f"({', '.join('?' * len(ids))}){clauses}",
            (*ids, *params),
        )
        return [_article(r) for r in rows]

    def export_articles(self) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(
            "SELECT a.id, a.url, a.external_id, a.story_id, a.title, a.source, a.published, "
            "a.language, a.summary_only FROM articles a ORDER BY a.published, a.id"
        )
        for row in cursor:
            yield {
                "id": row["external_id"] if row["external_id"] is not None else row["id"],
                "url": row["url"],
                "story_id": row["story_id"],
                "title": row["title"],
                "source": row["source"],
                "published": row["published"],
                "language": row["language"],
                "summary_only": bool(row["summary_only"]),
            }


def _article_filters(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.since:
        clauses.append("a.published >= ?")
        params.append(filters.since.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if filters.until:
        clauses.append("a.published <= ?")
        params.append(filters.until.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if filters.languages:
        clauses.append(f"a.language IN ({', '.join('?' * len(filters.languages))})")
        params.extend(filters.languages)
    if filters.sources:
        clauses.append(f"a.source IN ({', '.join('?' * len(filters.sources))})")
        params.extend(filters.sources)
    if filters.tags:
        clauses.append(
            "EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value IN "
            f"({', '.join('?' * len(filters.tags))}))"
        )
        params.extend(filters.tags)
    return "".join(f" AND {c}" for c in clauses), params
