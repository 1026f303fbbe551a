"""Keyword and vector search on PostgreSQL.

Keyword search takes the same expression as SQLite (:func:`aggregator.store.fts.keyword_query`:
quoted words and phrases, ``*`` prefixes, ``AND``/``OR`` and parentheses, each group aimed at
the exact-form or the stem columns of ``articles_search``) and turns it into a ``tsquery``.
The full-text vector holds both kinds of word under weights of their own (migration 11): the
words as written, folded, under A (title) and B (body), and their stems under the article's
language under C and D. A column filter becomes a weight restriction (``'zolle':AB``,
``'zoll':CD``), so a phrase of exact forms matches the words as written only, and a phrase the
query already reduced to stems (Snowball, under every language stored, as on SQLite) matches the
stems PostgreSQL's Snowball configurations indexed: both engines find "tariff" for "tariffs" and
"Zoll" for "Zölle". PostgreSQL stems the folded words (without diacritics), so a rare stem that
depends on an accent may differ. Chinese and Japanese phrases arrive as bigram phrases and match
the bigrams the index holds.

Scores follow SQLite's weights: the words as written and the stems are ranked apart
(``ts_rank`` of each, weights :data:`EXACT_RANK` and :data:`STEM_RANK`, summed), so a title
counts three times a body and a word matched only through its stem half the word itself, as
SQLite's BM25 weights (3, 1, 1.5, 0.5) have it; both divide by the article's length, and ties
are broken by article id on both. What remains different is BM25's own curve: it weighs rare
words above common ones (``ts_rank`` has no document frequencies) and saturates repeated words
differently, so among articles that match alike the order can differ. On the demo's dev
queries the first keyword hit is the same on both engines for 52 of 61 queries. In a large
archive a search with a limit ranks the most recently stored matches (at least :data:`ENOUGH` of
them, see :data:`RECENT`), where SQLite ranks all of them.

Semantic search reads the HNSW index (cosine) through :class:`PgVectorIndex`, which answers the
same questions as the in-memory :class:`aggregator.store.vectors.VectorIndex` SQLite readers use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aggregator.store.engine import Connection
from aggregator.store.fts import keyword_query
from aggregator.store.postgres.connection import PgConnection
from aggregator.store.postgres.schema import VECTOR_DIMENSIONS
from aggregator.store.records import Filters, article_filters

COLUMN_WEIGHTS = {"{title text}:": "AB", "{title_stem text_stem}:": "CD"}
"""The full-text vector's weights that hold each of SQLite's column groups: A and B the title
and body as written, C and D their stems (migration 11)."""

EXACT_RANK = "{0, 0, 0.333333, 1}"
STEM_RANK = "{0.166667, 0.5, 0, 0}"
"""``ts_rank`` weights ({D, C, B, A}) of the exact-form words and of the stems: the title counts
three times the body, and a stem half the word as written, as SQLite's
:data:`aggregator.store.fts.SEARCH_WEIGHTS` (3, 1, 1.5, 0.5) do."""

NORMALIZATION = 1
"""``ts_rank`` divides by 1 + the logarithm of the article's length: longer articles need more
occurrences to rank as high, as BM25's length normalisation has it."""

STEMMED = True
"""Whether queries also match stemmed words: they do whenever the expression carries stems,
which :meth:`aggregator.store.articles.ArticleQueries.keyword_query` adds for every stored
language with a stemmer (see the module docstring)."""

RECENT = 10_000
"""Keyword search with a limit ranks the matches among the newest ``RECENT`` stored articles
(by id) first, and widens that range, as far as the density of matches seen says ``ENOUGH``
matches should be (at least twice as far), until it holds them or the whole archive.
``ts_rank`` reads each match's whole ``tsvector`` (no index ranks), so ranking every match of a
common word costs a second and more in an archive of a million articles; this bounds it by the
matches needed. An archive up to ``RECENT`` articles, and a
query with few matches, is ranked whole, as on SQLite."""
ENOUGH = 500

_TOKEN = re.compile(r'\{[^}]*\}:|"(?:[^"]|"")*"\*?|\(|\)|[^\s()]+')
_LEXEME = re.compile(r"('(?:[^']|'')*')(:\*)?")

Node = list[tuple[str, bool, "int | Node"]]
"""A parsed expression: (operator, negated, term index or group) in order."""


@dataclass(frozen=True)
class Term:
    """One phrase or prefix of the expression: the SQL that makes its ``tsquery`` from the
    parameter, and the weights it may match (empty: any)."""

    sql: str
    param: str
    weights: str


@dataclass(frozen=True)
class Built:
    """A search as ``tsquery`` texts: what must match, and the exact-form and stem words
    that score (empty when there are none)."""

    match: str
    exact: str
    stems: str


