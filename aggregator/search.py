"""Keyword (FTS5), semantic (embeddings) and hybrid search.

Hybrid search fuses the two rankings by reciprocal rank fusion: an article's score is
``sum(1 / (RRF_K + rank))`` over the rankings it appears in (rank counted from 1), with RRF_K = 60.
RRF needs no calibration between BM25 scores and cosines, and rewards articles both methods find.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from aggregator.embed import LazyEmbedder
from aggregator.store.read import ArticleRow, Filters, Reader

RRF_K = 60
CANDIDATES = 200


def keyword(reader: Reader, query: str, *, limit: int, filters: Filters) -> list[ArticleRow]:
    return reader.search_keyword(query, limit=limit, filters=filters)


def semantic(
    reader: Reader, query: str, *, limit: int, filters: Filters, model: str
) -> list[ArticleRow]:
    """Articles whose body embedding is closest to the query's, under the same model."""
    embedder = LazyEmbedder(model)
    index = reader.vector_index(embedder.name)
    if index.size == 0 or not query.strip():
        return []
    vector = embedder.encode([query], kind="query")[0]
    ids, scores = index.nearest(vector, CANDIDATES if filters != Filters() else limit)
    rows = reader.articles_by_id(ids, filters=filters)
    ranked = sorted(rows, key=lambda r: -float(scores[ids.index(r.id)]))
    return [replace(r, rank=float(scores[ids.index(r.id)])) for r in ranked[:limit]]


def hybrid(
    reader: Reader, query: str, *, limit: int, filters: Filters, model: str
) -> list[ArticleRow]:
    lists = [
        keyword(reader, query, limit=CANDIDATES, filters=filters),
        semantic(reader, query, limit=CANDIDATES, filters=filters, model=model),
    ]
    fused: dict[int, float] = {}
    rows: dict[int, ArticleRow] = {}
    for ranking in lists:
        for position, row in enumerate(ranking, start=1):
            fused[row.id] = fused.get(row.id, 0.0) + 1.0 / (RRF_K + position)
            rows.setdefault(row.id, row)
    order = sorted(fused, key=lambda i: -fused[i])[:limit]
    return [replace(rows[i], rank=fused[i]) for i in order]


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


__all__ = ["RRF_K", "hybrid", "keyword", "np", "search", "semantic"]
