"""The story page's corrections under Streamlit's AppTest, on copies of the small news database
(on each engine): what a click changes in the database, and that a read-only deployment shows
no editing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import newsdb
import pytest
from conftest import shared_db
from dbs import BACKENDS
from test_dashboard import run, texts

from aggregator.store.engine import Location, is_postgres

STORY = "app_pages/story.py"


@pytest.fixture(scope="module", params=BACKENDS)
def original(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Location]:
    with shared_db(request, tmp_path_factory) as db:
        yield newsdb.build(db)


@pytest.fixture
def news(
    original: Location,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Location]:
    """A copy of the news for one test (no one connects to the original, so a server copies
    it too)."""
    server = request.getfixturevalue("postgres") if is_postgres(original) else None
    if server is None:
        copy: Location = tmp_path / "news.db"
        shutil.copy(original, copy)
    else:
        copy = server.new_database(like=str(original))
    monkeypatch.setenv("AGGREGATOR_DB", str(copy))
    monkeypatch.setenv("AGGREGATOR_MODEL", "minilm")
    monkeypatch.delenv("AGGREGATOR_READONLY", raising=False)
    yield copy
    if server is not None:
        server.drop(str(copy))


def article_id(db: Location, url: str) -> int:
    return int(newsdb.query(db, "SELECT id FROM articles WHERE url = ?", (url,))[0][0])


def story_of(db: Location, url: str) -> int:
    return int(newsdb.query(db, "SELECT story_id FROM articles WHERE url = ?", (url,))[0][0])


def test_split_selected_articles_into_a_new_story(news: Location) -> None:
    tariffs = story_of(news, newsdb.TARIFFS[0][2])
    app = run(STORY, story=str(tariffs))
    assert "Correct this story" in texts(app)
    app.text_input(key="fix-by").set_value("ana")
    for _, _, url, *_ in newsdb.TARIFFS[2:]:
        app.checkbox(key=f"fix-split-{tariffs}-{article_id(news, url)}").check()
    app.run()  # as in the browser, where every tick reruns the page
    app.button(key="fix-split").click().run()
    assert not app.exception, [e.value for e in app.exception]
    german, french = (story_of(news, r[2]) for r in newsdb.TARIFFS[2:])
    assert german == french != tariffs
    assert story_of(news, newsdb.TARIFFS[0][2]) == story_of(news, newsdb.TARIFFS[1][2]) == tariffs
    assert newsdb.query(news, "SELECT kind, made_by FROM corrections") == [("split", "ana")]
    assert f"split 2 articles off story {tariffs} into new story {german}" in texts(app)


def test_merge_into_a_related_story_and_undo(news: Location) -> None:
    toyota = story_of(news, newsdb.TOYOTA[0][2])
    xiaomi = story_of(news, newsdb.XIAOMI[0][2])
    app = run(STORY, story=str(toyota))
    app.text_input(key="fix-find").set_value("Xiaomi").run()
    app.selectbox(key="fix-target").set_value(xiaomi)
    app.button(key="fix-merge").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert story_of(news, newsdb.TOYOTA[0][2]) == xiaomi
    assert app.query_params["story"] == str(xiaomi)
    assert f"merged story {toyota} into {xiaomi}" in texts(app)
    app.button(key="fix-undo").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert story_of(news, newsdb.TOYOTA[0][2]) == toyota
    assert newsdb.query(news, "SELECT kind, undone IS NOT NULL FROM corrections") == [("merge", 1)]


def test_move_an_article_to_a_story_found_by_search(news: Location) -> None:
    hostile = story_of(news, newsdb.HOSTILE_URL)
    toyota = story_of(news, newsdb.TOYOTA[0][2])
    app = run(STORY, story=str(hostile))
    app.text_input(key="fix-find").set_value("Toyota").run()
    app.selectbox(key="fix-target").set_value(toyota)
    app.selectbox(key="fix-article").set_value(article_id(news, newsdb.HOSTILE_URL))
    app.button(key="fix-move").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert story_of(news, newsdb.HOSTILE_URL) == toyota


def test_readonly_deployment_shows_no_editing(
    news: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGGREGATOR_READONLY", "1")
    app = run(STORY, story=str(story_of(news, newsdb.TARIFFS[0][2])))
    page = texts(app)
    assert "Coverage by source" in page
    assert "Correct this story" not in page
    assert not app.get("button") and not app.get("checkbox")
