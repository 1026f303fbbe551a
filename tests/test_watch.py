"""Saved searches: matching once per article, filters, flags, delivery to real local servers."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import Settings
from aggregator.demo import DemoCorpus
from aggregator.entities import KnowledgeBase
from aggregator.errors import DeliveryError
from aggregator.notify import SmtpSettings, post_webhook
from aggregator.pipeline import Pipeline
from aggregator.store import Store
from aggregator.store import watches as db
from aggregator.store.engine import Location
from aggregator.store.read import Filters, Reader
from aggregator.watch import run_watches

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 4, 10, 8, 0, tzinfo=UTC)


class HashEmbedder:
    """A deterministic bag-of-words embedder: fast, no model, same text -> same vector."""

    name = "test-hash"
    dim = 256
    multilingual = False

    def encode(self, texts: Sequence[str], kind: str = "passage") -> Any:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                matrix[row, int.from_bytes(digest, "big") % self.dim] += 1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return matrix / norms


def make_pipeline(db_path: Location) -> Pipeline:
    settings = Settings(db=db_path, entities=REPO / "data" / "entities.yaml")
    return Pipeline(settings, Store(db_path), HashEmbedder(), KnowledgeBase.load(settings.entities))


def record(n: int, title: str, text: str, language: str = "en", source: str = "wire") -> dict:
    return {
        "id": f"a{n}",
        "url": f"https://news.example.com/{n}",
        "title": title,
        "text": text,
        "language": language,
        "source": source,
        "published": (T0 + timedelta(hours=n)).isoformat(),
    }


BATCH_ONE = [
    record(1, "Xiaomi SU7 deliveries begin", "Xiaomi started SU7 deliveries in Beijing today."),
    record(2, "BYD cuts Seal prices", "BYD lowered prices of the Seal sedan in China."),
    record(3, "Xiaomi SU7 orders top 75,000", "Xiaomi said SU7 locked orders passed 75,000."),
    record(4, "Xiaomi SU7 Auslieferung", "Xiaomi liefert den SU7 aus.", language="de"),
]
BATCH_TWO = [
    record(5, "Xiaomi SU7 crash test", "The Xiaomi SU7 earned five stars in a crash test."),
    record(6, "Renault Ampere listing off", "Renault cancelled the Ampere listing."),
]


@pytest.fixture
def pipeline(make_db: Callable[[str], Location]) -> Iterator[Pipeline]:
    built = make_pipeline(make_db("watch"))
    try:
        yield built
    finally:
        built.store.close()


def add(store: Store, name: str, query: str, mode: str = "keyword", **extra: Any) -> db.Watch:
    filters = Filters(
        languages=extra.pop("languages", ()),
        sources=extra.pop("sources", ()),
        tags=extra.pop("tags", ()),
    )
    return db.add_watch(
        store,
        name=name,
        query=query,
        mode=mode,
        filters=filters,
        email=extra.pop("email", None),
        webhook=extra.pop("webhook", None),
        now=T0,
    )


def titles(store: Store, name: str) -> list[str]:
    return sorted(h.title for h in db.hits(store.conn, db.get_watch(store.conn, name)))


def test_a_watch_ignores_the_archive_and_records_each_new_match_once(pipeline: Pipeline) -> None:
    store = pipeline.store
    pipeline.import_records(BATCH_ONE[:1])
    add(store, "xiaomi", "xiaomi su7")
    pipeline.import_records(BATCH_ONE[1:])
    first = run_watches(store, pipeline.embedder, now=T0)
    assert first.hits == 2
    assert titles(store, "xiaomi") == ["Xiaomi SU7 Auslieferung", "Xiaomi SU7 orders top 75,000"]
    assert run_watches(store, pipeline.embedder, now=T0).hits == 0
    pipeline.import_records(BATCH_TWO)
    third = run_watches(store, pipeline.embedder, now=T0)
    assert third.hits == 1
    assert len(titles(store, "xiaomi")) == 3
    # the database refuses a second hit for the same article, whatever the caller does
    watch = db.get_watch(store.conn, "xiaomi")
    article_id = db.hits(store.conn, watch)[0].article_id
    again = db.record_hits(store, watch, {article_id: 1.0}, watch.last_article_id, T0)
    assert again == 0 and len(titles(store, "xiaomi")) == 3


def test_filters_limit_matches(pipeline: Pipeline) -> None:
    store = pipeline.store
    add(store, "xiaomi-de", "xiaomi", languages=("de",))
    add(store, "other-source", "xiaomi", sources=("nobody",))
    pipeline.import_records(BATCH_ONE)
    run_watches(store, pipeline.embedder, now=T0)
    assert titles(store, "xiaomi-de") == ["Xiaomi SU7 Auslieferung"]
    assert titles(store, "other-source") == []


def test_new_stories_are_flagged_once_per_story(pipeline: Pipeline) -> None:
    store = pipeline.store
    add(store, "su7", "SU7")
    pipeline.import_records(BATCH_ONE + BATCH_TWO)
    report = run_watches(store, pipeline.embedder, now=T0)
    hits = db.hits(store.conn, db.get_watch(store.conn, "su7"))
    stories = {h.story_id for h in hits}
    assert None not in stories
    assert report.new_stories == len(stories) == sum(h.new_story for h in hits)


def test_semantic_mode_uses_a_cosine_bar(pipeline: Pipeline) -> None:
    store = pipeline.store
    add(store, "ampere", "Renault cancelled the Ampere listing", mode="semantic")
    add(store, "nothing", "zzz qqq", mode="semantic")
    pipeline.import_records(BATCH_ONE + BATCH_TWO)
    run_watches(store, pipeline.embedder, now=T0, threshold=0.6)
    assert titles(store, "ampere") == ["Renault Ampere listing off"]
    assert titles(store, "nothing") == []


def test_semantic_alerts_with_the_default_model_match_the_event_not_everything(
    make_db: Callable[[str], Location],
) -> None:
    """Under multilingual-e5-small every article sits within 0.74-0.92 of any query, so a plain
    cosine bar of 0.5 alerted on all of them; centred by language, the alert holds to the event."""
    corpus = DemoCorpus.load(REPO / "data" / "demo")
    articles = [a for a in corpus.articles if a.event.startswith(("e03", "e05", "e07", "e12"))]
    records = [
        {"id": f"{a.event[:3]}:{n}", "title": a.title, "text": a.text, "language": a.language,
         "url": f"https://demo{a.url_path}", "published": a.published.isoformat(),
         "source": a.outlet}
        for n, a in enumerate(articles)
    ]  # fmt: skip
    settings = Settings(db=make_db("e5"), entities=REPO / "data" / "entities.yaml")
    with Pipeline.build(settings) as built:  # the default model
        add(built.store, "tariffs", "EU tariffs on Chinese electric cars", mode="semantic")
        built.import_records(records)
        run_watches(built.store, built.embedder, now=T0, deliver=False)
        hits = db.hits(built.store.conn, db.get_watch(built.store.conn, "tariffs"))
    events = [(event_of(corpus, h.url), h.language) for h in hits]
    assert len(hits) >= 3, events
    assert all(event.startswith("e12") for event, _ in events), events  # the EU's duties only


def event_of(corpus: DemoCorpus, url: str) -> str:
    return next(a.event for a in corpus.articles if url.endswith(a.url_path))


def test_mark_read_and_unread_counts(pipeline: Pipeline) -> None:
    store = pipeline.store
    add(store, "xiaomi", "xiaomi")
    pipeline.import_records(BATCH_ONE)
    run_watches(store, pipeline.embedder, now=T0)
    watch = db.get_watch(store.conn, "xiaomi")
    assert (watch.unread, watch.total) == (3, 3)
    first = db.hits(store.conn, watch)[0]
    assert db.mark_read(store, watch, [first.id]) == 1
    assert db.get_watch(store.conn, "xiaomi").unread == 2
    assert [h.id for h in db.hits(store.conn, watch, unread_only=True)].count(first.id) == 0
    assert db.mark_read(store, watch) == 2
    assert db.get_watch(store.conn, "xiaomi").unread == 0


def test_cli_watch_commands(make_db: Callable[[str], Location]) -> None:
    database = make_db("cli")
    runner = CliRunner()
    base = ["--db", str(database)]
    made = make_pipeline(database)
    made.import_records(BATCH_ONE[:1])
    out = runner.invoke(cli, [*base, "watch", "add", "xiaomi", "xiaomi", "--language", "en"])
    assert out.exit_code == 0, out.output
    dup = runner.invoke(cli, [*base, "watch", "add", "xiaomi", "other"])
    assert dup.exit_code == 2 and "already exists" in dup.output
    bad = runner.invoke(cli, [*base, "watch", "add", "Bad Name!", "x"])
    assert bad.exit_code == 2
    made.import_records(BATCH_ONE[1:] + BATCH_TWO)
    run_watches(made.store, made.embedder, now=T0)
    made.store.close()
    listed = runner.invoke(cli, [*base, "watch", "list", "--json"])
    row = json.loads(listed.output)
    assert (row["name"], row["unread"], row["hits"], row["languages"]) == ("xiaomi", 2, 2, ["en"])
    shown = runner.invoke(cli, [*base, "watch", "hits", "xiaomi", "--json", "--mark-read"])
    records = [json.loads(line) for line in shown.output.splitlines()]
    assert [r["title"] for r in records] == [
        "Xiaomi SU7 crash test",
        "Xiaomi SU7 orders top 75,000",
    ]
    assert all(not r["read"] for r in records)
    again = runner.invoke(cli, [*base, "watch", "list"])
    assert "0 unread of 2" in again.output
    gone = runner.invoke(cli, [*base, "watch", "remove", "xiaomi"])
    assert gone.exit_code == 0
    missing = runner.invoke(cli, [*base, "watch", "hits", "xiaomi"])
    assert missing.exit_code == 2


class Receiver:
    """A real HTTP server on 127.0.0.1 that answers POSTs with the given statuses in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[Any] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_webhook_retries_then_delivers_once(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGGREGATOR_WEBHOOK_ALLOW_PRIVATE", "1")
    receiver = Receiver([503, 200])
    try:
        store = pipeline.store
        add(store, "xiaomi", "xiaomi", webhook=receiver.url)
        pipeline.import_records(BATCH_ONE)
        report = run_watches(store, pipeline.embedder, now=T0, backoff=0.01)
        assert report.delivered == 3 and not report.failures
        assert len(receiver.bodies) == 2  # the 503, then the success
        payload = receiver.bodies[-1]
        assert payload["watch"] == "xiaomi" and len(payload["hits"]) == 3
        assert {h["url"] for h in payload["hits"]} == {
            "https://news.example.com/1",
            "https://news.example.com/3",
            "https://news.example.com/4",
        }
        assert run_watches(store, pipeline.embedder, now=T0, backoff=0.01).delivered == 0
        assert len(receiver.bodies) == 2
    finally:
        receiver.stop()


def test_webhook_failure_is_kept_for_the_next_run(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGGREGATOR_WEBHOOK_ALLOW_PRIVATE", "1")
    receiver = Receiver([500, 500, 500])
    try:
        store = pipeline.store
        add(store, "xiaomi", "xiaomi", webhook=receiver.url)
        pipeline.import_records(BATCH_ONE)
        failed = run_watches(store, pipeline.embedder, now=T0, backoff=0.01)
        assert failed.delivered == 0 and "deliver:xiaomi" in failed.failures
        assert len(receiver.bodies) == 3
        later = run_watches(store, pipeline.embedder, now=T0, backoff=0.01)
        assert later.delivered == 3
    finally:
        receiver.stop()
    with pytest.raises(DeliveryError) as info:
        post_webhook("http://127.0.0.1:9/none", {}, allow_private=True, attempts=1)
    assert info.value.transient


def test_webhook_to_a_private_address_is_refused_unless_allowed(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGGREGATOR_WEBHOOK_ALLOW_PRIVATE", raising=False)
    receiver = Receiver([200])
    try:
        store = pipeline.store
        add(store, "xiaomi", "xiaomi", webhook=receiver.url)
        pipeline.import_records(BATCH_ONE)
        refused = run_watches(store, pipeline.embedder, now=T0, backoff=0.01)
        assert refused.delivered == 0
        assert "loopback" in refused.failures["deliver:xiaomi"]
        assert receiver.bodies == []  # refused before any byte was sent, and not retried
        monkeypatch.setenv("AGGREGATOR_WEBHOOK_ALLOW_PRIVATE", "1")
        allowed = run_watches(store, pipeline.embedder, now=T0, backoff=0.01)
        assert allowed.delivered == 3 and len(receiver.bodies) == 1
    finally:
        receiver.stop()
    with pytest.raises(DeliveryError) as info:
        post_webhook("http://10.1.2.3/hook", {}, attempts=1)
    assert not info.value.transient and "private" in str(info.value)
    monkeypatch.setenv("AGGREGATOR_WEBHOOK_ALLOW_PRIVATE", "maybe")
    misconfigured = run_watches(store, None, now=T0)
    assert "AGGREGATOR_WEBHOOK_ALLOW_PRIVATE" in misconfigured.failures["webhook"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_email_alert_through_a_real_smtp_server(pipeline: Pipeline) -> None:
    controller_module = pytest.importorskip("aiosmtpd.controller")

    class Collect:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 OK"

    handler = Collect()
    port = free_port()
    controller = controller_module.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        store = pipeline.store
        add(store, "xiaomi", "xiaomi", email="fleet@example.com")
        pipeline.import_records(BATCH_ONE)
        smtp = SmtpSettings.from_env(
            {
                "AGGREGATOR_SMTP_HOST": "127.0.0.1",
                "AGGREGATOR_SMTP_PORT": str(port),
                "AGGREGATOR_SMTP_FROM": "alerts@example.com",
            }
        )
        assert smtp is not None
        report = run_watches(store, pipeline.embedder, now=T0, smtp=smtp, backoff=0.01)
        assert report.delivered == 3, report.failures
    finally:
        controller.stop()
    assert len(handler.messages) == 1
    sender, recipients, content = handler.messages[0]
    assert sender == "alerts@example.com" and recipients == ["fleet@example.com"]
    text = content.decode("utf-8", "replace")
    assert "Subject: [aggregator] xiaomi: 3 new article(s)" in text
    assert "Xiaomi SU7 orders top 75,000" in text and "https://news.example.com/3" in text
    assert "BYD" not in text


def test_email_without_smtp_settings_is_a_reported_failure(pipeline: Pipeline) -> None:
    store = pipeline.store
    add(store, "xiaomi", "xiaomi", email="fleet@example.com")
    pipeline.import_records(BATCH_ONE)
    report = run_watches(store, pipeline.embedder, now=T0, smtp=None, deliver=True)
    if SmtpSettings.from_env() is None:
        assert "AGGREGATOR_SMTP_HOST" in report.failures["deliver:xiaomi"]
    assert report.hits == 3  # matching does not depend on delivery


def test_demo_replay_fires_once_per_new_matching_article(
    make_db: Callable[[str], Location],
) -> None:
    from aggregator.demo import DemoCorpus, DemoServer

    corpus = DemoCorpus.load(REPO / "data" / "demo")
    database = make_db("demo")
    pipeline = make_pipeline(database)
    first, last = corpus.time_range
    day = first.replace(hour=23, minute=59, second=59)
    per_run: list[int] = []
    with DemoServer(corpus, until=day) as server:
        feeds = server.feeds()
        pipeline.refresh(feeds, force=True)  # the first day is the archive
        add(pipeline.store, "xiaomi", "xiaomi")
        start = db.get_watch(pipeline.store.conn, "xiaomi").last_article_id
        while day <= last + timedelta(days=1):
            day += timedelta(days=1)
            server.set_until(day)
            per_run.append(pipeline.refresh(feeds, force=True).watch_hits)
    pipeline.store.close()
    with Reader(database) as reader:
        expected = {
            row.id for row in reader.search_keyword("xiaomi", limit=10_000) if row.id > start
        }
        conn = reader.conn
        recorded = [r[0] for r in conn.execute("SELECT article_id FROM watch_hits")]
    assert expected, "the demo corpus should mention Xiaomi after its first day"
    assert sorted(recorded) == sorted(expected)
    assert len(recorded) == len(set(recorded)) == sum(per_run)
    assert sum(1 for n in per_run if n) >= 2  # alerts arrive over several days, not at once
