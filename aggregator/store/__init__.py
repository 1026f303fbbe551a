"""The only package that speaks SQL. SQLite through sqlite-utils, in WAL mode, or PostgreSQL with
pgvector when the location is a ``postgresql://`` URL (:mod:`aggregator.store.engine`).

Writers keep transactions short (one feed, one batch of embeddings, one batch of assignments), so
readers (the dashboard, the CLI) never wait long and never see "database is locked": WAL lets them
read while a refresh writes, and a busy timeout covers the brief checkpoints.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from filelock import FileLock, Timeout

from aggregator.errors import LockedError, StorageError
from aggregator.models import Article, Feed, Mention, Vector
from aggregator.store.engine import Connection, Location, describe, is_postgres
from aggregator.store.fts import register_functions
from aggregator.store.schema import MIGRATIONS, SCHEMA_VERSION
from aggregator.text import content_hash
from aggregator.urls import url_key

if TYPE_CHECKING:
    from aggregator.fetch import HostGate
    from aggregator.store.bulk import BulkLoad

BUSY_TIMEOUT_MS = 15_000
# how long a correction or a refresh waits for another one's clustering
DERIVE_WAIT_SECONDS = 300
STALE_DAYS = 30
"""How far back each refresh checks that story summaries agree with their articles."""

Transaction = Connection
"""What ``Store.transaction()`` yields and the write methods take: the engine's connection
inside one open transaction, opaque to the code above the store."""


def iso(moment: datetime) -> str:
    """UTC timestamps stored as sortable text: 2024-04-26T09:40:00Z."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_blob(vector: Vector) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes) -> Vector:
    return np.frombuffer(blob, dtype=np.float32)


def guid_key(source: str, guid: str | None) -> str | None:
    return f"{source}\x1f{guid.strip()}" if guid and guid.strip() else None


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about a feed between runs."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    consecutive_failures: int = 0
    next_due: datetime | None = None
    paused: bool = False
    last_error: str | None = None
    announced: str = "ok"
    """The health a refresh last reported for this feed: 'ok', 'failing' or 'paused'."""

    @property
    def health(self) -> str:
        """'paused', 'failing' (failed on its last try, waiting out its backoff) or 'ok'."""
        if self.paused:
            return "paused"
        return "failing" if self.consecutive_failures else "ok"


