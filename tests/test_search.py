"""The read API and search: FTS5 queries, the SQL ranking, the incremental vector index,
rank fusion, grouping, CSV export, and semantic search with the real model."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dbs
import newsdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.config import Settings
from aggregator.demo import DemoCorpus
from aggregator.pipeline import Pipeline, article_from_record
from aggregator.search import (
    RRF_K,
    SIBLING,
    fuse,
    group_by_story,
    search,
    to_csv,
    widen_to_stories,
)
from aggregator.store import Store, to_blob
from aggregator.store.engine import Location, is_postgres
from aggregator.store.fts import segmented, segmented_sql
from aggregator.store.postgres.schema import (
    article_fts_weighted_function,
    fold_function,
    segmented_loop_function,
)
from aggregator.store.read import (
    ArticleRow,
    Filters,
    Reader,
    fts_query,
    http_url,
    keyword_query,
    story_score,
)
from aggregator.store.schema import MIGRATIONS
from aggregator.store.vectors import VectorIndex


def titles(rows: list[ArticleRow]) -> list[str]:
    return [r.title for r in rows]


# --- keyword -----------------------------------------------------------------------------------


def test_fts_query_quotes_every_token_and_keeps_phrases_and_prefixes() -> None:
    assert fts_query('"record annual" tarif* OR x') == '"record annual" "tarif"* "x"'
    assert fts_query('a"b NOT') == '"ab"'
    assert fts_query("   ") == ""


# --- Chinese and other unsegmented scripts -----------------------------------------------------

CHINESE = [
    (
        "c1",
        "小米SU7交付量突破1万台",
        "小米汽车宣布，小米SU7交付量已突破1万台。雷军表示全年目标上调。",
    ),
    ("c2", "雷军：小米汽车工厂满负荷运转", "北京亦庄工厂双班倒，供应商加急扩产。"),
    ("c3", "比亚迪发布新旗舰", "比亚迪在北京车展发布新款旗舰轿车，米其林轮胎为标配。"),
    ("c4", "Xiaomi raises its SU7 target", "Xiaomi founder Lei Jun raised the delivery goal."),
]


def insert(store: Store, rows: list[tuple[str, str, str]]) -> list[int]:
    records = [
        {"id": key, "title": title, "text": text, "url": f"https://cn.example/{key}",
         "published": "2024-04-15T08:00:00Z", "source": "汽车日报"}
        for key, title, text in rows
    ]  # fmt: skip
    with store.transaction() as conn:
        return store.insert_articles(
            conn,
            [(article_from_record(r, n, "t"), []) for n, r in enumerate(records)],
            fetched=newsdb.NOW,
        )


def external_ids(reader: Reader, query: str) -> set[str]:
    return {h.external_id or "" for h in reader.search_keyword(query)}


@pytest.fixture
def chinese(db: Location) -> Location:
    newsdb.empty(db)
    with Store(db) as store:
        insert(store, CHINESE)
    return db


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="小米汽车ア𠀀 a1。é", max_size=700))
def test_segmenting_in_sql_equals_segmenting_in_python(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    (found,) = conn.execute(f"SELECT {segmented_sql(':x')}", {"x": text}).fetchone()
    assert found == segmented(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="小米汽车ア𠀀 a1。é", max_size=300))
def test_segmenting_on_postgresql_equals_segmenting_in_python(postgres: Any, text: str) -> None:
    with dbs.connect(postgres.url.replace("/postgres?", "/aggregator_template?")) as conn:
        (found,) = conn.execute("SELECT segmented(?)", (text,)).fetchone()
    assert found == segmented(text)


# The text functions the PostgreSQL full-text vector was computed with before migration 12, under
# names of their own: migration 12 made them faster, and every stored vector must stay the same.
EARLIER_TEXT_FUNCTIONS = (
    fold_function("fold_earlier"),
    segmented_loop_function("segmented_earlier").replace(
        "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
    ),
    article_fts_weighted_function("article_fts_earlier", "fold_earlier", "segmented_earlier"),
)
TRICKY_TEXTS = [
    "",
    "Zölle auf Elektroautos: ÄÖÜ äöü ß",
    "Européenne, CRÉDIT, naïve, Ångström, Ørsted, Œuvre",
    "Łódź, Świętokrzyskie, ŻÓŁĆ, İstanbul, Şahin, ığdır",
    "Nguyễn Thị Ứng, Hà Nội, Đà Nẵng, Ḍḥ ṢṬ",
    "小米SU7交付量突破1万台，雷军（Lei Jun）表示 élan",
    "ΟΔΟΣ中文 Ελλάδα ΆΈΉ, Москва ЁЖ, हिन्दी, 한국어, العربية",
    "トヨタ・プリウス、ホンダ𠀀 ア a1。é",
]


@pytest.fixture(scope="module")
def earlier_functions(postgres: Any) -> str:
    """A database holding the current text functions and the earlier ones beside them."""
    import psycopg

    url = postgres.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        for sql in EARLIER_TEXT_FUNCTIONS:
            conn.execute(sql)
    return url


def earlier_and_current(url: str, rows: list[tuple[str | None, str, str]]) -> list[Any]:
    """Per row (language, title, body): folded body, segmented body and full-text vector, each
    by the earlier and the current functions."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT fold_earlier(b), fold(b), segmented_earlier(b), segmented(b), "
            "article_fts_earlier(l, t, b)::text, article_fts(l, t, b)::text "
            "FROM unnest(%s::text[], %s::text[], %s::text[]) AS r(l, t, b)",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
        ).fetchall()


