"""Keyword and vector search on PostgreSQL.

Keyword search takes the same expression as SQLite (:func:`aggregator.store.fts.keyword_query`:
quoted words and phrases, ``*`` prefixes, ``AND``/``OR`` and parentheses, each group aimed at
the exact-form or the stem columns of ``articles_search``) and turns it into a ``tsquery``.
The full-text vector holds both kinds of word (the words as written, folded, and their stems
under the article's language), so the column filters are left out: a phrase of exact forms
matches the words as written, and a phrase the query already reduced to stems (Snowball, under
every language stored, as on SQLite) matches the stems PostgreSQL's Snowball configurations
indexed. With :data:`STEMMED` both engines therefore find "tariff" for "tariffs" and "Zoll" for
"Zölle". Two differences remain: PostgreSQL stems the folded words (without diacritics), so a
rare stem that depends on an accent may differ, and a word matched only through its stem is not
weighted lower than the word itself. Chinese and Japanese phrases arrive as bigram phrases and
match the bigrams the index holds.

Scores differ from SQLite's: ``ts_rank`` with titles weighted 3:1 over bodies (weights A and
B), where SQLite uses BM25 with the same 3:1 weights. Both rank articles with the words in the
title first and more occurrences higher; ties are broken by article id on both, so small result
sets come back in the same order, and large ones close to it. In a large archive a search with
a limit ranks the most recently stored matches (at least :data:`ENOUGH` of them, see
:data:`RECENT`), where SQLite ranks all of them.

Semantic search reads the HNSW index (cosine) through :class:`PgVectorIndex`, which answers the
same questions as the in-memory :class:`aggregator.store.vectors.VectorIndex` SQLite readers use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from aggregator.store.engine import Connection
from aggregator.store.fts import keyword_query
from aggregator.store.postgres.connection import PgConnection
from aggregator.store.postgres.schema import VECTOR_DIMENSIONS
from aggregator.store.records import Filters, article_filters

RANK = "ts_rank('{0, 0, 0.333333, 1}', a.fts, query.q)"
"""Title words (weight A) count three times body words (weight B), as in SQLite's BM25."""

STEMMED = True
"""Whether queries also match stemmed words: they do whenever the expression carries stems,
which :meth:`aggregator.store.articles.ArticleQueries.keyword_query` adds for every stored
language with a stemmer (see the module docstring)."""

RECENT = 10_000
"""Keyword search with a limit ranks the matches among the newest ``RECENT`` stored articles
(by id) first, and widens that range four times at a time until it holds ``ENOUGH`` matches or
the whole archive. ``ts_rank`` reads each match's whole ``tsvector`` (no index ranks), so
ranking every match of a common word costs a second and more in an archive of a million
articles; this bounds it by the matches needed. An archive up to ``RECENT`` articles, and a
query with few matches, is ranked whole, as on SQLite."""
ENOUGH = 500

_TOKEN = re.compile(r'\{[^}]*\}:|"(?:[^"]|"")*"\*?|\(|\)|[^\s()]+')