@dataclass(frozen=True)
class StoredDoc:
    """An article as the clustering needs it: text, time, source, vectors, entities."""

    article_id: int
    story_id: int | None
    source: str
    language: str | None
    published: datetime
    title: str
    text: str
    title_vector: Vector
    body_vector: Vector
    entities: frozenset[str]
    dated: bool = True
    """False when ``published`` is only the time the article was first fetched."""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every user of the database needs."""
    try:
        if readonly:
            if not path.exists():
                raise StorageError(f"database {path} does not exist: run `aggregator refresh`")
            conn = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(path),
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
            )
        register_functions(conn)  # the search index's triggers call them
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.row_factory = sqlite3.Row
        return conn
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from exc


# A feed a run may claim, besides holding no live lease: not fetched since the claiming run
# started (by another worker; times are whole seconds, so a fetch in the second the run started
# counts as before it), and due unless the run is forced; parameters from due_parameters
DUE_FOR_RUN = """(last_fetch IS NULL OR last_fetch <= ?)
    AND (? OR next_due IS NULL OR next_due <= ?)"""


def due_parameters(now: datetime, started: datetime, force: bool) -> tuple[Any, ...]:
    return (iso(started), force, iso(now))


def worker_name() -> str:
    """Who holds a lease, for a person reading the feeds table: this machine and process."""
    return f"{socket.gethostname()} pid {os.getpid()}"


# the columns of a feed that no run holds
NO_LEASE = "lease_run = NULL, lease_owner = NULL, lease_until = NULL"


class Store:
    """Writes for the refresh and imports; reads live in :mod:`aggregator.store.read`.

    ``Store(location)`` opens the engine the location names: a path is a SQLite file, a
    ``postgresql://`` URL a PostgreSQL database (:class:`aggregator.store.postgres.PostgresStore`).
    """

    conn: Connection
    # which unfinished runs are gone, besides being unfinished (all of them on SQLite, where one
    # refresh runs at a time and the caller is it)
    _gone = ""

    def __new__(cls, location: Location) -> Store:
        if cls is Store and is_postgres(location):
            from aggregator.store.postgres import PostgresStore

            return super().__new__(PostgresStore)
        return super().__new__(cls)

    def __init__(self, location: Location) -> None:
        self.path = Path(location)
        self.where = describe(location)
        # imported here, not at the top: sqlite-utils imports pandas when it is installed, a
        # second and more of start-up that the read-only commands (search, stories) never need
        import sqlite_utils

        # Feed workers read through this connection while the main thread writes. The search
        # index's triggers call Python functions, which take the GIL inside sqlite3_step, while
        # a reader waiting for the connection's mutex holds the GIL: without one lock in Python
        # around both, the two wait for each other forever.
        self.lock = threading.RLock()
        self._derive = FileLock(str(self.path.with_name(self.path.name + ".derive.lock")))
        self.sqlite = connect(self.path)
        self.conn = self.sqlite
        self.db = sqlite_utils.Database(self.sqlite)
        self.migrate()

    def close(self) -> None:
        self.sqlite.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def refresh_lock(self) -> Iterator[None]:
        """Held for a whole refresh, so that two runs on one SQLite file never overlap."""
        lock = FileLock(str(self.path.with_name(self.path.name + ".lock")))
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise LockedError(
                f"another refresh is running on {self.path} (lock {lock.lock_file})"
            ) from exc
        try:
            with self.transaction() as conn:  # any lease left belongs to a run that was killed
                conn.execute(f"UPDATE feeds SET {NO_LEASE} WHERE lease_run IS NOT NULL")
            yield
        finally:
            lock.release()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic write: everything inside commits together or not at all.

        The connection it yields is the handle the write methods (``insert_articles``,
        ``assign``, ``save_story``, ...) take, so that they join this transaction.

        It holds :attr:`lock`, which the reads the refresh's feed threads make on the same
        connection take too: a thread reading rows while the search index's trigger runs its
        Python functions inside a write would wait for the connection while the trigger waits
        for the interpreter, and neither would go on.
        """
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise StorageError(f"cannot start a write on {self.path}: {exc}") from exc
            try:
                yield self.conn
            except BaseException as exc:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.DatabaseError as undo:
                    # SQLite has rolled back already when the write failed hard (disk full, I/O);
                    # the error worth reporting is the one that stopped the write
                    exc.add_note(f"rollback on {self.path} also failed: {undo}")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise StorageError(f"write failed on {self.path}: {exc}") from exc
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise StorageError(f"cannot commit to {self.path}: {exc}") from exc

    def migrate(self) -> None:
        try:
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} has schema version {version}, newer than this aggregator "
                    f"({SCHEMA_VERSION}); upgrade the aggregator"
                )
            for number in range(version, SCHEMA_VERSION):
                with self.transaction() as conn:
                    for statement in _statements(MIGRATIONS[number]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number + 1}")
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot migrate {self.path}: {exc}") from exc

    def bulk_load(self) -> BulkLoad:
        """A bulk load into this database (:mod:`aggregator.store.bulk`), used as a context."""
        from aggregator.store.bulk import BulkLoad

        return BulkLoad(self)

    # feeds ----------------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[Feed]) -> None:
        """Make the feeds table list the configured feeds, keeping their state."""
        records = [
            {"name": f.name, "url": f.url, "language": f.language, "tags": json.dumps(list(f.tags))}
            for f in feeds
        ]
        try:
            # sqlite-utils' upsert touches only these columns, so fetch state survives
            self.db.table("feeds").upsert_all(records, pk="name")
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot record the feed list in {self.path}: {exc}") from exc

    def feed_state(self, name: str) -> FeedState:
        return self.feed_states([name])[name]

    def feed_states(self, names: Iterable[str]) -> dict[str, FeedState]:
        """The state of each named feed, read a few hundred at a time rather than one query
        each; a feed not stored yet has a fresh state."""
        wanted = list(dict.fromkeys(names))
        found: dict[str, FeedState] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.conn.execute(
                f"SELECT * FROM feeds WHERE name IN ({', '.join('?' * len(chunk))})", chunk
            )
            for row in rows:
                found[row["name"]] = FeedState(
                    name=row["name"],
                    etag=row["etag"],
                    last_modified=row["last_modified"],
                    body_hash=row["body_hash"],
                    consecutive_failures=row["consecutive_failures"],
                    next_due=parse_iso(row["next_due"]),
                    paused=bool(row["paused"]),
                    last_error=row["last_error"],
                    announced=row["announced"],
                )
        return {name: found.get(name) or FeedState(name) for name in wanted}

    def record_feed(self, conn: Connection, name: str, **values: Any) -> None:
        """Update a feed row inside the caller's transaction."""
        if not values:
            return
        assignments = ", ".join(f"{key} = ?" for key in values)
        conn.execute(f"UPDATE feeds SET {assignments} WHERE name = ?", (*values.values(), name))

    def update_feed(self, name: str, **values: Any) -> None:
        with self.transaction() as conn:
            self.record_feed(conn, name, **values)

    def announce_health(self, health: Mapping[str, str]) -> set[str]:
        """Remember the health just reported for each named feed (see FeedState.announced).

        Returns the feeds whose announcement this call made: when refresh workers report the same
        change at once, one of them announces it and the others find it announced already."""
        made: set[str] = set()
        with self.transaction() as conn:
            for name, state in health.items():
                cursor = conn.execute(
                    "UPDATE feeds SET announced = ? WHERE name = ? AND announced <> ?",
                    (state, name, state),
                )
                if cursor.rowcount:
                    made.add(name)
        return made

    # leases: refresh workers sharing one database's feeds -----------------------------------

    def lease_feeds(
        self,
        run: int,
        names: Sequence[str],
        *,
        now: datetime,
        until: datetime,
        limit: int,
        started: datetime,
        force: bool = False,
    ) -> list[str]:
        """Claim up to ``limit`` of the feeds ``names`` for the run ``run`` until ``until``:
        those that are not paused, hold no live lease, were not fetched since the claiming run
        ``started`` (a feed another worker has just done is not done again), and are due at
        ``now``, or any with ``force``. Returns the claimed names in the order of ``names``.

        One SQLite file has one refresh at a time (:meth:`refresh_lock`, which clears the leases
        of killed runs), so the claim is a plain transaction here; PostgreSQL claims with
        ``FOR UPDATE SKIP LOCKED``, and a lease is live while its run's worker is connected.
        """
        if not names or limit <= 0:
            return []
        position = {name: number for number, name in enumerate(names)}
        with self.transaction() as conn:
            rows = conn.execute(
                f"SELECT name FROM feeds WHERE name IN ({', '.join('?' * len(names))}) "
                f"AND paused = 0 AND (lease_until IS NULL OR lease_until <= ?) AND {DUE_FOR_RUN}",
                (*names, iso(now), *due_parameters(now, started, force)),
            ).fetchall()
            claimed = sorted((r[0] for r in rows if r[0] in position), key=position.__getitem__)
            claimed = claimed[:limit]
            conn.executemany(
                "UPDATE feeds SET lease_run = ?, lease_owner = ?, lease_until = ? WHERE name = ?",
                [(run, worker_name(), iso(until), name) for name in claimed],
            )
        return claimed

    def orphaned_leases(self, now: datetime) -> list[str]:
        """Feeds still leased to a run that is gone (killed) or has held them too long."""
        rows = self.conn.execute(
            "SELECT name FROM feeds WHERE lease_run IS NOT NULL AND lease_until <= ?",
            (iso(now),),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def release_leases(self, run: int) -> int:
        """Give back every lease the run ``run`` still holds (feeds it claimed, not finished)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE feeds SET {NO_LEASE} WHERE lease_run = ?",
                (run,),
            )
            return int(cursor.rowcount)

    @contextmanager
    def working(self, run: int) -> Iterator[None]:
        """Marks this connection as the live worker of ``run`` for the block: on PostgreSQL its
        leases are live while it lasts, and free at once when the worker dies. One SQLite file
        has one refresh at a time, whose lock is the mark."""
        yield

    @contextmanager
    def derive_lock(self) -> Iterator[None]:
        """Held while a refresh embeds leftovers, clusters and runs the saved searches, and
        while a reader's correction is written: two workers never make two stories of one event
        nor deliver one alert twice, and a correction made during clustering is not overwritten
        by it (the clusterer reads the corrections once it holds the lock). Taken again by its
        holder, it is held already."""
        try:
            self._derive.acquire(timeout=DERIVE_WAIT_SECONDS)
        except Timeout as exc:
            raise LockedError(
                f"clustering on {self.path} has held {self._derive.lock_file} for "
                f"{DERIVE_WAIT_SECONDS} s; try again"
            ) from exc
        try:
            yield
        finally:
            self._derive.release()

    @contextmanager
    def host_gate(self, per_host: int) -> Iterator[HostGate | None]:
        """A limit on requests in flight per host shared by every worker on this database, for
        the length of the block; on SQLite the refresh's own limit is the only one."""
        yield None

    def reset_feeds(self, names: Sequence[str] | None = None) -> int:
        """Un-pause feeds and forget their failures; all feeds when ``names`` is None.

        A reset feed counts as announced healthy, so a failure after it is reported afresh."""
        with self.transaction() as conn:
            where, params = (
                ("", ())
                if not names
                else (f" WHERE name IN ({', '.join('?' * len(names))})", tuple(names))
            )
            cursor = conn.execute(
                "UPDATE feeds SET paused = 0, consecutive_failures = 0, next_due = NULL, "
                "announced = 'ok'" + where,
                params,
            )
            return int(cursor.rowcount)

    # articles -------------------------------------------------------------------------------

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """Which of ``urls`` (by normalised key) are already stored."""
        keys = {url_key(u): u for u in urls}
        with self.lock:
            return {keys[k] for k in self._present("url_key", list(keys))}

    def _present(self, column: str, items: list[str]) -> set[str]:
        """Which ``items`` the unique ``column`` of articles holds (called under the lock)."""
        found: set[str] = set()
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            rows = self.conn.execute(
                f"SELECT {column} FROM articles WHERE {column} IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update(row[0] for row in rows)
        return found

    def known_guids(self, source: str, guids: Iterable[str]) -> set[str]:
        wanted = {guid_key(source, g): g for g in guids if g}
        items = [k for k in wanted if k]
        with self.lock:
            return {wanted[k] for k in self._present("guid_key", items)}

    def insert_articles(
        self,
        conn: Connection,
        articles: Sequence[tuple[Article, Sequence[Mention]]],
        *,
        fetched: datetime,
    ) -> list[int]:
        """Insert new articles inside the caller's transaction; duplicates are skipped.

        A duplicate shares the normalised URL, the (source, GUID) pair, or the content hash of an
        article already stored. Returns the ids of the articles actually inserted.
        """
        inserted: list[int] = []
        mentioned: list[tuple[int, str, str, str, int]] = []
        for article, mentions in articles:
            digest = content_hash(article.title, article.text)
            # one statement per article: nothing is inserted when its source already holds the
            # same content, nor when its URL or GUID is stored already
            cursor = conn.execute(
                "INSERT INTO articles (url, url_key, guid_key, content_hash, source, "
                "external_id, title, summary, text, author, published, fetched, language, image, "
                "summary_only, extract_method, tags, dated) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                "WHERE NOT EXISTS (SELECT 1 FROM articles WHERE content_hash = ? AND source = ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (
                    article.url,
                    url_key(article.url),
                    guid_key(article.source, article.guid),
                    digest,
                    article.source,
                    article.external_id,
                    article.title,
                    article.summary,
                    article.text,
                    article.author,
                    iso(article.published or fetched),
                    iso(fetched),
                    article.language,
                    article.image,
                    int(article.summary_only),
                    article.extract_method,
                    json.dumps(list(article.tags)),
                    int(article.published is not None),
                    digest,
                    article.source,
                ),
            )
            returned = cursor.fetchall()  # one row, or none for a duplicate
            if not returned:
                continue
            article_id = int(returned[0][0])
            inserted.append(article_id)
            mentioned += [(article_id, m.entity_id, m.name, m.kind, m.count) for m in mentions]
        if mentioned:
            conn.executemany(
                "INSERT INTO mentions (article_id, entity_id, name, kind, count) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (article_id, entity_id) DO UPDATE SET "
                "name = excluded.name, kind = excluded.kind, count = excluded.count",
                mentioned,
            )
        return inserted

    # embeddings -----------------------------------------------------------------------------

    def missing_embeddings(
        self, model: str, limit: int = 256, *, among: Sequence[int] | None = None
    ) -> list[tuple[int, str, str]]:
        """(id, title, text) of articles that have no embedding for ``model`` yet, oldest first;
        only those whose ids are in ``among`` when it is given."""
        within, params = "", tuple(among or ())
        if among is not None:
            if not among:
                return []
            within = f" AND a.id IN ({', '.join('?' * len(among))})"
        rows = self.conn.execute(
            "SELECT a.id, a.title, a.text FROM articles a WHERE NOT EXISTS ("
            " SELECT 1 FROM embeddings e WHERE e.article_id = a.id AND e.model = ?"
            f" AND e.field = 'body'){within} ORDER BY a.id LIMIT ?",
            (model, *params, limit),
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def embedding_models(self) -> dict[str, int]:
        """Model name -> how many articles carry its body vector."""
        rows = self.conn.execute(
            "SELECT model, COUNT(*) FROM embeddings WHERE field = 'body' GROUP BY model"
        ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def count_missing_embeddings(self, model: str) -> int:
        """How many articles have no body vector for ``model`` yet."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS ("
            " SELECT 1 FROM embeddings e WHERE e.article_id = a.id AND e.model = ?"
            " AND e.field = 'body')",
            (model,),
        ).fetchone()
        return int(row[0])

    def drop_embeddings_except(self, model: str) -> int:
        """Delete the vectors of every other model; returns how many rows went."""
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM embeddings WHERE model != ?", (model,))
            return int(cursor.rowcount)

    def embeddings_by_hash(self, model: str, field: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """Vectors already computed for identical inputs (syndicated copies, re-imports)."""
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self.conn.execute(
                "SELECT text_hash, vector FROM embeddings WHERE model = ? AND field = ? "
                f"AND text_hash IN ({', '.join('?' * len(chunk))})",
                (model, field, *chunk),
            )
            found.update({str(r[0]): bytes(r[1]) for r in rows})
        return found

    def save_embeddings(self, model: str, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
        """Store (article_id, field, text_hash, vector blob) rows in one transaction."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (article_id, model, field, text_hash, vector) "
                "VALUES (?, ?, ?, ?, ?)",
                [(aid, model, field, digest, blob) for aid, field, digest, blob in rows],
            )

    # clustering -----------------------------------------------------------------------------

    def _docs(self, where: str, params: Sequence[Any], model: str) -> list[StoredDoc]:
        rows = self.conn.execute(
            "SELECT a.id, a.story_id, a.source, a.language, a.published, a.dated, a.title, "
            " a.text, "
            " t.vector AS tv, b.vector AS bv, "
            " (SELECT group_concat(entity_id, ?) FROM mentions m "
            "  WHERE m.article_id = a.id) AS ents "
            "FROM articles a "
            "JOIN embeddings b ON b.article_id = a.id AND b.model = ? AND b.field = 'body' "
            "JOIN embeddings t ON t.article_id = a.id AND t.model = ? AND t.field = 'title' "
            f"WHERE {where} ORDER BY a.published, a.id",
            ("\x1f", model, model, *params),
        ).fetchall()
        return [
            StoredDoc(
                article_id=int(r["id"]),
                story_id=r["story_id"],
                source=r["source"],
                language=r["language"],
                published=parse_iso(r["published"]) or datetime.now(UTC),
                title=r["title"],
                text=r["text"],
                title_vector=from_blob(r["tv"]),
                body_vector=from_blob(r["bv"]),
                entities=frozenset((r["ents"] or "").split("\x1f")) - {""},
                dated=bool(r["dated"]),
            )
            for r in rows
        ]

    def unclustered(self, model: str) -> list[StoredDoc]:
        """Embedded articles that belong to no story yet, in publication order."""
        return self._docs("a.story_id IS NULL", (), model)

    def window_members(self, since: datetime, model: str) -> list[StoredDoc]:
        """Articles of stories still active at ``since``: the clustering's working memory."""
        return self._docs(
            "a.story_id IN (SELECT id FROM stories WHERE last_published >= ?)", (iso(since),), model
        )

    def assign(self, conn: Connection, pairs: Sequence[tuple[int, int]], when: datetime) -> None:
        conn.executemany(
            "UPDATE articles SET story_id = ?, clustered = ? WHERE id = ?",
            [(story, iso(when), article) for article, story in pairs],
        )

    def merge(self, conn: Connection, absorbed: int, into: int, when: datetime) -> None:
        """Move a story's articles into another and remember the old id."""
        conn.execute("UPDATE articles SET story_id = ? WHERE story_id = ?", (into, absorbed))
        conn.execute("DELETE FROM stories WHERE id = ?", (absorbed,))
        conn.execute(
            "INSERT INTO story_merges (absorbed, into_id, merged) VALUES (?, ?, ?) "
            "ON CONFLICT (absorbed) DO UPDATE SET into_id = excluded.into_id, "
            "merged = excluded.merged",
            (absorbed, into, iso(when)),
        )
        conn.execute("UPDATE story_merges SET into_id = ? WHERE into_id = ?", (into, absorbed))

    def split(self, conn: Connection, moved: Sequence[int], new_story: int, when: datetime) -> None:
        """Move ``moved`` articles to the new story ``new_story``.

        Its id is the id of its first article; if that once named a story merged away, the old
        id now leads to its own story again, which holds the article it was named after.
        """
        self.assign(conn, [(article, new_story) for article in moved], when)
        conn.execute("DELETE FROM story_merges WHERE absorbed = ?", (new_story,))

    def story_members(self, story_ids: Iterable[int], model: str) -> dict[int, list[StoredDoc]]:
        ids = sorted(set(story_ids))
        members: dict[int, list[StoredDoc]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for doc in self._docs(f"a.story_id IN ({', '.join('?' * len(chunk))})", chunk, model):
                if doc.story_id is not None:
                    members[doc.story_id].append(doc)
        return members

    def save_story(self, conn: Connection, record: dict[str, Any]) -> None:
        """Insert or replace one story summary row (computed by the pipeline from its members)."""
        columns = ", ".join(record)
        marks = ", ".join("?" * len(record))
        updates = ", ".join(f"{k} = excluded.{k}" for k in record if k not in ("id", "created"))
        conn.execute(
            f"INSERT INTO stories ({columns}) VALUES ({marks}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            tuple(record.values()),
        )

    def mention_names(self, article_ids: Iterable[int]) -> dict[str, str]:
        """Display names of the entities mentioned in some articles, by entity id."""
        ids = sorted(set(article_ids))
        names: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.conn.execute(
                "SELECT entity_id, name FROM mentions "
                f"WHERE article_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            names.update({str(r[0]): str(r[1]) for r in rows})
        return names

    def stale_stories(self) -> list[int]:
        """Stories whose summary row is missing or counts other than their articles, among the
        stories of the last :data:`STALE_DAYS` days (before the newest article): those with a
        summary row that recent, and those of the articles published since. Checking the whole
        archive on every refresh would cost as much as the archive; these are the stories the
        clustering and the front page work with."""
        newest = parse_iso(self.conn.execute("SELECT max(published) FROM articles").fetchone()[0])
        if newest is None:
            return []
        since = iso(newest - timedelta(days=STALE_DAYS))
        rows = self.conn.execute(
            "WITH recent (id) AS (SELECT id FROM stories WHERE last_published >= ? "
            " UNION SELECT story_id FROM articles WHERE published >= ? AND story_id IS NOT NULL) "
            "SELECT r.id FROM recent r "
            "WHERE coalesce((SELECT s.n_articles FROM stories s WHERE s.id = r.id), -1) "
            " != (SELECT count(*) FROM articles a WHERE a.story_id = r.id) ORDER BY r.id",
            (since, since),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def drop_story(self, conn: Connection, story_id: int) -> None:
        """Remove the summary of a story that no longer has articles."""
        conn.execute("DELETE FROM stories WHERE id = ?", (story_id,))

    def story_tags(self, story_id: int) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT value FROM articles a, json_each(a.tags) WHERE a.story_id = ?",
            (story_id,),
        )
        return sorted(str(r[0]) for r in rows)

    # runs -----------------------------------------------------------------------------------

    def start_run(self, started: datetime) -> int:
        """Record a run as started. A run still marked running whose worker is gone (on SQLite,
        under the refresh lock, any) was killed before it finished: it is marked interrupted, or
        readers would think a refresh is in progress for hours after a crash."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = 'interrupted' "
                f"WHERE status = 'running' AND finished IS NULL{self._gone}"
            )
            cursor = conn.execute(
                "INSERT INTO runs (started, status) VALUES (?, 'running') RETURNING id",
                (iso(started),),
            )
            return int(cursor.fetchall()[0][0])

    def finish_run(
        self, run_id: int, finished: datetime, status: str, report: dict[str, Any]
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished = ?, status = ?, report = ? WHERE id = ?",
                (iso(finished), status, json.dumps(report, ensure_ascii=False), run_id),
            )


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
