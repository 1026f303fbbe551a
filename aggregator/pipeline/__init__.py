"""The one orchestrator: refresh = fetch -> parse -> extract -> embed -> cluster -> store.

Each stage is crash-safe on its own: a feed's new articles commit in one transaction with the feed's
state; embeddings and story assignments are derived data computed for whatever is missing, so a run
killed at any point is completed by the next one. Feeds are fetched in worker threads while the main
thread stores results and encodes them, which overlaps network, extraction and the model.

Pipeline is the single entry point (refresh, import_records); the stages it runs live beside it:
``feeds`` (per-feed fetch/parse/extract and feed state), ``derive`` (embed, cluster, label) and
``records`` (imported JSON records as Articles), with ``report`` holding the RunReport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aggregator.config import Settings, bundled
from aggregator.embed import Embedder, LazyEmbedder
from aggregator.entities import KnowledgeBase
from aggregator.fetch import Fetcher
from aggregator.models import Article, Feed, Mention, Validators
from aggregator.pipeline.derive import BODY_CHARS, EMBED_BATCH, DerivedData
from aggregator.pipeline.feeds import FeedOutcome, FeedWork
from aggregator.pipeline.records import article_from_record, read_jsonl, validated_records
from aggregator.pipeline.report import Progress, RunReport
from aggregator.pipeline.report import quiet as _quiet
from aggregator.store import Store, iso
from aggregator.watch import run_watches

__all__ = [
    "BODY_CHARS",
    "EMBED_BATCH",
    "FEED_WORKERS",
    "FeedOutcome",
    "Pipeline",
    "Progress",
    "RunReport",
    "article_from_record",
    "read_jsonl",
    "validated_records",
]

FEED_WORKERS = 8


class Pipeline(FeedWork, DerivedData):
    """Everything a run needs, built once by the CLI and passed down."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        kb: KnowledgeBase,
        *,
        progress: Progress = _quiet,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.kb = kb
        self.progress = progress
        self.now = now

    @classmethod
    def build(cls, settings: Settings, *, progress: Progress = _quiet) -> Pipeline:
        """A pipeline on ``settings``: its database, its knowledge base, its (lazy) model."""
        kb = KnowledgeBase.load(bundled(settings.entities))
        return cls(
            settings, Store(settings.db), LazyEmbedder(settings.model), kb, progress=progress
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # refresh --------------------------------------------------------------------------------

    def refresh(self, feeds: Sequence[Feed], *, force: bool = False) -> RunReport:
        """One pass over the due feeds, under a lock so that two runs never overlap."""
        with self.store.refresh_lock():
            return self._refresh(feeds, force=force)

    def _refresh(self, feeds: Sequence[Feed], *, force: bool) -> RunReport:
        started = self.now()
        report = RunReport(started=iso(started))
        run_id = self.store.start_run(started)
        self.store.sync_feeds(feeds)
        due = []
        for feed in feeds:
            state = self.store.feed_state(feed.name)
            if not feed.enabled or state.paused:
                report.feeds_skipped += int(not feed.enabled)  # paused feeds count as paused
                continue
            if not force and state.next_due and state.next_due > started:
                # a feed waiting out its backoff is still failing, which the health check counts
                report.feeds_skipped += int(state.health == "ok")
                continue
            due.append((feed, state))
        deadline = time.monotonic() + self.settings.run_deadline
        with (
            Fetcher(per_host=self.settings.per_host) as fetcher,
            ThreadPoolExecutor(max_workers=FEED_WORKERS, thread_name_prefix="feed") as pool,
        ):
            futures = [
                pool.submit(
                    self._process_feed,
                    fetcher,
                    feed,
                    Validators(state.etag, state.last_modified),
                    state.body_hash,
                    deadline,
                )
                for feed, state in due
            ]
            # Stored in the order of the feed list, not as fetches finish: article ids, and so
            # story ids, come out the same on every run of the same feeds.
            for done, future in enumerate(futures, start=1):
                outcome = future.result()
                self._store_outcome(outcome, report)
                self.progress("feeds", done)
                if report.new_articles - report.embedded >= EMBED_BATCH:
                    report.embedded += self.embed_pending(limit=EMBED_BATCH)
        report.embedded += self.embed_pending()
        self.cluster_pending(report)
        report.watch_hits = run_watches(self.store, self.embedder, now=self.now()).hits
        self.check_health(feeds, report)
        finished = self.now()
        report.finished = iso(finished)
        self.store.finish_run(run_id, finished, report.status, report.as_dict())
        return report

    # import ---------------------------------------------------------------------------------

    def import_records(
        self, records: Iterable[dict[str, Any]], *, source: str = "import"
    ) -> tuple[int, RunReport]:
        """Add articles from elsewhere through the same dedup, embed, cluster and store path."""
        report = RunReport(started=iso(self.now()))
        batch: list[tuple[Article, list[Mention]]] = []
        count = 0
        for number, record in enumerate(records, start=1):
            article = article_from_record(record, number, source)
            batch.append((article, self._mentions(article)))
            count += 1
            if len(batch) >= 500:
                report.new_articles += self._insert(batch)
                batch = []
        if batch:
            report.new_articles += self._insert(batch)
        report.embedded = self.embed_pending()
        self.cluster_pending(report)
        report.finished = iso(self.now())
        return count, report

    def _insert(self, batch: Sequence[tuple[Article, list[Mention]]]) -> int:
        with self.store.transaction() as conn:
            return len(self.store.insert_articles(conn, batch, fetched=self.now()))
