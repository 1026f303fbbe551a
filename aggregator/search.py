"""Keyword (FTS5), semantic (embeddings) and hybrid search.

Keyword search is SQLite FTS5 with BM25 over one index (see :mod:`aggregator.store.fts`): the
title weighs 3:1 over the body; a word also matches its other forms (Snowball stems under each
stored language), weighted half, so the exact form ranks first; a name the knowledge base knows
(Xiaomi, Luca de Meo) matches every alias, in any script (小米, श्याओमी); Chinese and Japanese
are searched as character bigrams. Every word must match; "quoted phrases" and prefix* stay
exact.

Semantic search embeds the query with the same model as the stored article bodies and ranks by
cosine (vectors are normalised, so an inner product); with a multilingual model the query and the
articles are compared centred by language (:func:`nearest`). The reader keeps the matrix in
memory and refreshes it incrementally, so a query costs one matrix product, not a reload. With a
multilingual model (the default) a query in one language finds articles in another.

Hybrid search is the one that finds an event in every language. It takes ``CANDIDATES`` ids
from each side (keyword: articles with every word, then, when fewer, those with some), fuses
them by weighted reciprocal rank fusion, ``score = Σ weight / (RRF_K + rank)`` (rank from 1),
and then widens the result to whole stories (:func:`widen_to_stories`): every other article of
the stories of the top ``WIDEN`` hits joins with ``SIBLING`` times the best score in its story.
RRF needs no calibration between BM25 scores and cosines. Widening is what crosses languages
when neither side can: a keyword rarely appears in a Chinese or Hindi report, and an English-only
model does not place them near an English query, but the clusterer has put them in the story.
On the dev queries (bench/search_quality.py, 61 queries in 7 languages) widening took hybrid
R@10 from .71 to .92 with MiniLM and from .82 to .91 with e5; RRF_K = 10 beat 60 with widening
(the flatter 60 lets a weak hit's story outrank a strong hit's), SIBLING = 0.9 keeps a story's
matching articles first, and a keyword weight of 2 instead of 1 changed R@10 by under .01.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from aggregator.cluster.centering import shrunk_means, unit
from aggregator.cluster.model import ClusterSettings
from aggregator.cluster.terms import language_key
from aggregator.embed import DEFAULT_MODEL, LazyEmbedder
from aggregator.language import detect_language
from aggregator.models import Vector
from aggregator.store.articles import LanguageSums
from aggregator.store.fts import AliasLookup
from aggregator.store.read import ArticleRow, Filters, Reader, StoryRow

RRF_K = 10
KEYWORD_WEIGHT = 1.0
SEMANTIC_WEIGHT = 1.0
WIDEN = 10  # the stories of this many top hits are widened
SIBLING = 0.9  # an article its story brings scores this share of the story's best hit
FEW = 20  # with fewer keyword matches, articles with some of the words join the keyword side
CANDIDATES = 200
OVERSAMPLE = 10
RESCORE = 50  # at least this many nearest are scored again once centred by language
MEANS_SAMPLE = 5_000  # the language means come from the newest body vectors, this many
MODES = ("keyword", "semantic", "hybrid")
CSV_COLUMNS = (
    "rank",
    "score",
    "story_id",
    "story",
    "article_id",
    "published",
    "source",
    "language",
    "title",
    "url",
)


@cache
def entity_names(path: Path | None = None) -> AliasLookup:
    """Every name of the entity a piece of query text names, from the knowledge base at
    ``path`` (the shipped one by default); loaded once per process and path."""
    from aggregator.entities import DEFAULT_PATH, KnowledgeBase

    kb = KnowledgeBase.load(path or DEFAULT_PATH)

    def names(text: str) -> tuple[str, ...]:
        entity = kb.lookup(text)
        return entity.all_names if entity is not None else ()

    return names


def keyword(
    reader: Reader, query: str, *, limit: int, filters: Filters, entities: Path | None = None
) -> list[ArticleRow]:
    """Full-text search, query words matching their word forms and entity names their aliases."""
    return reader.search_keyword(query, limit=limit, filters=filters, names=entity_names(entities))


def embed_query(query: str, model: str) -> Any:
    """The query's vector under ``model`` (the model is loaded once per process)."""
    return LazyEmbedder(model).encode([query], kind="query")[0]


