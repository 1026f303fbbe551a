"""Saved searches that alert: after each refresh, new articles matching a search are recorded.

Each watch looks only at articles stored since its last run (a high-water mark on the article
id), so the archive is never re-alerted and a match is recorded once (the database enforces one
hit per watch and article). Modes:

- ``keyword``: every word (or "phrase") must occur, as in ``aggregator search``;
- ``semantic``: the article body's cosine to the query embedding is at least a bar (a search
  returns the nearest few whatever their distance; an alert needs an absolute one). With a
  multilingual model both are first centred by language, as search centres them
  (:func:`aggregator.search.nearest`), and the bar is ``CENTRED_THRESHOLD``: uncentred,
  multilingual-e5-small puts every article of the demo corpus between 0.74 and 0.92 of any
  query, so a bar of 0.5 alerted on every article. Centred, on the 61 dev queries of
  bench/search_quality.py against the demo corpus, 0.25 flagged 401 of 17,202 query-article
  pairs with precision .87 and recall .67 (0.2: .69 / .75; 0.3: .95 / .54). An English-only
  model keeps ``threshold`` on the plain cosine;
- ``hybrid``: either of the two.

A hit whose story this watch has not matched before is flagged as a new story. Hits of watches
with ``--email`` or ``--webhook`` are then delivered, one message per watch and run; hits that
could not be delivered are tried again on later runs, up to a limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from aggregator.embed import Embedder
from aggregator.errors import AggregatorError, DeliveryError
from aggregator.language import detect_language
from aggregator.notify import SmtpSettings, post_webhook, send_email, webhooks_may_reach_private
from aggregator.search import MEANS_SAMPLE, Centring, centring_from
from aggregator.store import Store, iso
from aggregator.store import watches as db
from aggregator.store.articles import language_sums
from aggregator.store.read import http_url

log = logging.getLogger(__name__)

MODES = ("keyword", "semantic", "hybrid")
SEMANTIC_THRESHOLD = 0.5
CENTRED_THRESHOLD = 0.25
NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass
class WatchReport:
    """What one pass over the saved searches found and sent."""

    hits: int = 0
    new_stories: int = 0
    delivered: int = 0
    failures: dict[str, str] = field(default_factory=dict)


def check_name(name: str) -> str | None:
    """Why ``name`` cannot name a watch (it becomes part of a file name), or None."""
    if not name or len(name) > 60:
        return "must be 1 to 60 characters"
    if any(c not in NAME_CHARS for c in name):
        return "may only use a-z, 0-9, '-' and '_'"
    return None


def run_watches(
    store: Store,
    embedder: Embedder | None,
    *,
    now: datetime | None = None,
    threshold: float = SEMANTIC_THRESHOLD,
    smtp: SmtpSettings | None = None,
    deliver: bool = True,
    backoff: float = 1.0,
) -> WatchReport:
    """Match every watch against the articles stored since its last run, then deliver.

    A watch that fails is logged and reported, never allowed to fail the refresh that ran it.
    """
    moment = now or datetime.now(UTC)
    report = WatchReport()
    watches = db.list_watches(store.conn)
    if not watches:
        return report
    upto = db.newest_article_id(store.conn)
    vectors: dict[str, Any] = {}
    centres: dict[str, Centring | None] = {}
    for watch in watches:
        try:
            if upto > watch.last_article_id:
                matches = _matches(store, embedder, watch, upto, threshold, vectors, centres)
                before = db.new_story_count(store.conn, watch)
                report.hits += db.record_hits(store, watch, matches, upto, moment)
                report.new_stories += db.new_story_count(store.conn, watch) - before
        except AggregatorError as exc:
            report.failures[watch.name] = str(exc)[:300]
            log.warning("watch=%r status=failed error=%r", watch.name, str(exc)[:300])
    if deliver:
        settings = smtp if smtp is not None else _smtp_from_env(report)
        private = _private_webhooks_from_env(report)
        for watch in watches:
            if watch.email or watch.webhook:
                report.delivered += _deliver(
                    store, watch, settings, moment, report, backoff=backoff, allow_private=private
                )
    return report


def _smtp_from_env(report: WatchReport) -> SmtpSettings | None:
    try:
        return SmtpSettings.from_env()
    except AggregatorError as exc:
        report.failures["smtp"] = str(exc)
        return None


def _private_webhooks_from_env(report: WatchReport) -> bool:
    try:
        return webhooks_may_reach_private()
    except AggregatorError as exc:
        report.failures["webhook"] = str(exc)
        return False


def _matches(
    store: Store,
    embedder: Embedder | None,
    watch: db.Watch,
    upto: int,
    threshold: float,
    vectors: dict[str, Any],
    centres: dict[str, Centring | None],
) -> dict[int, float]:
    after = watch.last_article_id
    found: dict[int, float] = {}
    if watch.mode in ("keyword", "hybrid"):
        found.update(db.keyword_matches(store.conn, watch, after, upto))
    if watch.mode in ("semantic", "hybrid"):
        if embedder is None:
            raise AggregatorError(f"saved search {watch.name!r} needs the embedding model")
        if watch.query not in vectors:
            vectors[watch.query] = np.asarray(
                embedder.encode([watch.query], kind="query")[0], dtype=np.float32
            )
        stored = db.new_body_vectors(store.conn, watch, after, upto, model=embedder.name)
        query = vectors[watch.query]
        passing = _semantic_scores(store, embedder.name, watch, stored, query, threshold, centres)
        for article_id, score in passing:
            found[article_id] = max(found.get(article_id, score), score)
    return found


def _semantic_scores(
    store: Store,
    model: str,
    watch: db.Watch,
    stored: dict[int, tuple[str | None, Any]],
    query: Any,
    threshold: float,
    centres: dict[str, Centring | None],
) -> list[tuple[int, float]]:
    """(article id, score) of the stored articles that pass the semantic bar (see the module
    docstring); the language means are read once per run and model."""
    if model not in centres:
        centres[model] = centring_from(language_sums(store.conn, model, MEANS_SAMPLE), model)
    centre = centres[model]
    if centre is None:
        scored = [(i, float(np.dot(vector, query))) for i, (_, vector) in stored.items()]
        bar = threshold
    else:
        scored = centre.scores(stored, centre.query(query, detect_language(watch.query)))
        bar = CENTRED_THRESHOLD
    return [(i, score) for i, score in scored if score >= bar]


def hit_record(hit: db.Hit) -> dict[str, Any]:
    """A hit as plain JSON-ready data (for `watch hits --json` and webhooks)."""
    return {
        "hit_id": hit.id,
        "article_id": hit.article_id,
        "title": hit.title,
        "url": http_url(hit.url),
        "source": hit.source,
        "language": hit.language,
        "published": iso(hit.published) if hit.published else None,
        "story_id": hit.story_id,
        "story": hit.story,
        "new_story": hit.new_story,
        "found": iso(hit.found) if hit.found else None,
        "read": hit.read,
    }


def alert_text(watch: db.Watch, hits: list[db.Hit]) -> tuple[str, str]:
    """Subject and plain-text body of an alert e-mail."""
    subject = f"[aggregator] {watch.name}: {len(hits)} new article(s)"
    lines = [f"Saved search {watch.name!r} ({watch.mode}: {watch.query}) matched:", ""]
    for hit in hits:
        flag = " [new story]" if hit.new_story else ""
        when = f"{hit.published:%Y-%m-%d %H:%M}" if hit.published else ""
        lines.append(f"- {hit.title}{flag}")
        lines.append(f"  {hit.source} · {hit.language or '?'} · {when}")
        if hit.story:
            lines.append(f"  story #{hit.story_id}: {hit.story}")
        link = http_url(hit.url)
        if link:
            lines.append(f"  {link}")
    return subject, "\n".join(lines) + "\n"


def _deliver(
    store: Store,
    watch: db.Watch,
    smtp: SmtpSettings | None,
    now: datetime,
    report: WatchReport,
    *,
    backoff: float,
    allow_private: bool,
) -> int:
    pending = db.undelivered(store.conn, watch)
    if not pending:
        return 0
    ids = [h.id for h in pending]
    try:
        if watch.email:
            if smtp is None:
                raise DeliveryError("AGGREGATOR_SMTP_HOST is not set", transient=False)
            subject, body = alert_text(watch, pending)
            send_email(smtp, watch.email, subject, body, backoff=backoff)
        if watch.webhook:
            payload = {
                "watch": watch.name,
                "query": watch.query,
                "mode": watch.mode,
                "hits": [hit_record(h) for h in pending],
            }
            post_webhook(watch.webhook, payload, allow_private=allow_private, backoff=backoff)
    except DeliveryError as exc:
        db.record_delivery(store, ids, now, error=str(exc))
        report.failures[f"deliver:{watch.name}"] = str(exc)[:300]
        log.warning("watch=%r delivery=failed error=%r", watch.name, str(exc)[:300])
        return 0
    db.record_delivery(store, ids, now)
    return len(ids)
