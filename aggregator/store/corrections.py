"""Readers' corrections in the database: the ``corrections`` table and the story bookkeeping a
correction needs (which story an article is in, which ids were merged into a story).

Writes take the caller's connection, so that a correction, the articles it moves and the labels
of the stories it touches commit in one transaction. :class:`CorrectionQueries` is the read side,
joined into :class:`aggregator.store.read.Reader`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.errors import StorageError
from aggregator.store import connect, iso, parse_iso
from aggregator.store.engine import Connection, Location, Row, is_postgres
from aggregator.store.records import Queries
from aggregator.urls import url_key

KINDS = ("move", "split", "merge")


@dataclass(frozen=True)
class CorrectionRow:
    """One recorded correction: what (kind and articles), when, by whom, and whether undone.

    ``story_id`` is the story corrected (the article's old story for a move, the story split, the
    story merged away) and ``target_id`` where its articles went (the target story, the new
    story, the story merged into). ``moved`` left ``stayed`` and joined ``joined``.
    """

    id: int
    kind: str
    made: datetime
    made_by: str | None
    story_id: int
    target_id: int
    moved: tuple[int, ...]
    stayed: tuple[int, ...] = ()
    joined: tuple[int, ...] = ()
    urls: dict[int, str] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)
    undone: datetime | None = None
    undone_by: str | None = None

    @property
    def in_force(self) -> bool:
        return self.undone is None

    def describe(self) -> str:
        """One line saying what the correction did."""
        if self.story_id == self.target_id:
            # replayed from an export onto a clustering that already agreed: nothing moved here
            count = len(self.moved)
            return f"kept {count} article{'s' if count != 1 else ''} as corrected, in story " + (
                f"{self.target_id}"
            )
        if self.kind == "move":
            return f"moved article {self.moved[0]} from story {self.story_id} to {self.target_id}"
        if self.kind == "split":
            count = len(self.moved)
            return (
                f"split {count} article{'s' if count != 1 else ''} off story {self.story_id} "
                f"into new story {self.target_id}"
            )
        return f"merged story {self.story_id} into {self.target_id}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "made": iso(self.made),
            "by": self.made_by,
            "story_id": self.story_id,
            "target_id": self.target_id,
            "moved": list(self.moved),
            "stayed": list(self.stayed),
            "joined": list(self.joined),
            "undone": iso(self.undone) if self.undone else None,
            "undone_by": self.undone_by,
            "description": self.describe(),
        }

    def portable(self) -> dict[str, Any]:
        """The correction with articles named by url, for an export read by another database."""

        def named(ids: Sequence[int]) -> list[str]:
            return [self.urls[i] for i in ids if i in self.urls]

        return {
            "kind": self.kind,
            "made": iso(self.made),
            "by": self.made_by,
            "moved": named(self.moved),
            "stayed": named(self.stayed),
            "joined": named(self.joined),
        }


def _correction(row: Row) -> CorrectionRow:
    return CorrectionRow(
        id=int(row["id"]),
        kind=str(row["kind"]),
        made=parse_iso(row["made"]) or datetime.now(UTC),
        made_by=row["made_by"],
        story_id=int(row["story_id"]),
        target_id=int(row["target_id"]),
        moved=tuple(int(i) for i in json.loads(row["moved"])),
        stayed=tuple(int(i) for i in json.loads(row["stayed"])),
        joined=tuple(int(i) for i in json.loads(row["joined"])),
        urls={int(k): str(v) for k, v in json.loads(row["urls"]).items()},
        previous=dict(json.loads(row["previous"])),
        undone=parse_iso(row["undone"]),
        undone_by=row["undone_by"],
    )


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CorrectionTable:
    """The write side: every method works inside the caller's transaction."""

    @staticmethod
    def record(
        conn: Connection,
        *,
        kind: str,
        made: datetime,
        made_by: str | None,
        story_id: int,
        target_id: int,
        moved: Sequence[int],
        stayed: Sequence[int] = (),
        joined: Sequence[int] = (),
        previous: dict[str, Any] | None = None,
    ) -> int:
        if kind not in KINDS:
            raise ValueError(f"unknown correction kind {kind!r}")
        urls = CorrectionTable.urls(conn, [*moved, *stayed, *joined])
        cursor = conn.execute(
            "INSERT INTO corrections (kind, made, made_by, story_id, target_id, moved, stayed, "
            "joined, urls, previous) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                kind,
                iso(made),
                made_by,
                story_id,
                target_id,
                json.dumps(sorted(moved)),
                json.dumps(sorted(stayed)),
                json.dumps(sorted(joined)),
                json.dumps({str(k): v for k, v in urls.items()}, ensure_ascii=False),
                json.dumps(previous or {}),
            ),
        )
        return int(cursor.fetchall()[0][0])

    @staticmethod
    def get(conn: Connection, correction_id: int) -> CorrectionRow:
        row = conn.execute("SELECT * FROM corrections WHERE id = ?", (correction_id,)).fetchone()
        return _correction(row)

    @staticmethod
    def last_in_force(conn: Connection) -> CorrectionRow | None:
        row = conn.execute(
            "SELECT * FROM corrections WHERE undone IS NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return _correction(row) if row else None

    @staticmethod
    def in_force(conn: Connection) -> list[CorrectionRow]:
        """Corrections not undone, oldest first: the order constraints are built in."""
        rows = conn.execute("SELECT * FROM corrections WHERE undone IS NULL ORDER BY id")
        return [_correction(r) for r in rows]

    @staticmethod
    def already_recorded(conn: Connection, kind: str, made: datetime, made_by: str | None) -> bool:
        """Whether a correction of this kind, time and author is known (a re-imported export)."""
        row = conn.execute(
            "SELECT 1 FROM corrections WHERE kind = ? AND made = ? "
            "AND made_by IS NOT DISTINCT FROM ? LIMIT 1",
            (kind, iso(made), made_by),
        ).fetchone()
        return row is not None

    @staticmethod
    def mark_undone(conn: Connection, correction_id: int, when: datetime, by: str | None) -> None:
        conn.execute(
            "UPDATE corrections SET undone = ?, undone_by = ? WHERE id = ?",
            (iso(when), by, correction_id),
        )

    # articles and stories --------------------------------------------------------------------

    @staticmethod
    def article_story(conn: Connection, article_id: int) -> tuple[bool, int | None]:
        """(whether the article exists, its story id)."""
        row = conn.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)).fetchone()
        return (False, None) if row is None else (True, row[0])

    @staticmethod
    def story_articles(conn: Connection, story_id: int) -> list[int]:
        """The articles of a story, oldest first."""
        rows = conn.execute(
            "SELECT id FROM articles WHERE story_id = ? ORDER BY published, id", (story_id,)
        )
        return [int(r[0]) for r in rows]

    @staticmethod
    def resolve(conn: Connection, story_id: int) -> int:
        """Follow merges, so that an old story id leads to its story."""
        seen: set[int] = set()
        current = story_id
        while current not in seen:
            seen.add(current)
            row = conn.execute(
                "SELECT into_id FROM story_merges WHERE absorbed = ?", (current,)
            ).fetchone()
            if row is None:
                return current
            current = int(row[0])
        return current

    @staticmethod
    def story_ids(conn: Connection) -> set[int]:
        """Ids of every story that has articles."""
        rows = conn.execute("SELECT DISTINCT story_id FROM articles WHERE story_id IS NOT NULL")
        return {int(r[0]) for r in rows}

    @staticmethod
    def urls(conn: Connection, article_ids: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for chunk in _chunks(sorted(set(article_ids))):
            rows = conn.execute(
                f"SELECT id, url FROM articles WHERE id IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            found.update({int(r[0]): str(r[1]) for r in rows})
        return found

    @staticmethod
    def ids_by_url(conn: Connection, urls: Sequence[str]) -> dict[str, int]:
        """Article ids of ``urls`` (matched by normalised url), for corrections from an export."""
        keys = {url_key(u): u for u in urls}
        found: dict[str, int] = {}
        for chunk in _chunks(list(keys)):
            rows = conn.execute(
                "SELECT url_key, id FROM articles "
                f"WHERE url_key IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            found.update({keys[str(r[0])]: int(r[1]) for r in rows})
        return found

    @staticmethod
    def missing_vectors(conn: Connection, article_ids: Sequence[int], model: str) -> list[int]:
        """Which articles lack a title or body vector of ``model`` (a story is labelled from
        them)."""
        missing: list[int] = []
        for chunk in _chunks(sorted(set(article_ids))):
            rows = conn.execute(
                f"SELECT a.id FROM articles a WHERE a.id IN ({', '.join('?' * len(chunk))}) "
                "AND (SELECT count(*) FROM embeddings e WHERE e.article_id = a.id "
                "AND e.model = ? AND e.field IN ('title', 'body')) < 2",
                (*chunk, model),
            )
            missing.extend(int(r[0]) for r in rows)
        return missing

    @staticmethod
    def place(
        conn: Connection, placements: Sequence[tuple[int, int | None]], when: datetime
    ) -> None:
        """Put articles in stories: (article id, story id) pairs."""
        conn.executemany(
            "UPDATE articles SET story_id = ?, clustered = ? WHERE id = ?",
            [(story, iso(when), article) for article, story in placements],
        )

    # merges ----------------------------------------------------------------------------------

    @staticmethod
    def merges(conn: Connection, absorbed: Sequence[int]) -> list[tuple[int, int, str]]:
        """The story_merges rows of some absorbed ids: (absorbed, into, when)."""
        found: list[tuple[int, int, str]] = []
        for chunk in _chunks(sorted(set(absorbed))):
            rows = conn.execute(
                "SELECT absorbed, into_id, merged FROM story_merges "
                f"WHERE absorbed IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            found.extend((int(r[0]), int(r[1]), str(r[2])) for r in rows)
        return found

    @staticmethod
    def merged_into(conn: Connection, story_id: int) -> list[int]:
        rows = conn.execute(
            "SELECT absorbed FROM story_merges WHERE into_id = ? ORDER BY absorbed", (story_id,)
        )
        return [int(r[0]) for r in rows]

    @staticmethod
    def forget_merges(conn: Connection, absorbed: Sequence[int]) -> None:
        conn.executemany(
            "DELETE FROM story_merges WHERE absorbed = ?", [(story,) for story in absorbed]
        )

    @staticmethod
    def restore_merges(conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        conn.executemany(
            "INSERT INTO story_merges (absorbed, into_id, merged) VALUES (?, ?, ?) "
            "ON CONFLICT (absorbed) DO UPDATE SET into_id = excluded.into_id, "
            "merged = excluded.merged",
            [(int(a), int(b), str(c)) for a, b, c in rows],
        )


def unclustered_copy(source: Location, target: Path) -> None:
    """Copy the database at ``source`` to a new SQLite file ``target`` with every article in no
    story, and no stories, merges or corrections: ready to be clustered afresh, vectors kept.
    A PostgreSQL source is copied row by row (the scratch copy is SQLite on either engine)."""
    if target.exists():
        raise StorageError(f"{target} exists already; a fresh copy needs a new file")
    if is_postgres(source):
        from aggregator.store.postgres.copy import copy_to_sqlite

        copy_to_sqlite(str(source), target)
    else:
        reading = connect(Path(source), readonly=True)
        try:
            copying = connect(target)
            try:
                reading.backup(copying)
            finally:
                copying.close()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot copy {source} to {target}: {exc}") from exc
        finally:
            reading.close()
    writing = connect(target)
    try:
        with writing:
            writing.execute("UPDATE articles SET story_id = NULL, clustered = NULL")
            for table in ("stories", "story_merges", "corrections"):
                writing.execute(f"DELETE FROM {table}")
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot copy {source} to {target}: {exc}") from exc
    finally:
        writing.close()


class CorrectionQueries(Queries):
    """The reader's side: the history of corrections and the merges that led into a story."""

    def corrections(self, *, limit: int | None = None) -> list[CorrectionRow]:
        """Every correction, the newest first."""
        if limit is None:
            rows = self._rows("SELECT * FROM corrections ORDER BY id DESC")
        else:
            rows = self._rows("SELECT * FROM corrections ORDER BY id DESC LIMIT ?", (limit,))
        return [_correction(r) for r in rows]

    def placements(self) -> dict[int, int]:
        """The story of every article that has one: article id -> story id."""
        rows = self._rows("SELECT id, story_id FROM articles WHERE story_id IS NOT NULL", ())
        return {int(r[0]): int(r[1]) for r in rows}

    def merged_into(self, story_id: int) -> list[int]:
        """Story ids that now lead to ``story_id`` because they were merged into it."""
        rows = self._rows(
            "SELECT absorbed FROM story_merges WHERE into_id = ? ORDER BY absorbed", (story_id,)
        )
        return [int(r[0]) for r in rows]

    def story_corrections(self, story_id: int) -> list[CorrectionRow]:
        """Corrections in force that name ``story_id``, the newest first."""
        rows = self._rows(
            "SELECT * FROM corrections WHERE undone IS NULL AND (story_id = ? OR target_id = ?) "
            "ORDER BY id DESC",
            (story_id, story_id),
        )
        return [_correction(r) for r in rows]
