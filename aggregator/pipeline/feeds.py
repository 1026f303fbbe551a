"""Per-feed work: fetch, parse and extract one feed in a worker thread, then store what it
produced together with the feed's new state, or record its failure and back off.

Pipeline takes these methods from FeedWork; they stay methods because they share the pipeline's
settings, store, knowledge base and clock.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aggregator.config import Settings
from aggregator.entities import KnowledgeBase
from aggregator.errors import (
    ExtractError,
    FetchError,
    ParseError,
    PermanentFetchError,
    TransientFetchError,
)
from aggregator.extract import extract
from aggregator.fetch import FEED_ACCEPT, PAGE_ACCEPT, Fetcher, FetchPolicy
from aggregator.language import detect_language
from aggregator.models import Article, Entry, Feed, Mention, Validators
from aggregator.parse import parse_feed
from aggregator.pipeline.report import FeedChange, RunReport
from aggregator.store import Store, iso
from aggregator.text import one_line, plain_text

# the logger name of the orchestrator, which these lines always carried
log = logging.getLogger("aggregator.pipeline")


@dataclass
class FeedOutcome:
    """What one feed produced in a worker thread, before it is stored."""

    feed: Feed
    status: str  # "new", "unchanged", "failed", "skipped"
    articles: list[tuple[Article, list[Mention]]] = field(default_factory=list)
    http_status: int | None = None
    validators: Validators | None = None
    body_hash: str | None = None
    problem: str | None = None
    ttl_minutes: int | None = None
    error: FetchError | ParseError | None = None
    pages_fetched: int = 0
    cache_seconds: float | None = None


class FeedWork:
    """The per-feed stages of a refresh, mixed into Pipeline."""

    settings: Settings
    store: Store
    kb: KnowledgeBase
    now: Callable[[], datetime]

    def _policy(self, feed: Feed, deadline: float, max_bytes: int) -> FetchPolicy:
        """Limits for one request of ``feed``: the settings, within what is left of the run."""
        settings = self.settings
        return FetchPolicy(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            deadline=max(1.0, min(settings.feed_deadline, deadline - time.monotonic())),
            max_bytes=max_bytes,
            max_redirects=settings.max_redirects,
            allow_private=feed.allow_private,
        )

    def _process_feed(
        self,
        fetcher: Fetcher,
        feed: Feed,
        validators: Validators,
        last_hash: str | None,
        deadline: float,
    ) -> FeedOutcome:
        """Fetch, parse and extract one feed in a worker thread; no database writes here."""
        settings = self.settings
        if deadline - time.monotonic() <= 0:
            # The run's time is up before this feed's turn: leave it due for the next run rather
            # than count a failure it never had a fair chance to avoid.
            return FeedOutcome(feed, "skipped")
        policy = self._policy(feed, deadline, settings.max_feed_bytes)
        try:
            result = fetcher.get(feed.url, policy, validators=validators, accept=FEED_ACCEPT)
            cache = _cache_seconds(result.headers.get("cache-control"))
            if result.not_modified:
                return FeedOutcome(
                    feed,
                    "unchanged",
                    http_status=304,
                    validators=validators,
                    body_hash=last_hash,
                    cache_seconds=cache,
                )
            digest = hashlib.sha256(result.body).hexdigest()
            new_validators = result.validators
            if digest == last_hash:
                return FeedOutcome(
                    feed,
                    "unchanged",
                    http_status=result.status,
                    validators=new_validators,
                    body_hash=digest,
                    cache_seconds=cache,
                )
            parsed = parse_feed(
                result.body, result.final_url, content_type=result.headers.get("content-type")
            )
        except (FetchError, ParseError) as exc:
            error = _with_hint(feed, exc)
            return FeedOutcome(
                feed, "failed", http_status=getattr(exc, "status", None), error=error
            )
        outcome = FeedOutcome(
            feed,
            "new",
            http_status=result.status,
            validators=new_validators,
            body_hash=digest,
            problem=parsed.problem,
            ttl_minutes=parsed.ttl_minutes,
            cache_seconds=cache,
        )
        entries = self._new_entries(feed, parsed.entries)
        page_policy = self._policy(feed, deadline, settings.max_page_bytes)
        with ThreadPoolExecutor(
            max_workers=settings.page_workers, thread_name_prefix="page"
        ) as pages:
            built = list(pages.map(lambda e: self._article(fetcher, feed, e, page_policy), entries))
        for article, fetched in built:
            outcome.pages_fetched += int(fetched)
            outcome.articles.append((article, self._mentions(article)))
        return outcome

    def _new_entries(self, feed: Feed, entries: Sequence[Entry]) -> list[Entry]:
        """Entries whose URL or GUID is not stored yet, without duplicates inside the feed."""
        urls = [e.url for e in entries if e.url]
        known_urls = self.store.known_urls(urls)
        known_guids = self.store.known_guids(feed.name, [e.guid for e in entries if e.guid])
        fresh: list[Entry] = []
        seen: set[str] = set()
        for entry in entries:
            key = entry.url or entry.guid or entry.title
            if key in seen or (entry.url and entry.url in known_urls):
                continue
            if entry.guid and entry.guid in known_guids:
                continue
            seen.add(key)
            fresh.append(entry)
        return fresh

    def _article(
        self, fetcher: Fetcher, feed: Feed, entry: Entry, policy: FetchPolicy
    ) -> tuple[Article, bool]:
        """Build the article for an entry: full text from its page, or the summary alone."""
        url = entry.url or _fallback_url(feed, entry)
        text, method, summary_only = entry.summary, "feed-summary", True
        title, author, published = entry.title, entry.author, entry.published
        image = language = None
        fetched = False
        if entry.url:
            try:
                page = fetcher.get(entry.url, policy, accept=PAGE_ACCEPT)
                fetched = True
                found = extract(page.body, page.final_url, charset=page.charset)
                if found.is_article and len(found.text) >= max(200, len(entry.summary) // 2):
                    text, method, summary_only = found.text, found.method, False
                # the page's title went through one unescaping pass; a double-escaped <script>
                # in it would be a live tag now, so it is cleaned once more
                title = title or plain_text(found.title)
                author = author or found.author
                published = published or found.published
                image = found.image
                language = found.language if not summary_only else None
            except (FetchError, ExtractError) as exc:
                log.info("page=%s kept=summary reason=%s", entry.url, one_line(str(exc))[:200])
        if published is not None and published > self.now() + timedelta(hours=1):
            published = None  # a date in the future is a wrong clock, not a publication time
        body = text or title
        return (
            Article(
                url=url,
                source=feed.name,
                title=title or one_line(body)[:120],
                text=body,
                summary=entry.summary,
                guid=entry.guid,
                author=author,
                published=published,
                language=language or detect_language(f"{title}\n{body}") or feed.language,
                image=image,
                summary_only=summary_only,
                extract_method=method,
                tags=feed.tags,
            ),
            fetched,
        )

    def _mentions(self, article: Article) -> list[Mention]:
        return self.kb.find(f"{article.title}\n{article.text}")

    def _store_outcome(self, outcome: FeedOutcome, report: RunReport) -> list[int]:
        """Commit one feed's articles together with its new state and the end of its lease, or
        record its failure; returns the ids of the articles stored."""
        now = self.now()
        name = outcome.feed.name
        report.pages_fetched += outcome.pages_fetched
        if outcome.status == "failed" and outcome.error is not None:
            self._record_failure(outcome, now)
            report.feeds_failed += 1
            report.failures[name] = one_line(str(outcome.error))[:300]
            log.warning("feed=%r status=failed error=%r", name, str(outcome.error)[:300])
            return []
        if outcome.status == "skipped":
            report.feeds_skipped += 1
            log.warning("feed=%r status=skipped reason='run deadline passed'", name)
            return []
        state: dict[str, Any] = {
            "last_fetch": iso(now),
            "last_success": iso(now),
            "last_status": outcome.http_status,
            "last_error": None,
            "consecutive_failures": 0,
            "next_due": iso(now + timedelta(seconds=self._interval(outcome))),
            "lease_run": None,
            "lease_owner": None,
            "lease_until": None,
        }
        if outcome.validators is not None:
            state["etag"] = outcome.validators.etag
            state["last_modified"] = outcome.validators.last_modified
        if outcome.body_hash:
            state["body_hash"] = outcome.body_hash
        if outcome.status == "new":
            state["problem"] = outcome.problem
            state["ttl_minutes"] = outcome.ttl_minutes
        with self.store.transaction() as conn:
            inserted = self.store.insert_articles(conn, outcome.articles, fetched=now)
            self.store.record_feed(conn, name, **state)
        report.new_articles += len(inserted)
        if outcome.status == "unchanged":
            report.feeds_unchanged += 1
        report.feeds_ok += 1
        log.info("feed=%r status=%s new=%d", name, outcome.status, len(inserted))
        return inserted

    def check_health(self, feeds: Sequence[Feed], report: RunReport) -> None:
        """Count the enabled feeds that are failing or paused after the run, whether or not they
        were due in it, and note each feed whose health changed since the last report."""
        changes: dict[str, FeedChange] = {}
        states = self.store.feed_states(feed.name for feed in feeds if feed.enabled)
        for feed in feeds:
            if not feed.enabled:
                continue
            state = states[feed.name]
            health = state.health
            report.feeds_failing += health == "failing"
            report.feeds_paused += health == "paused"
            if health != state.announced:
                error = None if health == "ok" else state.last_error
                changes[feed.name] = FeedChange(feed.name, state.announced, health, error)
        if report.feeds_failing or report.feeds_paused:
            report.status = "partial"
        if changes:
            # a worker beside this one may have announced some of these a moment ago
            made = self.store.announce_health({n: c.after for n, c in changes.items()})
            for name, change in changes.items():
                if name in made:
                    report.changes.append(change)
                    log.info("feed=%r health=%s was=%s", name, change.after, change.before)

    def _interval(self, outcome: FeedOutcome) -> float:
        """Seconds until the feed is due again: what the server asked for, at most a day."""
        asked = [s for s in (outcome.cache_seconds, (outcome.ttl_minutes or 0) * 60 or None) if s]
        return min(max(asked), 86_400.0) if asked else 0.0

    def _record_failure(self, outcome: FeedOutcome, now: datetime) -> None:
        error = outcome.error
        state = self.store.feed_state(outcome.feed.name)
        failures = state.consecutive_failures + 1
        delay = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (failures - 1))
        delay *= random.uniform(0.8, 1.2)
        if isinstance(error, TransientFetchError) and error.retry_after:
            delay = max(delay, min(error.retry_after, self.settings.backoff_max))
        permanent = isinstance(error, PermanentFetchError | ParseError)
        paused = permanent and failures >= self.settings.pause_after
        self.store.update_feed(
            outcome.feed.name,
            last_fetch=iso(now),
            last_status=outcome.http_status,
            last_error=f"{'permanent' if permanent else 'transient'}: {one_line(str(error))}"[:500],
            consecutive_failures=failures,
            next_due=iso(now + timedelta(seconds=delay)),
            paused=int(paused),
            lease_run=None,
            lease_owner=None,
            lease_until=None,
        )


PRIVATE_HINT = (
    "; a feed meant to be on this machine or network needs `allow_private: true` in feeds.yaml"
)


def _with_hint(feed: Feed, error: FetchError | ParseError) -> FetchError | ParseError:
    """The error, with the feeds.yaml key that lifts it when the feed's address is not public."""
    if not isinstance(error, PermanentFetchError) or feed.allow_private:
        return error
    if not str(error).startswith("refused: "):
        return error
    hinted = PermanentFetchError(f"{error}{PRIVATE_HINT}", url=error.url, status=error.status)
    hinted.__cause__ = error
    return hinted


def _fallback_url(feed: Feed, entry: Entry) -> str:
    digest = hashlib.sha256(f"{entry.guid}|{entry.title}".encode()).hexdigest()[:16]
    return f"{feed.url}#item-{digest}"


def _cache_seconds(header: str | None) -> float | None:
    if not header:
        return None
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "max-age" and value.strip().isdigit():
            return float(value.strip())
    return None
