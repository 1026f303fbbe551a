"""Article queries: keyword search on the search index, the vector index, export.

Keyword search runs on ``articles_search`` (exact forms, stems and bigrams, see
:mod:`aggregator.store.fts`), scored by BM25 with titles weighted 3:1 over bodies and stems
half as much as exact forms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from aggregator.store.engine import Connection
from aggregator.store.fts import AliasLookup, KeywordQuery, keyword_query, stemmer_language
from aggregator.store.records import (
    ARTICLE_COLUMNS,
    ArticleRow,
    Filters,
    Queries,
    article_filters,
    article_row,
)
from aggregator.store.vectors import CachedIndex, VectorIndex, matrix_from_blobs

LanguageSums = dict[str | None, tuple[Any, int]]
"""Per language (None: not known), a vector sum and how many vectors it adds up."""


def language_sums(conn: Connection, model: str, sample: int) -> LanguageSums:
    """Per language, the sum and number of the body vectors of ``model`` among the newest
    ``sample`` articles that have one (what search and saved searches centre vectors on)."""
    rows = conn.execute(
        "SELECT a.language, e.vector FROM embeddings e JOIN articles a ON a.id = e.article_id "
        "WHERE e.model = ? AND e.field = 'body' ORDER BY e.article_id DESC LIMIT ?",
        (model, sample),
    ).fetchall()
    groups: dict[str | None, list[bytes]] = {}
    for language, blob in rows:
        groups.setdefault(language, []).append(bytes(blob))
    sums: LanguageSums = {}
    for language, group in groups.items():
        matrix = matrix_from_blobs(group)
        sums[language] = (matrix.sum(axis=0, dtype=np.float64).astype(np.float32), len(group))
    return sums


class ArticleQueries(Queries):
    """The reader's article queries; body embeddings are kept in memory per model."""

    _indexes: dict[str, CachedIndex]
    _languages: tuple[int, tuple[str, ...]] = (-1, ())
    _vector_sums: dict[tuple[str, int], tuple[str, LanguageSums]] | None = None

    def search_keyword(
        self,
        query: str,
        *,
        limit: int = 50,
        filters: Filters | None = None,
        names: AliasLookup | None = None,
    ) -> list[ArticleRow]:
        """Full-text search: BM25 over exact forms and stems, titles weighted 3:1 over bodies
        (see :mod:`aggregator.store.fts`); ``names`` expands entity names to their aliases.

        The ranking reads only the index; rows are read for the ``limit`` best, since a common
        name can match a tenth of a large database."""
        scored = self._keyword_scores(query, limit=limit, filters=filters, names=names)
        rows = {r.id: r for r in self.articles_by_id([i for i, _ in scored])}
        return [replace(rows[i], rank=score) for i, score in scored if i in rows]

    def search_keyword_ids(
        self,
        query: str,
        *,
        limit: int = 200,
        filters: Filters | None = None,
        names: AliasLookup | None = None,
        any_word: bool = False,
    ) -> list[int]:
        """The ids :meth:`search_keyword` would return, without reading any text (for fusion);
        with ``any_word``, articles that match some of the words count too."""
        scored = self._keyword_scores(
            query, limit=limit, filters=filters, names=names, any_word=any_word
        )
        return [i for i, _ in scored]

    def _keyword_scores(
        self,
        query: str,
        *,
        limit: int,
        filters: Filters | None,
        names: AliasLookup | None,
        any_word: bool = False,
    ) -> list[tuple[int, float]]:
        """(article id, score) of the best ``limit`` matches, higher scores first."""
        parsed = self.keyword_query(query, names=names, any_word=any_word)
        if not parsed:
            return []
        table = parsed.table
        clauses, params = article_filters(filters or Filters())
        join = f"JOIN articles a ON a.id = {table}.rowid " if clauses else ""
        rows = self._rows(
            f"SELECT {table}.rowid, {parsed.rank} AS score FROM {table} {join}"
            f"WHERE {table} MATCH ? {clauses} ORDER BY score LIMIT ?",
            (parsed.expression, *params, limit),
        )
        return [(int(r[0]), -float(r[1])) for r in rows]

    def keyword_query(
        self, query: str, *, names: AliasLookup | None = None, any_word: bool = False
    ) -> KeywordQuery:
        """``query`` as an expression on the search index, its words stemmed under every
        language stored (see :func:`aggregator.store.fts.search_expression`)."""
        return keyword_query(
            query, names=names, languages=self.stemmed_languages(), any_word=any_word
        )

    def stemmed_languages(self) -> tuple[str, ...]:
        """The stored languages that have a stemmer; read again only after new articles."""
        newest = int(self._rows("SELECT coalesce(max(id), 0) FROM articles")[0][0])
        if self._languages[0] != newest:
            rows = self._rows("SELECT DISTINCT language FROM articles")
            found = {stemmer_language(r[0]) for r in rows}
            self._languages = (newest, tuple(sorted(code for code in found if code)))
        return self._languages[1]

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

    def nearest_passing(
        self, model: str, vector: Any, k: int, filters: Filters, *, oversample: int
    ) -> tuple[list[int], list[float]]:
        """The ``k`` articles nearest ``vector`` (body embeddings of ``model``) that pass
        ``filters``, best first, with their cosines.

        The nearest ``oversample`` x ``k`` (at least 500) are filtered in SQL first; only when
        too few of them pass is the search repeated over exactly the allowed ids, so a common
        filter costs one extra indexed lookup rather than listing every matching article."""
        index = self.vector_index(model)
        ids, scores = index.nearest(vector, max(k * oversample, 500))
        passing = set(self._passing(ids, filters))
        if len(passing) < k and len(ids) < index.size:
            return index.nearest(vector, k, allowed=self.filtered_ids(filters))
        kept = [(i, s) for i, s in zip(ids, scores, strict=True) if i in passing][:k]
        return [i for i, _ in kept], [s for _, s in kept]

    def language_sums(self, model: str, sample: int) -> LanguageSums:
        """:func:`language_sums` of this database, read again only once a newer article has
        a vector: not after every commit, since on PostgreSQL any write on the server counts as
        one and reading 5,000 vectors costs 65-95 ms at 100,000 articles. (Vectors replaced by
        a re-embedding are seen with the next new article.)"""
        version = str(self._rows("SELECT coalesce(max(article_id), 0) FROM embeddings")[0][0])
        cache = self._vector_sums if self._vector_sums is not None else {}
        self._vector_sums = cache
        cached = cache.get((model, sample))
        if cached is not None and cached[0] == version:
            return cached[1]
        sums = language_sums(self.conn, model, sample)
        cache[(model, sample)] = (version, sums)
        return sums

    def body_vectors(self, model: str, ids: Sequence[int]) -> dict[int, tuple[str | None, Any]]:
        """The language and body vector of ``model`` of each of ``ids`` that has one."""
        if not ids:
            return {}
        rows = self._rows(
            "SELECT e.article_id, a.language, e.vector FROM embeddings e "
            "JOIN articles a ON a.id = e.article_id WHERE e.model = ? AND e.field = 'body' "
            f"AND e.article_id IN ({', '.join('?' * len(ids))})",
            (model, *ids),
        )
        return {int(r[0]): (r[1], np.frombuffer(bytes(r[2]), dtype=np.float32)) for r in rows}

    def _passing(self, ids: Sequence[int], filters: Filters) -> list[int]:
        if not ids:
            return []
        clauses, params = article_filters(filters)
        rows = self._rows(
            f"SELECT a.id FROM articles a WHERE a.id IN ({', '.join('?' * len(ids))}){clauses}",
            (*ids, *params),
        )
        return [int(r[0]) for r in rows]

    def story_articles(
        self, ids: Sequence[int], *, filters: Filters | None = None
    ) -> dict[int, list[int]]:
        """Every article (passing ``filters``) of the stories the articles ``ids`` belong to,
        by story id, in id order."""
        if not ids:
            return {}
        clauses, params = article_filters(filters or Filters())
        rows = self._rows(
            "SELECT a.id, a.story_id FROM articles a WHERE a.story_id IN (SELECT story_id "
            f"FROM articles WHERE id IN ({', '.join('?' * len(ids))})){clauses} ORDER BY a.id",
            (*ids, *params),
        )
        members: dict[int, list[int]] = {}
        for row in rows:
            members.setdefault(int(row[1]), []).append(int(row[0]))
        return members

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
