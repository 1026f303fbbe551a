"""The read API and search: FTS5 queries, the SQL ranking, the incremental vector index,
rank fusion, grouping, CSV export, and semantic search with the real model."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import newsdb
import numpy as np
import pytest

from aggregator.search import RRF_K, fuse, group_by_story, search, to_csv
from aggregator.store import Store, to_blob
from aggregator.store.read import ArticleRow, Filters, Reader, fts_query, http_url, story_score
from aggregator.store.vectors import VectorIndex


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return newsdb.build(tmp_path_factory.mktemp("search") / "news.db")


def titles(rows: list[ArticleRow]) -> list[str]:
    return [r.title for r in rows]


# --- keyword -----------------------------------------------------------------------------------


def test_fts_query_quotes_every_token_and_keeps_phrases_and_prefixes() -> None:
    assert fts_query('"record annual" tarif* OR x') == '"record annual" "tarif"* "x"'
    assert fts_query('a"b NOT') == '"ab"'
    assert fts_query("   ") == ""


def test_keyword_phrase_prefix_and_accents(news: Path) -> None:
    with Reader(news) as reader:
        phrase = search(reader, '"record annual"', mode="keyword")
        assert set(titles(phrase)) == {newsdb.TOYOTA[0][3], newsdb.TOYOTA[1][3]}
        assert search(reader, '"annual record"', mode="keyword") == []
        prefix = titles(search(reader, "Strafzöll*", mode="keyword"))
        assert prefix == [newsdb.TARIFFS[2][3]]
        # remove_diacritics: "europeenne" finds "européenne"
        assert titles(search(reader, "europeenne", mode="keyword")) == [newsdb.TARIFFS[3][3]]
        # title weighted over body: the article with "tariffs" in its title ranks first
        hits = search(reader, "tariff*", mode="keyword")
        assert hits[0].title == newsdb.TARIFFS[1][3]


def test_keyword_filters(news: Path) -> None:
    with Reader(news) as reader:
        everything = search(reader, "BYD", mode="keyword")
        assert len(everything) == 4
        german = search(reader, "BYD", mode="keyword", filters=Filters(languages=("de",)))
        assert titles(german) == [newsdb.TARIFFS[2][3]]
        by_source = search(reader, "BYD", mode="keyword", filters=Filters(sources=("Auto Presse",)))
        assert [h.source for h in by_source] == ["Auto Presse"]
        tagged = search(reader, "BYD", mode="keyword", filters=Filters(tags=("europe",)))
        assert sorted(h.language or "" for h in tagged) == ["de", "fr"]
        late = datetime(2024, 4, 30, 13, tzinfo=UTC)
        after = search(reader, "BYD", mode="keyword", filters=Filters(since=late))
        assert {h.language for h in after} == {"de", "fr"}


# --- ranking -----------------------------------------------------------------------------------


def test_sql_ranking_equals_the_documented_score(news: Path) -> None:
    with Reader(news) as reader:
        for now in (newsdb.NOW, newsdb.NOW + timedelta(days=3), newsdb.NOW - timedelta(days=20)):
            ranked = reader.story_page(limit=50, now=now).stories
            assert len(ranked) == 4
            for story in ranked:
                assert story.score == pytest.approx(story_score(story, now), rel=1e-9)
            assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)


def test_story_page_paginates_and_counts(news: Path) -> None:
    with Reader(news) as reader:
        first = reader.story_page(limit=3, offset=0)
        second = reader.story_page(limit=3, offset=3)
        assert first.total == second.total == 4
        assert len(first.stories) == 3 and len(second.stories) == 1
        assert {s.id for s in first.stories}.isdisjoint({s.id for s in second.stories})
        hindi = reader.story_page(filters=Filters(languages=("hi",)))
        assert hindi.total == 1 and hindi.stories[0].headline.startswith("Xiaomi SU7")


def test_related_stories_by_centroid(news: Path) -> None:
    xiaomi = newsdb.story_of(news, newsdb.XIAOMI[0][3])
    with Reader(news) as reader:
        related = reader.related_stories(xiaomi, limit=2)
    assert len(related) == 2
    assert xiaomi not in {s.id for s in related}
    assert related[0].score >= related[1].score


# --- vector index ------------------------------------------------------------------------------


def test_vector_index_reads_only_new_rows_and_sees_replacements(tmp_path: Path) -> None:
    db = newsdb.empty(tmp_path / "v.db")
    rows = newsdb.records()[:3]
    with Store(db) as store:
        from aggregator.pipeline import article_from_record

        with store.transaction() as conn:
            ids = store.insert_articles(
                conn,
                [(article_from_record(r, 1, "t", newsdb.NOW), []) for r in rows],
                fetched=newsdb.NOW,
            )
        basis = np.eye(4, dtype=np.float32)
        store.save_embeddings("m", [(ids[0], "body", "a", to_blob(basis[0]))])
        with Reader(db) as reader:
            first = reader.vector_index("m")
            assert first.size == 1 and reader.vector_index("m") is first  # unchanged: cached
            store.save_embeddings(
                "m",
                [
                    (ids[1], "body", "b", to_blob(basis[1])),
                    (ids[0], "body", "c", to_blob(basis[2])),  # replaced vector
                    (ids[2], "title", "d", to_blob(basis[3])),  # other field: ignored
                ],
            )
            second = reader.vector_index("m")
            assert second.size == 2 and sorted(second.ids) == sorted(ids[:2])
            nearest, _ = second.nearest(basis[2], 1)
            assert nearest == [ids[0]]  # the replacement, not the old vector
            assert reader.vector_index("other").size == 0


def test_nearest_with_allowed_ids_never_empties_the_result() -> None:
    matrix = np.eye(5, dtype=np.float32)
    index = VectorIndex([10, 11, 12, 13, 14], matrix)
    ids, scores = index.nearest(matrix[0], 2)
    assert ids[0] == 10 and scores[0] == pytest.approx(1.0)
    ids, _ = index.nearest(matrix[0], 2, allowed=[13, 14])
    assert sorted(ids) == [13, 14]
    assert index.nearest(matrix[0], 3, allowed=[]) == ([], [])


# --- fusion, grouping, export ------------------------------------------------------------------


def article(article_id: int, story_id: int | None = None, title: str = "t") -> ArticleRow:
    return ArticleRow(
        id=article_id,
        story_id=story_id,
        url=f"https://x.example/{article_id}",
        source="S",
        title=title,
        published=newsdb.NOW,
        language="en",
        summary_only=False,
        excerpt="",
    )


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = fuse([[article(1), article(2)], [article(2), article(3)]], limit=10)
    assert [r.id for r in fused] == [2, 1, 3]
    assert fused[0].rank == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused[1].rank == pytest.approx(1 / (RRF_K + 1))


def test_group_by_story_orders_groups_by_best_hit(news: Path) -> None:
    with Reader(news) as reader:
        hits = search(reader, "BYD OR Xiaomi", mode="keyword")  # OR is dropped: both words
        assert hits == []
        hits = [
            *search(reader, "Xiaomi", mode="keyword", limit=2),
            *search(reader, "BYD", mode="keyword", limit=2),
        ]
        groups = group_by_story(reader, hits)
    assert [len(g.hits) for g in groups] == [2, 2]
    assert groups[0].story is not None and groups[0].story.headline.startswith("Xiaomi")


def test_csv_export_defuses_formulas() -> None:
    text = to_csv([article(1, 7, '=HYPERLINK("http://evil")'), article(2, None, "Plain")])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["rank", "score", "story_id"]
    assert rows[1][8].startswith("'=") and rows[2][8] == "Plain"
    assert rows[1][2] == "7" and rows[2][2] == ""


def test_http_url_accepts_only_web_links() -> None:
    assert http_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert http_url(" HTTP://a.example ") == "HTTP://a.example"
    for bad in ("javascript:alert(1)", "data:text/html,x", "urn:import:1", "ftp://x", "",
                "https://a.example/x y", None):  # fmt: skip
        assert http_url(bad) is None


# --- semantic ----------------------------------------------------------------------------------


def test_semantic_search_finds_a_paraphrase(news: Path) -> None:
    with Reader(news) as reader:
        hits = search(reader, "Japanese carmaker earns more than ever", mode="semantic", limit=3)
        assert hits[0].title in {newsdb.TOYOTA[0][3], newsdb.TOYOTA[1][3]}
        assert hits == sorted(hits, key=lambda h: -h.rank)
        german = search(
            reader, "electric car import duties", mode="semantic", limit=5,
            filters=Filters(languages=("de",)),
        )  # fmt: skip
        assert [h.language for h in german] == ["de"]


def test_hybrid_search_combines_both_lists(news: Path) -> None:
    with Reader(news) as reader:
        hybrid = search(reader, "tariffs", mode="hybrid", limit=10)
        keyword = search(reader, "tariffs", mode="keyword", limit=10)
    # keyword finds only the one title with the word; hybrid adds the semantic neighbours
    assert len(keyword) == 1 and len(hybrid) > 1
    assert keyword[0].id in {h.id for h in hybrid[:2]}
    with Reader(news) as reader, pytest.raises(ValueError, match="unknown search mode"):
        search(reader, "x", mode="fuzzy")
