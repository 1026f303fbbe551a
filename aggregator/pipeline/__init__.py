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
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
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
# Results are stored in the order feeds were claimed; a slow feed holds back the storing of at
# most this many that finished after it, while the threads go on fetching.
STORE_BEHIND = 4 * FEED_WORKERS
# names offered to a claim for each feed it may take: enough to skip those other workers hold
CLAIM_OFFER = 4


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
        """One pass over the due feeds: on SQLite under a lock, one run at a time; on
        PostgreSQL beside any other workers, which share the feeds by leases."""
        with self.store.refresh_lock():
            return self._refresh(feeds, force=force)

    def _refresh(self, feeds: Sequence[Feed], *, force: bool) -> RunReport:
        started = self.now()
        report = RunReport(started=iso(started))
        run_id = self.store.start_run(started)
        with self.store.working(run_id):
            self.store.sync_feeds(feeds)
            due: list[Feed] = []
            states = self.store.feed_states(feed.name for feed in feeds)
            for feed in feeds:
                state = states[feed.name]
                if not feed.enabled or state.paused:
                    report.feeds_skipped += int(not feed.enabled)  # paused feeds count as paused
                    continue
                if not force and state.next_due and state.next_due > started:
                    # a feed waiting out its backoff is still failing, which the health check
                    # counts
                    report.feeds_skipped += int(state.health == "ok")
                    continue
                due.append(feed)
            try:
                fresh = self._work_through(due, run_id, report, started=started, force=force)
            finally:
                self.store.release_leases(run_id)
            report.embedded += self.embed_pending(among=fresh)
            # Whatever a killed worker stored but did not embed is embedded here, and every new
            # article is clustered by one worker at a time, which sees the stories of the one
            # before.
            with self.store.derive_lock():
                report.embedded += self.embed_pending()
                self.cluster_pending(report)
                report.watch_hits = run_watches(self.store, self.embedder, now=self.now()).hits
            self.check_health(feeds, report)
            finished = self.now()
            report.finished = iso(finished)
            self.store.finish_run(run_id, finished, report.status, report.as_dict())
        return report

    def _work_through(
        self,
        due: Sequence[Feed],
        run: int,
        report: RunReport,
        *,
        started: datetime,
        force: bool,
    ) -> list[int]:
        """Claim the due feeds a few at a time, fetch them in worker threads and store each
        result; returns the ids of the stored articles not embedded yet.

        Feeds are leased (``Store.lease_feeds``), so workers on other machines sharing the
        database take other feeds; a feed another worker has finished is no longer due, and the
        feeds this run leaves unclaimed count as skipped. Results are stored in the order of
        the claims, which is the order of the feed list: article ids, and so story ids, come
        out the same on every run of the same feeds by one worker.
        """
        settings = self.settings
        by_name = {feed.name: feed for feed in due}
        waiting = list(by_name)
        deadline = time.monotonic() + settings.run_deadline
        fresh: list[int] = []
        stored = 0
        with (
            self.store.host_gate(settings.per_host) as gate,
            Fetcher(per_host=settings.per_host, gate=gate) as fetcher,
            ThreadPoolExecutor(max_workers=FEED_WORKERS, thread_name_prefix="feed") as pool,
        ):
            running: deque[Future[FeedOutcome]] = deque()
            while True:
                # claim only what idle threads can start now, so that workers share the feeds
                idle = FEED_WORKERS - sum(1 for future in running if not future.done())
                room = min(idle, STORE_BEHIND - len(running))
                if waiting and room > 0 and time.monotonic() < deadline:
                    claimed = self._claim(run, waiting, room, started=started, force=force)
                    states = self.store.feed_states(claimed)
                    for name in claimed:
                        state = states[name]
                        running.append(
                            pool.submit(
                                self._process_feed,
                                fetcher,
                                by_name[name],
                                Validators(state.etag, state.last_modified),
                                state.body_hash,
                                deadline,
                            )
                        )
                if not running:
                    break
                if not running[0].done():
                    busy = [future for future in running if not future.done()]
                    wait(busy, return_when=FIRST_COMPLETED)
                while running and running[0].done():
                    fresh += self._store_outcome(running.popleft().result(), report)
                    stored += 1
                    self.progress("feeds", stored)
                if len(fresh) >= EMBED_BATCH:
                    report.embedded += self.embed_pending(among=fresh)
                    fresh = []
        # claimed by other workers, or still leased by one that was killed
        report.feeds_skipped += len(waiting)
        return fresh

    def _claim(
        self, run: int, waiting: list[str], room: int, *, started: datetime, force: bool
    ) -> list[str]:
        """Lease up to ``room`` feeds, the first claimable ones of ``waiting``, and take them out
        of it. A claim is offered a few names at a time, never the whole feed list; the names
        before the last one it took that it did not take are leased or done by another worker
        and go to the back of the line, so that the list's order holds for one worker alone."""
        # the feeds of a worker that was killed go first, whatever their place in the list
        orphans = set(self.store.orphaned_leases(self.now())) & set(waiting)
        if orphans:
            waiting[:] = [n for n in waiting if n in orphans] + [
                n for n in waiting if n not in orphans
            ]
        looked = 0
        while looked < len(waiting):
            offered = waiting[: CLAIM_OFFER * room]
            now = self.now()
            claimed = self.store.lease_feeds(
                run,
                offered,
                now=now,
                until=now + timedelta(seconds=self.settings.lease_seconds),
                limit=room,
                started=started,
                force=force,
            )
            taken = set(claimed)
            # with a full claim, the names after the last one taken were merely not reached
            reached = offered.index(claimed[-1]) + 1 if len(claimed) == room else len(offered)
            passed = [name for name in offered[:reached] if name not in taken]
            waiting[:] = offered[reached:] + waiting[len(offered) :] + passed
            looked += reached
            if claimed:
                return claimed
        return []

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
        with self.store.derive_lock():
            report.embedded = self.embed_pending()
            self.cluster_pending(report)
        report.finished = iso(self.now())
        return count, report

    def _insert(self, batch: Sequence[tuple[Article, list[Mention]]]) -> int:
        with self.store.transaction() as conn:
            return len(self.store.insert_articles(conn, batch, fetched=self.now()))
