"""Online story clustering: each new article joins the best active story or starts one.

Why it is built this way (see the notes on published systems):

- Several similarities, not one cosine. Within a language a TF-IDF view (names, places, figures)
  separates different events about the same companies; a dense sentence vector catches paraphrase;
  knowledge-base entities link articles across scripts. Each is used only where it is reliable: the
  dense vector only between languages the model understands (``dense_languages``, or every language
  with a multilingual model), TF-IDF only within one language.
- Time. An article far from a story's time span is unlikely to belong to it (Gaussian decay), and a
  story with no article for ``quiet_days`` stops attracting new ones, which also bounds the work to
  the stories of a recent window, not the whole history.
- Two stages. Joining is strict, because a wrong join cannot be undone;
  :meth:`Clusterer.consolidate` then merges stories whose pooled evidence (more text, more
  entities) agrees, which is how stories split by arrival order, or told in different languages,
  come together.

Stories are identified by the article id of their first article, so ids are stable across runs.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

import numpy as np

from aggregator.cluster.centering import LanguageCentering
from aggregator.cluster.constraints import Constraints
from aggregator.cluster.model import (
    Assignment,
    ClusterDoc,
    ClusterSettings,
    Merge,
    Split,
)
from aggregator.cluster.pool import (
    DAY,
    Features,
    StoryPool,
    cosine,
    keeps,
    per_member,
    saturate,
    sort_key,
    timestamp,
)
from aggregator.cluster.terms import DocumentFrequencies, language_key, sparse_dot, term_counts
from aggregator.models import Vector


class Clusterer:
    """Assigns articles to stories one at a time; see the module docstring for the reasoning."""

    def __init__(
        self, settings: ClusterSettings | None = None, constraints: Constraints | None = None
    ) -> None:
        self.settings = settings or ClusterSettings()
        self.constraints = constraints or Constraints()  # readers' corrections, kept as given
        self._stories: dict[int, StoryPool] = {}
        self._by_slot: list[int | None] = []
        self._matrix: Vector = np.zeros((0, 0), dtype=np.float32)
        self._df = DocumentFrequencies()
        self._entity_df: Counter[str] = Counter()
        self._docs = 0
        self._postings: dict[str, set[int]] = {}
        self._touched: set[int] = set()  # stories started or grown since load()
        self._members: dict[int, tuple[ClusterDoc, Features]] = {}
        self._centering: LanguageCentering | None = None

    # -- public API ---------------------------------------------------------------------------

    def window_start(self, now: datetime) -> datetime:
        """Oldest publication time whose articles :meth:`load` needs: older stories are quiet."""
        return now - self.settings.window()

    def calibrate(self, docs: Iterable[ClusterDoc]) -> None:
        """Fit the language centering (see :mod:`aggregator.cluster.centering`) on every article
        this run will see, the active window's and the new ones, before :meth:`load`. Without
        it, or with ``center_prior`` at 0, vectors are compared as the model gives them."""
        if self.settings.center_prior > 0:
            self._centering = LanguageCentering(docs, self.settings.center_prior)

    def _centred(self, doc: ClusterDoc) -> ClusterDoc:
        return doc if self._centering is None else self._centering.apply(doc)

    def load(self, members: Iterable[tuple[int, ClusterDoc]]) -> None:
        """Restore the active stories: ``(story_id, doc)`` pairs, in any order."""
        for story_id, raw in sorted(members, key=lambda pair: sort_key(pair[1])):
            doc = self._centred(raw)
            features = self._features(doc)
            story = self._stories.get(story_id)
            if story is None:
                story = self._new_story(story_id)
            self._attach(story, doc, features)

    def add(self, raw: ClusterDoc) -> Assignment:
        """Put ``doc`` into the best matching active story, or start a new one."""
        doc = self._centred(raw)
        features = self._features(doc)
        best_id, best_score = None, 0.0
        for story_id in self._candidates(doc, features):
            story = self._stories[story_id]
            value = self._score_doc(doc, features, story)
            if value > best_score:
                best_id, best_score = story_id, value
        if best_id is not None and best_score >= self.settings.join_threshold:
            self._attach(self._stories[best_id], doc, features)
            self._touched.add(best_id)
            return Assignment(best_id, created=False, score=best_score)
        story = self._new_story(doc.article_id)
        self._attach(story, doc, features)
        self._touched.add(story.story_id)
        return Assignment(doc.article_id, created=True, score=best_score)

    def consolidate(self) -> list[Merge]:
        """Merge stories whose pooled evidence agrees; ``into`` is the larger (then older) one.

        Only pairs with a story started or grown since :meth:`load` are weighed: the others were
        weighed by the run that last changed them, so the cost follows the new articles, not the
        size of the window.
        """
        heap: list[tuple[float, int, int]] = []
        for a, b in self._story_pairs():
            margin = self._clearance(self._stories[a], self._stories[b])
            if margin >= 0:
                heap.append((-margin, a, b))
        heapq.heapify(heap)
        merges: list[Merge] = []
        while heap:
            _, a, b = heapq.heappop(heap)
            if a not in self._stories or b not in self._stories:
                continue
            first, second = self._stories[a], self._stories[b]
            if self._clearance(first, second) < 0:
                continue
            if not self.constraints.may_merge(first.members, second.members):
                continue  # a reader split these apart
            value = self._score_stories(first, second)
            into, absorbed = (first, second) if keeps(first, second) else (second, first)
            self._absorb(into, absorbed)
            self._touched.add(into.story_id)
            merges.append(Merge(absorbed.story_id, into.story_id, score=value))
            for other in self._neighbours(into):
                heapq.heappush(
                    heap,
                    (
                        -self._clearance(into, self._stories[other]),
                        min(into.story_id, other),
                        max(into.story_id, other),
                    ),
                )
        return merges

    def split(self) -> list[Split]:
        """Part stories (started or grown since load) that are two events glued together.

        An early join of two similar events (two title defences by one boxer, two recalls by one
        carmaker) makes a mixed story whose centroid then attracts both sides. Each story is cut
        in two by a few rounds of 2-means under the join score; when the halves would not pass
        the merge bar as two stories, they become two. The half holding the story's first article
        keeps its id; the other half is named after its own first article.
        """
        splits: list[Split] = []
        queue = sorted(sid for sid in self._touched if sid in self._stories)
        while queue:
            story = self._stories.get(queue.pop())
            if story is None or story.size < 2 * self.settings.split_min:
                continue
            found = self._bisect(story)
            if found is None:
                continue
            kept, moved, value = found
            if not self.constraints.may_part(kept, moved):
                continue  # a reader put these together
            new_id = min(moved, key=lambda a: sort_key(self._members[a][0]))
            if new_id in self._stories:
                continue
            self._rebuild(story, kept)
            self._rebuild(self._new_story(new_id), moved)
            self._touched.add(new_id)
            splits.append(Split(story.story_id, new_id, tuple(moved), score=value))
            queue.extend((story.story_id, new_id))
        return splits

    def stories(self) -> dict[int, list[int]]:
        """Current stories: story id -> article ids, in the order they joined."""
        return {sid: list(story.members) for sid, story in self._stories.items()}

    def _fit(self, article_id: int, story: StoryPool) -> float:
        """The join score of a member against ``story``, left out of it if it is in it: an
        article always resembles a pool that holds it, most of all a small one."""
        doc, features = self._members[article_id]
        if story.members == [article_id]:
            return 1.0
        if article_id in story.members:
            story = story.without(doc, features, trusted=self._trusted(features.language))
        return self._score_doc(doc, features, story)

    def _pool(self, members: list[int]) -> StoryPool:
        """A scratch story of ``members``, outside every index."""
        return StoryPool.of(-1, -1, self._as_members(members))

    def _as_members(self, members: list[int]) -> Iterator[tuple[ClusterDoc, Features, bool]]:
        for article_id in members:
            doc, features = self._members[article_id]
            yield doc, features, self._trusted(features.language)

    def _bisect(self, story: StoryPool) -> tuple[list[int], list[int], float] | None:
        """Two halves of ``story`` that fall below the merge bar as a pair, or None."""
        members = story.members
        whole = self._pool(members)
        seed = min(members, key=lambda m: self._fit(m, whole))
        alone = self._pool([seed])
        other = min((m for m in members if m != seed), key=lambda m: self._fit(m, alone))
        first, second = [seed], [other]
        for _ in range(4):
            a, b = self._pool(first), self._pool(second)
            sides: tuple[list[int], list[int]] = ([], [])
            for m in members:
                sides[0 if self._fit(m, a) >= self._fit(m, b) else 1].append(m)
            if not sides[0] or not sides[1]:
                return None
            if sides == (first, second):
                break
            first, second = sides
        if min(len(first), len(second)) < self.settings.split_min:
            return None
        a, b = self._pool(first), self._pool(second)
        if self._clearance(a, b) >= 0:
            return None
        value = self._score_stories(a, b)
        if story.story_id in second:
            first, second = second, first
        return first, second, value

    def _rebuild(self, story: StoryPool, members: list[int]) -> None:
        """Make the story ``story`` stands for hold exactly ``members``, in every index."""
        for article_id in story.members:
            for key in self._keys(self._members[article_id][1], limit=12):
                self._postings.get(key, set()).discard(story.story_id)
        fresh = StoryPool.of(story.story_id, story.slot, self._as_members(members))
        for article_id in members:
            for key in self._keys(self._members[article_id][1], limit=12):
                self._postings.setdefault(key, set()).add(fresh.story_id)
        self._stories[fresh.story_id] = fresh
        if fresh.body is not None:
            self._set_row(fresh)
        elif self._matrix.shape[0] > fresh.slot:
            self._matrix[fresh.slot] = 0.0

    # -- features -----------------------------------------------------------------------------

    def _features(self, doc: ClusterDoc) -> Features:
        language = language_key(doc.language)
        counts = term_counts(f"{doc.title}\n{doc.title}\n{doc.text}", doc.language)
        return Features(
            language=language,
            time=timestamp(doc.published),
            sparse=self._df.weigh(language, counts) if counts else {},
            entities=doc.entities,
        )

    def _trusted(self, language: str) -> bool:
        return self.settings.multilingual_vectors or language in self.settings.dense_languages

    def _entity_idf(self, entity: str) -> float:
        return math.log((1 + self._docs) / (1 + self._entity_df[entity])) + 1.0

    # -- scoring ------------------------------------------------------------------------------

    def _dense(self, cosine: float) -> float:
        floor = self.settings.dense_floor
        return min(1.0, max(0.0, (cosine - floor) / (1.0 - floor)))

    def _time_factor(self, time: float | None, oldest: float | None, newest: float | None) -> float:
        if time is None or oldest is None or newest is None:
            return 1.0
        gap = max(0.0, oldest - time, time - newest) / DAY
        return math.exp(-0.5 * (gap / self.settings.time_sigma_days) ** 2)

    def _score_doc(self, doc: ClusterDoc, features: Features, story: StoryPool) -> float:
        s = self.settings
        total = weight = 0.0
        sparse = story.sparse.get(features.language)
        if sparse and features.sparse:
            evidence = saturate(min(len(features.sparse), len(sparse)), s.sparse_evidence)
            total += (
                s.weight_sparse
                * evidence
                * sparse_dot(features.sparse, sparse)
                / story.sparse_norm[features.language]
            )
            weight += s.weight_sparse * evidence
        if story.trusted and self._trusted(features.language):
            assert story.body is not None and story.title is not None
            body = float(doc.body_vector @ story.body) / max(
                float(np.linalg.norm(story.body)), 1e-9
            )
            title = float(doc.title_vector @ story.title) / max(
                float(np.linalg.norm(story.title)), 1e-9
            )
            total += s.weight_dense * 0.5 * (self._dense(body) + self._dense(title))
            weight += s.weight_dense
        if weight == 0.0:
            return 0.0  # no content evidence: entities alone do not make one event
        if features.entities and story.entities:
            total += s.weight_entities * self._entity_overlap(features.entities, story)
            weight += s.weight_entities
        return total / weight * self._time_factor(features.time, story.oldest, story.newest)

    def _entity_evidence(self, a: StoryPool, b: StoryPool) -> float:
        """How far the entity view may speak in a merge: by the entities per article of the
        sparser story, full from ``merge_entity_evidence`` on.

        Two headline stories whose members name one entity each (or none) have entity profiles
        that are mostly noise; a weighted Jaccard over them pulls a good merge below the bar.
        """
        full = self.settings.merge_entity_evidence
        if full <= 0:
            return 1.0
        return min(1.0, per_member(a) / full, per_member(b) / full)

    def _entity_overlap(self, entities: frozenset[str], story: StoryPool) -> float:
        """Share of the article's entity weight that the story mentions too (IDF-weighted)."""
        own = sum(self._entity_idf(e) for e in entities)
        shared = sum(
            self._entity_idf(e) * min(1.0, story.entities[e] / story.size)
            for e in entities
            if e in story.entities
        )
        return shared / own if own else 0.0

    def _score_stories(self, a: StoryPool, b: StoryPool) -> float:
        s = self.settings
        total = weight = 0.0
        shared = [lang for lang in a.sparse if lang in b.sparse]
        if shared:
            best, lang = max(
                (
                    sparse_dot(a.sparse[lang], b.sparse[lang])
                    / (a.sparse_norm[lang] * b.sparse_norm[lang]),
                    lang,
                )
                for lang in shared
            )
            evidence = saturate(min(len(a.sparse[lang]), len(b.sparse[lang])), s.sparse_evidence)
            total += s.weight_sparse * evidence * best
            weight += s.weight_sparse * evidence
        if a.trusted and b.trusted:
            assert a.body is not None and b.body is not None
            assert a.title is not None and b.title is not None
            body = cosine(a.body, b.body)
            title = cosine(a.title, b.title)
            total += s.weight_dense * 0.5 * (self._dense(body) + self._dense(title))
            weight += s.weight_dense
        content = total / weight if weight else 0.0
        if a.entities and b.entities:
            evidence = self._entity_evidence(a, b)
            total += s.weight_entities * evidence * self._entity_agreement(a, b)
            weight += s.weight_entities * evidence
        if weight == 0.0:
            return 0.0
        value = total / weight
        if not shared and a.trusted and b.trusted:
            # across languages, names the knowledge base does not know are written in other
            # scripts and cannot match: entities may confirm a link, never count against it
            value = max(value, content)
        return value * self._pair_time_factor(a, b)

    def _pair_time_factor(self, a: StoryPool, b: StoryPool) -> float:
        """The time decay between two stories: ``b``'s midpoint against ``a``'s span."""
        if a.newest is None or b.newest is None:
            return 1.0
        assert a.oldest is not None and b.oldest is not None
        return self._time_factor((b.oldest + b.newest) / 2, a.oldest, a.newest)

    def _threshold(self, a: StoryPool, b: StoryPool) -> float:
        """The merge bar: lower when only entities can speak, since they are then all we have;
        higher when time cannot speak."""
        s = self.settings
        margin = s.undated_margin if a.newest is None or b.newest is None else 0.0
        same_language = any(lang in b.sparse for lang in a.sparse)
        if same_language or (a.trusted and b.trusted):
            return s.merge_threshold + margin
        return s.link_threshold + margin

    def _clearance(self, a: StoryPool, b: StoryPool) -> float:
        """How far a pair clears its merge bar; negative when it does not.

        When only one story has members the model's vectors speak for (English coverage, and a
        Hindi article under the English-only model), their content can be compared only through
        the few members that share a language, if any: one Hindi report against another, from a
        different angle. Such a pair may also link by its entities, as two stories with no
        language in common do. Two stories without trusted members are left to their content.
        """
        value = self._score_stories(a, b) - self._threshold(a, b)
        if (a.trusted > 0) != (b.trusted > 0) and a.entities and b.entities:
            link = self._entity_agreement(a, b) * self._entity_evidence(a, b)
            link *= self._pair_time_factor(a, b)
            bar = self.settings.link_threshold
            if any(lang in b.sparse for lang in a.sparse):
                bar += self.settings.shared_language_link_margin  # their words disagreed
            value = max(value, link - bar)
        return value

    def _entity_agreement(self, a: StoryPool, b: StoryPool) -> float:
        """Weighted Jaccard of the two stories' entity profiles (share of members naming each).

        Entities seen in a single article so far are left out: they can neither confirm nor deny
        a link, yet as the rarest they weigh most, so a German article whose capitalised nouns
        read as names ("Kosten der Batterie") could never link to its English coverage.
        """
        keys = set(a.entities) | set(b.entities)
        low = high = 0.0
        for e in keys:
            if self._entity_df[e] < 2:
                continue
            idf = self._entity_idf(e)
            x, y = a.entities[e] / a.size, b.entities[e] / b.size
            low += idf * min(x, y)
            high += idf * max(x, y)
        return low / high if high else 0.0

    # -- candidates ---------------------------------------------------------------------------

    def _active(self, story: StoryPool, time: float | None) -> bool:
        if time is None or story.newest is None:
            return True
        return time - story.newest <= self.settings.quiet_days * DAY

    def _candidates(self, doc: ClusterDoc, features: Features) -> set[int]:
        found: set[int] = set()
        if self._trusted(features.language) and self._matrix.shape[0]:
            scores = self._matrix[: len(self._by_slot)] @ doc.body_vector
            k = min(self.settings.candidates, len(scores))
            for slot in np.argpartition(-scores, k - 1)[:k]:
                story_id = self._by_slot[int(slot)]
                if story_id is not None and scores[slot] > 0:
                    found.add(story_id)
        for key in self._keys(features, limit=12):
            found.update(self._postings.get(key, ()))
        return {
            sid
            for sid in found
            if sid in self._stories and self._active(self._stories[sid], features.time)
        }

    def _keys(self, features: Features, limit: int) -> list[str]:
        """Index keys of an article: its entities and its most distinctive words."""
        top = sorted(features.sparse.items(), key=lambda item: -item[1])[:limit]
        keys = [f"e:{e}" for e in features.entities]
        keys.extend(f"t:{features.language}:{term}" for term, _ in top)
        return keys

    def _neighbours(self, story: StoryPool) -> set[int]:
        found: set[int] = set()
        if story.trusted and self._matrix.shape[0]:
            assert story.body is not None
            scores = self._matrix[: len(self._by_slot)] @ (
                story.body / max(float(np.linalg.norm(story.body)), 1e-9)
            )
            k = min(self.settings.candidates, len(scores))
            for slot in np.argpartition(-scores, k - 1)[:k]:
                story_id = self._by_slot[int(slot)]
                if story_id is not None and scores[slot] > 0:
                    found.add(story_id)
        keys = [f"e:{e}" for e in story.entities]
        for lang, vector in story.sparse.items():
            top = sorted(vector.items(), key=lambda item: -item[1])[:20]
            keys.extend(f"t:{lang}:{term}" for term, _ in top)
        for key in keys:
            found.update(self._postings.get(key, ()))
        found.discard(story.story_id)
        return {sid for sid in found if sid in self._stories}

    def _story_pairs(self) -> set[tuple[int, int]]:
        pairs: set[tuple[int, int]] = set()
        for story_id in self._touched:
            story = self._stories.get(story_id)
            if story is None:
                continue
            for other in self._neighbours(story):
                pairs.add((min(story_id, other), max(story_id, other)))
        return pairs

    # -- bookkeeping --------------------------------------------------------------------------

    def _new_story(self, story_id: int) -> StoryPool:
        slot = len(self._by_slot)
        self._by_slot.append(story_id)
        story = StoryPool(story_id=story_id, slot=slot)
        self._stories[story_id] = story
        return story

    def _set_row(self, story: StoryPool) -> None:
        if story.body is None:
            return
        dim = story.body.shape[0]
        rows = len(self._by_slot)
        if self._matrix.shape[1] != dim or self._matrix.shape[0] < rows:
            grown = np.zeros((max(rows, 2 * self._matrix.shape[0], 64), dim), dtype=np.float32)
            if self._matrix.shape[1] == dim:
                grown[: self._matrix.shape[0]] = self._matrix
            self._matrix = grown
        self._matrix[story.slot] = story.body / max(float(np.linalg.norm(story.body)), 1e-9)

    def _attach(self, story: StoryPool, doc: ClusterDoc, features: Features) -> None:
        story.add(doc, features, trusted=self._trusted(features.language))
        if self._trusted(features.language):
            self._set_row(story)
        for key in self._keys(features, limit=12):
            self._postings.setdefault(key, set()).add(story.story_id)
        self._members[doc.article_id] = (doc, features)
        self._df.add(features.language, features.sparse)
        self._entity_df.update(features.entities)
        self._docs += 1

    def _absorb(self, into: StoryPool, absorbed: StoryPool) -> None:
        into.absorb(absorbed)
        if absorbed.trusted:
            self._set_row(into)
        for key in self._neighbour_keys(absorbed):
            postings = self._postings.get(key)
            if postings is not None:
                postings.discard(absorbed.story_id)
                postings.add(into.story_id)
        if self._matrix.shape[0] > absorbed.slot:
            self._matrix[absorbed.slot] = 0.0
        self._by_slot[absorbed.slot] = None
        del self._stories[absorbed.story_id]
        self._touched.discard(absorbed.story_id)

    def _neighbour_keys(self, story: StoryPool) -> list[str]:
        keys = [f"e:{e}" for e in story.entities]
        keys.extend(f"t:{lang}:{term}" for lang, vector in story.sparse.items() for term in vector)
        return keys