@dataclass(frozen=True)
class Centring:
    """Language means of the stored body vectors, to compare a query and an article with what
    every text of their language shares taken out (see :mod:`aggregator.cluster.centering`)."""

    means: dict[str, Vector]
    overall: Vector

    def query(self, vector: Any, language: str | None) -> Vector:
        """The query's vector less the mean of its language (the overall mean when the
        language is not known or not stored)."""
        mean = self.means.get(language_key(language)) if language else None
        return unit(np.asarray(vector, dtype=np.float32) - (self.overall if mean is None else mean))

    def scores(
        self, stored: dict[int, tuple[str | None, Any]], query: Vector
    ) -> list[tuple[int, float]]:
        """(id, cosine to ``query``) of each stored (language, vector), each vector less its
        language's mean, best first, ties by id."""
        if not stored:
            return []
        ids = list(stored)
        matrix = np.stack([np.asarray(stored[i][1], dtype=np.float32) for i in ids])
        means = np.stack([self.means.get(language_key(stored[i][0]), self.overall) for i in ids])
        centred = matrix - means
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        centred = centred / np.where(norms > 1e-9, norms, 1.0)
        cosines = centred @ query
        return sorted(zip(ids, cosines.tolist(), strict=True), key=lambda pair: (-pair[1], pair[0]))


def centring(reader: Reader, name: str) -> Centring | None:
    """The language means of model ``name``'s stored body vectors (:func:`centring_from`)."""
    return centring_from(reader.language_sums(name, MEANS_SAMPLE), name)


def centring_from(sums: LanguageSums, name: str) -> Centring | None:
    """Language means from the vector sums of model ``name`` per language, shrunk as the
    clusterer shrinks them; None for a model whose vectors are compared as they are (an
    English-only one) or when nothing is stored."""
    prior = ClusterSettings.for_embedder(name, multilingual=True).center_prior
    if prior <= 0:
        return None
    totals: dict[str, Vector] = {}
    counts: dict[str, int] = {}
    for language, (total, count) in sums.items():
        key = language_key(language)
        totals[key] = totals.get(key, 0) + total
        counts[key] = counts.get(key, 0) + count
    if not counts:
        return None
    means, overall = shrunk_means(totals, counts, prior)
    return Centring(means, overall)


def nearest(
    reader: Reader,
    name: str,
    vector: Any,
    k: int,
    *,
    filters: Filters,
    language: str | None = None,
) -> tuple[list[int], list[float]]:
    """The ``k`` articles whose body vectors of model ``name`` are nearest ``vector``, best
    first, with their scores; those that pass ``filters`` when there are any.

    With a multilingual model the query and the articles are compared centred by language: a
    multilingual encoder puts any two texts of one language closer than a report and its
    translation, so an uncentred Chinese query finds Chinese articles first, whatever they are
    about. The index is searched with the centred query for ``RESCORE`` (at least) candidates,
    which are then scored with their own language's mean taken out too. On the dev queries
    (bench/search_quality.py) semantic R@10 rose from .77 to .88, Chinese from .25 to .74.
    ``language`` is the query's (``detect_language``; None for most short queries, which are
    then centred on the mean of every language)."""
    centre = centring(reader, name)
    query = vector if centre is None else centre.query(vector, language)
    wanted = k if centre is None else max(k, RESCORE)
    if filters == Filters():
        ids, scores = reader.vector_index(name).nearest(query, wanted)
    else:
        ids, scores = reader.nearest_passing(name, query, wanted, filters, oversample=OVERSAMPLE)
    if centre is None:
        return ids, scores
    rescored = centre.scores(reader.body_vectors(name, ids), query)[:k]
    return [i for i, _ in rescored], [score for _, score in rescored]


def semantic_by_vector(
    reader: Reader,
    vector: Any,
    *,
    limit: int,
    filters: Filters,
    model: str,
    language: str | None = None,
) -> list[ArticleRow]:
    """Articles whose body embedding under ``model`` is nearest ``vector`` (:func:`nearest`),
    best first; with filters, the nearest of those that pass them."""
    name = LazyEmbedder(model).name
    if reader.vector_index(name).empty:
        return []
    ids, scores = nearest(reader, name, vector, limit, filters=filters, language=language)
    rows = reader.articles_by_id(ids)
    score_of = dict(zip(ids, scores, strict=True))
    ranked = sorted(rows, key=lambda r: -score_of[r.id])[:limit]
    return [replace(r, rank=score_of[r.id]) for r in ranked]


