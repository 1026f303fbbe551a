"""The one orchestrator: refresh = fetch -> parse -> extract -> embed -> cluster -> store.

Each stage is crash-safe on its own: a feed's new articles commit in one transaction with the feed's
state; embeddings and story assignments are derived data computed for whatever is missing, so a run
killed at any point is completed by the next one. Feeds are fetched in worker threads while the main
thread stores results and encodes them, which overlaps network, extraction and the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from aggregator.cluster import ClusterDoc, Clusterer, ClusterSettings, Merge
from aggregator.config import Settings, bundled
from aggregator.embed import Embedder, LazyEmbedder
from aggregator.entities import KnowledgeBase
from aggregator.errors import (
    AggregatorError,
    ConfigError,
    ExtractError,
    FetchError,
    LockedError,
    ParseError,
    PermanentFetchError,
    TransientFetchError,
)
from aggregator.extract import extract
from aggregator.fetch import FEED_ACCEPT, PAGE_ACCEPT, Fetcher, FetchPolicy
from aggregator.label import label_story
from aggregator.language import detect_language
from aggregator.models import Article, Entry, Feed, Mention, Validators
from aggregator.parse import parse_feed
from aggregator.store import Store, StoredDoc, iso, to_blob
from aggregator.text import one_line, plain_text, text_hash
from aggregator.watch import run_watches

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
EMBED_BATCH = 128
BODY_CHARS = 1500
FEED_WORKERS = 8


def _quiet(_stage: str, _count: int) -> None:
    return None


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


@dataclass
class RunReport:
    """The summary a refresh prints and stores."""

    started: str = ""
    finished: str = ""
    feeds_ok: int = 0
    feeds_failed: int = 0
    feeds_unchanged: int = 0
    feeds_skipped: int = 0
    new_articles: int = 0
    pages_fetched: int = 0
    embedded: int = 0
    new_stories: int = 0
    updated_stories: int = 0
    merged_stories: int = 0
    watch_hits: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_line(self) -> str:
        return (
            f"feeds ok={self.feeds_ok} failed={self.feeds_failed} "
            f"unchanged={self.feeds_unchanged} skipped={self.feeds_skipped}; "
            f"new articles={self.new_articles}; new stories={self.new_stories} "
            f"updated stories={self.updated_stories}"
        )


class Pipeline:
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
        return cls(settings, Store(settings.db), LazyEmbedder(settings.model), kb,
                   progress=progress)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # refresh --------------------------------------------------------------------------------

    def refresh(self, feeds: Sequence[Feed], *, force: bool = False) -> RunReport:
        """One pass over the due feeds, under a lock so that two runs never overlap."""
        lock = FileLock(str(self.settings.lock_path))
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise LockedError(
                f"another refresh is running on {self.settings.db} (lock {lock.lock_file})"
            ) from exc
        try:
            return self._refresh(feeds, force=force)
        finally:
            lock.release()

    def _refresh(self, feeds: Sequence[Feed], *, force: bool) -> RunReport:
        started = self.now()
        report = RunReport(started=iso(started))
        run_id = self.store.start_run(started)
        self.store.sync_feeds(feeds)
        due = []
        for feed in feeds:
            state = self.store.feed_state(feed.name)
            if not feed.enabled or state.paused:
                report.feeds_skipped += 1
                continue
            if not force and state.next_due and state.next_due > started:
                report.feeds_skipped += 1
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
            for done, future in enumerate(as_completed(futures), start=1):
                outcome = future.result()
                self._store_outcome(outcome, report)
                self.progress("feeds", done)
                if report.new_articles - report.embedded >= EMBED_BATCH:
                    report.embedded += self.embed_pending(limit=EMBED_BATCH)
        report.embedded += self.embed_pending()
        self.cluster_pending(report)
        report.watch_hits = run_watches(self.store, self.embedder, now=self.now()).hits
        report.finished = iso(self.now())
        status = "ok" if report.feeds_failed == 0 else "partial"
        self.store.finish_run(run_id, self.now(), status, report.as_dict())
        return report

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
        remaining = max(1.0, min(settings.feed_deadline, deadline - time.monotonic()))
        policy = FetchPolicy(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            deadline=remaining,
            max_bytes=settings.max_feed_bytes,
            max_redirects=settings.max_redirects,
            allow_private=feed.allow_private,
        )
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
            return FeedOutcome(feed, "failed", http_status=getattr(exc, "status", None), error=exc)
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
        page_policy = FetchPolicy(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            deadline=min(settings.feed_deadline, max(1.0, deadline - time.monotonic())),
            max_bytes=settings.max_page_bytes,
            max_redirects=settings.max_redirects,
            allow_private=feed.allow_private,
        )
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
        now = self.now()
        if published is None or published > now + timedelta(hours=1):
            published = now
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

    def _store_outcome(self, outcome: FeedOutcome, report: RunReport) -> None:
        """Commit one feed's articles together with its new state, or record its failure."""
        now = self.now()
        name = outcome.feed.name
        report.pages_fetched += outcome.pages_fetched
        if outcome.status == "failed" and outcome.error is not None:
            self._record_failure(outcome, now)
            report.feeds_failed += 1
            report.failures[name] = one_line(str(outcome.error))[:300]
            log.warning("feed=%r status=failed error=%r", name, str(outcome.error)[:300])
            return
        if outcome.status == "skipped":
            report.feeds_skipped += 1
            log.warning("feed=%r status=skipped reason='run deadline passed'", name)
            return
        state: dict[str, Any] = {
            "last_fetch": iso(now),
            "last_success": iso(now),
            "last_status": outcome.http_status,
            "last_error": None,
            "consecutive_failures": 0,
            "next_due": iso(now + timedelta(seconds=self._interval(outcome))),
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
        )

    # import ---------------------------------------------------------------------------------

    def import_records(
        self, records: Iterable[dict[str, Any]], *, source: str = "import"
    ) -> tuple[int, RunReport]:
        """Add articles from elsewhere through the same dedup, embed, cluster and store path."""
        report = RunReport(started=iso(self.now()))
        batch: list[tuple[Article, list[Mention]]] = []
        count = 0
        for number, record in enumerate(records, start=1):
            article = article_from_record(record, number, source, self.now())
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

    # embed ----------------------------------------------------------------------------------

    def embed_pending(self, limit: int | None = None) -> int:
        """Embed title and body of every article lacking vectors for this model.

        Identical inputs (syndicated copies, re-imports) reuse stored vectors by text hash.
        """
        model = self.embedder.name
        done = 0
        while limit is None or done < limit:
            rows = self.store.missing_embeddings(model, limit=EMBED_BATCH)
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
        if pending:
            clusterer = Clusterer(self.cluster_settings())
            since = clusterer.window_start(pending[0].published)
            members = self.store.window_members(since, model)
            clusterer.load(
                (m.story_id, _cluster_doc(m)) for m in members if m.story_id is not None
            )
            for number, doc in enumerate(pending, start=1):
                assignment = clusterer.add(_cluster_doc(doc))
                pairs.append((doc.article_id, assignment.story_id))
                touched.add(assignment.story_id)
                if assignment.created:
                    created.add(assignment.story_id)
                if number % 500 == 0:
                    self.progress("clustered", number)
            merges = clusterer.consolidate()
        now = self.now()
        absorbed = {m.absorbed for m in merges}
        touched = (touched | {m.into for m in merges}) - absorbed
        with self.store.transaction() as conn:
            self.store.assign(conn, pairs, now)
            for merge in merges:
                self.store.merge(conn, merge.absorbed, merge.into, now)
            self._label(conn, touched, now)
        report.new_stories += len(created - absorbed)
        report.updated_stories += len(touched - created)
        report.merged_stories += len(merges)
        self.progress("clustered", len(pending))

    def label_stories(self, story_ids: Iterable[int]) -> None:
        """Recompute the summary row (label, counts, languages, timeline) of each story."""
        with self.store.transaction() as conn:
            self._label(conn, set(story_ids), self.now())

    def _label(self, conn: sqlite3.Connection, story_ids: set[int], now: datetime) -> None:
        """Write the summary rows of ``story_ids`` inside the caller's transaction."""
        ids = sorted(story_ids)
        for start in range(0, len(ids), 200):
            members = self.store.story_members(ids[start : start + 200], self.embedder.name)
            for story_id, docs in members.items():
                if docs:
                    self.store.save_story(conn, self._story_record(story_id, docs, now))
                else:
                    self.store.drop_story(conn, story_id)

    def _story_record(self, story_id: int, docs: list[StoredDoc], now: datetime) -> dict[str, Any]:
        cluster_docs = [_cluster_doc(d) for d in docs]
        label = label_story(cluster_docs, reader_language=self.settings.reader_language)
        languages = Counter(d.language or "und" for d in docs)
        sources = Counter(d.source for d in docs)
        days = Counter(d.published.strftime("%Y-%m-%d") for d in docs)
        centroid = np.mean([d.body_vector for d in docs], axis=0).astype(np.float32)
        centroid /= float(np.linalg.norm(centroid)) or 1.0
        names = self.store.mention_names(d.article_id for d in docs)
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
            "tags": json.dumps(self.store.story_tags(story_id)),
            "headline": label.headline,
            "lead_article_id": label.lead_article_id,
            "keywords": json.dumps(list(label.keywords), ensure_ascii=False),
            "entities": json.dumps([names.get(e, e) for e in label.entities], ensure_ascii=False),
            "timeline": json.dumps(sorted(days.items())),
            "model": self.embedder.name,
            "vector": to_blob(centroid),
        }


