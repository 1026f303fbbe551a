"""Every dashboard page under Streamlit's AppTest: on a small news database (on each engine), an
empty one, a missing one and a damaged one. Assertions are on what a reader sees."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import newsdb
import pytest
from dbs import PostgresServer, with_database
from streamlit.testing.v1 import AppTest

from aggregator.publish import top_document
from aggregator.store import Store
from aggregator.store.engine import Location, is_postgres
from aggregator.store.read import Reader

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "streamlit_app.py")
PAGES = [
    "app_pages/top_stories.py",
    "app_pages/story.py",
    "app_pages/search.py",
    "app_pages/entities.py",
    "app_pages/feeds.py",
]


@pytest.fixture
def news_copy(news: Location, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Location]:
    """The news database for a test to change: a copy of the file, or the same news built into
    a new PostgreSQL database (the dashboard's cached readers stay connected to the shared one,
    and a server copies only a database no one is connected to)."""
    if not is_postgres(news):
        copy = tmp_path / "copy.db"
        shutil.copy(news, copy)
        yield copy
        return
    server = request.getfixturevalue("postgres")
    url = server.new_database()
    try:
        yield newsdb.build(url)
    finally:
        server.drop(url)


@pytest.fixture
def use_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def choose(path: Location) -> None:
        monkeypatch.setenv("AGGREGATOR_DB", str(path))
        monkeypatch.setenv("AGGREGATOR_MODEL", "minilm")

    yield choose


def run(page: str | None = None, **params: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    if page:
        app.switch_page(page)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(app: AppTest) -> str:
    """Everything written on the page, for substring checks."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "text",
        "metric",
    ):
        for element in app.get(kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    parts += [str(link.proto.label) for link in app.get("page_link")]
    return "\n".join(parts).replace("\\", "")


# --- top stories -------------------------------------------------------------------------------


def test_top_stories_lists_ranked_cards_with_counts(news: Location, use_db) -> None:
    use_db(news)
    app = run()
    assert app.title[0].value == "Top stories"
    page = texts(app)
    assert "4 stories from 11 articles" in page
    with Reader(news) as reader:
        ranking = reader.top_stories(limit=10)
    headlines = [m.value.replace("\\", "") for m in app.markdown if m.value.startswith("**")]
    assert headlines == [f"**{rank}. {s.headline}**" for rank, s in enumerate(ranking, start=1)]
    assert "4 articles · 4 sources · languages: en, zh, hi" in page
    links = [link.proto for link in app.get("page_link")]
    assert len(links) == 4 and all(link.label == "Open story" for link in links)
    assert {link.query_string for link in links} == {f"story={s.id}" for s in ranking}


def test_top_stories_language_filter_narrows_the_list(news: Location, use_db) -> None:
    use_db(news)
    app = run()
    app.multiselect(key="top-lang").set_value(["de"]).run()
    assert not app.exception
    page = texts(app)
    assert "Showing 1–1 of 1 story" in page
    assert "EU imposes provisional duties" in page
    assert "Xiaomi SU7 deliveries" not in page


def test_top_stories_source_filter(news: Location, use_db) -> None:
    use_db(news)
    app = run()
    app.multiselect(key="top-source").set_value(["汽车日报"]).run()
    page = texts(app)
    assert "Xiaomi SU7 deliveries pass 10,000" in page
    assert "Toyota" not in page


def test_hostile_title_is_escaped_not_rendered(news: Location, use_db) -> None:
    use_db(news)
    app = run()
    raw = [m.value for m in app.markdown if "Tesla recall" in m.value]
    assert raw, "the hostile story should be listed"
    # Every markdown character is escaped, so no link and no bold can come out of it.
    assert "\\[click\\]\\(javascript\\:alert\\(1\\)\\)" in raw[0]
    assert "\\*\\*urgent\\*\\*" in raw[0]


# --- story -------------------------------------------------------------------------------------


def test_story_page_shows_sources_entities_and_related(news: Location, use_db) -> None:
    use_db(news)
    story_id = newsdb.story_of(news, newsdb.XIAOMI[0][3])
    app = run("app_pages/story.py", story=str(story_id))
    assert (
        app.title[0].value.replace("\\", "")
        == "Xiaomi SU7 deliveries pass 10,000 in under three weeks"
    )
    assert [m.value for m in app.metric] == ["4", "4", "3"]
    expanders = [e.label for e in app.expander]
    assert sorted(expanders) == sorted(
        [
            "AutoWire · 1 article",
            "Voltwire · 1 article",
            "汽车日报 · 1 article",
            "ऑटो हिंदी · 1 article",
        ]
    )
    page = texts(app)
    assert "Lead article:" in page
    assert "[小米SU7交付量突破1万台](https://qiche.example/xiaomi-su7)" in page
    labels = [link.proto.label.replace("\\", "") for link in app.get("page_link")]
    assert any(label.startswith("Xiaomi · ") for label in labels)
    related = [link.proto for link in app.get("page_link") if "similarity" in link.proto.label]
    assert related and all(link.query_string != f"story={story_id}" for link in related)


def test_story_page_never_links_a_javascript_url(news: Location, use_db) -> None:
    use_db(news)
    story_id = newsdb.story_of(news, "Tesla recall [click](javascript:alert(1)) now **urgent**")
    app = run("app_pages/story.py", story=str(story_id))
    bodies = "\n".join(m.value for m in app.markdown)
    assert "](javascript" not in bodies
    assert "Tesla recall" in bodies.replace("\\", "")


def test_merged_story_id_resolves_to_its_story(news_copy: Location, use_db) -> None:
    from aggregator.store import Store

    copy = news_copy
    target = newsdb.story_of(copy, newsdb.TOYOTA[0][3])
    with Store(copy) as store, store.transaction() as conn:
        conn.execute("INSERT INTO story_merges VALUES (9001, ?, '2024-05-02T00:00:00Z')", (target,))
    use_db(copy)
    app = run("app_pages/story.py", story="9001")
    assert f"Story #9001 was merged into this one (#{target})." in texts(app)
    assert "Toyota" in app.title[0].value
    assert app.query_params["story"] == str(target)


def test_unknown_and_malformed_story_ids_give_messages(news: Location, use_db) -> None:
    use_db(news)
    assert "There is no story #424242" in texts(run("app_pages/story.py", story="424242"))
    assert "is not a story id" in texts(run("app_pages/story.py", story="drop table"))


# --- search ------------------------------------------------------------------------------------


def test_keyword_search_groups_by_story_and_exports_csv(news: Location, use_db) -> None:
    use_db(news)
    app = run("app_pages/search.py")
    app.text_input(key="search-query").input("tariffs").run()
    assert not app.exception
    page = texts(app)
    # the Voltwire headline with "tariffs" first, then AutoWire's "tariff rates" (same stem)
    assert "**2 articles** in **1 story**" in page
    exact = page.index("Brussels hits Chinese EV makers with tariffs up to 38 percent")
    assert exact < page.index("EU imposes provisional duties of up to 38% on Chinese electric")
    groups = [link.proto.label.replace("\\", "") for link in app.get("page_link")]
    assert len(groups) == 1 and groups[0].startswith("**EU imposes provisional duties")
    button = app.get("download_button")
    assert len(button) == 1


def test_search_phrase_prefix_and_language_filter(news: Location, use_db) -> None:
    use_db(news)
    app = run("app_pages/search.py")
    app.text_input(key="search-query").input("Strafzöll*").run()
    assert "EU verhängt Strafzölle" in texts(app)
    app.text_input(key="search-query").input('"record annual"').run()
    page = texts(app)
    assert "**2 articles** in **1 story**" in page and "Hybrids carry Toyota" in page
    app.text_input(key="search-query").input('"annual record"').run()
    assert "No matches" in texts(app)  # a phrase keeps its word order
    app.text_input(key="search-query").input("BYD").run()
    assert "**4 articles** in **1 story**" in texts(app)
    app.multiselect(key="search-lang").set_value(["fr"]).run()
    page = texts(app)
    assert "**1 article** in **1 story**" in page and "Bruxelles impose" in page


def test_search_without_matches_says_so(news: Location, use_db) -> None:
    use_db(news)
    app = run("app_pages/search.py")
    app.text_input(key="search-query").input("zeppelin").run()
    assert "No matches" in texts(app)


# --- companies and people ----------------------------------------------------------------------


def test_entity_page_shows_aliases_counts_and_stories(news: Location, use_db) -> None:
    use_db(news)
    app = run("app_pages/entities.py", entity="xiaomi")
    assert app.header[0].value == "Xiaomi"
    page = texts(app)
    assert "小米" in page and "श्याओमी" in page
    assert app.metric[0].value == "4"  # four articles name Xiaomi, in three scripts
    labels = [link.proto.label.replace("\\", "") for link in app.get("page_link")]
    assert len(labels) == 1 and labels[0].startswith("Xiaomi SU7 deliveries pass 10,000")


def test_entity_picker_switches_entity(news: Location, use_db) -> None:
    use_db(news)
    app = run("app_pages/entities.py", entity="xiaomi")
    app.selectbox(key="entity-pick").set_value("toyota").run()
    assert app.header[0].value == "Toyota"
    assert app.query_params["entity"] == "toyota"


# --- feeds -------------------------------------------------------------------------------------


def test_feeds_page_shows_health_and_last_run(news: Location, use_db) -> None:
    use_db(news)
    app = run("app_pages/feeds.py")
    frame = app.dataframe[0].value
    assert list(frame["feed"]) == ["AutoWire", "Carblog"]
    carblog = frame[frame["feed"] == "Carblog"].iloc[0]
    assert carblog["HTTP"] == 404 and bool(carblog["paused"]) is True
    assert carblog["failures in a row"] == 3 and carblog["last error"] == "HTTP 404 Not Found"
    page = texts(app)
    assert "status **partial**" in page
    assert "Partial: not every feed is healthy after this refresh (1 failed)" in page
    assert "Carblog: HTTP 404 Not Found" in page
    healthy, failing, paused = (m.value for m in app.metric[-3:])
    assert (healthy, failing, paused) == ("1", "0", "1")


def test_feeds_table_shows_long_urls_and_errors_in_full(news_copy: Location, use_db) -> None:
    from datetime import UTC, datetime

    from aggregator.store import Store

    copy = news_copy
    url = "https://carblog.example/feeds/" + "/".join(f"section-{n}" for n in range(12)) + "/rss"
    error = "transient: " + " ".join(f"upstream proxy said no ({n})" for n in range(14))
    with Store(copy) as store:
        store.update_feed("Carblog", url=url, last_error=error, paused=0)
        run_id = store.start_run(datetime.now(UTC))
        report = {"status": "partial", "feeds_ok": 1, "feeds_failing": 1, "feeds_paused": 0}
        store.finish_run(run_id, datetime.now(UTC), "partial", report)
    use_db(copy)
    app = run("app_pages/feeds.py")
    frame = app.dataframe[0].value
    carblog = frame[frame["feed"] == "Carblog"].iloc[0]
    assert carblog["url"] == url and carblog["last error"] == error  # the data is whole ...
    proto = app.dataframe[0].proto
    assert proto.row_height > 64  # ... the grid wraps cells of rows this tall ...
    columns = json.loads(proto.columns)
    assert columns["url"]["width"] == "large" and columns["last error"]["width"] == "large"
    shown = [t.value for t in app.text]  # ... and the troubled feed is spelt out in plain text
    assert f"{url}\n{error}" in shown
    page = texts(app)
    assert "Feeds with errors (1)" in page
    assert "Partial: not every feed is healthy after this refresh (1 failing, 0 paused)" in page


# --- states ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_empty_database_says_how_to_fill_it(page: str, use_db, db: Location) -> None:
    use_db(newsdb.empty(db))
    app = run(page)
    page_text = texts(app)
    if page.endswith("feeds.py"):
        assert "No refresh has run yet" in page_text
    else:
        assert "No stories yet — run `aggregator refresh`" in page_text


@pytest.mark.parametrize("page", PAGES)
def test_missing_database_is_a_message(page: str, use_db, tmp_path: Path) -> None:
    use_db(tmp_path / "nowhere" / "missing.db")  # a file; a server's is the test below
    app = run(page)
    assert "No database at" in texts(app)


@pytest.mark.parametrize("page", PAGES)
def test_a_database_the_server_does_not_have_is_a_message(
    page: str, use_db, postgres: PostgresServer
) -> None:
    use_db(with_database(postgres.url, "no_such_news"))
    page_text = texts(run(page))
    assert "The database cannot be read: cannot connect to" in page_text
    assert "no_such_news" in page_text


@pytest.mark.parametrize("page", PAGES)
def test_corrupt_database_is_a_message(page: str, use_db, tmp_path: Path) -> None:
    # SQLite only: a damaged file; a server does not hand out damaged databases
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database at all" * 100)
    use_db(broken)
    app = run(page)
    assert "The database cannot be read" in texts(app)


def test_running_refresh_is_announced(news_copy: Location, use_db) -> None:
    from datetime import UTC, datetime

    from aggregator.store import Store

    copy = news_copy
    with Store(copy) as store:
        store.start_run(datetime.now(UTC))
    use_db(copy)
    assert "A refresh is running right now" in texts(run())


def test_top_stories_offers_the_atom_feed_of_top_stories(news: Location, use_db) -> None:
    use_db(news)
    app = run()
    assert not app.exception
    buttons = [b.proto for b in app.get("download_button")]
    assert [b.label for b in buttons] == ["Top stories as Atom"]
    with Reader(news) as reader:
        document = top_document(reader)
        ranking = reader.top_stories(limit=30)
    parsed = feedparser.parse(document)
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == [s.headline for s in ranking]


RIVIAN = {
    "url": "https://autowire.example/rivian-r2",
    "title": "Rivian opens R2 reservations with a starting price of $45,000",
    "text": "Rivian unveiled its smaller R2 SUV and opened reservations at a starting price of "
    "$45,000; deliveries begin in the first half of 2026 from its Normal, Illinois plant.",
    "published": "2024-05-03T09:00:00Z",
    "language": "en",
    "source": "AutoWire",
}


def test_a_refresh_elsewhere_shows_on_the_next_rerun(
    news_copy: Location, use_db, tmp_path: Path
) -> None:
    use_db(news_copy)
    app = run()
    assert "4 stories from 11 articles" in texts(app)
    source = tmp_path / "more.jsonl"
    source.write_text(json.dumps(RIVIAN) + "\n", encoding="utf-8")
    # another process writes, as a refresh on another machine would
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--db", str(news_copy), "--model", "minilm",
         "import", str(source)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    app.run()  # the same session's next rerun, well within any cache's lifetime
    assert not app.exception
    page = texts(app)
    assert "5 stories from 12 articles" in page
    assert RIVIAN["title"].replace("$", "") in page.replace("$", "")


def test_every_page_says_when_the_last_refresh_was_partial(news_copy: Location, use_db) -> None:
    with Store(news_copy) as store:
        started = datetime.now(UTC) - timedelta(minutes=5)
        run_id = store.start_run(started)
        report = {"feeds_failing": 2, "feeds_paused": 1, "feeds_ok": 9}
        store.finish_run(run_id, started + timedelta(minutes=1), "partial", report)
    use_db(news_copy)
    for page in (None, "app_pages/search.py"):
        warnings = [w.value for w in run(page).warning]
        assert any("was partial: 2 feeds failing, 1 feed paused" in w for w in warnings), warnings
