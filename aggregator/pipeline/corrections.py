"""Readers' corrections: move an article, split a story, merge two, undo the last one.

Each correction is checked first (an unknown id, a move to the story the article is already in,
a merge of a story into itself or a split that would empty a story are refused with a
:class:`CorrectionError`, and nothing is written), then recorded as a fact (what, when, by whom)
and applied in the same transaction as the summaries of the stories it touches. Later clustering
reads the corrections in force as constraints (see :mod:`aggregator.cluster.constraints`).

An export carries the corrections with their articles named by url; :meth:`Corrections.replay`
applies them to another database (or the same one rebuilt) after its articles are imported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aggregator.errors import ConfigError, CorrectionError
from aggregator.pipeline.derive import label_stories
from aggregator.store import Store, Transaction, parse_iso
from aggregator.store.corrections import KINDS, CorrectionRow, CorrectionTable

table = CorrectionTable


@dataclass(frozen=True)
class Replayed:
    """What :meth:`Corrections.replay` did with the corrections of an export."""

    applied: int = 0
    known: int = 0  # already recorded here (the export came from this database)
    skipped: int = 0  # none of their articles are here


def portable_correction(record: Any, where: str) -> dict[str, Any]:
    """A correction line of an export, checked; ``where`` names the file and line for errors."""
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: 'correction' must be a JSON object")
    if record.get("kind") not in KINDS:
        raise ConfigError(f"{where}: correction kind must be one of {', '.join(KINDS)}")
    if parse_iso(str(record.get("made") or "")) is None:
        raise ConfigError(f"{where}: correction needs 'made', an ISO 8601 time")
    for key in ("moved", "stayed", "joined"):
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            raise ConfigError(f"{where}: correction {key!r} must be a list of article urls")
    if not record.get("moved"):
        raise ConfigError(f"{where}: correction names no moved article")
    return record


class Corrections:
    """Move, split, merge and undo on one store; stories are relabelled with ``model``'s
    vectors, as a refresh with the same settings would."""

    def __init__(
        self,
        store: Store,
        *,
        model: str,
        reader_language: str = "en",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.model = model
        self.reader_language = reader_language
        self.now = now

    # the four corrections -------------------------------------------------------------------

    def move(self, article_id: int, to_story: int, *, by: str | None = None) -> CorrectionRow:
        """Put one article in another story."""
        with self.store.derive_lock(), self.store.transaction() as conn:
            current = self._story_of(conn, article_id)
            target = self._story(conn, to_story)
            if target == current:
                raise CorrectionError(f"article {article_id} is already in story {target}")
            stayed = [a for a in table.story_articles(conn, current) if a != article_id]
            joined = table.story_articles(conn, target)
            self._check_vectors(conn, [*stayed, *joined, article_id])
            when = self.now()
            table.place(conn, [(article_id, target)], when)
            number = table.record(
                conn,
                kind="move",
                made=when,
                made_by=by,
                story_id=current,
                target_id=target,
                moved=[article_id],
                stayed=stayed,
                joined=joined,
                previous={"placements": [[article_id, current]]},
            )
            self._label(conn, {current, target}, when)
            return table.get(conn, number)

    def split(
        self, story_id: int, article_ids: Sequence[int], *, by: str | None = None
    ) -> CorrectionRow:
        """Take some articles out of a story into a new story; ``target_id`` is its id."""
        if not article_ids:
            raise CorrectionError("name at least one article to split off")
        with self.store.derive_lock(), self.store.transaction() as conn:
            story = self._story(conn, story_id)
            members = table.story_articles(conn, story)
            moved = list(dict.fromkeys(article_ids))
            for article in moved:
                if article not in members:
                    raise CorrectionError(
                        f"article {article} is not in story {story}: "
                        + self._whereabouts(conn, article)
                    )
            if len(moved) == len(members):
                raise CorrectionError(
                    f"that is every article of story {story}; split off only some of them"
                )
            stayed = [a for a in members if a not in moved]
            self._check_vectors(conn, members)
            new_id = self._new_story_id(conn, [a for a in members if a in moved])
            if new_id is None:
                raise CorrectionError(
                    f"each of articles {', '.join(map(str, moved))} names a story already; "
                    f"split off the other articles of story {story} instead"
                )
            when = self.now()
            removed = table.merges(conn, [new_id])
            table.place(conn, [(a, new_id) for a in moved], when)
            table.forget_merges(conn, [new_id])
            number = table.record(
                conn,
                kind="split",
                made=when,
                made_by=by,
                story_id=story,
                target_id=new_id,
                moved=moved,
                stayed=stayed,
                previous={
                    "placements": [[a, story] for a in moved],
                    "merges_removed": [list(r) for r in removed],
                },
            )
            self._label(conn, {story, new_id}, when)
            return table.get(conn, number)

    def merge(self, story_id: int, into: int, *, by: str | None = None) -> CorrectionRow:
        """Merge one story into another; its id then leads to the other."""
        with self.store.derive_lock(), self.store.transaction() as conn:
            absorbed = self._story(conn, story_id)
            target = self._story(conn, into)
            if absorbed == target:
                same = "" if story_id == into else f" (story {story_id} is now story {target})"
                raise CorrectionError(f"cannot merge story {target} into itself{same}")
            moved = table.story_articles(conn, absorbed)
            joined = table.story_articles(conn, target)
            self._check_vectors(conn, [*moved, *joined])
            when = self.now()
            repointed = table.merges(conn, table.merged_into(conn, absorbed))
            self.store.merge(conn, absorbed, target, when)
            number = table.record(
                conn,
                kind="merge",
                made=when,
                made_by=by,
                story_id=absorbed,
                target_id=target,
                moved=moved,
                joined=joined,
                previous={
                    "placements": [[a, absorbed] for a in moved],
                    "merge_added": absorbed,
                    "merges_repointed": [list(r) for r in repointed],
                },
            )
            self._label(conn, {target}, when)
            return table.get(conn, number)

    def undo(self, *, by: str | None = None) -> CorrectionRow:
        """Revert the last correction still in force; it stays in the history, marked undone."""
        with self.store.derive_lock(), self.store.transaction() as conn:
            last = table.last_in_force(conn)
            if last is None:
                raise CorrectionError("there is no correction to undo")
            previous = last.previous
            when = self.now()
            absorbed = previous.get("merge_added")
            if absorbed is not None:
                table.forget_merges(conn, [int(absorbed)])
            table.restore_merges(conn, previous.get("merges_repointed", []))
            table.restore_merges(conn, previous.get("merges_removed", []))
            touched: set[int] = set()
            placements: list[tuple[int, int | None]] = []
            for article, old in previous.get("placements", []):
                exists, now_in = table.article_story(conn, int(article))
                if not exists:
                    continue
                home = table.resolve(conn, int(old))
                placements.append((int(article), home))
                touched.add(home)
                if now_in is not None:
                    touched.add(int(now_in))
            self._check_vectors(conn, [a for s in touched for a in table.story_articles(conn, s)])
            table.place(conn, placements, when)
            table.mark_undone(conn, last.id, when, by)
            self._label(conn, touched, when)
            return table.get(conn, last.id)

    # corrections from an export -------------------------------------------------------------

    def replay(self, records: Iterable[dict[str, Any]]) -> Replayed:
        """Apply corrections of an export (articles named by url), oldest first.

        Each puts its moved articles where the correction put them (with the articles it
        joined; for a split, into a story of their own, apart from those that stayed) and is
        recorded, so that later clustering keeps it. Articles this database lacks are left out.
        """
        applied = known = skipped = 0
        for record in sorted(records, key=lambda r: str(r["made"])):
            made = parse_iso(str(record["made"])) or self.now()
            by = record.get("by")
            with self.store.derive_lock(), self.store.transaction() as conn:
                if table.already_recorded(conn, str(record["kind"]), made, by):
                    known += 1
                    continue
                ids = table.ids_by_url(
                    conn, [*record["moved"], *record.get("stayed", []), *record.get("joined", [])]
                )
                moved = [ids[u] for u in record["moved"] if u in ids]
                stayed = [ids[u] for u in record.get("stayed", []) if u in ids]
                joined = [ids[u] for u in record.get("joined", []) if u in ids]
                if not moved or (record["kind"] != "split" and not joined):
                    skipped += 1
                    continue
                self._replay_one(conn, str(record["kind"]), made, by, moved, stayed, joined)
                applied += 1
        return Replayed(applied, known, skipped)

    def _replay_one(
        self,
        conn: Transaction,
        kind: str,
        made: datetime,
        by: str | None,
        moved: list[int],
        stayed: list[int],
        joined: list[int],
    ) -> None:
        homes = {a: table.article_story(conn, a)[1] for a in [*moved, *stayed, *joined]}
        if any(story is None for story in homes.values()):
            raise CorrectionError("articles of a correction are not clustered yet")
        before = {a: int(homes[a] or 0) for a in moved}
        if kind == "split":
            target = self._free_story(conn, moved, stayed, before)
        else:
            target = Counter(int(homes[a] or 0) for a in joined).most_common(1)[0][0]
        if target is None:
            return  # no free id to name the split-off articles after; recorded below anyway
        when = self.now()
        changes = [(a, target) for a in moved if before[a] != target]
        table.place(conn, changes, when)
        table.forget_merges(conn, [target])
        origin = Counter(before.values()).most_common(1)[0][0]
        table.record(
            conn,
            kind=kind,
            made=made,
            made_by=by,
            story_id=origin,
            target_id=target,
            moved=moved,
            stayed=stayed,
            joined=joined,
            previous={"placements": [[a, before[a]] for a, _ in changes]},
        )
        self._label(conn, {*before.values(), target}, when)

    def _free_story(
        self,
        conn: Transaction,
        moved: list[int],
        stayed: list[int],
        before: dict[int, int],
    ) -> int | None:
        """The story the split-off articles go to: theirs when it holds none of the others,
        else a new one named after the first of them that names no story yet."""
        stories = set(before.values())
        if len(stories) == 1:
            story = next(iter(stories))
            if not set(table.story_articles(conn, story)) & set(stayed):
                return story
        return self._new_story_id(conn, moved)

    # helpers --------------------------------------------------------------------------------

    def _label(self, conn: Transaction, story_ids: set[int], when: datetime) -> None:
        label_stories(
            self.store,
            conn,
            story_ids,
            when,
            model=self.model,
            reader_language=self.reader_language,
        )

    @staticmethod
    def _story_of(conn: Transaction, article_id: int) -> int:
        exists, story = table.article_story(conn, article_id)
        if not exists:
            raise CorrectionError(f"there is no article {article_id}")
        if story is None:
            raise CorrectionError(
                f"article {article_id} is in no story yet: run `aggregator refresh` first"
            )
        return int(story)

    @staticmethod
    def _story(conn: Transaction, story_id: int) -> int:
        """The live story ``story_id`` leads to; an error when it has no articles."""
        resolved = table.resolve(conn, story_id)
        if not table.story_articles(conn, resolved):
            raise CorrectionError(f"there is no story {story_id}")
        return resolved

    @staticmethod
    def _whereabouts(conn: Transaction, article_id: int) -> str:
        exists, story = table.article_story(conn, article_id)
        if not exists:
            return f"there is no article {article_id}"
        return f"it is in story {story}" if story is not None else "it is in no story yet"

    @staticmethod
    def _new_story_id(conn: Transaction, articles: Sequence[int]) -> int | None:
        """Stories are named after their first article: the first of ``articles`` (in the
        order given, oldest first) whose id names no story yet."""
        taken = table.story_ids(conn)
        return next((a for a in articles if a not in taken), None)

    def _check_vectors(self, conn: Transaction, article_ids: Sequence[int]) -> None:
        missing = table.missing_vectors(conn, article_ids, self.model)
        if missing:
            raise CorrectionError(
                f"{len(missing)} article(s) of these stories have no {self.model} vectors yet "
                f"(article {missing[0]}): run `aggregator refresh` with this model first"
            )
