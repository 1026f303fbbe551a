"""SQL for saved searches (``watches``) and the articles they matched (``watch_hits``).

A watch remembers the highest article id it has looked at, so each refresh only examines
articles stored since; the UNIQUE(watch_id, article_id) constraint makes a second recording of
the same match impossible even if two runs overlap. Reads take any connection (the read-only one
of :class:`~aggregator.store.read.Reader` too); writes go through :class:`~aggregator.store.Store`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from aggregator.errors import ConfigError, StorageError
from aggregator.store import Store, from_blob, iso, parse_iso
from aggregator.store.engine import Connection, Row
from aggregator.store.read import Filters, _article_filters, keyword_query

MAX_DELIVERY_ATTEMPTS = 5


@dataclass(frozen=True)
class Watch:
    """A saved search and where its alerts go."""

    id: int
    name: str
    query: str
    mode: str
    languages: tuple[str, ...]
    sources: tuple[str, ...]
    tags: tuple[str, ...]
    email: str | None
    webhook: str | None
    created: datetime | None
    last_article_id: int
    unread: int = 0
    total: int = 0

    @property
    def filters(self) -> Filters:
        return Filters(languages=self.languages, sources=self.sources, tags=self.tags)


@dataclass(frozen=True)
class Hit:
    """One article a watch matched, with its story as it stands now."""

    id: int
    watch_id: int
    article_id: int
    story_id: int | None
    story: str | None
    new_story: bool
    title: str
    url: str
    source: str
    language: str | None
    published: datetime | None
    found: datetime | None
    read: bool
    score: float


def has_tables(conn: Connection) -> bool:
    """Whether the database has reached the schema with watches (a reader may be older)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'watches'"
    ).fetchone()
    return row is not None


def _watch(row: Row) -> Watch:
    keys = row.keys()
    return Watch(
        id=int(row["id"]),
        name=str(row["name"]),
        query=str(row["query"]),
        mode=str(row["mode"]),
        languages=tuple(json.loads(row["languages"])),
        sources=tuple(json.loads(row["sources"])),
        tags=tuple(json.loads(row["tags"])),
        email=row["email"],
        webhook=row["webhook"],
        created=parse_iso(row["created"]),
        last_article_id=int(row["last_article_id"]),
        unread=int(row["unread"]) if "unread" in keys else 0,
        total=int(row["total"]) if "total" in keys else 0,
    )


def add_watch(
    store: Store,
    *,
    name: str,
    query: str,
    mode: str,
    filters: Filters,
    email: str | None,
    webhook: str | None,
    now: datetime,
) -> Watch:
    """Save a search; it alerts on articles stored from now on, not on the archive."""
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM watches WHERE name = ?", (name,)).fetchone():
            raise ConfigError(f"a saved search named {name!r} already exists")
        high = int(conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])
        conn.execute(
            "INSERT INTO watches (name, query, mode, languages, sources, tags, email, webhook, "
            "created, last_article_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                query,
                mode,
                json.dumps(list(filters.languages)),
                json.dumps(list(filters.sources)),
                json.dumps(list(filters.tags)),
                email,
                webhook,
                iso(now),
                high,
            ),
        )
    return get_watch(store.conn, name)


def remove_watch(store: Store, name: str) -> bool:
    with store.transaction() as conn:
        return conn.execute("DELETE FROM watches WHERE name = ?", (name,)).rowcount == 1


def list_watches(conn: Connection) -> list[Watch]:
    """Every watch with its unread and total hit counts, by name."""
    if not has_tables(conn):
        return []
    rows = conn.execute(
        "SELECT w.*, "
        " (SELECT count(*) FROM watch_hits h WHERE h.watch_id = w.id AND h.read = 0) AS unread,"
        " (SELECT count(*) FROM watch_hits h WHERE h.watch_id = w.id) AS total "
        "FROM watches w ORDER BY w.name"
    ).fetchall()
    return [_watch(r) for r in rows]


def get_watch(conn: Connection, name: str) -> Watch:
    for watch in list_watches(conn):
        if watch.name == name:
            return watch
    raise ConfigError(f"no saved search named {name!r} (see `aggregator watch list`)")


def newest_article_id(conn: Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])


def keyword_matches(conn: Connection, watch: Watch, after: int, upto: int) -> dict[int, float]:
    """Articles with ``after < id <= upto`` that match the watch's words, with BM25 scores."""
    if not isinstance(conn, sqlite3.Connection):
        from aggregator.store.postgres.search import watch_keyword_matches

        return watch_keyword_matches(conn, watch.query, watch.filters, after, upto)
    parsed = keyword_query(watch.query)
    if not parsed:
        return {}
    table = parsed.table
    clauses, params = _article_filters(watch.filters)
    try:
        rows = conn.execute(
            f"SELECT a.id, bm25({table}, 3.0, 1.0) AS score FROM {table} "
            f"JOIN articles a ON a.id = {table}.rowid "
            f"WHERE {table} MATCH ? AND a.id > ? AND a.id <= ? {clauses}",
            (parsed.expression, after, upto, *params),
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"saved search {watch.name!r} failed: {exc}") from exc
    return {int(r[0]): -float(r[1]) for r in rows}


def new_body_vectors(
    conn: Connection, watch: Watch, after: int, upto: int, *, model: str
) -> dict[int, tuple[str | None, npt.NDArray[np.float32]]]:
    """The language and body vector of ``model`` of each article with ``after < id <= upto``
    that passes the watch's filters."""
    clauses, params = _article_filters(watch.filters)
    try:
        rows = conn.execute(
            "SELECT a.id, a.language, e.vector FROM articles a JOIN embeddings e "
            "ON e.article_id = a.id AND e.model = ? AND e.field = 'body' "
            f"WHERE a.id > ? AND a.id <= ? {clauses}",
            (model, after, upto, *params),
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"saved search {watch.name!r} failed: {exc}") from exc
    return {int(r[0]): (r[1], from_blob(bytes(r[2]))) for r in rows}