def test_full_text_vectors_are_those_of_the_earlier_functions(earlier_functions: str) -> None:
    demo = [
        (
            item["language"],
            item["title"],
            " ".join(item["body"]) if isinstance(item["body"], list) else item["body"],
        )
        for path in sorted(
            (Path(__file__).parent.parent / "data" / "demo" / "events").glob("*.json")
        )
        for item in json.loads(path.read_text(encoding="utf-8"))["articles"]
        if "body" in item
    ]
    tricky = [
        (language, text[:20], text)
        for text in TRICKY_TEXTS
        for language in (None, "en", "de", "fr", "tr", "zh", "pt-BR")
    ]
    rows = earlier_and_current(earlier_functions, demo + tricky)
    assert len(rows) == len(demo) + len(tricky) > 300
    for row in rows:
        assert row[0] == row[1] and row[2] == row[3] and row[4] == row[5]
    assert rows[len(demo) + 7][1] == "zolle auf elektroautos: aou aou ß"
    assert sum("'xiaomi'" in r[5] for r in rows) > 10


@settings(max_examples=100, deadline=None)
@given(
    st.text(alphabet="AaÄäÉéÑñŁłŻżĄąİıŞşỨứẞß小米汽车ア𠀀ΣσЖж 1。.-'", max_size=200),
    st.sampled_from([None, "en", "de", "pl", "tr", "zh"]),
)
def test_text_functions_agree_with_the_earlier_ones_on_any_text(
    earlier_functions: str, text: str, language: str | None
) -> None:
    ((fold_before, fold_now, seg_before, seg_now, fts_before, fts_now),) = earlier_and_current(
        earlier_functions, [(language, text[:30], text)]
    )
    assert (fold_now, seg_now, fts_now) == (fold_before, seg_before, fts_before)


def test_segmenting_sets_bigrams_apart_and_keeps_other_text() -> None:
    assert segmented("小米SU7交付量突破1万台") == " 小米 SU7 交付 付量 量突 突破 1 万台 "
    assert segmented("Lei Jun (雷) said") == "Lei Jun ( 雷 ) said"
    assert segmented("no change") == "no change"


def test_query_keeps_phrases_and_prefixes_exact_and_splits_scripts() -> None:
    exact = "{title text}"
    assert keyword_query('"record annual" tarif*').expression == (
        f'{exact}: "record annual" AND {exact}: "tarif"*'
    )
    assert keyword_query("小米汽车").expression == f'{exact}: "小米 米汽 汽车"'
    assert keyword_query("米").expression == f'{exact}: "米"*'
    assert keyword_query("小米SU7 Beijing").expression == (
        f'{exact}: "小米" AND {exact}: "SU7" AND {exact}: "Beijing"'
    )
    assert keyword_query("“小米”，") == keyword_query("小米")  # punctuation is not a word
    assert keyword_query('a OR "b" NOT c').expression == (
        f'{exact}: "a" AND {exact}: "b" AND {exact}: "c"'
    )
    assert keyword_query(' " * ').expression == ""


