"""Keyword search on PostgreSQL ranks the most recently stored matches first when there are
many (aggregator.store.postgres.search.RECENT), and the whole archive when there are few."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.models import Article
from aggregator.store import Store
from aggregator.store.engine import Location
from aggregator.store.read import Reader

WHEN = datetime(2024, 4, 25, 9, 0, tzinfo=UTC)


def store_articles(db: Location) -> None:
    articles = [
        # the oldest is the best match: the word in its title and body
        Article(url="https://t.example/0", source="Wire", title="Tariffs on cars",
                text="Tariffs, tariffs and more tariffs.", published=WHEN),
    ] + [
        Article(url=f"https://t.example/{n}", source="Wire", title=f"Report {n}",
                text=f"One mention of tariffs in report {n}.",
                published=WHEN + timedelta(hours=n))
        for n in range(1, 6)
    ]  # fmt: skip
    with Store(db) as store, store.transaction() as conn:
        store.insert_articles(conn, [(a, []) for a in articles], fetched=WHEN)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_many_matches_are_ranked_among_the_newest(
    db: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aggregator.store.postgres.search as pg_search

    store_articles(db)
    with Reader(db) as reader:
        assert reader.search_keyword_ids("tariffs", limit=3)[0] == 1  # few: all ranked
        monkeypatch.setattr(pg_search, "RECENT", 2)
        monkeypatch.setattr(pg_search, "ENOUGH", 2)
        # the newest two hold enough matches: the best of them comes first, the old one not
        assert reader.search_keyword_ids("tariffs", limit=3) == [5, 6]
        monkeypatch.setattr(pg_search, "ENOUGH", 4)
        # every one of the newest two matched: five should hold four matches, and do
        assert reader.search_keyword_ids("tariffs", limit=3) == [2, 3, 4]
        monkeypatch.setattr(pg_search, "ENOUGH", 6)
        # seven would be needed for six, more than the archive: every match is ranked again
        assert reader.search_keyword_ids("tariffs", limit=3) == [1, 2, 3]