def record_hits(
    store: Store, watch: Watch, matches: dict[int, float], upto: int, now: datetime
) -> int:
    """Record new matches and move the watch's high-water mark; returns how many were new.

    A hit whose story no earlier hit of this watch belonged to is flagged as a new story.
    """
    with store.transaction() as conn:
        seen = {
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT coalesce(a.story_id, h.story_id) FROM watch_hits h "
                "LEFT JOIN articles a ON a.id = h.article_id WHERE h.watch_id = ? "
                "AND coalesce(a.story_id, h.story_id) IS NOT NULL",
                (watch.id,),
            )
        }
        inserted = 0
        for article_id in sorted(matches):
            row = conn.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,))
            found = row.fetchone()
            story_id = found[0] if found else None
            new_story = story_id is not None and story_id not in seen
            cursor = conn.execute(
                "INSERT INTO watch_hits (watch_id, article_id, story_id, new_story, "
                "score, found) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (watch.id, article_id, story_id, int(new_story), matches[article_id], iso(now)),
            )
            if cursor.rowcount == 1:
                inserted += 1
                if story_id is not None:
                    seen.add(story_id)
        conn.execute(
            "UPDATE watches SET last_article_id = CASE WHEN last_article_id > ? "
            "THEN last_article_id ELSE ? END, last_run = ? WHERE id = ?",
            (upto, upto, iso(now), watch.id),
        )
    return inserted


HIT_SELECT = (
    "SELECT h.id, h.watch_id, h.article_id, coalesce(a.story_id, h.story_id) AS sid, "
    " s.headline, h.new_story, a.title, a.url, a.source, a.language, a.published, h.found, "
    " h.read, h.score FROM watch_hits h JOIN articles a ON a.id = h.article_id "
    "LEFT JOIN stories s ON s.id = coalesce(a.story_id, h.story_id) "
)


def _hit(row: Row) -> Hit:
    return Hit(
        id=int(row["id"]),
        watch_id=int(row["watch_id"]),
        article_id=int(row["article_id"]),
        story_id=row["sid"],
        story=row["headline"],
        new_story=bool(row["new_story"]),
        title=str(row["title"]),
        url=str(row["url"]),
        source=str(row["source"]),
        language=row["language"],
        published=parse_iso(row["published"]),
        found=parse_iso(row["found"]),
        read=bool(row["read"]),
        score=float(row["score"]),
    )


def hits(conn: Connection, watch: Watch, *, unread_only: bool = False) -> list[Hit]:
    """The watch's hits, newest article first."""
    where = " AND h.read = 0" if unread_only else ""
    rows = conn.execute(
        f"{HIT_SELECT} WHERE h.watch_id = ?{where} ORDER BY a.published DESC, h.id DESC",
        (watch.id,),
    ).fetchall()
    return [_hit(r) for r in rows]


def new_story_count(conn: Connection, watch: Watch) -> int:
    """How many of the watch's hits were the first it saw of their story."""
    row = conn.execute(
        "SELECT count(*) FROM watch_hits WHERE watch_id = ? AND new_story = 1", (watch.id,)
    ).fetchone()
    return int(row[0])


def mark_read(store: Store, watch: Watch, hit_ids: Sequence[int] | None = None) -> int:
    """Mark some hits (all the watch's when ``hit_ids`` is None) as read."""
    with store.transaction() as conn:
        if hit_ids is None:
            cursor = conn.execute(
                "UPDATE watch_hits SET read = 1 WHERE watch_id = ? AND read = 0", (watch.id,)
            )
            return int(cursor.rowcount)
        count = 0
        for start in range(0, len(hit_ids), 500):
            chunk = list(hit_ids[start : start + 500])
            cursor = conn.execute(
                f"UPDATE watch_hits SET read = 1 WHERE watch_id = ? AND read = 0 "
                f"AND id IN ({', '.join('?' * len(chunk))})",
                (watch.id, *chunk),
            )
            count += int(cursor.rowcount)
        return count


def undelivered(conn: Connection, watch: Watch) -> list[Hit]:
    """Hits not yet sent, that have not used up their delivery attempts, oldest first."""
    rows = conn.execute(
        f"{HIT_SELECT} WHERE h.watch_id = ? AND h.delivered IS NULL AND h.attempts < ? "
        "ORDER BY h.id",
        (watch.id, MAX_DELIVERY_ATTEMPTS),
    ).fetchall()
    return [_hit(r) for r in rows]


def record_delivery(
    store: Store, hit_ids: Sequence[int], now: datetime, error: str | None = None
) -> None:
    """Mark hits as sent, or count a failed attempt with its reason."""
    if not hit_ids:
        return
    with store.transaction() as conn:
        for start in range(0, len(hit_ids), 500):
            chunk = list(hit_ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            if error is None:
                conn.execute(
                    f"UPDATE watch_hits SET delivered = ?, last_error = NULL, "
                    f"attempts = attempts + 1 WHERE id IN ({marks})",
                    (iso(now), *chunk),
                )
            else:
                conn.execute(
                    f"UPDATE watch_hits SET attempts = attempts + 1, last_error = ? "
                    f"WHERE id IN ({marks})",
                    (error[:500], *chunk),
                )
