"""The story page's excerpts and charts: whole words, and time axes a reader can read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import newsdb
import pytest
from conftest import shared_db
from dbs import BACKENDS
from streamlit.testing.v1 import AppTest

from aggregator.store import Store
from aggregator.store.engine import Location
from aggregator.text import excerpt

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "streamlit_app.py")
LONG = " ".join(["Xiaomi's factory in Beijing adds a second shift for the SU7 sedan."] * 12)


@pytest.fixture(scope="module", params=BACKENDS)
def news(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Location]:
    """The shared test news, with one article long enough to need an excerpt, on each engine."""
    with shared_db(request, tmp_path_factory) as db:
        newsdb.build(db)
        # the store's connection: the search index's triggers need its functions
        with Store(db) as store, store.transaction() as conn:
            conn.execute(
                "UPDATE articles SET text = ? WHERE url = ?",
                (LONG, "https://voltwire.example/su7-deliveries"),
            )
        yield db


def run(db: Location, page: str, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("AGGREGATOR_DB", str(db))
    monkeypatch.setenv("AGGREGATOR_MODEL", "minilm")
    app = AppTest.from_file(APP, default_timeout=120)
    app.switch_page(page)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def charts(app: AppTest) -> list[dict[str, object]]:
    found = []
    stack = [app._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None) or {}
        stack.extend(children.values() if isinstance(children, dict) else children)
        if getattr(node, "type", "") == "vega_lite_chart":
            found.append(json.loads(node.proto.spec))
    return found


# --- excerpts --------------------------------------------------------------------------------


def test_excerpt_ends_between_words_with_an_ellipsis() -> None:
    text = "The quick brown fox jumps over the lazy dog"
    assert excerpt(text, 20) == "The quick brown…"
    assert excerpt(text, 100) == text
    assert excerpt("one,  two\nthree", 100) == "one, two three"
    assert excerpt("Renault, Nissan, Mitsubishi and Dacia", 20) == "Renault, Nissan…"


def test_excerpt_of_unspaced_text_keeps_letters_whole() -> None:
    assert excerpt("小米汽车今天宣布交付量突破一万台", 8) == "小米汽车今天宣…"
    # कि is क plus a vowel sign: the cut never leaves the sign behind
    cut = excerpt("कि" * 10, 8)
    assert cut == "किकिकि…"
    assert excerpt("नमस्ते दुनिया के लोगों", 16) == "नमस्ते दुनिया…"


def test_story_page_excerpt_is_cut_at_a_word_with_an_ellipsis(
    news: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    story_id = newsdb.story_of(news, newsdb.XIAOMI[0][3])
    app = run(news, "app_pages/story.py", monkeypatch, story=str(story_id))
    shown = [t.value for t in app.text if t.value.startswith("Xiaomi's factory")]
    assert shown, [t.value for t in app.text]
    (text,) = shown
    assert text.endswith("…") and len(text) <= 400
    assert LONG.startswith(text[:-1]) and LONG[len(text) - 1] == " "
    # the short ones are shown whole
    assert any(t.value == newsdb.XIAOMI[0][4] for t in app.text)


# --- charts ----------------------------------------------------------------------------------


def test_story_coverage_chart_has_a_time_axis(
    news: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    story_id = newsdb.story_of(news, newsdb.XIAOMI[0][3])
    app = run(news, "app_pages/story.py", monkeypatch, story=str(story_id))
    (spec,) = charts(app)
    assert spec["encoding"]["x"]["type"] == "temporal"  # ticks, not one label per hour


def test_mentions_over_time_has_every_day_on_a_time_axis(
    news: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run(news, "app_pages/entities.py", monkeypatch, entity="xiaomi")
    (spec,) = charts(app)
    assert spec["encoding"]["x"]["type"] == "temporal"


def test_every_day_fills_quiet_days_with_zero() -> None:
    import sys

    sys.path.insert(0, str(Path(APP).parent))
    import view

    days = view.every_day([("2024-04-28", 2), ("2024-05-01", 1)])
    assert [(d.strftime("%Y-%m-%d"), n) for d, n in days] == [
        ("2024-04-28", 2),
        ("2024-04-29", 0),
        ("2024-04-30", 0),
        ("2024-05-01", 1),
    ]
    assert view.every_day([]) == []
    frame = view.time_frame([(datetime(2024, 5, 1, 9, tzinfo=UTC), 3)], "time (UTC)")
    assert str(frame["time (UTC)"].dtype).startswith("datetime64")
    assert frame["time (UTC)"][0].hour == 9  # shown in UTC, as the axis title says
