"""End to end: feeds served on 127.0.0.1 -> refresh -> a real database (a SQLite file and a
PostgreSQL server), with the real model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dbs
import pytest
from httpserver import LocalServer, Route

from aggregator.cluster import ClusterSettings
from aggregator.config import Settings
from aggregator.embed import LazyEmbedder
from aggregator.entities import KnowledgeBase
from aggregator.models import Feed
from aggregator.pipeline import Pipeline
from aggregator.store import Store
from aggregator.store.engine import Location

SITE = Path(__file__).parent / "fixtures" / "site"
REPO = Path(__file__).resolve().parent.parent
EXPECTED = json.loads((SITE / "expected.json").read_text())


def serve_site(server: LocalServer) -> list[Feed]:
    server.routes["/one/feed.xml"] = Route(
        (SITE / "feed-one.xml").read_bytes(), content_type="application/rss+xml"
    )
    server.routes["/two/feed.xml"] = Route(
        (SITE / "feed-two.xml").read_bytes(), content_type="application/atom+xml; charset=utf-8"
    )
    server.routes["/news/a1.html?utm_source=rss"] = Route((SITE / "a1.html").read_bytes())
    server.routes["/news/b1.html"] = Route((SITE / "b1.html").read_bytes())
    server.routes["/two/a2.html"] = Route((SITE / "a2.html").read_bytes())
    return [
        Feed("Example Motors", server.url("/one/feed.xml"), "en", ("ev",), allow_private=True),
        Feed("EV Courier", server.url("/two/feed.xml"), "en", ("industry",), allow_private=True),
    ]


def make_pipeline(db: Location) -> Pipeline:
    settings = Settings(db=db, entities=REPO / "data" / "entities.yaml")
    return Pipeline(
        settings, Store(settings.db), LazyEmbedder("minilm"), KnowledgeBase.load(settings.entities)
    )


@pytest.fixture
def pipeline(db: Location) -> Iterator[Pipeline]:
    built = make_pipeline(db)
    yield built
    built.close()


def articles(db: Location) -> dict[str, Any]:
    return dbs.rows_by(db, "SELECT * FROM articles", "title")


def test_refresh_stores_extracted_text_and_clusters_one_event(
    server: LocalServer, pipeline: Pipeline
) -> None:
    feeds = serve_site(server)
    report = pipeline.refresh(feeds)
    assert report.feeds_ok == 2 and report.feeds_failed == 0
    assert report.new_articles == 4
    stored = articles(pipeline.settings.db)
    for key in ("a1", "b1", "a2"):
        row = stored[EXPECTED[key]["title"]]
        assert not row["summary_only"]
        for paragraph in EXPECTED[key]["paragraphs"]:
            assert paragraph[:60] in row["text"]
        for chrome in ("cookies", "coupon", "0 comments", "All rights reserved", "Jane Doe writes"):
            assert chrome not in row["text"]
    paywalled = stored["Members-only: what the Ampere decision means for suppliers"]
    assert paywalled["summary_only"] == 1
    assert paywalled["text"].startswith("Renault's decision to drop the Ampere listing")
    a1, a2 = stored[EXPECTED["a1"]["title"]], stored[EXPECTED["a2"]["title"]]
    b1 = stored[EXPECTED["b1"]["title"]]
    assert a1["story_id"] is not None and a1["story_id"] == a2["story_id"]
    assert b1["story_id"] != a1["story_id"]
    assert a1["source"] != a2["source"]


def test_second_refresh_is_conditional_and_stores_nothing(
    server: LocalServer, pipeline: Pipeline
) -> None:
    feeds = serve_site(server)
    pipeline.refresh(feeds)
    before = len(server.requests)
    report = pipeline.refresh(feeds, force=True)
    second = server.requests[before:]
    assert report.new_articles == 0 and report.new_stories == 0
    assert report.feeds_unchanged == 2
    assert sorted(r.path for r in second) == ["/one/feed.xml", "/two/feed.xml"]
    assert all("if-none-match" in r.headers for r in second)
    assert len(articles(pipeline.settings.db)) == 4


def test_changed_guid_and_tracking_parameters_do_not_duplicate(
    server: LocalServer, pipeline: Pipeline
) -> None:
    feeds = serve_site(server)
    pipeline.refresh(feeds)
    changed = (
        (SITE / "feed-one.xml")
        .read_bytes()
        .replace(b"one-a1", b"one-a1-v2")
        .replace(b"?utm_source=rss", b"?utm_source=rss&amp;utm_medium=feed")
    )
    server.routes["/one/feed.xml"] = Route(changed, content_type="application/rss+xml")
    server.routes["/news/a1.html?utm_source=rss&utm_medium=feed"] = Route(
        (SITE / "a1.html").read_bytes()
    )
    report = pipeline.refresh(feeds, force=True)
    assert report.new_articles == 0
    assert len(articles(pipeline.settings.db)) == 4


def test_failed_feed_is_recorded_and_others_still_stored(
    server: LocalServer, pipeline: Pipeline
) -> None:
    feeds = serve_site(server)
    broken = Feed("Gone", server.url("/gone.xml"), "en", (), allow_private=True)
    server.routes["/gone.xml"] = Route(b"gone", status=410, content_type="text/plain")
    report = pipeline.refresh([*feeds, broken])
    assert report.feeds_failed == 1 and report.feeds_ok == 2
    assert "Gone" in report.failures and "410" in report.failures["Gone"]
    state = pipeline.store.feed_state("Gone")
    assert state.consecutive_failures == 1 and state.next_due is not None
    assert len(articles(pipeline.settings.db)) == 4


def test_embeddings_are_not_recomputed(server: LocalServer, pipeline: Pipeline) -> None:
    feeds = serve_site(server)
    pipeline.refresh(feeds)
    ((count,),) = dbs.query(pipeline.settings.db, "SELECT count(*) FROM embeddings")
    assert count == 8  # title and body for each of the four articles
    assert pipeline.embed_pending() == 0


def test_an_article_without_a_believable_date_is_stored_undated(
    server: LocalServer, pipeline: Pipeline
) -> None:
    # the fetch time stands in for display and ordering, but clustering must not read it as the
    # time of the event: a file imported without dates would otherwise look like one moment
    rss = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Undated</title>"
        "<link>https://undated.example/</link><description>d</description>"
        "<item><title>Stellantis names a new chief executive after months of search</title>"
        "<link>https://undated.example/a</link><guid>a</guid>"
        "<description>Stellantis said its board has chosen a new chief executive.</description>"
        "</item>"
        "<item><title>Volvo shows its next electric estate car to dealers in Sweden</title>"
        "<link>https://undated.example/b</link><guid>b</guid>"
        "<pubDate>Sat, 01 Jan 2101 10:00:00 GMT</pubDate>"
        "<description>Volvo showed dealers the estate car it will build in Ghent.</description>"
        "</item></channel></rss>"
    )
    server.routes["/undated.xml"] = Route(rss.encode(), content_type="application/rss+xml")
    pipeline.refresh([Feed("Undated", server.url("/undated.xml"), "en", (), allow_private=True)])
    pipeline.import_records(
        [
            {"title": "Ferrari confirms its first electric car", "text": "Ferrari said so."},
            {
                "title": "BMW opens its Debrecen plant",
                "text": "BMW opened the plant.",
                "published": "2024-04-20T09:00:00Z",
            },
        ]
    )
    rows = articles(pipeline.settings.db)
    undated = [
        "Stellantis names a new chief executive after months of search",
        "Volvo shows its next electric estate car to dealers in Sweden",  # dated in 2101
        "Ferrari confirms its first electric car",
    ]
    for title in undated:
        assert rows[title]["dated"] == 0, title
        assert rows[title]["published"] == rows[title]["fetched"], title
    assert rows["BMW opens its Debrecen plant"]["dated"] == 1
    assert rows["BMW opens its Debrecen plant"]["published"].startswith("2024-04-20T09:00:00")
    docs = pipeline.store.window_members(datetime(2000, 1, 1, tzinfo=UTC), pipeline.embedder.name)
    assert {doc.title: doc.dated for doc in docs} == {
        **dict.fromkeys(undated, False),
        "BMW opens its Debrecen plant": True,
    }


def test_a_story_split_in_two_keeps_its_id_and_labels_both_halves(db: Location) -> None:
    from faultserver import HashEmbedder

    class Gluing(Pipeline):
        split_min = 99  # first: everything joins one story, and nothing parts it

        def cluster_settings(self) -> ClusterSettings:
            return replace(super().cluster_settings(), join_threshold=0.0, split_min=self.split_min)

    settings = Settings(db=db, entities=REPO / "data" / "entities.yaml")
    pipeline = Gluing(
        settings, Store(settings.db), HashEmbedder(), KnowledgeBase.load(settings.entities)
    )
    meeting = [
        "Renault chief Luca de Meo met Xiaomi founder Lei Jun at the Beijing Auto Show stand",
        "De Meo and Lei Jun talked electric cars at the Xiaomi stand in Beijing for an hour",
        "Xiaomi showed Luca de Meo its SU7 sedan at the Beijing show, Lei Jun at the wheel",
        "Lei Jun welcomed Renault's de Meo to the Xiaomi stand at Auto China in Beijing",
    ]
    listing = [
        "Renault cancels the Ampere IPO and will fund the electric unit from its own cash",
        "Ampere listing called off: Renault says the stock market no longer values the unit",
        "Renault drops its plan to float Ampere this spring, citing weak market conditions",
        "The Ampere flotation is off, Renault told investors, and the unit stays in-house",
    ]
    titles = [*meeting[:2], *listing[:3], *meeting[2:]]
    records = [
        {"title": t, "text": t, "published": f"2024-04-25T{8 + n:02d}:00:00Z", "source": f"s{n}"}
        for n, t in enumerate(titles)
    ]
    pipeline.import_records(records)
    with dbs.connect(settings.db) as conn:
        assert conn.execute("SELECT count(*) FROM stories").fetchone() == (1,)
        pipeline.split_min = 3
        _, report = pipeline.import_records(
            [{"title": listing[3], "text": listing[3], "published": "2024-04-25T18:00:00Z"}]
        )
        assert report.split_stories == 1
        ids = {t: i for i, t in conn.execute("SELECT id, title FROM articles")}
        groups = {
            story: sorted(
                title
                for (title,) in conn.execute(
                    "SELECT title FROM articles WHERE story_id = ?", (story,)
                )
            )
            for (story,) in conn.execute("SELECT id FROM stories")
        }
        # the half with the story's first article keeps its id; the other is named after its own
        assert groups == {ids[meeting[0]]: sorted(meeting), ids[listing[0]]: sorted(listing)}
        headlines = dict(conn.execute("SELECT id, headline FROM stories"))
        assert headlines[ids[meeting[0]]] in meeting
        assert headlines[ids[listing[0]]] in listing