def test_chinese_words_are_found_inside_unsegmented_text(chinese: Location) -> None:
    with Reader(chinese) as reader:
        assert external_ids(reader, "小米") == {"c1", "c2"}
        assert external_ids(reader, "雷军") == {"c1", "c2"}
        assert external_ids(reader, "比亚迪") == {"c3"}
        assert external_ids(reader, "小米汽车") == {"c1", "c2"}
        assert external_ids(reader, "汽车小米") == set()  # the characters must be in order
        assert external_ids(reader, "亦") == {"c2"}  # a lone character: bigrams starting with it
        assert external_ids(reader, "小米 SU7") == {"c1"}  # both scripts must match
        assert external_ids(reader, "Xiaomi") == {"c4"}
        # the title weighs more: the article with 雷军 in its title ranks first
        assert reader.search_keyword("雷军")[0].external_id == "c2"
        assert reader.search_keyword_ids("小米", limit=5) == [
            h.id for h in reader.search_keyword("小米", limit=5)
        ]


def test_chinese_search_through_the_import_pipeline(news: Location) -> None:
    with Reader(news) as reader:
        # 小米 is Xiaomi in the knowledge base: the Chinese title first (the exact form in a
        # title), then the reports that spell it Xiaomi or श्याओमी
        found = titles(search(reader, "小米", mode="keyword"))
        if not is_postgres(news):  # ts_rank weighs no word by its rarity, as BM25 does
            assert found[0] == newsdb.XIAOMI[2][3]
        assert set(found) == {row[3] for row in newsdb.XIAOMI}
        assert titles(search(reader, "北京工厂", mode="keyword")) == [newsdb.XIAOMI[2][3]]
        english = search(reader, "小米", mode="keyword", filters=Filters(languages=("en",)))
        assert set(titles(english)) == {newsdb.XIAOMI[0][3], newsdb.XIAOMI[1][3]}
        assert search(reader, "北京工厂", mode="keyword", filters=Filters(languages=("en",))) == []


def test_bigram_index_follows_inserts_updates_and_deletes(chinese: Location) -> None:
    with Store(chinese) as store:
        (added,) = insert(store, [("c5", "蔚来换电站突破2000座", "蔚来宣布换电站数量突破2000座。")])
        with Reader(chinese) as reader:
            assert external_ids(reader, "换电") == {"c5"}
        with store.transaction() as conn:
            conn.execute("UPDATE articles SET title = ?, text = ? WHERE id = ?",
                         ("理想汽车降价", "理想汽车宣布全系降价。", added))  # fmt: skip
            conn.execute("DELETE FROM articles WHERE external_id = 'c1'")
            conn.execute("UPDATE articles SET title = 'No Chinese left' WHERE external_id = 'c3'")
            conn.execute("UPDATE articles SET text = 'plain' WHERE external_id = 'c3'")
        with Reader(chinese) as reader:
            assert external_ids(reader, "换电") == set()
            assert external_ids(reader, "理想") == {"c5"}
            assert external_ids(reader, "小米") == {"c2"}
            assert external_ids(reader, "比亚迪") == set()
        if is_postgres(chinese):
            return  # a generated column: PostgreSQL recomputes it with every write
        store.conn.execute(
            "INSERT INTO articles_search(articles_search, rank) VALUES ('integrity-check', 1)"
        )


