"""Story queries: the ranking, story pages, related stories and entities.

Story ranking (``top_stories``) is documented in the README:

    score = (ln(1 + articles) + ln(1 + sources) + 0.5 * (languages - 1))
            * 2 ** (-age_hours / half_life_hours)
            * (1 + growth)

where age is measured from the story's newest article to *now* (the newest article in the database
when that is older than the clock, so an archive still ranks sensibly), and growth is the share of
the story's articles, beyond the first, published in the 24 hours before its newest one (a lone
article is not growth, so a fresh single report does not outrank a story many outlets covered).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from aggregator.store import iso, parse_iso
from aggregator.store.records import (
    ARTICLE_COLUMNS,
    EntityRow,
    Filters,
    Queries,
    StoryDetail,
    StoryPage,
    StoryRow,
    article_row,
    story_filters,
    story_row,
)
from aggregator.store.vectors import VectorIndex, matrix_from_blobs

HALF_LIFE_HOURS = 24.0
RECENT_HOURS = 7 * 24.0
"""The stories a page of the ranking is first looked for among (see ``story_page``)."""
STORY_SIZE = "ln(1 + n_articles) + ln(1 + n_sources) + 0.5 * (n_languages - 1)"
"""The size term of the score, spelled as the index ``stories_size`` (migration 13) spells it:
an engine uses an index on an expression only for a query that spells it the same."""

# The score above as SQL, so that ranking happens inside SQLite; the first parameter is "now".
# It must stay equal to :func:`story_score` (tests/test_search.py compares the two).
SCORE_SQL = f"""
    (ln(1 + s.n_articles) + ln(1 + s.n_sources) + 0.5 * (s.n_languages - 1))
    * pow(2, -max(0.0, (julianday(?) - julianday(s.last_published)) * 24) / {HALF_LIFE_HOURS})
    * (1 + max(coalesce((SELECT sum(json_extract(t.value, '$[1]')) FROM json_each(s.timeline) t
        WHERE json_extract(t.value, '$[0]') >= date(s.last_published, '-1 day')), 0) - 1, 0)
        * 1.0 / max(s.n_articles, 1))
