"""Readers' corrections: the constraints they put on the clusterer, and the corrections applied to
a real database of either engine through the pipeline (a hash embedder here; the real model in
test_cli)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import dbs
import pytest
from faultserver import HashEmbedder
from test_cluster import AMPERE, LISTING, MEETING, XIAOMI, doc

from aggregator.cluster import Clusterer, ClusterSettings, Constraints, Correction
from aggregator.config import Settings
from aggregator.entities import KnowledgeBase
from aggregator.errors import CorrectionError
from aggregator.evaluate import check_corrections
from aggregator.pipeline import Pipeline
from aggregator.pipeline.corrections import Corrections
from aggregator.store import Store
from aggregator.store.engine import Location

REPO = Path(__file__).resolve().parent.parent
STRICT = ClusterSettings(join_threshold=1.01, merge_threshold=0.3)


def apart(first: set[int], second: set[int]) -> Constraints:
    return Constraints.from_corrections([Correction(frozenset(first), frozenset(second))])


# --- the clusterer --------------------------------------------------------------------------------


def test_consolidation_never_merges_stories_a_reader_split() -> None:
    def fragments(constraints: Constraints | None) -> Clusterer:
        c = Clusterer(STRICT, constraints)
        c.add(doc(1, *AMPERE))
        c.add(doc(2, *AMPERE, hours=1))
        c.add(doc(3, *XIAOMI, hours=2))
        return c

    free = fragments(None)
    assert [(m.absorbed, m.into) for m in free.consolidate()] == [(2, 1)]  # what it would do
    kept = fragments(apart({2}, {1}))
    assert kept.consolidate() == []
    assert kept.stories() == {1: [1], 2: [2], 3: [3]}
    # a new article of the same event may still join either story, and they stay two
    normal = Clusterer(constraints=apart({2}, {1}))
    normal.load([(1, doc(1, *AMPERE)), (2, doc(2, *AMPERE, hours=1))])
    joined = normal.add(doc(4, *AMPERE, hours=3))
    assert not joined.created and joined.story_id in (1, 2)
    assert normal.consolidate() == []


def test_consolidation_still_merges_what_no_correction_names() -> None:
    c = Clusterer(STRICT, apart({3}, {1}))
    c.add(doc(1, *AMPERE))
    c.add(doc(2, *AMPERE, hours=1))
    c.add(doc(3, *XIAOMI, hours=2))
    assert [(m.absorbed, m.into) for m in c.consolidate()] == [(2, 1)]


def glued(constraints: Constraints | None) -> Clusterer:
    c = Clusterer(ClusterSettings(join_threshold=0.0), constraints)
    for number, title in enumerate([*MEETING[:2], *LISTING, *MEETING[2:]], start=1):
        c.add(doc(number, title, hours=number))
    return c


def test_split_pass_never_parts_a_story_a_reader_merged() -> None:
    assert len(glued(None).split()) == 1  # what it would do: meeting and listing apart
    merged = Constraints.from_corrections(
        [Correction(moved=frozenset({3, 4, 5, 6}), joined=frozenset({1, 2, 7, 8}))]
    )
    kept = glued(merged)
    assert kept.split() == []
    assert len(kept.stories()) == 1


def test_an_article_moved_by_hand_stays_with_its_new_story() -> None:
    # article 3 (a listing report) was moved by hand to the meeting story; the split pass may part
    # the rest, but not take it away from the articles it was put with
    moved = Constraints.from_corrections(
        [Correction(moved=frozenset({3}), stayed=frozenset({4, 5, 6}), joined=frozenset({1, 2}))]
    )
    c = glued(moved)
    c.split()
    story_of = {a: s for s, members in c.stories().items() for a in members}
    assert story_of[3] == story_of[1] == story_of[2]


def test_a_later_correction_overrides_an_earlier_one() -> None:
    split = Correction(moved=frozenset({3, 4}), stayed=frozenset({1, 2}))
    merged_back = Correction(moved=frozenset({3, 4}), joined=frozenset({1, 2}))
    both = Constraints.from_corrections([split, merged_back])
    assert both.may_merge([1, 2], [3, 4])
    assert not both.may_part([1, 2], [3, 4])
    # a move out of a story merged by hand: the moved article leaves the group
    moved_out = Correction(moved=frozenset({4}), stayed=frozenset({1, 2, 3}), joined={9})  # type: ignore[arg-type]
    later = Constraints.from_corrections([merged_back, moved_out])
    assert later.may_part([1, 2, 3], [4, 9])
    assert not later.may_merge([1], [4])
    assert not later.may_part([4], [9])


# --- corrections on a real database -------------------------------------------------------------


class Gluing(Pipeline):
    """Everything joins one story; ``split_min`` says whether the split pass may part it."""

    split_min = 99

    def cluster_settings(self) -> ClusterSettings:
        return replace(super().cluster_settings(), join_threshold=0.0, split_min=self.split_min)


def records(titles: list[str], start: int = 0) -> list[dict[str, str]]:
    return [
        {
            "title": t,
            "text": t,
            "url": f"https://news.example/{start + n}",
            "published": f"2024-04-25T{8 + start + n:02d}:00:00Z",
            "source": f"s{start + n}",
        }
        for n, t in enumerate(titles)
    ]


def gluing(path: Location) -> tuple[Gluing, Corrections]:
    settings = Settings(db=path, entities=REPO / "data" / "entities.yaml")
    pipeline = Gluing(
        settings, Store(settings.db), HashEmbedder(), KnowledgeBase.load(settings.entities)
    )
    return pipeline, Corrections(pipeline.store, model=pipeline.embedder.name)


def stories(path: Location) -> dict[int, list[str]]:
    with dbs.connect(path) as conn:
        rows = conn.execute("SELECT story_id, title FROM articles ORDER BY id").fetchall()
    found: dict[int, list[str]] = {}
    for story, title in rows:
        found.setdefault(story, []).append(title)
    return found


def ids(path: Location) -> dict[str, int]:
    with dbs.connect(path) as conn:
        return {t: i for i, t in conn.execute("SELECT id, title FROM articles")}


def test_split_pass_keeps_a_story_merged_by_hand_whole(
    make_db: Callable[[str], Location],
) -> None:
    titles = [*MEETING[:2], *LISTING[:3], *MEETING[2:]]
    for name, merge_back in (("control", False), ("merged", True)):
        path = make_db(name)
        pipeline, fix = gluing(path)
        pipeline.import_records(records(titles))
        (story,) = stories(path)
        article = ids(path)
        listing = [article[t] for t in LISTING[:3]]
        split = fix.split(story, listing, by="ana")
        assert sorted(stories(path)[split.target_id]) == sorted(LISTING[:3])
        if merge_back:
            fix.merge(split.target_id, into=story, by="ana")
        else:
            fix.undo()
        pipeline.split_min = 3
        _, report = pipeline.import_records(records([LISTING[3]], start=10))
        if merge_back:
            assert report.split_stories == 0
            assert len(stories(path)) == 1  # the new article joined, and nothing parted it
        else:
            assert report.split_stories == 1  # without the merge, the split pass parts it
        pipeline.close()


def test_bad_corrections_are_refused_and_change_nothing(db: Location) -> None:
    path = db
    pipeline, fix = gluing(path)
    pipeline.import_records(records([*MEETING[:2], *LISTING[:2]]))
    (story,) = stories(path)
    article = ids(path)
    before = stories(path)
    with dbs.connect(path) as conn:
        labels = conn.execute("SELECT * FROM stories").fetchall()
    cases = [
        (lambda: fix.move(99_999, story), "there is no article 99999"),
        (lambda: fix.move(article[MEETING[0]], 4242), "there is no story 4242"),
        (lambda: fix.move(article[MEETING[0]], story), f"already in story {story}"),
        (lambda: fix.merge(story, into=story), f"cannot merge story {story} into itself"),
        (lambda: fix.merge(4242, into=story), "there is no story 4242"),
        (lambda: fix.split(story, list(article.values())), "every article"),
        (lambda: fix.split(story, [99_999]), "there is no article 99999"),
        (lambda: fix.split(4242, [article[MEETING[0]]]), "there is no story 4242"),
        (lambda: fix.split(story, []), "at least one article"),
        (fix.undo, "no correction to undo"),
    ]
    for attempt, message in cases:
        with pytest.raises(CorrectionError, match=message):
            attempt()
    assert stories(path) == before
    with dbs.connect(path) as conn:
        assert conn.execute("SELECT * FROM stories").fetchall() == labels
        assert conn.execute("SELECT count(*) FROM corrections").fetchone() == (0,)
    pipeline.close()


def test_undo_restores_stories_and_ids_of_a_merge(db: Location) -> None:
    path = db
    pipeline, fix = gluing(path)
    pipeline.import_records(records([*MEETING[:2], *LISTING[:2]]))
    (story,) = stories(path)
    article = ids(path)
    new = fix.split(story, [article[LISTING[0]], article[LISTING[1]]]).target_id
    fix.merge(new, into=story, by="bo")
    with dbs.connect(path) as conn:
        assert conn.execute(
            "SELECT into_id FROM story_merges WHERE absorbed = ?", (new,)
        ).fetchone()
    undone = fix.undo(by="cy")
    assert undone.kind == "merge" and undone.undone_by == "cy"
    assert sorted(stories(path)[new]) == sorted(LISTING[:2])
    with dbs.connect(path) as conn:
        assert (
            conn.execute("SELECT 1 FROM story_merges WHERE absorbed = ?", (new,)).fetchone() is None
        )
        headlines = dict(conn.execute("SELECT id, headline FROM stories"))
    assert headlines[new] in LISTING and headlines[story] in MEETING
    pipeline.close()


# --- what the current settings would have done without the corrections ----------------------


def test_each_correction_keeps_the_pairs_later_ones_left_it() -> None:
    split = Correction(moved=frozenset({3, 4}), stayed=frozenset({1, 2}))
    move = Correction(moved=frozenset({4}), stayed=frozenset({3}), joined=frozenset({1, 2}))
    first, second = Constraints.each([split, move])
    # the move took 4 back to 1 and 2: the split still keeps 3 apart from 1 and 2, and no more
    assert first == Constraints((), ((frozenset({3}), frozenset({1, 2})),))
    assert second.together == (frozenset({1, 2, 4}),)
    # pairs a clustering keeps: 3 apart from 1 and 2 (2 pairs); 4 with 1 and 2, 1 with 2 (3),
    # and 4 apart from 3 (1)
    assert first.kept_by({1: 10, 2: 10, 3: 30, 4: 10}) == (2, 2)
    assert second.kept_by({1: 10, 2: 10, 3: 30, 4: 10}) == (4, 4)
    assert second.kept_by({1: 10, 2: 20, 3: 30, 4: 30}) == (0, 4)
    assert second.kept_by({1: 10, 2: 10}) == (1, 1)  # articles deleted since are left out


def test_eval_counts_corrections_the_settings_would_have_made_unnecessary(db: Location) -> None:
    path = db  # on PostgreSQL, the fresh clustering runs on a SQLite copy of it
    pipeline, fix = gluing(path)
    pipeline.import_records(records([*MEETING, *LISTING]))
    (story,) = stories(path)
    article = ids(path)
    fix.split(story, [article[t] for t in LISTING], by="ana")
    pipeline.close()
    settings = Settings(db=path, entities=REPO / "data" / "entities.yaml")

    def build(cls: type[Pipeline]) -> Callable[[Settings], Pipeline]:
        return lambda s: cls(s, Store(s.db), HashEmbedder(), KnowledgeBase.load(s.entities))

    # clustered afresh by the settings that glued them, the two events are one story again
    glued = check_corrections(settings, build=build(Gluing))
    assert (glued.articles, glued.stories) == (8, 1)
    (verdict,) = glued.verdicts
    assert (verdict.verdict, verdict.kept, verdict.pairs) == ("needed", 6, 6 + 16)
    # the default settings part them as the reader did: the split was unnecessary with them
    plain = check_corrections(settings, build=build(Pipeline))
    assert [v.verdict for v in plain.verdicts] == ["unnecessary"]
    assert plain.count("unnecessary") == 1 and plain.count("needed") == 0
    # the database itself is untouched: one correction, the split in force
    assert sorted(stories(path)[verdict.correction.target_id]) == sorted(LISTING)
    with dbs.connect(path) as conn:
        assert tuple(conn.execute("SELECT count(*) FROM corrections").fetchone()) == (1,)


class Consolidating(Pipeline):
    """Nothing joins on arrival; consolidation alone makes stories, so the split halves of one
    event are merged again unless a correction forbids it."""

    def cluster_settings(self) -> ClusterSettings:
        return replace(super().cluster_settings(), join_threshold=1.01, merge_threshold=0.3)


def test_corrections_survive_a_change_of_model(make_db: Callable[[str], Location]) -> None:
    later = "Lei Jun showed Luca de Meo the Xiaomi SU7 at the Beijing Auto Show stand"
    for name, keep in (("control", False), ("kept", True)):
        path = make_db(name)
        settings = Settings(db=path, entities=REPO / "data" / "entities.yaml")
        kb = KnowledgeBase.load(settings.entities)
        with Consolidating(settings, Store(path), HashEmbedder(64), kb) as first:
            first.import_records(records(MEETING))
            (story,) = stories(path)
            article = ids(path)
            fix = Corrections(first.store, model=first.embedder.name)
            split = fix.split(story, [article[t] for t in MEETING[2:]], by="ana")
        if not keep:
            with Store(path) as store, store.transaction() as conn:
                conn.execute("DELETE FROM corrections")
        # another model: every article gets its vectors, the new one is clustered with them
        with Consolidating(settings, Store(path), HashEmbedder(32), kb) as second:
            _, report = second.import_records(records([later], start=10))
        assert report.embedded == len(MEETING) + 1
        models = dbs.query(
            path, "SELECT model, count(DISTINCT article_id) FROM embeddings GROUP BY model"
        )
        assert sorted(tuple(m) for m in models) == [("hash-bow-32", 5), ("hash-bow-64", 4)]
        found = stories(path)
        if keep:
            assert report.merged_stories == 1  # the new report joined one half, no more
            assert sorted(found[story]) != sorted(found[split.target_id])
            halves = [set(found[story]) & set(MEETING), set(found[split.target_id])]
            assert halves[0] == set(MEETING[:2]) and set(MEETING[2:]) <= halves[1]
            rows = dbs.query(path, "SELECT kind, undone FROM corrections")
            assert [tuple(r) for r in rows] == [("split", None)]
        else:
            assert len(found) == 1  # without the correction, the halves are one story again


def test_eval_needs_a_file_or_corrections_and_says_when_there_are_none(
    db: Location, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from aggregator.cli import cli
    from aggregator.store.engine import describe

    path = db
    Store(path).close()
    runner = CliRunner()
    neither = runner.invoke(cli, ["--db", str(path), "eval"])
    assert neither.exit_code == 2
    assert "give a labelled JSONL file to score, or --corrections" in neither.output
    both = runner.invoke(cli, ["--db", str(path), "eval", "gold.jsonl", "--corrections"])
    assert both.exit_code == 2 and "not both" in both.output
    none = runner.invoke(cli, ["--db", str(path), "eval", "--corrections"])
    assert none.exit_code == 0, none.output
    assert f"no corrections in force in {describe(path)}" in none.output
    missing = runner.invoke(cli, ["--db", str(tmp_path / "nothing.db"), "eval", "--corrections"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
