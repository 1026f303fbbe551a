"""The ranking of top stories reads recent stories first; it must still be the whole ranking."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta

import dbs
import pytest

from aggregator.store import Store, iso
from aggregator.store.engine import Location, is_postgres
from aggregator.store.read import Filters, Reader
from aggregator.store.stories import HALF_LIFE_HOURS, RECENT_HOURS, STORY_SIZE, story_score

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def store_stories(db: Location, count: int, seed: int) -> None:
    """Stories of every size and age: a few huge old ones, many small recent ones."""
    rng = random.Random(seed)
    with Store(db) as store, store.transaction() as conn:
        for number in range(1, count + 1):
            huge = number % 25 == 0
            age = timedelta(hours=rng.uniform(0, 24 * 30))
            last = NOW - age
            n_articles = rng.randint(200, 900) if huge else rng.randint(1, 8)
            days = [(last - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(3)]
            timeline = [[day, max(1, n_articles // 3)] for day in reversed(days)]
            languages = ["en", "de", "zh", "fr"][: rng.randint(1, 4)]
            store.save_story(
                conn,
                {
                    "id": number,
                    "created": iso(last),
                    "updated": iso(last),
                    "first_published": iso(last - timedelta(days=2)),
                    "last_published": iso(last),
                    "n_articles": n_articles,
                    "n_sources": min(n_articles, rng.randint(1, 60)),
                    "n_languages": len(languages),
                    "languages": json.dumps(languages),
                    "headline": f"Story {number}",
                    "timeline": json.dumps(timeline),
                },
            )


def test_each_page_is_the_page_of_the_whole_ranking(db: Location) -> None:
    store_stories(db, 300, seed=7)
    with Reader(db) as reader:
        for now in (
            NOW,
            NOW + timedelta(days=5),
            NOW + timedelta(days=10),
            NOW + timedelta(days=40),
        ):
            everything = reader.story_page(limit=1000, now=now).stories
            expected = sorted(everything, key=lambda s: (-story_score(s, now), -s.id))
            assert [s.id for s in everything] == [s.id for s in expected]
            for limit, offset in ((20, 0), (20, 20), (7, 50), (50, 250)):
                page = reader.story_page(limit=limit, offset=offset, now=now)
                assert page.total == 300
                assert [s.id for s in page.stories] == [
                    s.id for s in expected[offset : offset + limit]
                ]
            german = reader.story_page(limit=10, now=now, filters=Filters(languages=("de",)))
            assert all("de" in s.languages for s in german.stories)


def test_the_score_bound_of_older_stories_is_read_from_the_size_index(db: Location) -> None:
    store_stories(db, 300, seed=3)
    with Reader(db) as reader:
        stories = reader.story_page(limit=1000, now=NOW).stories
        largest = max(
            math.log1p(s.n_articles) + math.log1p(s.n_sources) + 0.5 * (s.n_languages - 1)
            for s in stories
        )
        decay = 2 * 2 ** (-RECENT_HOURS / HALF_LIFE_HOURS)
        assert reader._older_bound() == pytest.approx(largest * decay)
    bound = f"SELECT {STORY_SIZE} FROM stories ORDER BY {STORY_SIZE} DESC LIMIT 1"
    explain = "EXPLAIN " if is_postgres(db) else "EXPLAIN QUERY PLAN "
    plan = " ".join(str(part) for row in dbs.query(db, explain + bound) for part in row)
    assert "stories_size" in plan


def test_the_score_bound_of_an_empty_archive_is_zero(db: Location) -> None:
    Store(db).close()
    with Reader(db) as reader:
        assert reader._older_bound() == 0.0
        assert reader.story_page(limit=20, now=NOW).stories == ()
