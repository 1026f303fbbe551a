"""The rows the read layer returns, the filters it accepts, and the base all its queries share.

Everything here is plain data or SQL text; the queries themselves live in
:mod:`aggregator.store.stories` (ranking, story pages, entities) and
:mod:`aggregator.store.articles` (search, vectors, export), joined in
:class:`aggregator.store.read.Reader`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.errors import StorageError
from aggregator.store import iso, parse_iso
from aggregator.store.engine import Connection, Row
from aggregator.text import excerpt


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
    # (entity id, display name, kind, times mentioned), the most mentioned first
    mentions: tuple[tuple[str, str, str, int], ...] = field(default_factory=tuple)

    @property
    def merged(self) -> bool:
        """Whether the requested id was absorbed into another story."""
        return self.requested_id != self.story.id

    @property
    def lead(self) -> ArticleRow | None:
        """The article chosen to represent the story (the earliest one when none was chosen)."""
        for article in self.articles:
            if article.id == self.story.lead_article_id:
                return article
        return self.articles[0] if self.articles else None

    def by_source(self) -> list[tuple[str, tuple[ArticleRow, ...]]]:
        """Articles grouped by source: the earliest-reporting source first, articles by time."""
        groups: dict[str, list[ArticleRow]] = {}
        for article in sorted(self.articles, key=lambda a: (a.published, a.id)):
            groups.setdefault(article.source, []).append(article)
        return [(source, tuple(rows)) for source, rows in groups.items()]

    def coverage(self) -> list[tuple[datetime, int]]:
        """Articles per hour (a story of under three days) or per day, gaps filled with zero."""
        if not self.articles:
            return []
        first = min(a.published for a in self.articles)
        last = max(a.published for a in self.articles)
        step = timedelta(hours=1) if last - first < timedelta(days=3) else timedelta(days=1)
        if step == timedelta(hours=1):
            start = first.replace(minute=0, second=0, microsecond=0)
        else:
            start = first.replace(hour=0, minute=0, second=0, microsecond=0)
        counts: dict[int, int] = {}
        for article in self.articles:
            slot = int((article.published - start) / step)
            counts[slot] = counts.get(slot, 0) + 1
        return [(start + step * i, counts.get(i, 0)) for i in range(max(counts) + 1)]


@dataclass(frozen=True)
class StoryPage:
    """One page of ranked stories and how many match the filters in all."""

    stories: tuple[StoryRow, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class Facets:
    """The values present in the database, offered as filter choices."""

    languages: tuple[str, ...]
    sources: tuple[str, ...]
    tags: tuple[str, ...]
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class EntityRow:
    """A company, person or other entity as the mentions table knows it."""

    id: str
    name: str
    kind: str
    n_articles: int
    n_stories: int
    last_seen: datetime | None


def http_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) address, else None: feed links are untrusted, and only
    these may become clickable links (no javascript:, data: or urn: targets)."""
    if not url:
        return None
    cleaned = url.strip()
    scheme, sep, rest = cleaned.partition("://")
    if (
        sep
        and scheme.lower() in ("http", "https")
        and rest
        and not any(c in cleaned for c in "\n\r\t <>\"'")
    ):
        return cleaned
    return None


@dataclass(frozen=True)
class Filters:
    """Narrowing shared by stories and search; every field optional."""

    since: datetime | None = None
    until: datetime | None = None
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def story_row(row: Row, score: float = 0.0) -> StoryRow:
    """A row of ``stories`` (selected as ``s.*``) as a :class:`StoryRow`."""
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


EXCERPT_CHARS = 400
"""An article's excerpt: its text's first words, up to this many characters with the "…"."""


def article_row(row: Row, rank: float = 0.0) -> ArticleRow:
    """A row selected with :data:`ARTICLE_COLUMNS` as an :class:`ArticleRow`."""
    return ArticleRow(
        id=int(row["id"]),
        story_id=row["story_id"],
        url=row["url"],
        source=row["source"],
        title=row["title"],
        published=parse_iso(row["published"]) or datetime.now(UTC),
        language=row["language"],
        summary_only=bool(row["summary_only"]),
        excerpt=excerpt(row["excerpt"] or "", EXCERPT_CHARS),
        external_id=row["external_id"],
        rank=rank,
    )


ARTICLE_COLUMNS = (
    "a.id, a.story_id, a.url, a.source, a.title, a.published, a.language, a.summary_only, "
    f"a.external_id, substr(a.text, 1, {EXCERPT_CHARS + 1}) AS excerpt"
)


def story_filters(filters: Filters) -> tuple[str, list[Any]]:
    clauses, params = ["1 = 1"], []
    if filters.since:
        clauses.append("s.last_published >= ?")
        params.append(iso(filters.since))
    if filters.until:
        clauses.append("s.first_published <= ?")
        params.append(iso(filters.until))
    for column, values in (
        ("languages", filters.languages),
        ("sources", filters.sources),
        ("tags", filters.tags),
    ):
        if values:
            marks = ", ".join("?" * len(values))
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(s.{column}) WHERE value IN ({marks}))")
            params.extend(values)
    return " AND ".join(clauses), params


def article_filters(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.since:
        clauses.append("a.published >= ?")
        params.append(iso(filters.since))
    if filters.until:
        clauses.append("a.published <= ?")
        params.append(iso(filters.until))
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


class Queries:
    """What every query mixin of the reader relies on: a read-only connection and its path."""

    path: Path
    conn: Connection

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return list(self.conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"query failed on {self.path}: {exc}") from exc

    def data_version(self) -> str:
        """A token that changes whenever anything is committed; each engine's reader says how."""
        raise NotImplementedError

    def newest(self) -> datetime | None:
        row = self._rows("SELECT max(published) AS newest FROM articles")[0]
        return parse_iso(row["newest"])

    def reference_now(self) -> datetime:
        """The clock, or the newest article when the database is an archive."""
        clock = datetime.now(UTC)
        newest = self.newest()
        return newest if newest is not None and newest < clock - timedelta(days=2) else clock