def test_migration_indexes_articles_stored_before_it(tmp_path: Path) -> None:
    # SQLite only: an old file's FTS5 tables; PostgreSQL's migration 3 adds no index
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO articles (url, url_key, content_hash, source, title, text, published, "
        "fetched) VALUES ('u', 'u', 'h', 's', '雷军谈小米', '小米汽车', '2024-04-15T08:00:00Z', "
        "'2024-04-15T08:00:00Z')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    Store(db).close()
    with Reader(db) as reader:
        assert [h.title for h in reader.search_keyword("小米")] == ["雷军谈小米"]
        assert [h.title for h in reader.search_keyword("汽车")] == ["雷军谈小米"]


# --- word forms, aliases, Indic words --------------------------------------------------------

WORD_FORMS = [
    ("de1", "de", "Zölle auf Elektroautos", "Die EU erhebt Zölle auf Elektroautos aus China."),
    ("de2", "de", "Neuer Zoll geplant", "Brüssel plant einen Zoll auf importierte Fahrzeuge."),
    ("fr1", "fr", "Les constructeurs chinois", "Les constructeurs chinois protestent."),
    ("fr2", "fr", "Un constructeur chinois", "Un constructeur chinois investit en Hongrie."),
    ("es1", "es", "Aranceles a los eléctricos", "Bruselas impone aranceles a los eléctricos."),
    ("es2", "es", "Un arancel nuevo", "El arancel afecta a los coches importados."),
]


def fill(db: Location, rows: list[tuple[str, str, str, str]]) -> Location:
    """``db`` emptied, then holding ``rows`` (key, language, title, text) as articles."""
    newsdb.empty(db)
    records = [
        {"id": key, "language": language, "title": title, "text": text,
         "url": f"https://articles.example/{key}", "published": "2024-04-15T08:00:00Z"}
        for key, language, title, text in rows
    ]  # fmt: skip
    with Store(db) as store, store.transaction() as conn:
        store.insert_articles(
            conn,
            [(article_from_record(r, n, "t"), []) for n, r in enumerate(records)],
            fetched=newsdb.NOW,
        )
    return db


@pytest.fixture
def word_forms(db: Location) -> Location:
    return fill(db, WORD_FORMS)


@pytest.mark.parametrize(
    ("query", "ranked"),
    [
        ("Zölle", ["de1", "de2"]),
        ("Zoll", ["de2", "de1"]),
        ("constructeurs", ["fr1", "fr2"]),
        ("constructeur", ["fr2", "fr1"]),
        ("aranceles", ["es1", "es2"]),
        ("arancel", ["es2", "es1"]),
    ],
)
def test_a_word_finds_its_other_forms_after_the_exact_one(
    word_forms: Location, query: str, ranked: list[str]
) -> None:
    with Reader(word_forms) as reader:
        assert [h.external_id for h in reader.search_keyword(query)] == ranked


def test_phrases_and_prefixes_are_not_stemmed(word_forms: Location) -> None:
    with Reader(word_forms) as reader:
        assert external_ids(reader, '"Zölle"') == {"de1"}
        assert external_ids(reader, "constructeurs*") == {"fr1"}
        assert external_ids(reader, "Zoll Elektroautos") == {"de1"}  # every word must match


def test_names_match_their_aliases_in_every_script(news: Location) -> None:
    xiaomi = {row[3] for row in newsdb.XIAOMI}
    with Reader(news) as reader:
        for query in ("Xiaomi", "小米", "श्याओमी", "xiaomi corporation"):
            assert set(titles(search(reader, query, mode="keyword"))) == xiaomi, query
        hindi = search(reader, "Xiaomi", mode="keyword", filters=Filters(languages=("hi",)))
        assert titles(hindi) == [newsdb.XIAOMI[3][3]]
        # a known name is one of several words: the others must still match
        assert titles(search(reader, "Xiaomi 交付量", mode="keyword")) == [newsdb.XIAOMI[2][3]]
        assert search(reader, "Xiaomi Toyota", mode="keyword") == []


def test_hindi_words_are_indexed_whole(news: Location) -> None:
    with Reader(news) as reader:
        assert titles(reader.search_keyword("डिलीवरी")) == [newsdb.XIAOMI[3][3]]
        # unicode61 alone would cut श्याओमी at its vowel signs, and a lone letter would match
        assert reader.search_keyword("श") == []
        assert reader.search_keyword("ओम") == []


def test_migration_builds_the_search_index_for_articles_stored_before_it(tmp_path: Path) -> None:
    # SQLite only: the FTS5 index of migration 8; PostgreSQL's full-text vector is generated
    db = tmp_path / "v5.db"
    conn = sqlite3.connect(db)
    for script in MIGRATIONS[:5]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO articles (url, url_key, content_hash, source, title, text, published, "
        "fetched, language) VALUES ('u', 'u', 'h', 's', 'Neue Zölle', 'Die EU erhebt Zölle.', "
        "'2024-04-15T08:00:00Z', '2024-04-15T08:00:00Z', 'de')"
    )
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    Store(db).close()
    with Reader(db) as reader:
        assert titles(reader.search_keyword("Zoll")) == ["Neue Zölle"]
        assert titles(reader.search_keyword("EU")) == ["Neue Zölle"]
    tables = {row[0] for row in newsdb.query(db, "SELECT name FROM sqlite_master")}
    assert "articles_search" in tables and "articles_fts_cjk" not in tables


def test_keyword_phrase_prefix_and_accents(news: Location) -> None:
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


def test_keyword_filters(news: Location) -> None:
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


def test_sql_ranking_equals_the_documented_score(news: Location) -> None:
    with Reader(news) as reader:
        for now in (newsdb.NOW, newsdb.NOW + timedelta(days=3), newsdb.NOW - timedelta(days=20)):
            ranked = reader.story_page(limit=50, now=now).stories
            assert len(ranked) == 4
            for story in ranked:
                assert story.score == pytest.approx(story_score(story, now), rel=1e-9)
            assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)