def semantic(
    reader: Reader, query: str, *, limit: int, filters: Filters, model: str
) -> list[ArticleRow]:
    """Articles whose body embedding is closest to the query's, under the same model."""
    if not query.strip() or reader.vector_index(LazyEmbedder(model).name).empty:
        return []
    vector = embed_query(query, model)
    return semantic_by_vector(
        reader, vector, limit=limit, filters=filters, model=model, language=detect_language(query)
    )


def _rrf(
    rankings: Sequence[Sequence[int]], *, limit: int, weights: Sequence[float] = ()
) -> list[tuple[int, float]]:
    """The top ``limit`` (article id, fused score) pairs, best first, ties by id (see the module
    docstring); the one place the fusion formula lives, for rows and for bare ids alike.
    ``weights`` scale each ranking's share (1 each by default)."""
    fused: dict[int, float] = {}
    for number, ranking in enumerate(rankings):
        weight = weights[number] if number < len(weights) else 1.0
        for position, article_id in enumerate(ranking, start=1):
            fused[article_id] = fused.get(article_id, 0.0) + weight / (RRF_K + position)
    order = sorted(fused, key=lambda i: (-fused[i], i))[:limit]
    return [(i, fused[i]) for i in order]


def fuse(rankings: Sequence[Sequence[ArticleRow]], *, limit: int) -> list[ArticleRow]:
    """Reciprocal rank fusion of several rankings of rows already read."""
    rows: dict[int, ArticleRow] = {}
    for ranking in rankings:
        for row in ranking:
            rows.setdefault(row.id, row)
    top = _rrf([[row.id for row in ranking] for ranking in rankings], limit=limit)
    return [replace(rows[i], rank=score) for i, score in top]


def hybrid(
    reader: Reader,
    query: str,
    *,
    limit: int,
    filters: Filters,
    model: str,
    entities: Path | None = None,
) -> list[ArticleRow]:
    """Keyword and semantic rankings fused, then widened to whole stories (see the module
    docstring)."""
    vector = None
    if query.strip() and not reader.vector_index(LazyEmbedder(model).name).empty:
        vector = embed_query(query, model)
    return hybrid_by_vector(
        reader, query, vector, limit=limit, filters=filters, model=model, entities=entities
    )


def hybrid_by_vector(
    reader: Reader,
    query: str,
    vector: Any,
    *,
    limit: int,
    filters: Filters,
    model: str,
    entities: Path | None = None,
) -> list[ArticleRow]:
    """Hybrid search with the query vector already computed; text is read only for the
    ``limit`` articles that come out on top."""
    names = entity_names(entities)
    keyword_ids = reader.search_keyword_ids(query, limit=CANDIDATES, filters=filters, names=names)
    if len(keyword_ids) < FEW:
        # few articles have every word: those with some follow, best BM25 first (only then,
        # since ranking every article with any common word costs most of a query's time)
        seen = set(keyword_ids)
        some = reader.search_keyword_ids(
            query, limit=CANDIDATES, filters=filters, names=names, any_word=True
        )
        keyword_ids += [i for i in some if i not in seen][: CANDIDATES - len(keyword_ids)]
    semantic_ids: list[int] = []
    if vector is not None:
        semantic_ids, _ = nearest(
            reader,
            LazyEmbedder(model).name,
            vector,
            CANDIDATES,
            filters=filters,
            language=detect_language(query),
        )
    fused = _rrf(
        [keyword_ids, semantic_ids], limit=CANDIDATES, weights=(KEYWORD_WEIGHT, SEMANTIC_WEIGHT)
    )
    top = widen_to_stories(reader, fused, filters=filters)[:limit]
    rows = {r.id: r for r in reader.articles_by_id([i for i, _ in top])}
    return [replace(rows[i], rank=score) for i, score in top if i in rows]


