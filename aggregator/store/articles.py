"""Article queries: keyword search over both full-text indexes, the vector index, export.

Keyword search runs on ``articles_fts``, or on ``articles_fts_cjk`` when the query has Chinese or
Japanese terms (that index holds those scripts as character bigrams, see
:mod:`aggregator.store.fts`). Either way the score is BM25 with titles weighted 3:1 over bodies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from aggregator.store.fts import keyword_query
from aggregator.store.records import (
    ARTICLE_COLUMNS,
    ArticleRow,
    Filters,
    Queries,
    article_filters,
    article_row,
)
from aggregator.store.vectors import CachedIndex, VectorIndex, matrix_from_blobs


class ArticleQueries(Queries):
    """The reader's article queries; body embeddings are kept in memory per model."""

    _indexes: dict[str, CachedIndex]

    def search_keyword(
        self, query: str, *, limit: int = 50, filters: Filters | None = None
    ) -> list[ArticleRow]:
        """Full-text search (FTS5, BM25 with the title weighted 3:1 over the body)."""
        parsed = keyword_query(query)
        if not parsed:
            return []
        table = parsed.table
        clauses, params = article_filters(filters or Filters())
        rows = self._rows(
            f"SELECT {ARTICLE_COLUMNS}, bm25({table}, 3.0, 1.0) AS score "
            f"FROM {table} JOIN articles a ON a.id = {table}.rowid "
            f"WHERE {table} MATCH ? {clauses} ORDER BY score LIMIT ?",
            (parsed.expression, *params, limit),
        )
        return [article_row(r, rank=-float(r["score"])) for r in rows]

    def search_keyword_ids(
        self, query: str, *, limit: int = 200, filters: Filters | None = None
    ) -> list[int]:
        """The ids :meth:`search_keyword` would return, without reading any text (for fusion)."""
        parsed = keyword_query(query)
        if not parsed:
            return []
        table = parsed.table
        clauses, params = article_filters(filters or Filters())
        join = f"JOIN articles a ON a.id = {table}.rowid " if clauses else ""
        rows = self._rows(
            f"SELECT {table}.rowid FROM {table} {join}"
            f"WHERE {table} MATCH ? {clauses} ORDER BY bm25({table}, 3.0, 1.0) LIMIT ?",
            (parsed.expression, *params, limit),
        )
        return [int(r[0]) for r in rows]

    def vector_index(self, model: str) -> VectorIndex:
        """The body embeddings of ``model`` as one matrix, kept between calls.

        Only rows written since the last call are read (see :mod:`aggregator.store.vectors`),
        so a long-lived reader (the dashboard's) pays the full load once.
        """
        marker = int(self._rows("SELECT coalesce(max(rowid), 0) FROM embeddings")[0][0])
        cached = self._indexes.get(model)
        if cached is not None and cached.marker == marker:
            return cached.index
        since = cached.marker if cached is not None else 0
        rows = self._rows(
            "SELECT article_id, vector FROM embeddings WHERE rowid > ? AND model = ? "
            "AND field = 'body' ORDER BY rowid",
            (since, model),
        )
        ids = [int(r[0]) for r in rows]
        matrix = matrix_from_blobs([bytes(r[1]) for r in rows])
        if cached is None:
            index = VectorIndex(ids, matrix) if ids else VectorIndex([], matrix)
        else:
            index = cached.index.extended(ids, matrix)
        self._indexes[model] = CachedIndex(marker, index)
        return index

    def filtered_ids(self, filters: Filters) -> list[int] | None:
        """Ids of the articles that pass ``filters``; None when nothing is filtered."""
        if filters == Filters():
            return None
        clauses, params = article_filters(filters)
        rows = self._rows(f"SELECT a.id FROM articles a WHERE 1 = 1{clauses}", params)
        return [int(r[0]) for r in rows]

    def articles_by_id(
        self, ids: Sequence[int], *, filters: Filters | None = None
    ) -> list[ArticleRow]:
        if not ids:
            return []
        clauses, params = article_filters(filters or Filters())
        rows = self._rows(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.id IN "
            f"({', '.join('?' * len(ids))}){clauses}",
            (*ids, *params),
        )
        return [article_row(r) for r in rows]

    def export_articles(self) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(
            "SELECT a.id, a.url, a.external_id, a.story_id, a.title, a.source, a.published, "
            "a.language, a.summary_only, a.text FROM articles a ORDER BY a.published, a.id"
        )
        for row in cursor:
            yield {
                "id": row["external_id"] if row["external_id"] is not None else row["id"],
                "article_id": row["id"],
                "url": row["url"],
                "story_id": row["story_id"],
                "title": row["title"],
                "source": row["source"],
                "published": row["published"],
                "language": row["language"],
                "summary_only": bool(row["summary_only"]),
                "text": row["text"],
            }
