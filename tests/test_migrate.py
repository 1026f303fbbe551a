"""``aggregator migrate --to postgresql://...``: a SQLite database copied whole into PostgreSQL,
checked by counts and checksums, idempotent, resumable, and read back the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dbs
import pytest
from click.testing import CliRunner
from test_watch import BATCH_ONE, BATCH_TWO, T0, add, make_pipeline

from aggregator.cli import cli
from aggregator.models import Feed
from aggregator.pipeline.corrections import Corrections
from aggregator.store import Store
from aggregator.store.postgres import copy as copying
from aggregator.store.read import Reader
from aggregator.watch import run_watches


def build(path: Path) -> Path:
    """A SQLite database with something in every table: articles, vectors, stories, a merge
    or split, mentions, feeds with state, a run, a saved search with hits, a correction."""
    pipeline = make_pipeline(path)
    pipeline.import_records(BATCH_ONE)
    add(pipeline.store, "xiaomi", "xiaomi")
    pipeline.import_records(BATCH_TWO)
    run_watches(pipeline.store, pipeline.embedder, now=T0)
    store = pipeline.store
    store.sync_feeds([Feed("wire", "https://wire.example/feed.xml", "en", ("ev",))])
    store.update_feed("wire", etag='"v1"', consecutive_failures=2, next_due="2024-04-11T08:00:00Z")
    store.finish_run(store.start_run(T0), T0, "ok", {"new_articles": 6})
    fix = Corrections(store, model=pipeline.embedder.name)
    story = next(iter({r[0] for r in dbs.query(path, "SELECT story_id FROM articles")}))
    members = [
        r[0] for r in dbs.query(path, "SELECT id FROM articles WHERE story_id = ?", (story,))
    ]
    if len(members) > 1:
        fix.split(story, members[-1:], by="ana")
    pipeline.close()
    return path


def view(where: object) -> dict[str, object]:
    """What a reader sees, for comparing the copy with its source."""
    with Reader(where) as reader:  # type: ignore[arg-type]
        stories = reader.story_page(limit=100, now=datetime(2024, 4, 11, tzinfo=UTC)).stories
        return {
            "counts": reader.counts(),
            "stories": [(s.id, s.headline, s.n_articles, round(s.score, 6)) for s in stories],
            "xiaomi": sorted(h.id for h in reader.search_keyword("xiaomi")),
            "story": [a.id for a in reader.story(stories[0].id).articles],  # type: ignore[union-attr]
            "corrections": [c.as_dict() for c in reader.corrections()],
            "feeds": [(f["name"], f["etag"], f["consecutive_failures"]) for f in reader.feeds()],
            "runs": reader.last_run(),
        }


@pytest.fixture
def target(postgres: dbs.PostgresServer) -> object:
    url = postgres.new_database(migrated=False)
    yield url
    postgres.drop(url)


def test_migrate_copies_every_table_and_verifies_it(tmp_path: Path, target: str) -> None:
    source = build(tmp_path / "news.db")
    runner = CliRunner()
    first = runner.invoke(cli, ["--db", str(source), "migrate", "--to", target])
    assert first.exit_code == 0, first.output
    assert "MISMATCH" not in first.output and "tables verified" in first.output
    for table in ("articles", "embeddings", "stories", "feeds", "watch_hits", "corrections"):
        assert f"{table} " in first.output
    assert view(target) == view(source)
    hits = dbs.query(target, "SELECT count(*) FROM watch_hits")
    assert hits == dbs.query(source, "SELECT count(*) FROM watch_hits") and hits[0][0] > 0
    # again: nothing changes, and it still verifies
    again = runner.invoke(cli, ["--db", str(source), "migrate", "--to", target])
    assert again.exit_code == 0, again.output
    assert view(target) == view(source)
    # new rows get new ids: the id sequences moved past the copied ones
    with Store(target) as store:
        high = dbs.query(target, "SELECT max(id) FROM articles")[0][0]
        assert store.start_run(T0) > dbs.query(source, "SELECT max(id) FROM runs")[0][0]
        pipeline = make_pipeline(target)  # type: ignore[arg-type]
        pipeline.import_records([{**BATCH_ONE[0], "url": "https://other.example/1", "title": "n"}])
        pipeline.close()
        assert dbs.query(target, "SELECT max(id) FROM articles")[0][0] > high


def test_an_interrupted_migration_resumes_and_verifies(
    tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = build(tmp_path / "news.db")
    monkeypatch.setattr(copying, "BATCH", 2)

    def stop_midway(table: str, rows: int) -> None:
        if table == "embeddings" and rows >= 4:
            raise KeyboardInterrupt

    with Store(target) as store, pytest.raises(KeyboardInterrupt):
        copying.copy_to_postgres(source, store, progress=stop_midway)
    partial = dbs.query(target, "SELECT count(*) FROM embeddings")[0][0]
    assert 0 < partial < dbs.query(source, "SELECT count(*) FROM embeddings")[0][0]
    copied: dict[str, int] = {}
    with Store(target) as store:
        checks = copying.copy_to_postgres(
            source, store, progress=lambda table, rows: copied.__setitem__(table, rows)
        )
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert "articles" not in copied  # copied before the interruption: not read again
    assert view(target) == view(source)


def test_a_difference_is_reported_with_the_table(tmp_path: Path, target: str) -> None:
    source = build(tmp_path / "news.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(source), "migrate", "--to", target]).exit_code == 0
    with dbs.connect(target) as conn:
        conn.execute(
            "UPDATE stories SET headline = 'changed' WHERE id = (SELECT min(id) FROM stories)"
        )
    with Store(target) as store:
        job = copying.Copy(source, store)
        checks = {c.table: c.ok for c in job.verify()}
        job.close()
    assert checks["stories"] is False and checks["articles"] is True


def test_migrate_refuses_the_wrong_way_round(tmp_path: Path) -> None:
    runner = CliRunner()
    wrong = runner.invoke(cli, ["--db", str(tmp_path / "x.db"), "migrate", "--to", "y.db"])
    assert wrong.exit_code == 2 and "postgresql:// URL" in wrong.output
    missing = runner.invoke(
        cli, ["--db", str(tmp_path / "x.db"), "migrate", "--to", "postgresql://u@/d"]
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output