def widen_to_stories(
    reader: Reader, ranked: Sequence[tuple[int, float]], *, filters: Filters
) -> list[tuple[int, float]]:
    """``ranked`` (article id, score), best first, with the other articles of the stories of
    its first ``WIDEN`` articles added: each scores ``SIBLING`` times the best score in its
    story unless it scored more itself, so a story found in one language brings its reports in
    every other, just after the articles that matched."""
    if not ranked:
        return []
    scores = dict(ranked)
    members = reader.story_articles([i for i, _ in ranked[:WIDEN]], filters=filters)
    for articles in members.values():
        best = max(scores.get(i, 0.0) for i in articles)
        for article_id in articles:
            own = scores.get(article_id, 0.0)
            scores[article_id] = max(own, SIBLING * best + own * 1e-3)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def fuse_ids(reader: Reader, rankings: Sequence[Sequence[int]], *, limit: int) -> list[ArticleRow]:
    """Reciprocal rank fusion of rankings of article ids; rows read for the top ``limit``."""
    top = _rrf(rankings, limit=limit)
    rows = {r.id: r for r in reader.articles_by_id([i for i, _ in top])}
    return [replace(rows[i], rank=score) for i, score in top if i in rows]


def search(
    reader: Reader,
    query: str,
    *,
    mode: str = "keyword",
    limit: int = 20,
    filters: Filters | None = None,
    model: str = DEFAULT_MODEL,
    entities: Path | None = None,
) -> list[ArticleRow]:
    """``query`` in ``mode`` (keyword, semantic or hybrid), best first; ``entities`` is the
    knowledge base whose aliases expand names in the query (the shipped one by default)."""
    chosen = filters or Filters()
    if mode == "keyword":
        return keyword(reader, query, limit=limit, filters=chosen, entities=entities)
    if mode == "semantic":
        return semantic(reader, query, limit=limit, filters=chosen, model=model)
    if mode == "hybrid":
        return hybrid(reader, query, limit=limit, filters=chosen, model=model, entities=entities)
    raise ValueError(f"unknown search mode {mode!r}")


@dataclass(frozen=True)
class StoryHits:
    """Search hits that belong to one story (``story`` is None for unclustered articles)."""

    story_id: int | None
    story: StoryRow | None
    hits: tuple[ArticleRow, ...]

    @property
    def best(self) -> float:
        return max(h.rank for h in self.hits)


def group_by_story(reader: Reader, hits: Sequence[ArticleRow]) -> list[StoryHits]:
    """Hits grouped by story, groups in the order of their best hit, hits in rank order.

    One query fetches every story involved, so grouping 200 hits costs one round trip.
    """
    stories = reader.stories_by_id([h.story_id for h in hits if h.story_id is not None])
    groups: dict[int | None, list[ArticleRow]] = {}
    for hit in hits:
        key = hit.story_id if hit.story_id in stories else None
        groups.setdefault(key, []).append(hit)
    ungrouped = groups.pop(None, [])
    result = [
        StoryHits(sid, stories[sid], tuple(rows)) for sid, rows in groups.items() if sid is not None
    ]
    result += [StoryHits(None, None, (row,)) for row in ungrouped]
    return result


def to_csv(hits: Sequence[ArticleRow], stories: dict[int, StoryRow] | None = None) -> str:
    """Hits as CSV text (one row per article, in rank order) for download or export.

    Cells that a spreadsheet would run as a formula (=, +, -, @ first) are prefixed with a
    quote: titles come from feeds and are not to be trusted.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for number, hit in enumerate(hits, start=1):
        story = (stories or {}).get(hit.story_id) if hit.story_id is not None else None
        writer.writerow(
            [
                number,
                f"{hit.rank:.6f}",
                hit.story_id if hit.story_id is not None else "",
                _cell(story.headline if story else ""),
                hit.id,
                hit.published.isoformat(),
                _cell(hit.source),
                hit.language or "",
                _cell(hit.title),
                _cell(hit.url),
            ]
        )
    return buffer.getvalue()


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = [
    "MODES",
    "RRF_K",
    "StoryHits",
    "embed_query",
    "fuse",
    "fuse_ids",
    "group_by_story",
    "hybrid",
    "hybrid_by_vector",
    "keyword",
    "search",
    "semantic",
    "semantic_by_vector",
    "to_csv",
]
