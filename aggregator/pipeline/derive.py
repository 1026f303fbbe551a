"""Derived data: vectors for articles that lack them, story assignments for articles without a
story, and the summary row (label, counts, timeline) of every story those touch.

All of it is computed for whatever is missing, so a run killed at any point is completed by the
next one. Pipeline takes these methods from DerivedData.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from aggregator.cluster import (
    ClusterDoc,
    Clusterer,
    ClusterSettings,
    Constraints,
    Correction,
    Merge,
    Split,
)
from aggregator.config import Settings
from aggregator.embed import Embedder
from aggregator.label import label_story
from aggregator.pipeline.report import Progress, RunReport
from aggregator.store import Store, StoredDoc, Transaction, iso, to_blob
from aggregator.store.corrections import CorrectionTable
from aggregator.text import text_hash

EMBED_BATCH = 128
BODY_CHARS = 1500


class DerivedData:
    """The embed, cluster and label stages, mixed into Pipeline."""

    settings: Settings
    store: Store
    embedder: Embedder
    progress: Progress
    now: Callable[[], datetime]

    # embed ----------------------------------------------------------------------------------

    def embed_pending(self, limit: int | None = None, *, among: Sequence[int] | None = None) -> int:
        """Embed title and body of every article lacking vectors for this model (of those whose
        ids are in ``among``, when it is given).

        Identical inputs (syndicated copies, re-imports) reuse stored vectors by text hash.
        """
        model = self.embedder.name
        done = 0
        while limit is None or done < limit:
            rows = self.store.missing_embeddings(model, limit=EMBED_BATCH, among=among)
            if not rows:
                break
            saved: list[tuple[int, str, str, bytes]] = []
            for field_name, texts in (
                ("title", [title or text[:200] for _, title, text in rows]),
                ("body", [f"{title}\n{text}"[:BODY_CHARS] for _, title, text in rows]),
            ):
                hashes = [text_hash(t) for t in texts]
                known = self.store.embeddings_by_hash(model, field_name, hashes)
                todo = sorted(
                    {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}.items()
                )
                if todo:
                    vectors = self.embedder.encode([t for _, t in todo])
                    known.update({h: to_blob(v) for (h, _), v in zip(todo, vectors, strict=True)})
                saved += [
                    (aid, field_name, h, known[h])
                    for (aid, _, _), h in zip(rows, hashes, strict=True)
                ]
            self.store.save_embeddings(model, saved)
            done += len(rows)
            self.progress("embedded", done)
        return done

    # cluster --------------------------------------------------------------------------------

    def cluster_settings(self) -> ClusterSettings:
        return ClusterSettings.for_embedder(
            self.embedder.name,
            multilingual=self.embedder.multilingual,
            quiet_days=self.settings.story_window_days,
        )

    def cluster_pending(self, report: RunReport) -> None:
        """Assign every unclustered article to a story, in publication order, then consolidate.

        Assignments, merges and the summaries of the stories they touch commit in one
        transaction, so a run killed at any point never leaves a story whose counts or label
        disagree with its articles. Stories found stale anyway (a database written by an older
        version) are relabelled on the way.
        """
        model = self.embedder.name
        pending = self.store.unclustered(model)
        stale = set(self.store.stale_stories())
        if not pending and not stale:
            return
        touched: set[int] = set(stale)
        created: set[int] = set()
        pairs: list[tuple[int, int]] = []
        merges: list[Merge] = []
        splits: list[Split] = []
        if pending:
            clusterer = Clusterer(self.cluster_settings(), correction_constraints(self.store))
            since = clusterer.window_start(pending[0].published)
            members = [
                (m.story_id, cluster_doc(m))
                for m in self.store.window_members(since, model)
                if m.story_id is not None
            ]
            docs = [cluster_doc(doc) for doc in pending]
            clusterer.calibrate([doc for _, doc in members] + docs)
            clusterer.load(members)
            for number, doc in enumerate(docs, start=1):
                assignment = clusterer.add(doc)
                pairs.append((doc.article_id, assignment.story_id))
                touched.add(assignment.story_id)
                if assignment.created:
                    created.add(assignment.story_id)
                if number % 500 == 0:
                    self.progress("clustered", number)
            merges = clusterer.consolidate()
            splits = clusterer.split()
        now = self.now()
        absorbed = {m.absorbed for m in merges}
        parted = {s.new_story_id for s in splits}
        # a split may name its new story after an article whose story was absorbed this run
        touched = ((touched | {m.into for m in merges}) - absorbed) | parted
        with self.store.transaction() as conn:
            self.store.assign(conn, pairs, now)
            for merge in merges:
                self.store.merge(conn, merge.absorbed, merge.into, now)
            for split in splits:
                self.store.split(conn, split.moved, split.new_story_id, now)
            self._label(conn, touched, now)
        report.new_stories += len((created - absorbed) | parted)
        report.updated_stories += len(touched - created - parted)
        report.merged_stories += len(merges)
        report.split_stories += len(splits)
        self.progress("clustered", len(pending))

    def _label(self, conn: Transaction, story_ids: set[int], now: datetime) -> None:
        """Write the summary rows of ``story_ids`` inside the caller's transaction."""
        label_stories(
            self.store,
            conn,
            story_ids,
            now,
            model=self.embedder.name,
            reader_language=self.settings.reader_language,
        )