class TsQuery:
    """An FTS5 expression as SQL that builds the equivalent ``tsquery``, with its parameters."""

    def __init__(self, expression: str) -> None:
        self.params: list[Any] = []
        self.sql = self._parse(_TOKEN.findall(expression))

    def _term(self, token: str) -> str:
        prefix = token.endswith("*")
        words = token.rstrip("*").strip('"').replace('""', '"')
        if prefix and " " not in words.strip():
            self.params.append("'" + words.strip().replace("'", "''") + "':*")
            return "to_tsquery('simple', fold(?))"
        self.params.append(words)
        return "phraseto_tsquery('simple', fold(?))"

    def _parse(self, tokens: list[str]) -> str:
        parts: list[str] = []
        operator = "&&"
        negate = False
        stack: list[tuple[list[str], str, bool]] = []
        for token in tokens:
            upper = token.upper()
            if upper in ("AND", "OR", "NOT"):
                operator = "||" if upper == "OR" else "&&"
                negate = upper == "NOT"
                continue
            if token == "(":
                stack.append((parts, operator, negate))
                parts, operator, negate = [], "&&", False
                continue
            if token == ")":
                if not stack:
                    continue
                inner = "(" + " ".join(parts) + ")" if parts else ""
                parts, operator, negate = stack.pop()
                if inner:
                    self._add(parts, inner, operator, negate)
                operator, negate = "&&", False
                continue
            if token.startswith("NEAR") or token.startswith("{"):
                continue  # column filters: the one vector holds exact forms and stems alike
            self._add(parts, self._term(token), operator, negate)
            operator, negate = "&&", False
        while stack:  # unbalanced parentheses: close them
            inner = "(" + " ".join(parts) + ")" if parts else ""
            parts, operator, negate = stack.pop()
            if inner:
                self._add(parts, inner, operator, negate)
        return " ".join(parts)

    @staticmethod
    def _add(parts: list[str], term: str, operator: str, negate: bool) -> None:
        if negate:
            term = f"!!{term}"
        parts.append(f"{operator} {term}" if parts else term)


class KeywordSearch:
    """Keyword queries on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def tsquery(self, expression: str) -> str | None:
        """A search expression (:func:`aggregator.store.fts.keyword_query`) as ``tsquery``
        text, or None when it has no words."""
        if not expression:
            return None
        built = TsQuery(expression)
        if not built.sql:
            return None
        row = self.conn.execute(f"SELECT ({built.sql})::text", built.params).fetchone()
        query = str(row[0] or "")
        return query or None

    def matches(
        self,
        expression: str,
        columns: str,
        *,
        filters: Filters,
        limit: int | None = None,
        id_range: tuple[int, int] | None = None,
    ) -> list[Any]:
        """Rows of ``columns`` (plus ``score``) for articles matching ``expression``, best
        first; with a ``limit``, the best among the most recently stored matches (see
        :data:`RECENT`)."""
        query = self.tsquery(expression)
        if query is None:
            return []
        if limit is None or id_range is not None:
            return self._ranked(query, columns, filters, limit, id_range)
        newest = int(self.conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])
        span = RECENT
        while True:
            low = newest - span
            if low <= 0:
                return self._ranked(query, columns, filters, limit, None)
            rows = self._ranked(query, columns, filters, limit, (low, newest), counted=True)
            if rows and int(rows[0]["matched"]) >= ENOUGH:
                return rows
            span *= 4

    def _ranked(
        self,
        query: str,
        columns: str,
        filters: Filters,
        limit: int | None,
        id_range: tuple[int, int] | None,
        *,
        counted: bool = False,
    ) -> list[Any]:
        clauses, params = article_filters(filters)
        if id_range is not None:
            clauses += " AND a.id > ? AND a.id <= ?"
            params = [*params, *id_range]
        sql = (
            f"SELECT {columns}, {RANK} AS score"
            + (", count(*) OVER () AS matched" if counted else "")
            + f" FROM articles a, (SELECT ?::tsquery AS q) query WHERE a.fts @@ query.q{clauses} "
            "ORDER BY score DESC, a.id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, limit]
        if id_range is None or not isinstance(self.conn, PgConnection):
            return list(self.conn.execute(sql, (query, *params)).fetchall())
        # The planner prices "fts @@ query" at one operator call a row, while each call unpacks
        # a tsvector of kilobytes; left alone it reads a range of ids by the primary key and
        # tests every article in it. Bitmap scans intersect the full-text index with the range
        # and read only the articles that match.
        with self.conn.transaction():
            self.conn.execute("SET LOCAL enable_seqscan = off")
            self.conn.execute("SET LOCAL enable_indexscan = off")
            return list(self.conn.execute(sql, (query, *params)).fetchall())


def watch_keyword_matches(
    conn: Connection, text: str, filters: Filters, after: int, upto: int
) -> dict[int, float]:
    """Articles with ``after < id <= upto`` matching a saved search's words, with scores
    (the words as written, as saved searches match on SQLite)."""
    expression = keyword_query(text).expression
    rows = KeywordSearch(conn).matches(expression, "a.id", filters=filters, id_range=(after, upto))
    return {int(r[0]): float(r[1]) for r in rows}


def vector_literal(vector: Any) -> str:
    """A vector as pgvector's text form."""
    values = np.asarray(vector, dtype=np.float32).tolist()
    return "[" + ",".join(["%.8g"] * len(values)) % tuple(values) + "]"