def test_story_page_paginates_and_counts(news: Location) -> None:
    with Reader(news) as reader:
        first = reader.story_page(limit=3, offset=0)
        second = reader.story_page(limit=3, offset=3)
        assert first.total == second.total == 4
        assert len(first.stories) == 3 and len(second.stories) == 1
        assert {s.id for s in first.stories}.isdisjoint({s.id for s in second.stories})
        hindi = reader.story_page(filters=Filters(languages=("hi",)))
        assert hindi.total == 1 and hindi.stories[0].headline.startswith("Xiaomi SU7")


def test_related_stories_by_centroid(news: Location) -> None:
    xiaomi = newsdb.story_of(news, newsdb.XIAOMI[0][3])
    with Reader(news) as reader:
        related = reader.related_stories(xiaomi, limit=2)
    assert len(related) == 2
    assert xiaomi not in {s.id for s in related}
    assert related[0].score >= related[1].score


# --- vector index ------------------------------------------------------------------------------


def test_vector_index_reads_only_new_rows_and_sees_replacements(db: Location) -> None:
    newsdb.empty(db)
    rows = newsdb.records()[:3]
    with Store(db) as store:
        from aggregator.pipeline import article_from_record

        with store.transaction() as conn:
            ids = store.insert_articles(
                conn,
                [(article_from_record(r, 1, "t"), []) for r in rows],
                fetched=newsdb.NOW,
            )
        basis = np.eye(4, dtype=np.float32)
        store.save_embeddings("m", [(ids[0], "body", "a", to_blob(basis[0]))])
        with Reader(db) as reader:
            first = reader.vector_index("m")
            assert first.size == 1
            if not is_postgres(db):  # SQLite readers keep the vectors in memory
                assert reader.vector_index("m") is first  # unchanged: cached
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


# --- hybrid: fusion and whole stories --------------------------------------------------------


def test_widening_brings_the_rest_of_each_story_after_its_best_hit(news: Path) -> None:
    story = newsdb.story_of(news, newsdb.XIAOMI[3][3])
    with Reader(news) as reader:
        members = reader.story_articles([1])[story]
        hindi = next(h.id for h in reader.search_keyword("डिलीवरी"))
        widened = widen_to_stories(reader, [(hindi, 1.0)], filters=Filters())
        assert widened[0] == (hindi, 1.0)
        assert {i for i, _ in widened} == set(members) and len(members) == 4
        assert all(score == pytest.approx(SIBLING) for _, score in widened[1:])
        chinese = widen_to_stories(reader, [(hindi, 1.0)], filters=Filters(languages=("zh",)))
        assert [i for i, _ in chinese][1:] == [
            h.id for h in reader.search_keyword("小米", filters=Filters(languages=("zh",)))
        ]


