"""Bulk loads (``Store.bulk_load``) on both engines: rows go in with their ids, and search,
vectors and new inserts work on them afterwards as on articles stored one by one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from aggregator.errors import StorageError
from aggregator.models import Article
from aggregator.store import Store, iso, to_blob
from aggregator.store.engine import Location
from aggregator.store.read import Filters, Reader
from aggregator.text import content_hash
from aggregator.urls import url_key

MODEL = "bulk-test-384"
WHEN = datetime(2024, 4, 25, 9, 0, tzinfo=UTC)
TEXTS = [
    ("en", "Xiaomi SU7 deliveries pass 10,000", "Xiaomi delivered more cars than planned."),
    ("de", "Strafzölle auf Elektroautos aus China", "Die EU erhebt Zölle auf Elektroautos."),
    ("zh", "小米汽车交付量突破一万辆", "小米汽车宣布交付量突破一万辆。"),
]
ARTICLE_COLUMNS = (
    "id", "url", "url_key", "content_hash", "source", "title", "text", "published", "fetched",
    "language", "tags", "story_id", "clustered",
)  # fmt: skip


def vectors() -> np.ndarray:
    matrix = np.random.default_rng(3).standard_normal((len(TEXTS), 384)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def load(db: Location) -> dict[str, float]:
    articles = []
    for number, (language, title, text) in enumerate(TEXTS, start=101):
        url = f"https://bulk.example/{number}"
        articles.append(
            (number, url, url_key(url), content_hash(title, text), "Bulk Wire", title, text,
             iso(WHEN), iso(WHEN), language, json.dumps(["ev"]), 101, iso(WHEN))
        )  # fmt: skip
    story = {
        "id": 101, "created": iso(WHEN), "updated": iso(WHEN), "first_published": iso(WHEN),
        "last_published": iso(WHEN), "n_articles": 3, "n_sources": 1, "n_languages": 3,
        "headline": TEXTS[0][1], "lead_article_id": 101, "model": MODEL,
    }  # fmt: skip
    with Store(db) as store, store.bulk_load() as bulk:
        assert bulk.rows("articles", ARTICLE_COLUMNS, articles) == 3
        bulk.rows(
            "embeddings",
            ("article_id", "model", "field", "text_hash", "vector"),
            [(101 + i, MODEL, "body", f"h{i}", to_blob(v)) for i, v in enumerate(vectors())],
        )
        bulk.rows("stories", tuple(story), [tuple(story.values())])
    assert bulk.loaded == {"articles": 3, "embeddings": 3, "stories": 1}
    return bulk.timings


def test_loaded_rows_are_searchable_by_words_and_vectors(db: Location) -> None:
    timings = load(db)
    assert timings["load"] > 0
    with Reader(db) as reader:
        assert [r.id for r in reader.search_keyword("deliveries", filters=Filters())] == [101]
        assert [r.id for r in reader.search_keyword("Elektroautos")] == [102]
        assert [r.id for r in reader.search_keyword("小米汽车")] == [103]
        index = reader.vector_index(MODEL)
        ids, scores = index.nearest(vectors()[2], 2)
        assert ids[0] == 103 and scores[0] == pytest.approx(1.0, abs=1e-5)
        assert reader.story(101) is not None
        assert [a.id for a in reader.story(101).articles] == [101, 102, 103]  # type: ignore[union-attr]


def test_articles_inserted_after_a_load_get_new_ids(db: Location) -> None:
    load(db)
    with Store(db) as store, store.transaction() as conn:
        article = Article(
            url="https://bulk.example/new", source="Bulk Wire", title="Later", text="A later one."
        )
        assert store.insert_articles(conn, [(article, [])], fetched=WHEN) == [104]


def test_a_failed_load_keeps_what_was_there(db: Location) -> None:
    load(db)
    with Store(db) as store, store.bulk_load() as bulk:
        with pytest.raises(StorageError):
            bulk.rows("articles", ARTICLE_COLUMNS[:3], [(101, "https://x.example/", "x")])
        with pytest.raises(StorageError, match="not 'feeds'"):
            bulk.rows("feeds", ("name",), [("x",)])
        with pytest.raises(StorageError, match="bad column"):
            bulk.rows("articles", ("id; DROP TABLE articles",), [(1,)])
    with Reader(db) as reader:
        assert reader.counts()["articles"] == 3
        assert [r.id for r in reader.search_keyword("deliveries")] == [101]