class TsQuery:
    """An FTS5 expression on SQLite's search index, parsed into terms whose ``tsquery`` the
    server makes (:meth:`KeywordSearch.tsquery` joins them)."""

    def __init__(self, expression: str) -> None:
        self.terms: list[Term] = []
        self.ranked: list[int] = []
        self.tree = self._parse(_TOKEN.findall(expression))

    def _term(self, token: str, weights: str, negated: bool) -> int:
        prefix = token.endswith("*")
        words = token.rstrip("*").strip('"').replace('""', '"')
        if prefix and " " not in words.strip():
            term = Term(
                "to_tsquery('simple', fold(?))",
                "'" + words.strip().replace("'", "''") + "':*",
                weights,
            )
        else:
            term = Term("phraseto_tsquery('simple', fold(?))", words, weights)
        self.terms.append(term)
        if not negated:
            self.ranked.append(len(self.terms) - 1)
        return len(self.terms) - 1

    def _parse(self, tokens: list[str]) -> Node:
        parts: Node = []
        operator, negate, weights, pending = "&", False, "", ""
        stack: list[tuple[Node, str, bool, str]] = []
        for token in tokens:
            upper = token.upper()
            if upper in ("AND", "OR", "NOT"):
                operator = "|" if upper == "OR" else "&"
                negate = upper == "NOT"
                continue
            if token.startswith("{"):
                pending = COLUMN_WEIGHTS.get(token, "")  # applies to the next term or group
                continue
            if token.startswith("NEAR"):
                continue
            if token == "(":
                stack.append((parts, operator, negate, weights))
                parts, weights = [], pending or weights
                operator, negate, pending = "&", False, ""
                continue
            if token == ")":
                if not stack:
                    continue
                inner = parts
                parts, operator, negate, weights = stack.pop()
                if inner:
                    parts.append((operator, negate, inner))
                operator, negate = "&", False
                continue
            parts.append((operator, negate, self._term(token, pending or weights, negate)))
            operator, negate, pending = "&", False, ""
        while stack:  # unbalanced parentheses: close them
            inner = parts
            parts, operator, negate, weights = stack.pop()
            if inner:
                parts.append((operator, negate, inner))
        return parts

    def render(self, texts: Sequence[str]) -> Built:
        """The ``tsquery`` texts, given each term's ``tsquery`` text as the server made it."""

        def weighted(text: str, weights: str) -> str:
            return _LEXEME.sub(lambda m: f"{m.group(1)}:{'*' if m.group(2) else ''}{weights}", text)

        def node(tree: Node) -> str:
            joined = ""
            for operator, negate, child in tree:
                if isinstance(child, int):
                    term = self.terms[child]
                    inner = f"({weighted(texts[child], term.weights)})" if texts[child] else ""
                else:
                    inner = node(child)
                if not inner:
                    continue
                inner = f"!{inner}" if negate else inner
                joined = f"({joined} {operator} {inner})" if joined else inner
            return joined

        def any_of(kind: str) -> str:
            found = [
                f"({texts[i]})"
                for i in self.ranked
                if texts[i] and (self.terms[i].weights == "CD") == (kind == "stems")
            ]
            return " | ".join(dict.fromkeys(found))

        return Built(node(self.tree), any_of("exact"), any_of("stems"))


class KeywordSearch:
    """Keyword queries on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def tsquery(self, expression: str) -> Built | None:
        """A search expression (:func:`aggregator.store.fts.keyword_query`) as ``tsquery``
        texts, or None when it has no words."""
        if not expression:
            return None
        parsed = TsQuery(expression)
        if not parsed.terms:
            return None
        columns = ", ".join(f"({t.sql})::text" for t in parsed.terms)
        row = self.conn.execute(f"SELECT {columns}", [t.param for t in parsed.terms]).fetchone()
        built = parsed.render([str(text or "") for text in row])
        return built if built.match else None

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
            matched = int(rows[0]["matched"]) if rows else 0
            if matched >= ENOUGH:
                return rows
            # widen to where, at the density of matches seen, ENOUGH should be (at least twice)
            span = max(2 * span, span * ENOUGH * 5 // (4 * matched)) if matched else 8 * span

    def _ranked(
        self,
        query: Built,
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
        ranks = [
            f"ts_rank('{weights}', a.fts, ?::tsquery, {NORMALIZATION})"
            for weights, words in ((EXACT_RANK, query.exact), (STEM_RANK, query.stems))
            if words
        ]
        rank_params = [words for words in (query.exact, query.stems) if words]
        sql = (
            f"SELECT {columns}, {' + '.join(ranks) or '0'} AS score"
            + (", count(*) OVER () AS matched" if counted else "")
            + f" FROM articles a WHERE a.fts @@ ?::tsquery{clauses} ORDER BY score DESC, a.id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, limit]
        values = (*rank_params, query.match, *params)
        if id_range is None or not isinstance(self.conn, PgConnection):
            return list(self.conn.execute(sql, values).fetchall())
        # The planner prices "fts @@ query" at one operator call a row, while each call unpacks
        # a tsvector of kilobytes; left alone it reads a range of ids by the primary key and
        # tests every article in it. Bitmap scans intersect the full-text index with the range
        # and read only the articles that match.
        with self.conn.transaction():
            self.conn.execute("SET LOCAL enable_seqscan = off")
            self.conn.execute("SET LOCAL enable_indexscan = off")
            return list(self.conn.execute(sql, values).fetchall())


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
        # iterative scans go on until k rows pass, in roughly distance order (sorted below),
        # which costs less than the exact order under a filter most articles fail
        self.conn.execute(f"SET hnsw.ef_search = {max(40, min(k, 1000))}")
        self.conn.execute("SET hnsw.iterative_scan = relaxed_order")
        rows = self.conn.execute(
            f"SELECT e.article_id, {distance} AS distance FROM embeddings e {join}"
            f"WHERE e.field = 'body' AND e.model = ? {where} ORDER BY distance "
            "LIMIT ?",
            (*params, k),
        ).fetchall()
        ranked = sorted(rows, key=lambda r: (float(r[1]), int(r[0])))  # ties by id
        return [int(r[0]) for r in ranked], [1.0 - float(r[1]) for r in ranked]
