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

from aggregator.errors import StorageError
from aggregator.store import connect, iso, parse_iso
from aggregator.store.vectors import CachedIndex, VectorIndex, matrix_from_blobs

HALF_LIFE_HOURS = 24.0
_TOKEN = re.compile(r'"[^"]+"|\S+')

# The score above as SQL, so that ranking happens inside SQLite; the first parameter is "now".
# It must stay equal to :func:`story_score` (tests/test_search.py compares the two).
SCORE_SQL = f"""
    (ln(1 + s.n_articles) + ln(1 + s.n_sources) + 0.5 * (s.n_languages - 1))
    * pow(2, -max(0.0, (julianday(?) - julianday(s.last_published)) * 24) / {HALF_LIFE_HOURS})
    * (1 + coalesce((SELECT sum(json_extract(t.value, '$[1]')) FROM json_each(s.timeline) t
        WHERE json_extract(t.value, '$[0]') >= date(s.last_published, '-1 day')), 0)
        * 1.0 / max(s.n_articles, 1))
"""


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
        self._indexes: dict[str, CachedIndex] = {}
        self._story_indexes: dict[str, tuple[str, VectorIndex]] = {}

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
        """The best-scoring stories (the score in the module docstring), best first."""
        return list(self.story_page(limit=limit, filters=filters, now=now).stories)

    def story_page(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: Filters | None = None,
        now: datetime | None = None,
    ) -> StoryPage:
        """One page of the ranking plus the number of matching stories.

        The score is computed and sorted inside SQLite, so only the rows of the page are turned
        into Python objects: ranking 10,000 stories costs one query, not one per story.
        """
        where, params = _story_filters(filters or Filters())
        reference = iso(now or self.reference_now())
        total = int(self._rows(f"SELECT count(*) FROM stories s WHERE {where}", params)[0][0])
        rows = self._rows(
            f"SELECT s.*, {SCORE_SQL} AS score FROM stories s WHERE {where} "
            "ORDER BY score DESC, s.id DESC LIMIT ? OFFSET ?",
            (reference, *params, limit, offset),
        )
        return StoryPage(
            stories=tuple(_story(r, float(r["score"])) for r in rows),
            total=total,
            offset=offset,
            limit=limit,
        )

    def stories_by_id(self, ids: Sequence[int]) -> dict[int, StoryRow]:
        """Story rows for some ids (missing ids are left out), in one query per 500 ids."""
        found: dict[int, StoryRow] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self._rows(
                f"SELECT * FROM stories WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            found.update({int(r["id"]): _story(r) for r in rows})
        return found

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

    def related_stories(self, story_id: int, *, limit: int = 5) -> list[StoryRow]:
        """The stories whose centroid vectors are nearest this one's (score = cosine)."""
        rows = self._rows("SELECT model, vector FROM stories WHERE id = ?", (story_id,))
        if not rows or rows[0]["vector"] is None:
            return []
        model = rows[0]["model"]
        index = self._story_index(model)
        ids, scores = index.nearest(matrix_from_blobs([bytes(rows[0]["vector"])])[0], limit + 1)
        wanted = [(i, s) for i, s in zip(ids, scores, strict=True) if i != story_id][:limit]
        found = self.stories_by_id([i for i, _ in wanted])
        return [StoryRow(**{**found[i].__dict__, "score": s}) for i, s in wanted if i in found]

    def _story_index(self, model: str | None) -> VectorIndex:
        marker_row = self._rows(
            "SELECT count(*) AS n, max(updated) AS u FROM stories WHERE model IS ?", (model,)
        )[0]
        marker = f"{marker_row['n']}|{marker_row['u']}"
        cached = self._story_indexes.get(model or "")
        if cached is not None and cached[0] == marker:
            return cached[1]
        rows = self._rows(
            "SELECT id, vector FROM stories WHERE model IS ? AND vector IS NOT NULL ORDER BY id",
            (model,),
        )
        index = VectorIndex(
            [int(r[0]) for r in rows], matrix_from_blobs([bytes(r[1]) for r in rows])
        )
        self._story_indexes[model or ""] = (marker, index)
        return index

    def refresh_running(self) -> bool:
        """Whether a refresh has started and not finished (within the last six hours)."""
        cutoff = iso(datetime.now(UTC) - timedelta(hours=6))
        rows = self._rows(
            "SELECT 1 FROM runs WHERE status = 'running' AND finished IS NULL AND started >= ? "
            "LIMIT 1",
            (cutoff,),
        )
        return bool(rows)

    # entities --------------------------------------------------------------------------------

    def entities(self, *, limit: int = 500) -> list[EntityRow]:
        """Entities named in stored articles, the most mentioned first."""
        rows = self._rows(
            "SELECT m.entity_id, max(m.name) AS name, max(m.kind) AS kind, "
            " count(*) AS articles, count(DISTINCT a.story_id) AS stories, "
            " max(a.published) AS last_seen "
            "FROM mentions m JOIN articles a ON a.id = m.article_id "
            "GROUP BY m.entity_id ORDER BY articles DESC, m.entity_id LIMIT ?",
            (limit,),
        )
        return [
            EntityRow(
                id=str(r["entity_id"]),
                name=str(r["name"]),
                kind=str(r["kind"]),
                n_articles=int(r["articles"]),
                n_stories=int(r["stories"]),
                last_seen=parse_iso(r["last_seen"]),
            )
            for r in rows
        ]

    def entity_timeline(self, entity_id: str) -> list[tuple[str, int]]:
        """Articles mentioning the entity per day (YYYY-MM-DD, count), oldest first."""
        rows = self._rows(
            "SELECT substr(a.published, 1, 10) AS day, count(*) AS n FROM mentions m "
            "JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ? "
            "GROUP BY day ORDER BY day",
            (entity_id,),
        )
        return [(str(r["day"]), int(r["n"])) for r in rows]

    def entity_stories(self, entity_id: str, *, limit: int = 50) -> list[tuple[StoryRow, int]]:
        """Stories whose articles mention the entity, with how many of their articles do."""
        rows = self._rows(
            "SELECT s.*, x.n AS mentioning FROM stories s JOIN ("
            " SELECT a.story_id AS sid, count(*) AS n FROM mentions m "
            " JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ? "
            " AND a.story_id IS NOT NULL GROUP BY a.story_id) x ON x.sid = s.id "
            "ORDER BY s.last_published DESC, x.n DESC LIMIT ?",
            (entity_id, limit),
        )
        return [(_story(r), int(r["mentioning"])) for r in rows]

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
            "SELECT m.entity_id, max(m.name) AS name, max(m.kind) AS kind, sum(m.count) AS n "
            "FROM mentions m JOIN articles a "
            "ON a.id = m.article_id WHERE a.story_id = ? GROUP BY m.entity_id "
            "ORDER BY n DESC LIMIT 30",
            (resolved,),
        )
        return StoryDetail(
            story=_story(rows[0]),
            articles=tuple(_article(a) for a in articles),
            requested_id=story_id,
            mentions=tuple((m["entity_id"], m["name"], m["kind"], int(m["n"])) for m in mentions),
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

    def search_keyword_ids(
        self, query: str, *, limit: int = 200, filters: Filters | None = None
    ) -> list[int]:
        """The ids :meth:`search_keyword` would return, without reading any text (for fusion)."""
        expression = fts_query(query)
        if not expression:
            return []
        clauses, params = _article_filters(filters or Filters())
        join = "JOIN articles a ON a.id = articles_fts.rowid " if clauses else ""
        rows = self._rows(
            f"SELECT articles_fts.rowid FROM articles_fts {join}"
            f"WHERE articles_fts MATCH ? {clauses} "
            "ORDER BY bm25(articles_fts, 3.0, 1.0) LIMIT ?",
            (expression, *params, limit),
        )
        return [int(r[0]) for r in rows]

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
        """The body embeddings of ``model`` as one matrix, kept between calls.

        Only rows written since the last call are read (see :mod:`aggregator.store.vectors`),
        so a long-lived reader (the dashboard's) pays the full load once.
        """
        marker = int(self._rows("SELECT coalesce(max(rowid), 0) FROM embeddings")[0][0])
        cached = self._indexes.get(model)
        if cached is not None and cached.marker == marker:
            return cached.index
        since = cached.marker if cached is not None else 0
        rows = self._rows(
            "SELECT article_id, vector FROM embeddings WHERE rowid > ? AND model = ? "
            "AND field = 'body' ORDER BY rowid",
            (since, model),
        )
        ids = [int(r[0]) for r in rows]
        matrix = matrix_from_blobs([bytes(r[1]) for r in rows])
        if cached is None:
            index = VectorIndex(ids, matrix) if ids else VectorIndex([], matrix)
        else:
            index = cached.index.extended(ids, matrix)
        self._indexes[model] = CachedIndex(marker, index)
        return index

    def filtered_ids(self, filters: Filters) -> list[int] | None:
        """Ids of the articles that pass ``filters``; None when nothing is filtered."""
        if filters == Filters():
            return None
        clauses, params = _article_filters(filters)
        rows = self._rows(f"SELECT a.id FROM articles a WHERE 1 = 1{clauses}", params)
        return [int(r[0]) for r in rows]

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


def _story_filters(filters: Filters) -> tuple[str, list[Any]]:
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