def correction_constraints(store: Store) -> Constraints:
    """The readers' corrections in force, as the clusterer's must-link and cannot-link rules."""
    return Constraints.from_corrections(
        Correction(frozenset(c.moved), frozenset(c.stayed), frozenset(c.joined))
        for c in CorrectionTable.in_force(store.conn)
    )


def label_stories(
    store: Store,
    conn: Transaction,
    story_ids: set[int],
    now: datetime,
    *,
    model: str,
    reader_language: str,
) -> None:
    """Write the summary rows of ``story_ids`` inside the caller's transaction; a story left
    without articles loses its row."""
    ids = sorted(story_ids)
    for start in range(0, len(ids), 200):
        members = store.story_members(ids[start : start + 200], model)
        for story_id, docs in members.items():
            if docs:
                record = _story_record(store, story_id, docs, now, model, reader_language)
                store.save_story(conn, record)
            else:
                store.drop_story(conn, story_id)


def _story_record(
    store: Store,
    story_id: int,
    docs: list[StoredDoc],
    now: datetime,
    model: str,
    reader_language: str,
) -> dict[str, Any]:
    cluster_docs = [cluster_doc(d) for d in docs]
    label = label_story(cluster_docs, reader_language=reader_language)
    languages = Counter(d.language or "und" for d in docs)
    sources = Counter(d.source for d in docs)
    days = Counter(d.published.strftime("%Y-%m-%d") for d in docs)
    centroid = np.mean([d.body_vector for d in docs], axis=0).astype(np.float32)
    centroid /= float(np.linalg.norm(centroid)) or 1.0
    names = store.mention_names(d.article_id for d in docs)
    return {
        "id": story_id,
        "created": iso(now),
        "updated": iso(now),
        "first_published": iso(min(d.published for d in docs)),
        "last_published": iso(max(d.published for d in docs)),
        "n_articles": len(docs),
        "n_sources": len(sources),
        "n_languages": len(languages),
        "languages": json.dumps([lang for lang, _ in languages.most_common()]),
        "sources": json.dumps([s for s, _ in sources.most_common()]),
        "tags": json.dumps(store.story_tags(story_id)),
        "headline": label.headline,
        "lead_article_id": label.lead_article_id,
        "keywords": json.dumps(list(label.keywords), ensure_ascii=False),
        "entities": json.dumps([names.get(e, e) for e in label.entities], ensure_ascii=False),
        "timeline": json.dumps(sorted(days.items())),
        "model": model,
        "vector": to_blob(centroid),
    }


def cluster_doc(doc: StoredDoc) -> ClusterDoc:
    """A stored article as the clusterer sees it; an undated one has no publication time."""
    return ClusterDoc(
        article_id=doc.article_id,
        source=doc.source,
        language=doc.language,
        published=doc.published if doc.dated else None,
        title=doc.title,
        text=doc.text,
        title_vector=doc.title_vector,
        body_vector=doc.body_vector,
        entities=doc.entities,
    )
