"""Online clustering behaviour, with a small deterministic bag-of-words embedder.

The real model matters for quality figures (bench/cluster_quality.py); here the point is the
decisions: what joins, what stays apart, what a quiet story does, what consolidation merges.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from aggregator.cluster import ClusterDoc, Clusterer, ClusterSettings, Merge
from aggregator.cluster.pool import Features, StoryPool
from aggregator.cluster.terms import term_counts, tokens

T0 = datetime(2024, 4, 25, 8, 0, tzinfo=UTC)


def vector(text: str, dim: int = 256) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    for word in text.lower().split():
        v[int(hashlib.md5(word.encode()).hexdigest(), 16) % dim] += 1.0
    return v / (np.linalg.norm(v) or 1.0)


def doc(
    article_id: int,
    title: str,
    text: str = "",
    *,
    language: str = "en",
    hours: float = 0.0,
    source: str = "wire",
    entities: frozenset[str] = frozenset(),
    body_vector: np.ndarray | None = None,
) -> ClusterDoc:
    body = f"{title}. {text}"
    return ClusterDoc(
        article_id=article_id,
        source=source,
        language=language,
        published=T0 + timedelta(hours=hours),
        title=title,
        text=body,
        title_vector=vector(title) if body_vector is None else body_vector,
        body_vector=vector(body) if body_vector is None else body_vector,
        entities=entities,
    )


XIAOMI = (
    "Renault chief Luca de Meo met Xiaomi founder Lei Jun at the Beijing Auto Show",
    "De Meo toured the Xiaomi stand in Beijing and drove the SU7 sedan with Lei Jun",
)
AMPERE = (
    "Renault cancels the Ampere IPO and will fund its electric unit internally",
    "Renault said Ampere no longer needs the stock market listing planned for this spring",
)


def test_same_event_joins_and_same_company_other_event_stays_apart() -> None:
    c = Clusterer()
    first = c.add(doc(1, *XIAOMI, source="a"))
    second = c.add(
        doc(
            2,
            "Luca de Meo meets Lei Jun: Renault boss visits Xiaomi in Beijing",
            "Renault's de Meo and Xiaomi's Lei Jun talked at the Beijing Auto Show stand",
            hours=2,
            source="b",
        )
    )
    other = c.add(doc(3, *AMPERE, hours=3, source="c"))
    assert first.created and first.story_id == 1
    assert not second.created and second.story_id == 1
    assert other.created and other.story_id == 3
    assert c.stories() == {1: [1, 2], 3: [3]}


def test_quiet_story_stops_attracting_articles() -> None:
    settings = ClusterSettings(quiet_days=2.0)
    c = Clusterer(settings)
    c.add(doc(1, *XIAOMI))
    late = c.add(doc(2, *XIAOMI, hours=24 * 5))
    assert late.created
    assert c.window_start(T0) == T0 - timedelta(days=2)


def test_time_decay_keeps_a_repeat_event_weeks_later_apart() -> None:
    c = Clusterer(ClusterSettings(quiet_days=60.0, time_sigma_days=2.0))
    c.add(doc(1, *AMPERE))
    weeks_later = c.add(doc(2, *AMPERE, hours=24 * 21))
    assert weeks_later.created


def test_load_restores_stories_so_new_articles_join_old_ids() -> None:
    c = Clusterer()
    c.load([(10, doc(10, *XIAOMI)), (20, doc(20, *AMPERE))])
    joined = c.add(doc(30, *AMPERE, hours=1))
    assert joined.story_id == 20 and not joined.created
    assert c.stories()[20] == [20, 30]


def test_consolidate_merges_fragments_into_the_larger_story() -> None:
    strict = ClusterSettings(join_threshold=1.01, merge_threshold=0.3)
    c = Clusterer(strict)
    c.add(doc(1, *AMPERE))
    c.add(doc(2, *AMPERE, hours=1))
    c.add(doc(3, *XIAOMI, hours=2))
    assert len(c.stories()) == 3  # nothing may join at this bar
    merges = c.consolidate()
    assert merges == [Merge(absorbed=2, into=1, score=merges[0].score)]
    assert c.stories() == {1: [1, 2], 3: [3]}


def test_consolidate_weighs_only_stories_changed_since_load() -> None:
    # stories restored from the database were weighed by the run that last changed them; only a
    # new or grown story reopens the question, so the cost follows the new articles
    strict = ClusterSettings(join_threshold=1.01, merge_threshold=0.3)
    c = Clusterer(strict)
    c.load([(1, doc(1, *AMPERE)), (2, doc(2, *AMPERE, hours=1))])
    assert c.consolidate() == []
    c.add(doc(3, *AMPERE, hours=2))
    merges = c.consolidate()
    assert len(merges) == 2
    assert [sorted(members) for members in c.stories().values()] == [[1, 2, 3]]


MEETING = [
    "Renault chief Luca de Meo met Xiaomi founder Lei Jun at the Beijing Auto Show stand",
    "De Meo and Lei Jun talked electric cars at the Xiaomi stand in Beijing for an hour",
    "Xiaomi showed Luca de Meo its SU7 sedan at the Beijing show, Lei Jun at the wheel",
    "Lei Jun welcomed Renault's de Meo to the Xiaomi stand at Auto China in Beijing",
]
LISTING = [
    "Renault cancels the Ampere IPO and will fund the electric unit from its own cash",
    "Ampere listing called off: Renault says the stock market no longer values the unit",
    "Renault drops its plan to float Ampere this spring, citing weak market conditions",
    "The Ampere flotation is off, Renault told investors, and the unit stays in-house",
]


def test_split_parts_two_events_glued_by_early_joins() -> None:
    glued = Clusterer(ClusterSettings(join_threshold=0.0))
    for number, title in enumerate([*MEETING[:2], *LISTING, *MEETING[2:]], start=1):
        glued.add(doc(number, title, hours=number))
    assert len(glued.stories()) == 1  # a bar of 0 joins everything
    assert glued.consolidate() == []
    splits = glued.split()
    assert [(s.story_id, s.new_story_id, s.moved) for s in splits] == [(1, 3, (3, 4, 5, 6))]
    assert glued.stories() == {1: [1, 2, 7, 8], 3: [3, 4, 5, 6]}
    assert glued.split() == []  # the halves are settled
    # a story of one event stays whole
    single = Clusterer(ClusterSettings(join_threshold=0.0))
    for number, title in enumerate([*MEETING, *MEETING], start=1):
        single.add(doc(number, title, hours=number))
    assert single.split() == []
    assert len(single.stories()) == 1


def test_stories_without_publication_times_must_agree_more_to_merge() -> None:
    first = ("Renault cancels the Ampere IPO", "Renault will fund Ampere from its own cash")
    second = ("Ampere listing called off by Renault", "The electric unit stays private")

    def merges(settings: ClusterSettings, *, dated: bool) -> list[Merge]:
        c = Clusterer(settings)
        for number, (title, text) in enumerate((first, second), start=1):
            article = doc(number, title, text, hours=number)
            if not dated:
                article = replace(article, published=None)
            c.add(article)
        return c.consolidate()

    probe = merges(ClusterSettings(join_threshold=1.01, merge_threshold=0.0), dated=True)
    assert len(probe) == 1
    # a bar just under the pair's score: met with times, missed without them
    settings = ClusterSettings(
        join_threshold=1.01, merge_threshold=probe[0].score - 0.04, undated_margin=0.08
    )
    assert [(m.absorbed, m.into) for m in merges(settings, dated=True)] == [(2, 1)]
    assert merges(settings, dated=False) == []
    assert merges(replace(settings, undated_margin=0.0), dated=False) != []


def test_english_only_vectors_are_not_trusted_between_non_english_texts() -> None:
    # The same vector for two unrelated Hindi texts: an English-only model often rates them close.
    same = vector("identical")
    c = Clusterer()
    c.add(
        doc(
            1, "टाटा ने नई इलेक्ट्रिक कार पेश की", "कीमत और रेंज की घोषणा", language="hi", body_vector=same
        )
    )
    second = c.add(
        doc(
            2,
            "ओला इलेक्ट्रिक का आईपीओ खुला",
            "शेयर बाज़ार में निवेशकों की भीड़",
            language="hi",
            hours=1,
            body_vector=same,
        )
    )
    assert second.created
    trusting = Clusterer(ClusterSettings(multilingual_vectors=True))
    trusting.add(doc(1, "टाटा ने नई इलेक्ट्रिक कार पेश की", language="hi", body_vector=same))
    joined = trusting.add(
        doc(2, "ओला इलेक्ट्रिक का आईपीओ खुला", language="hi", hours=1, body_vector=same)
    )
    assert not joined.created


def test_entities_link_stories_across_languages_in_consolidation() -> None:
    shared = frozenset({"renault", "xiaomi", "luca-de-meo", "lei-jun", "beijing-auto-show"})
    c = Clusterer()
    c.add(doc(1, *XIAOMI, entities=shared))
    c.add(
        doc(
            2,
            "रेनो के सीईओ ने बीजिंग ऑटो शो में श्याओमी के प्रमुख से मुलाकात की",
            language="hi",
            hours=3,
            entities=shared,
        )
    )
    c.add(doc(3, *AMPERE, hours=4, entities=frozenset({"renault", "ampere"})))
    assert len(c.stories()) == 3  # entities alone never join an article
    merges = c.consolidate()
    assert [(m.absorbed, m.into) for m in merges] == [(2, 1)]
    assert c.stories() == {1: [1, 2], 3: [3]}


def test_names_seen_only_once_do_not_block_a_link_across_languages() -> None:
    # German capitalises every noun, so its article carries many one-off "names", and each
    # English article quotes its own analyst; as the rarest entities these one-offs would outweigh
    # the shared ones and keep the German article away from its English coverage.
    shared = frozenset({"bmw", "name:neue-klasse", "name:debrecen"})
    c = Clusterer()
    c.add(
        doc(
            1,
            "BMW starts Neue Klasse production in Debrecen",
            entities=shared | {"name:nigel-booth", "name:san-luis-potosi"},
        )
    )
    c.add(
        doc(
            2,
            "First Neue Klasse cars roll off the Debrecen line",
            hours=1,
            entities=shared | {"name:helen-carver", "name:vision-neue-klasse"},
        )
    )
    german_nouns = {
        "kosten-der-batterie",
        "produktion-ende",
        "stammwerk-munchen",
        "limousine-der-neuen-klasse",
        "vorserienfahrzeuge-der-neuen-klasse",
        "basis-der-neuen-klasse",
        "produktion-von-verbrennern",
        "werk-debrecen",
        "halle-der-montage",
        "chef-der-produktion",
    }
    c.add(
        doc(
            3,
            "Neue Klasse: In Debrecen laufen die ersten Vorserienfahrzeuge vom Band",
            language="de",
            hours=2,
            entities=shared | {f"name:{noun}" for noun in german_nouns},
        )
    )
    c.add(doc(4, *AMPERE, hours=3, entities=frozenset({"renault", "ampere"})))
    merges = c.consolidate()
    assert [(m.absorbed, m.into) for m in merges] == [(3, 1)]
    assert c.stories() == {1: [1, 2, 3], 4: [4]}


def test_a_second_report_in_another_language_links_to_mixed_coverage_by_entities() -> None:
    # Under the English-only model a Hindi report can be compared by words only with the one
    # Hindi report already in the story, written from another angle; its entities still link it,
    # as they link a story with no language in common.
    shared = frozenset({"renault", "xiaomi", "luca-de-meo", "lei-jun", "beijing-auto-show"})
    c = Clusterer(ClusterSettings(join_threshold=1.01))
    c.add(doc(1, *XIAOMI, entities=shared))
    c.add(doc(2, XIAOMI[1], XIAOMI[0], hours=1, entities=shared))
    c.add(
        doc(
            3,
            "रेनो के सीईओ ने बीजिंग ऑटो शो में श्याओमी के प्रमुख से मुलाकात की",
            language="hi",
            hours=2,
            entities=shared,
        )
    )
    c.consolidate()
    assert [sorted(members) for members in c.stories().values()] == [[1, 2, 3]]
    c.add(
        doc(
            4,
            "लेई जून की कंपनी के स्टैंड पर एक घंटे चली बातचीत",
            "दोनों कंपनियों के बीच साझेदारी की अटकलें तेज़",
            language="hi",
            hours=3,
            entities=frozenset({"xiaomi", "lei-jun"}),
        )
    )
    merges = c.consolidate()
    assert [m.absorbed for m in merges] == [4]
    assert [sorted(members) for members in c.stories().values()] == [[1, 2, 3, 4]]


def test_tokens_drop_stopwords_and_split_chinese_into_bigrams() -> None:
    assert tokens("The Renault board said it would cancel the IPO", "en") == [
        "renault",
        "board",
        "cancel",
        "ipo",
    ]
    assert tokens("小米汽车交付", "zh") == ["小米", "米汽", "汽车", "车交", "交付"]
    assert tokens("टाटा की नई इलेक्ट्रिक कार", "hi") == ["टाटा", "नई", "इलेक्ट्", "कार"]


def test_names_and_figures_count_more_than_ordinary_words() -> None:
    counts = term_counts("Shares of Renault rose 12 percent", "en")
    assert counts["renault"] == 2 and counts["12"] == 2
    assert counts["shares"] == 1 and counts["rose"] == 1


def test_sparse_entity_profiles_weigh_less_in_a_merge() -> None:
    """Headlines naming one entity each say little by disagreeing; articles naming several do."""
    settings = ClusterSettings(  # every add starts a story; the word view always counts fully
        join_threshold=1.01, merge_threshold=0.7, sparse_evidence=0.0
    )
    first = "Apple shares climb after iPhone sales beat forecasts"
    second = "iPhone sales beat forecasts and Apple shares climb"

    def merged(left: frozenset[str], right: frozenset[str]) -> list[Merge]:
        c = Clusterer(settings)
        c.add(doc(1, first, entities=left))
        c.add(doc(2, second, hours=1, entities=right))
        return c.consolidate()

    sparse = merged(frozenset({"apple"}), frozenset({"name:wall-street"}))
    assert [(m.absorbed, m.into) for m in sparse] == [(2, 1)]
    rich = merged(frozenset({"apple", "name:iphone"}), frozenset({"name:wall-street", "nasdaq"}))
    assert rich == []
    strict = Clusterer(
        ClusterSettings(
            join_threshold=1.01, merge_threshold=0.7, merge_entity_evidence=0.0, sparse_evidence=0.0
        )
    )
    strict.add(doc(1, first, entities=frozenset({"apple"})))
    strict.add(doc(2, second, hours=1, entities=frozenset({"name:wall-street"})))
    assert strict.consolidate() == []


def test_word_overlap_of_headlines_weighs_less_than_of_articles() -> None:
    """Two headlines that share no word may still tell one event; two articles that share none
    do not. The same agreeing vectors join the headlines but not the articles."""
    same = vector("volkswagen recall brakes")
    first = "Volkswagen recalls Golf over faulty brakes"
    second = "Wolfsburg carmaker calls back hatchbacks after stopping problem"
    words_a = " ".join(f"alpha{i}" for i in range(30))
    words_b = " ".join(f"omega{i}" for i in range(30))

    def joined(settings: ClusterSettings, text_a: str = "", text_b: str = "") -> bool:
        c = Clusterer(settings)
        c.add(doc(1, first, text_a, body_vector=same))
        return not c.add(doc(2, second, text_b, hours=1, body_vector=same)).created

    weighed = ClusterSettings(join_threshold=0.5)
    assert joined(weighed)
    assert not joined(weighed, words_a, words_b)
    assert not joined(ClusterSettings(join_threshold=0.5, sparse_evidence=0.0))


def _member(
    article_id: int, terms: dict[str, float], entities: str = ""
) -> tuple[ClusterDoc, Features, bool]:
    words = frozenset(entities.split())
    member = doc(article_id, " ".join(terms), entities=words)
    return member, Features("en", float(article_id), terms, words), True


def _close(a: StoryPool, b: StoryPool) -> None:
    assert a.members == b.members and a.entities == b.entities and a.trusted == b.trusted
    assert sorted(a.sparse) == sorted(b.sparse)
    for language, weights in a.sparse.items():
        assert sorted(weights) == sorted(b.sparse[language])
        assert all(np.isclose(w, b.sparse[language][term]) for term, w in weights.items())
        assert np.isclose(a.sparse_norm[language], b.sparse_norm[language])


def test_a_story_left_one_member_short_is_the_story_of_the_others() -> None:
    """Leaving a member out subtracts its share, by whatever shortcut, and sees the latest
    members: a change to the pool after one leave-one-out is seen by the next."""
    members = [
        _member(1, {"recall": 0.6, "brake": 0.5, "ford": 0.3}, "ford"),
        _member(2, {"recall": 0.4, "brake": 0.2, "plant": 0.7}, "ford ohio"),
        _member(3, {"plant": 0.9, "union": 0.1}, "ohio"),
        _member(4, {"union": 0.8, "wage": 0.5, "ford": 0.2}, "ford"),
    ]
    one_by_one = StoryPool(story_id=1, slot=0)
    for member, features, trusted in members:
        one_by_one.add(member, features, trusted=trusted)
    pool = StoryPool.of(1, 0, members)
    assert pool.sparse == one_by_one.sparse and pool.sparse_norm == one_by_one.sparse_norm
    for left_out in range(len(members)):
        rest = [m for number, m in enumerate(members) if number != left_out]
        member, features, trusted = members[left_out]
        _close(pool.without(member, features, trusted=trusted), StoryPool.of(1, 0, rest))
    # member 3 alone held "union" at 0.1 beside member 4's 0.8; without 4, 0.1 is left
    member, features, trusted = members[3]
    assert pool.without(member, features, trusted=trusted).sparse["en"]["union"] == (
        pytest.approx(0.1)
    )
    late = _member(5, {"union": 0.3, "strike": 0.9}, "uaw")
    pool.add(*late[:2], trusted=True)
    _close(pool.without(*late[:2], trusted=True), StoryPool.of(1, 0, members))
    member, features, trusted = members[0]
    expected = [*members[1:], late]
    _close(pool.without(member, features, trusted=trusted), StoryPool.of(1, 0, expected))
    joined = _member(6, {"union": 0.4, "detroit": 0.6}, "uaw")
    pool.absorb(StoryPool.of(2, 1, [joined]))
    _close(pool.without(member, features, trusted=trusted), StoryPool.of(1, 0, [*expected, joined]))