"""


def story_score(story: StoryRow, now: datetime) -> float:
    age_hours = max(0.0, (now - story.last_published).total_seconds() / 3600)
    recent_start = (story.last_published - timedelta(hours=24)).strftime("%Y-%m-%d")
    recent = sum(n for day, n in story.timeline if day >= recent_start)
    growth = max(recent - 1, 0) / story.n_articles if story.n_articles else 0.0
    size = (
        math.log1p(story.n_articles) + math.log1p(story.n_sources) + 0.5 * (story.n_languages - 1)
    )
    return size * 2 ** (-age_hours / HALF_LIFE_HOURS) * (1 + growth)


class StoryQueries(Queries):
    """The reader's story queries; story centroids are kept in memory per model."""

    _story_indexes: dict[str, tuple[str, VectorIndex]]
    score_sql = SCORE_SQL
    """The ranking in the engine's SQL; its first parameter is "now"."""

    def top_stories(
        self, *, limit: int = 20, filters: Filters | None = None, now: datetime | None = None
    ) -> list[StoryRow]:
        """The best-scoring stories (the score in the module docstring), best first."""
        return list(self.story_page(limit=limit, filters=filters, now=now).stories)

    def story_page(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: Filters | None = None,
        now: datetime | None = None,
    ) -> StoryPage:
        """One page of the ranking plus the number of matching stories.

        The score is computed and sorted inside SQLite, so only the rows of the page are turned
        into Python objects: ranking 10,000 stories costs one query, not one per story.
        """
        where, params = story_filters(filters or Filters())
        moment = now or self.reference_now()
        reference = iso(moment)
        total = int(self._rows(f"SELECT count(*) FROM stories s WHERE {where}", params)[0][0])
        ranking = (
            f"SELECT s.*, {self.score_sql} AS score FROM stories s WHERE {where}{{recent}} "
            "ORDER BY score DESC, s.id DESC LIMIT ? OFFSET ?"
        )
        # Scores halve every HALF_LIFE_HOURS of age, so the page usually lies among the stories
        # of the last RECENT_HOURS: rank those first (by the index on last_published), and keep
        # that page when no older story could reach its lowest score.
        horizon = iso(moment - timedelta(hours=RECENT_HOURS))
        rows = self._rows(
            ranking.format(recent=" AND s.last_published >= ?"),
            (reference, *params, horizon, limit, offset),
        )
        if len(rows) < limit or float(rows[-1]["score"]) < self._older_bound():
            rows = self._rows(ranking.format(recent=""), (reference, *params, limit, offset))
        return StoryPage(
            stories=tuple(story_row(r, float(r["score"])) for r in rows),
            total=total,
            offset=offset,
            limit=limit,
        )

    def _older_bound(self) -> float:
        """The highest score a story older than RECENT_HOURS could have: the largest size term
        in the archive, doubled for growth (at most twice), halved for each half-life of age.
        The largest size is read from the end of the index ``stories_size``, not from every
        story, so that a page of the ranking costs the same on an archive of any length."""
        rows = self._rows(
            f"SELECT {STORY_SIZE} AS size FROM stories ORDER BY {STORY_SIZE} DESC LIMIT 1"
        )
        largest = float(rows[0][0]) if rows else 0.0
        return largest * 2 * 2 ** (-RECENT_HOURS / HALF_LIFE_HOURS)

    def stories_by_id(self, ids: Sequence[int]) -> dict[int, StoryRow]:
        """Story rows for some ids (missing ids are left out), in one query per 500 ids."""
        found: dict[int, StoryRow] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self._rows(
                f"SELECT * FROM stories WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            found.update({int(r["id"]): story_row(r) for r in rows})
        return found

    def related_stories(self, story_id: int, *, limit: int = 5) -> list[StoryRow]:
        """The stories whose centroid vectors are nearest this one's (score = cosine)."""
        rows = self._rows("SELECT model, vector FROM stories WHERE id = ?", (story_id,))
        if not rows or rows[0]["vector"] is None:
            return []
        model = rows[0]["model"]
        index = self._story_index(model)
        ids, scores = index.nearest(matrix_from_blobs([bytes(rows[0]["vector"])])[0], limit + 1)
        wanted = [(i, s) for i, s in zip(ids, scores, strict=True) if i != story_id][:limit]
        found = self.stories_by_id([i for i, _ in wanted])
        return [StoryRow(**{**found[i].__dict__, "score": s}) for i, s in wanted if i in found]

    def _story_index(self, model: str | None) -> VectorIndex:
        marker_row = self._rows(
            "SELECT count(*) AS n, max(updated) AS u FROM stories "
            "WHERE model IS NOT DISTINCT FROM ?",
            (model,),
        )[0]
        marker = f"{marker_row['n']}|{marker_row['u']}"
        cached = self._story_indexes.get(model or "")
        if cached is not None and cached[0] == marker:
            return cached[1]
        rows = self._rows(
            "SELECT id, vector FROM stories WHERE model IS NOT DISTINCT FROM ? "
            "AND vector IS NOT NULL ORDER BY id",
            (model,),
        )
        index = VectorIndex(
            [int(r[0]) for r in rows], matrix_from_blobs([bytes(r[1]) for r in rows])
        )
        self._story_indexes[model or ""] = (marker, index)
        return index

    # entities --------------------------------------------------------------------------------

    def entities(self, *, limit: int = 500) -> list[EntityRow]:
        """Entities named in stored articles, the most mentioned first."""
        rows = self._rows(
            "SELECT m.entity_id, max(m.name) AS name, max(m.kind) AS kind, "
            " count(*) AS articles, count(DISTINCT a.story_id) AS stories, "
            " max(a.published) AS last_seen "
            "FROM mentions m JOIN articles a ON a.id = m.article_id "
            "GROUP BY m.entity_id ORDER BY articles DESC, m.entity_id LIMIT ?",
            (limit,),
        )
        return [
            EntityRow(
                id=str(r["entity_id"]),
                name=str(r["name"]),
                kind=str(r["kind"]),
                n_articles=int(r["articles"]),
                n_stories=int(r["stories"]),
                last_seen=parse_iso(r["last_seen"]),
            )
            for r in rows
        ]

    def entity_timeline(self, entity_id: str) -> list[tuple[str, int]]:
        """Articles mentioning the entity per day (YYYY-MM-DD, count), oldest first."""
        rows = self._rows(
            "SELECT substr(a.published, 1, 10) AS day, count(*) AS n FROM mentions m "
            "JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ? "
            "GROUP BY day ORDER BY day",
            (entity_id,),
        )
        return [(str(r["day"]), int(r["n"])) for r in rows]

    def entity_stories(self, entity_id: str, *, limit: int = 50) -> list[tuple[StoryRow, int]]:
        """Stories whose articles mention the entity, with how many of their articles do."""
        rows = self._rows(
            "SELECT s.*, x.n AS mentioning FROM stories s JOIN ("
            " SELECT a.story_id AS sid, count(*) AS n FROM mentions m "
            " JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ? "
            " AND a.story_id IS NOT NULL GROUP BY a.story_id) x ON x.sid = s.id "
            "ORDER BY s.last_published DESC, x.n DESC LIMIT ?",
            (entity_id, limit),
        )
        return [(story_row(r), int(r["mentioning"])) for r in rows]

    def resolve_story_id(self, story_id: int) -> int:
        """Follow merges so that an old story id still leads to its story."""
        seen = set()
        current = story_id
        while current not in seen:
            seen.add(current)
            row = self._rows("SELECT into_id FROM story_merges WHERE absorbed = ?", (current,))
            if not row:
                return current
            current = int(row[0]["into_id"])
        return current

    def story(self, story_id: int) -> StoryDetail | None:
        resolved = self.resolve_story_id(story_id)
        rows = self._rows("SELECT * FROM stories WHERE id = ?", (resolved,))
        if not rows:
            return None
        articles = self._rows(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.story_id = ? "
            "ORDER BY a.published, a.id",
            (resolved,),
        )
        mentions = self._rows(
            "SELECT m.entity_id, max(m.name) AS name, max(m.kind) AS kind, sum(m.count) AS n "
            "FROM mentions m JOIN articles a "
            "ON a.id = m.article_id WHERE a.story_id = ? GROUP BY m.entity_id "
            "ORDER BY n DESC LIMIT 30",
            (resolved,),
        )
        return StoryDetail(
            story=story_row(rows[0]),
            articles=tuple(article_row(a) for a in articles),
            requested_id=story_id,
            mentions=tuple((m["entity_id"], m["name"], m["kind"], int(m["n"])) for m in mentions),
        )