def _cluster_doc(doc: StoredDoc) -> ClusterDoc:
    return ClusterDoc(
        article_id=doc.article_id,
        source=doc.source,
        language=doc.language,
        published=doc.published,
        title=doc.title,
        text=doc.text,
        title_vector=doc.title_vector,
        body_vector=doc.body_vector,
        entities=doc.entities,
    )


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


def article_from_record(record: dict[str, Any], number: int, source: str, now: datetime) -> Article:
    """An imported JSON object as an Article; a bad record is an error naming its line."""
    if not isinstance(record, dict):
        raise AggregatorError(f"line {number}: expected a JSON object")
    title = plain_text(str(record.get("title") or ""))
    text = str(record.get("text") or "").strip()
    if not title and not text:
        raise AggregatorError(f"line {number}: needs a 'title' or a 'text'")
    external = record.get("id")
    external_id = str(external) if external is not None else None
    url = str(record.get("url") or "").strip()
    if not url:
        key = external_id or hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:20]
        url = f"urn:import:{key}"
    published = _parse_when(record.get("published"), number)
    language = record.get("language") or detect_language(f"{title}\n{text}")
    return Article(
        url=url,
        source=str(record.get("source") or source),
        title=title or one_line(text)[:120],
        text=text or title,
        summary=str(record.get("summary") or ""),
        published=published or now,
        language=language,
        summary_only=not text,
        extract_method="import",
        external_id=external_id,
        tags=tuple(str(t) for t in record.get("tags") or ()),
    )


def _parse_when(value: Any, number: int) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 10**11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError) as exc:
        raise AggregatorError(f"line {number}: 'published' is not a date: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file, one a line; a bad line is an error naming file and line."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not valid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise ConfigError(f"{path}:{number}: expected a JSON object")
            yield record


def validated_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file, checked before anything is written, so that a bad line
    leaves the database as it was."""
    records = list(read_jsonl(path))
    now = datetime.now(UTC)
    for number, record in enumerate(records, start=1):
        try:
            article_from_record(record, number, "import", now)
        except AggregatorError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    return records
