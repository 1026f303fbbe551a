"""Keyword (FTS5), semantic (embeddings) and hybrid search.

Keyword search is SQLite FTS5 with BM25, the title weighted 3:1 over the body; "quoted phrases"
and prefix* queries are supported (see :func:`aggregator.store.fts.fts_query`). Chinese and
Japanese, written without spaces, are searched as character bigrams, so 小米 is found inside
小米SU7交付量突破1万台 (see :mod:`aggregator.store.fts`).

Semantic search embeds the query with the same model as the stored article bodies and ranks by
cosine (vectors are normalised, so an inner product). The reader keeps the matrix in memory and
refreshes it incrementally, so a query costs one matrix product, not a reload. With a
multilingual model (``--model e5``) a query in one language finds articles in another.

Hybrid search fuses the two rankings by reciprocal rank fusion: an article's score is
``sum(1 / (RRF_K + rank))`` over the rankings it appears in (rank counted from 1), with RRF_K = 60.
RRF needs no calibration between BM25 scores and cosines, and rewards articles both methods find.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from aggregator.embed import LazyEmbedder
from aggregator.store.read import ArticleRow, Filters, Reader, StoryRow

RRF_K = 60
CANDIDATES = 200
OVERSAMPLE = 10
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


def keyword(reader: Reader, query: str, *, limit: int, filters: Filters) -> list[ArticleRow]:
    return reader.search_keyword(query, limit=limit, filters=filters)


def embed_query(query: str, model: str) -> Any:
    """The query's vector under ``model`` (the model is loaded once per process)."""
    return LazyEmbedder(model).encode([query], kind="query")[0]


def semantic_by_vector(
    reader: Reader, vector: Any, *, limit: int, filters: Filters, model: str
) -> list[ArticleRow]:
    """Articles whose body embedding under ``model`` is nearest ``vector``, best first.

    With filters, the nearest ``OVERSAMPLE`` x ``limit`` candidates are filtered in SQL first;
    only when too few of them pass is the search repeated over exactly the allowed ids, so a
    common filter costs one extra indexed lookup rather than listing every matching article.
    """
    index = reader.vector_index(LazyEmbedder(model).name)
    if index.size == 0:
        return []
    if filters == Filters():
        ids, scores = index.nearest(vector, limit)
        rows = reader.articles_by_id(ids)
    else:
        ids, scores = index.nearest(vector, max(limit * OVERSAMPLE, 500))
        rows = reader.articles_by_id(ids, filters=filters)
        if len(rows) < limit and len(ids) < index.size:
            ids, scores = index.nearest(vector, limit, allowed=reader.filtered_ids(filters))
            rows = reader.articles_by_id(ids)
    score_of = dict(zip(ids, scores, strict=True))
    ranked = sorted(rows, key=lambda r: -score_of[r.id])[:limit]
    return [replace(r, rank=score_of[r.id]) for r in ranked]


def semantic(
    reader: Reader, query: str, *, limit: int, filters: Filters, model: str
) -> list[ArticleRow]:
    """Articles whose body embedding is closest to the query's, under the same model."""
    if not query.strip() or reader.vector_index(LazyEmbedder(model).name).size == 0:
        return []
    vector = embed_query(query, model)
    return semantic_by_vector(reader, vector, limit=limit, filters=filters, model=model)


def _rrf(rankings: Sequence[Sequence[int]], *, limit: int) -> list[tuple[int, float]]:
    """The top ``limit`` (article id, fused score) pairs, best first, ties by id (see the module
    docstring); the one place the fusion formula lives, for rows and for bare ids alike."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for position, article_id in enumerate(ranking, start=1):
            fused[article_id] = fused.get(article_id, 0.0) + 1.0 / (RRF_K + position)
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
    reader: Reader, query: str, *, limit: int, filters: Filters, model: str
) -> list[ArticleRow]:
    """Keyword and semantic rankings of ``CANDIDATES`` ids each, fused by rank."""
    vector = None
    if query.strip() and reader.vector_index(LazyEmbedder(model).name).size:
        vector = embed_query(query, model)
    return hybrid_by_vector(reader, query, vector, limit=limit, filters=filters, model=model)


def hybrid_by_vector(
    reader: Reader, query: str, vector: Any, *, limit: int, filters: Filters, model: str
) -> list[ArticleRow]:
    """Hybrid search with the query vector already computed; text is read only for the
    ``limit`` articles that come out on top."""
    keyword_ids = reader.search_keyword_ids(query, limit=CANDIDATES, filters=filters)
    semantic_ids: list[int] = []
    if vector is not None and filters == Filters():
        semantic_ids = reader.vector_index(LazyEmbedder(model).name).nearest(vector, CANDIDATES)[0]
    elif vector is not None:
        rows = semantic_by_vector(reader, vector, limit=CANDIDATES, filters=filters, model=model)
        semantic_ids = [r.id for r in rows]
    return fuse_ids(reader, [keyword_ids, semantic_ids], limit=limit)


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
    model: str = "minilm",
) -> list[ArticleRow]:
    chosen = filters or Filters()
    if mode == "keyword":
        return keyword(reader, query, limit=limit, filters=chosen)
    if mode == "semantic":
        return semantic(reader, query, limit=limit, filters=chosen, model=model)
    if mode == "hybrid":
        return hybrid(reader, query, limit=limit, filters=chosen, model=model)
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