class PgVectorIndex:
    """The body embeddings of one model, searched in the database: the HNSW index (cosine) for
    384-wide vectors, an exact scan for any other width. Same questions as
    :class:`aggregator.store.vectors.VectorIndex`."""

    def __init__(self, conn: Connection, model: str) -> None:
        self.conn = conn
        self.model = model
        self._size: int | None = None

    @property
    def empty(self) -> bool:
        """Whether no article has a body vector of this model (one indexed lookup)."""
        if self._size is not None:
            return self._size == 0
        row = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM embeddings WHERE model = ? AND field = 'body')",
            (self.model,),
        ).fetchone()
        return not row[0]

    @property
    def size(self) -> int:
        """How many articles have a body vector of this model: counted once per index object,
        and only when asked, since counting reads every vector's row (a search asks only when a
        filter left too few of the nearest articles)."""
        if self._size is None:
            row = self.conn.execute(
                "SELECT count(*) FROM embeddings WHERE model = ? AND field = 'body'",
                (self.model,),
            ).fetchone()
            self._size = int(row[0])
        return self._size

    @property
    def ids(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT article_id FROM embeddings WHERE model = ? AND field = 'body' "
            "ORDER BY article_id",
            (self.model,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def nearest(
        self,
        vector: Any,
        k: int,
        *,
        allowed: Sequence[int] | None = None,
        filters: Filters | None = None,
    ) -> tuple[list[int], list[float]]:
        """The ``k`` ids nearest ``vector`` by cosine, best first; ``allowed`` restricts them
        to some ids, ``filters`` to the articles that pass them."""
        if k <= 0 or (allowed is not None and not allowed):
            return [], []
        width = len(np.asarray(vector))
        params: list[Any] = [vector_literal(vector), self.model]
        if width == VECTOR_DIMENSIONS:
            distance = f"e.embedding::vector({VECTOR_DIMENSIONS}) <=> ?::vector"
            where = f"AND vector_dims(e.embedding) = {VECTOR_DIMENSIONS}"
        else:
            distance = "e.embedding <=> ?::vector"
            where = "AND vector_dims(e.embedding) = ?"
            params.append(width)
        if allowed is not None:
            where += " AND e.article_id = ANY(?)"
            params.append(list(allowed))
        join = ""
        if filters is not None and filters != Filters():
            clauses, values = article_filters(filters)
            join = "JOIN articles a ON a.id = e.article_id "
            where += clauses
            params += values
        # the index returns ef_search candidates before filtering by model (and filters);
        # iterative scans go on until k rows pass, in exact distance order
        self.conn.execute(f"SET hnsw.ef_search = {max(40, min(k, 1000))}")
        self.conn.execute("SET hnsw.iterative_scan = strict_order")
        rows = self.conn.execute(
            f"SELECT e.article_id, {distance} AS distance FROM embeddings e {join}"
            f"WHERE e.field = 'body' AND e.model = ? {where} ORDER BY distance "
            "LIMIT ?",
            (*params, k),
        ).fetchall()
        ranked = sorted(rows, key=lambda r: (float(r[1]), int(r[0])))  # ties by id
        return [int(r[0]) for r in ranked], [1.0 - float(r[1]) for r in ranked]
