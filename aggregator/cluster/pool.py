"""A story's pooled evidence: sums of its articles' vectors, TF-IDF weights, entities and times.

Pools add, merge and leave one article out by arithmetic on sums, so a story never re-reads its
articles; the clusterer keeps one pool per story, plus scratch pools when it bisects one.

Bisecting a story leaves each member out of a pool in turn, and a story's vocabulary grows with
its members, so leaving one out must not cost a pass of Python over every term: the squares of a
pool's weights are kept as an array, and the norm of what is left is summed by numpy, in the same
order and with the same roundings as ``sum`` over the weights (``cumsum`` adds one at a time,
where ``numpy.sum`` would add pairwise and round differently).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from aggregator.cluster.model import ClusterDoc
from aggregator.models import Vector

DAY = 86400.0
# a term whose weight falls to this or below when a member is left out is no longer in the story
KEEP = 1e-9


@dataclass(frozen=True)
class Features:
    """What scoring needs of one article beyond its vectors."""

    language: str
    time: float | None
    sparse: Mapping[str, float]
    entities: frozenset[str]


@dataclass
class StoryPool:
    """One story's members and the sums its similarities are computed from."""

    story_id: int
    slot: int
    members: list[int] = field(default_factory=list)
    oldest: float | None = None
    newest: float | None = None
    body: Vector | None = None  # sums of the vectors of members in trusted languages
    title: Vector | None = None
    trusted: int = 0
    sparse: dict[str, dict[str, float]] = field(default_factory=dict)  # language -> summed TF-IDF
    sparse_norm: dict[str, float] = field(default_factory=dict)
    languages: Counter[str] = field(default_factory=Counter)
    entities: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    # language -> (position of each term in sparse[language], the squares of its weights, zero
    # where a weight is too small to be kept), built when first needed and dropped on a change
    _squares: dict[str, tuple[dict[str, int], Vector]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def size(self) -> int:
        return len(self.members)

    @classmethod
    def of(
        cls, story_id: int, slot: int, members: Iterable[tuple[ClusterDoc, Features, bool]]
    ) -> StoryPool:
        """A pool of ``(doc, features, trusted)`` members, as :meth:`add` one by one would make
        it; each language's norm is computed once, at the end, instead of after every member."""
        pool = cls(story_id=story_id, slot=slot)
        changed: dict[str, None] = {}  # in order of first appearance, as add() inserts them
        for doc, features, trusted in members:
            pool._put(doc, features, trusted=trusted)
            if features.sparse:
                changed[features.language] = None
        for language in changed:
            pool._renorm(language)
        return pool

    def add(self, doc: ClusterDoc, features: Features, *, trusted: bool) -> None:
        """Add one article; ``trusted`` says whether its vectors count (see the clusterer)."""
        self._put(doc, features, trusted=trusted)
        if features.sparse:
            self._renorm(features.language)

    def _renorm(self, language: str) -> None:
        vector = self.sparse[language]
        self.sparse_norm[language] = math.sqrt(sum(w * w for w in vector.values()))

    def _put(self, doc: ClusterDoc, features: Features, *, trusted: bool) -> None:
        """Add one article, leaving the norm of its language's weights to the caller."""
        self.members.append(doc.article_id)
        if features.time is not None:
            self.oldest = features.time if self.oldest is None else min(self.oldest, features.time)
            self.newest = features.time if self.newest is None else max(self.newest, features.time)
        if trusted:
            body = doc.body_vector.astype(np.float32)
            title = doc.title_vector.astype(np.float32)
            self.body = body.copy() if self.body is None else self.body + body
            self.title = title.copy() if self.title is None else self.title + title
            self.trusted += 1
        if features.sparse:
            vector = self.sparse.setdefault(features.language, {})
            for term, weight in features.sparse.items():
                vector[term] = vector.get(term, 0.0) + weight
            self._squares.pop(features.language, None)
        self.languages[features.language] += 1
        self.entities.update(features.entities)
        self.sources[doc.source] += 1

    def without(self, doc: ClusterDoc, features: Features, *, trusted: bool) -> StoryPool:
        """A copy without one of the members (its time span is kept).

        Each term keeps what is left of its weight, and a term left with (next to) nothing is
        dropped; the member's own terms are the only ones whose weight changes."""
        members = list(self.members)
        if doc.article_id in members:
            members.remove(doc.article_id)  # a story holds an article once
        entities = self.entities.copy()
        for entity in features.entities:
            if entity in entities:
                if entities[entity] > 1:
                    entities[entity] -= 1
                else:
                    del entities[entity]
        rest = StoryPool(
            story_id=self.story_id,
            slot=self.slot,
            members=members,
            oldest=self.oldest,
            newest=self.newest,
            body=self.body,
            title=self.title,
            trusted=self.trusted,
            sparse=dict(self.sparse),
            sparse_norm=dict(self.sparse_norm),
            entities=entities,
        )
        if trusted and self.body is not None:
            assert self.title is not None
            rest.trusted -= 1
            rest.body = self.body - doc.body_vector if rest.trusted else None
            rest.title = self.title - doc.title_vector if rest.trusted else None
        if features.sparse:
            language = features.language
            position, squares = self._squares_of(language)
            vector = self.sparse[language]
            left_squares = squares.copy()
            if len(position) < len(vector):  # some weight was too small to keep already
                vector = {term: vector[term] for term in position}
            else:
                vector = dict(vector)
            for term, weight in features.sparse.items():
                if term not in vector:
                    continue
                left = vector[term] - weight
                if left > KEEP:
                    vector[term] = left
                    left_squares[position[term]] = left * left
                else:
                    del vector[term]
                    left_squares[position[term]] = 0.0
            if vector:
                rest.sparse[language] = vector
                # the same additions, in the same order, as sum(w * w for w in vector.values())
                rest.sparse_norm[language] = math.sqrt(float(np.cumsum(left_squares)[-1]))
            else:
                del rest.sparse[language], rest.sparse_norm[language]
        return rest

    def _squares_of(self, language: str) -> tuple[dict[str, int], Vector]:
        """The kept terms of ``language`` (weight above KEEP) by position in its weights, and
        the squares of those weights, zero for the others."""
        cached = self._squares.get(language)
        if cached is None:
            weights = np.fromiter(self.sparse[language].values(), dtype=np.float64)
            kept = weights > KEEP
            squares = np.where(kept, weights * weights, 0.0)
            position = {
                term: number
                for number, (term, keep) in enumerate(zip(self.sparse[language], kept, strict=True))
                if keep
            }
            cached = self._squares[language] = (position, squares)
        return cached

    def absorb(self, other: StoryPool) -> None:
        """Add every member of ``other``."""
        self.members.extend(other.members)
        times = [t for t in (self.oldest, self.newest, other.oldest, other.newest) if t is not None]
        if times:
            self.oldest, self.newest = min(times), max(times)
        if other.trusted:
            assert other.body is not None and other.title is not None
            self.body = other.body.copy() if self.body is None else self.body + other.body
            self.title = other.title.copy() if self.title is None else self.title + other.title
            self.trusted += other.trusted
        for lang, vector in other.sparse.items():
            self._squares.pop(lang, None)
            target = self.sparse.setdefault(lang, {})
            for term, weight in vector.items():
                target[term] = target.get(term, 0.0) + weight
            self.sparse_norm[lang] = math.sqrt(sum(w * w for w in target.values()))
        self.languages.update(other.languages)
        self.entities.update(other.entities)
        self.sources.update(other.sources)


def timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def cosine(a: Vector, b: Vector) -> float:
    return float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9)


def saturate(amount: float, full: float) -> float:
    """Share of its weight a view keeps with ``amount`` evidence: full from ``full`` on."""
    return 1.0 if full <= 0 else min(1.0, amount / full)


def per_member(story: StoryPool) -> float:
    """Entity mentions per article of ``story``."""
    return sum(story.entities.values()) / max(story.size, 1)


def keeps(first: StoryPool, second: StoryPool) -> bool:
    """Whether ``first`` survives a merge with ``second``: the larger, then the older id."""
    if first.size != second.size:
        return first.size > second.size
    return first.story_id < second.story_id


def sort_key(doc: ClusterDoc) -> tuple[float, int]:
    time = timestamp(doc.published)
    return (time if time is not None else 0.0, doc.article_id)
