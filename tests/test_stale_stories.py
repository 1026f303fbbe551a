"""Which story summaries a refresh checks against their articles: the recent ones only, so the
check costs the same in a year-long archive as in a week-long one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aggregator.store import STALE_DAYS, Store, iso
from aggregator.store.engine import Location
from aggregator.text import content_hash
from aggregator.urls import url_key

NEWEST = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
COLUMNS = ("id", "url", "url_key", "content_hash", "source", "title", "text", "published",
           "fetched", "language", "tags", "story_id")  # fmt: skip


def article(number: int, story: int | None, when: datetime) -> tuple[object, ...]:
    url = f"https://stale.example/{number}"
    title, text = f"Report {number}", f"Text of report {number}."
    return (number, url, url_key(url), content_hash(title, text), "Wire", title, text, iso(when),
            iso(when), "en", json.dumps([]), story)  # fmt: skip


def story(number: int, count: int, when: datetime) -> tuple[object, ...]:
    return (number, iso(when), iso(when), iso(when), iso(when), count, 1, 1, f"Story {number}")


def test_recent_stories_that_disagree_with_their_articles_are_stale(db: Location) -> None:
    old = NEWEST - timedelta(days=STALE_DAYS + 10)
    recent = NEWEST - timedelta(days=2)
    with Store(db) as store:
        with store.bulk_load() as bulk:
            bulk.rows("articles", COLUMNS, [
                article(1, 1, old), article(2, 1, old),  # old story, counted wrong: not checked
                article(3, 3, recent), article(4, 3, recent),  # counted right
                article(5, 5, recent), article(6, 5, NEWEST),  # counted wrong
                article(7, 7, recent),  # no summary row at all
            ])  # fmt: skip
            bulk.rows(
                "stories",
                ("id", "created", "updated", "first_published", "last_published", "n_articles",
                 "n_sources", "n_languages", "headline"),
                [story(1, 5, old), story(3, 2, recent), story(5, 1, NEWEST),
                 story(9, 1, recent)],  # 9: a recent summary without articles
            )  # fmt: skip
        assert store.stale_stories() == [5, 7, 9]