def test_hybrid_finds_a_story_in_every_language_from_one_matching_word(news: Path) -> None:
    with Reader(news) as reader:
        hits = search(reader, "Strafzölle", mode="hybrid", limit=4)
    # only the German article has the word; its story brings the English and French ones
    assert hits[0].title == newsdb.TARIFFS[2][3]
    assert {h.title for h in hits} == {row[3] for row in newsdb.TARIFFS}
    assert {h.language for h in hits} == {"en", "de", "fr"}


# --- semantic ----------------------------------------------------------------------------------


def test_semantic_search_finds_a_paraphrase(news: Location) -> None:
    with Reader(news) as reader:
        hits = search(
            reader,
            "Japanese carmaker earns more than ever",
            mode="semantic",
            model="minilm",
            limit=3,
        )
        assert hits[0].title in {newsdb.TOYOTA[0][3], newsdb.TOYOTA[1][3]}
        assert hits == sorted(hits, key=lambda h: -h.rank)
        german = search(
            reader, "electric car import duties", mode="semantic", model="minilm", limit=5,
            filters=Filters(languages=("de",)),
        )  # fmt: skip
        assert [h.language for h in german] == ["de"]


def test_hybrid_search_combines_both_lists(news: Location) -> None:
    with Reader(news) as reader:
        hybrid = search(reader, "tariffs", mode="hybrid", limit=10)
        keyword = search(reader, "tariffs", mode="keyword", limit=10)
    # keyword finds the title with the word and the body with "tariff"; hybrid adds the
    # semantic neighbours and the rest of the story
    assert [h.title for h in keyword] == [newsdb.TARIFFS[1][3], newsdb.TARIFFS[0][3]]
    assert len(hybrid) > 2
    assert keyword[0].id in {h.id for h in hybrid[:2]}
    with Reader(news) as reader, pytest.raises(ValueError, match="unknown search mode"):
        search(reader, "x", mode="fuzzy")


def test_english_query_finds_the_event_in_hindi_and_chinese_with_e5(db: Location) -> None:
    corpus = DemoCorpus.load(newsdb.REPO / "data" / "demo")
    records = [
        {"id": f"{a.event[:3]}:{n}", "title": a.title, "text": a.text, "language": a.language,
         "url": f"https://demo{a.url_path}", "published": a.published.isoformat(),
         "source": a.outlet}
        for n, a in enumerate(corpus.articles)
        if a.event.startswith(("e01", "e03"))
    ]  # fmt: skip
    languages = {(r["id"][:3], r["language"]) for r in records}
    assert {("e01", "hi"), ("e01", "zh"), ("e03", "hi"), ("e03", "zh")} <= languages
    with Pipeline.build(Settings(db=db, model="e5")) as pipeline:
        pipeline.import_records(records)
    query = "Renault chief meets Xiaomi founder"
    with Reader(db) as reader:
        for language in ("hi", "zh"):
            hits = search(reader, query, mode="semantic", model="e5", limit=3,
                          filters=Filters(languages=(language,)))  # fmt: skip
            assert hits and {h.language for h in hits} == {language}
            assert (hits[0].external_id or "").startswith("e01"), (language, hits[0].title)
        # the keyword index cannot cross languages: the Hindi and Chinese articles spell
        # neither name in Latin letters, so only semantic search finds them
        keyword_hits = search(reader, query, mode="keyword", model="e5", limit=50)
        assert not [h for h in keyword_hits if h.language in ("hi", "zh")]


def test_reader_on_an_older_schema_says_how_to_upgrade(tmp_path: Path) -> None:
    # SQLite only: PRAGMA user_version; test_store holds the PostgreSQL twin
    import sqlite3

    from aggregator.errors import StorageError
    from aggregator.store.read import Reader

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY)")
        conn.execute("PRAGMA user_version = 1")
    with pytest.raises(StorageError, match="aggregator refresh"):
        Reader(path)


# --- the same ranking on both engines -----------------------------------------------------------

SAME_RANKING = [
    # the word as written or only its stem, in the title or only in the body
    ("stem-title", "en", "EU tariff on Chinese electric cars takes effect",
     "Brussels confirmed the decision on Thursday after a long investigation into subsidies."),
    ("exact-body", "en", "Brussels acts on Chinese electric cars",
     "The European Commission confirmed tariffs on Thursday after a long investigation."),
    ("exact-title", "en", "EU tariffs on Chinese electric cars take effect",
     "Brussels confirmed the decision on Thursday after a long investigation into subsidies."),
    ("stem-body", "en", "Brussels acts on Chinese cars again",
     "The European Commission confirmed a tariff on Thursday after a long investigation."),
    ("de-exact", "de", "EU verhängt Zölle auf Elektroautos aus China",
     "Die Kommission bestätigte die Entscheidung am Donnerstag nach langer Prüfung."),
    ("de-stem", "de", "EU verhängt einen Zoll auf Elektroautos aus China",
     "Die Kommission bestätigte die Entscheidung am Donnerstag nach langer Prüfung."),
    ("xiaomi-zh", "zh", "小米SU7交付量突破1万台",
     "小米汽车宣布，小米SU7交付量已突破1万台，北京工厂将增加第二班次。"),
    ("xiaomi-en", "en", "Xiaomi SU7 deliveries pass 10,000",
     "Xiaomi said deliveries of its SU7 electric sedan passed 10,000 units in three weeks."),
    ("toyota", "en", "Toyota posts record profit on hybrid sales",
     "Toyota reported a record operating profit as hybrid sales rose and the yen weakened."),
    ("byd", "en", "BYD opens its first European car plant in Hungary",
     "BYD will build electric cars in Szeged from next year, the company said on Thursday."),
]  # fmt: skip


def test_the_same_articles_rank_the_same_on_both_engines(
    tmp_path: Path, postgres: dbs.PostgresServer
) -> None:
    """The word as written above its stem, the title above the body, the same ties: BM25 on
    SQLite and ``ts_rank`` on PostgreSQL order these articles alike. (Their curves differ, so
    this holds for articles of like length in one script: Chinese bigrams count as words on
    SQLite, and a mixed-script article's length differs between the engines.)"""
    queries = ("tariffs", "tariff", "Zölle", "Zoll", "小米", "Xiaomi deliveries",
               "Chinese electric cars", "Thursday", "record profit")  # fmt: skip
    url = postgres.new_database()
    try:
        found = []
        for where in (fill(tmp_path / "same.db", SAME_RANKING), fill(url, SAME_RANKING)):
            with Reader(where) as reader:
                found.append(
                    {q: [h.external_id or "" for h in reader.search_keyword(q)] for q in queries}
                )
    finally:
        postgres.drop(url)
    sqlite, postgresql = found
    assert sqlite["tariffs"] == ["exact-title", "exact-body", "stem-title", "stem-body"]
    assert sqlite["Zoll"] == ["de-stem", "de-exact"]
    assert postgresql == sqlite


def test_chinese_queries_find_the_event_in_other_languages_before_other_chinese_news(
    demo_run: Any,
) -> None:
    """Centred by language, a Chinese query's nearest articles are the event's, in any
    language. Uncentred, the multilingual encoder ranked Chinese reports of other events next:
    the tariffs query had two other events in its top four, the battery one had five other
    Chinese reports in its top eight and one non-Chinese report of the event."""
    event_of = {
        a.url_path: a.event[:3] for a in DemoCorpus.load(newsdb.REPO / "data" / "demo").articles
    }
    with Reader(demo_run.db) as reader:
        tariffs = search(reader, "欧盟 电动车 关税", mode="semantic", limit=4)  # EU EV tariffs
        battery = search(reader, "宁德时代神行PLUS电池", mode="semantic", limit=8)  # CATL's
    found = [(event_of[urlsplit(h.url).path], h.language) for h in tariffs]
    assert all(event == "e12" for event, _ in found), found
    assert len({language for _, language in found}) >= 2, found
    found = [(event_of[urlsplit(h.url).path], h.language) for h in battery]
    assert all(event == "e07" for event, _ in found[:2]), found
    assert sum(event == "e07" and language != "zh" for event, language in found) >= 4, found
