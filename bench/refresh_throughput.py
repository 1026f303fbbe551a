"""Refresh throughput against bare fp32 encoding of the same texts, measured in the same run.

A synthetic news site on 127.0.0.1 serves ``--feeds`` feeds of ``--per-feed`` articles each, built
from the demo corpus's pages (each demo page appears under several URLs and feeds, with a varied
title, so every article is distinct and every text is embedded). A full refresh goes into a fresh
database; then the same texts the refresh embedded (titles and bodies) are encoded by a bare
``SentenceTransformer(model).encode(texts, batch_size=32)``. The figure is the ratio of the two
rates, so a loaded machine slows both sides alike.

    python bench/refresh_throughput.py [--feeds 200] [--per-feed 6] [--model e5-onnx]

Target: refresh articles/s ÷ bare fp32 encode articles/s >= 1.0 (stretch 1.5).
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config import Settings  # noqa: E402
from aggregator.demo import DemoCorpus, DemoServer  # noqa: E402
from aggregator.embed import DEFAULT_MODEL, bundled_minilm_path, model_name  # noqa: E402
from aggregator.entities import KnowledgeBase  # noqa: E402
from aggregator.models import Feed  # noqa: E402
from aggregator.pipeline import BODY_CHARS, Pipeline, RunReport  # noqa: E402
from aggregator.store import Store  # noqa: E402

EDITIONS = ("morning", "evening", "weekend", "markets", "tech", "policy", "regional", "wire")


@dataclass(frozen=True)
class Source:
    """One demo page and its feed metadata, fetched once from the demo server."""

    title: str
    summary: str
    published: str
    page: bytes


@dataclass
class SiteCounts:
    """Requests the synthetic site answered, by kind, so benchmarks can see what a run fetched."""

    feeds: int = 0
    not_modified: int = 0
    pages: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)


def demo_sources() -> list[Source]:
    """Every demo article whose page the demo server serves, with that page's bytes."""
    corpus = DemoCorpus.load(REPO / "data" / "demo")
    sources: list[Source] = []
    with DemoServer(corpus) as server, httpx.Client() as client:
        for article in corpus.articles:
            response = client.get(server.base_url + article.url_path)
            if response.status_code != 200:
                continue
            sources.append(
                Source(
                    title=article.title,
                    summary=article.summary,
                    published=email.utils.format_datetime(article.published, usegmt=True),
                    page=response.content,
                )
            )
    return sources


class SyntheticSite:
    """``feeds`` RSS feeds of ``per_feed`` items each, with their pages, on 127.0.0.1.

    Even-numbered feeds send an ETag and answer a matching conditional GET with 304; odd ones send
    no validators at all and repeat the same bytes, as many real feeds do.
    """

    def __init__(self, sources: list[Source], feeds: int, per_feed: int) -> None:
        self.sources = sources
        self.count = feeds
        self.per_feed = per_feed
        self.counts = SiteCounts()
        self._feeds: dict[str, bytes] = {}
        self._pages: dict[str, bytes] = {}
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> SyntheticSite:
        handler = type("SiteHandler", (_Handler,), {"site": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._build()
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SyntheticSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def feed_list(self) -> list[Feed]:
        return [
            Feed(name=f"Bench {k:03d}", url=f"{self.base_url}/f/{k}.xml", allow_private=True)
            for k in range(self.count)
        ]

    @property
    def articles(self) -> int:
        return self.count * self.per_feed

    def _build(self) -> None:
        base = self.base_url
        for k in range(self.count):
            items = []
            for j in range(self.per_feed):
                number = k * self.per_feed + j
                source = self.sources[number % len(self.sources)]
                edition = f"{EDITIONS[number % len(EDITIONS)]} edition {number // len(EDITIONS)}"
                path = f"/p/{k}/{j}.html"
                self._pages[path] = source.page
                items.append(
                    "<item>"
                    f"<title>{escape(source.title)} ({edition})</title>"
                    f"<link>{base}{path}</link><guid>{base}{path}</guid>"
                    f"<pubDate>{source.published}</pubDate>"
                    f"<description>{escape(source.summary)}</description>"
                    "</item>"
                )
            self._feeds[f"/f/{k}.xml"] = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Bench {k:03d}</title><link>{base}/</link>"
                f"<description>Synthetic feed {k}</description>{''.join(items)}"
                "</channel></rss>"
            ).encode()


class _Handler(BaseHTTPRequestHandler):
    site: SyntheticSite
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one write per answer; keep-alive without the delayed-ACK stall
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in self.site._feeds:
            body = self.site._feeds[path]
            number = int(path.removeprefix("/f/").removesuffix(".xml"))
            headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
            if number % 2 == 0:
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                headers["ETag"] = etag
                if self.headers.get("If-None-Match") == etag:
                    self.site.counts.add("not_modified")
                    self._send(304, b"", headers)
                    return
            self.site.counts.add("feeds")
            self._send(200, body, headers)
            return
        page = self.site._pages.get(path)
        if page is None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        self.site.counts.add("pages")
        self._send(200, page, {"Content-Type": "text/html; charset=utf-8"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def make_pipeline(db: Path, model: str, per_host: int) -> Pipeline:
    """A pipeline as the command line builds it: lazy model, bundled knowledge base."""
    from aggregator.embed import LazyEmbedder

    settings = Settings.from_env(db=db, model=model, per_host=per_host)
    kb = KnowledgeBase.load(REPO / "data" / "entities.yaml")
    return Pipeline(settings, Store(db), LazyEmbedder(model), kb)


def timed_refresh(
    site: SyntheticSite, db: Path, model: str, per_host: int, *, force: bool = True
) -> tuple[float, RunReport]:
    """Seconds and report of one refresh of every feed of ``site`` into ``db``."""
    pipeline = make_pipeline(db, model, per_host)
    try:
        started = time.perf_counter()
        report = pipeline.refresh(site.feed_list(), force=force)
        return time.perf_counter() - started, report
    finally:
        pipeline.store.close()


def embedded_texts(db: Path) -> tuple[list[str], list[str]]:
    """The title and body texts the refresh gave the model, as the pipeline builds them."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT title, text FROM articles ORDER BY id").fetchall()
    titles = [title or text[:200] for title, text in rows]
    bodies = [f"{title}\n{text}"[:BODY_CHARS] for title, text in rows]
    return titles, bodies


def stored_body_vectors(db: Path) -> np.ndarray:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT e.vector FROM embeddings e JOIN articles a ON a.id = e.article_id "
            "WHERE e.field = 'body' ORDER BY a.id"
        ).fetchall()
    return np.stack([np.frombuffer(r[0], dtype=np.float32) for r in rows])


def run(feeds: int, per_feed: int, model: str, per_host: int) -> dict[str, Any]:
    from aggregator.embed import load_embedder

    load_embedder(model)  # a one-off rebuild or export, and the load, are not part of a refresh
    sources = demo_sources()
    with SyntheticSite(sources, feeds, per_feed) as site, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        seconds, report = timed_refresh(site, db, model, per_host)
        titles, bodies = embedded_texts(db)
        texts = titles + bodies
        from sentence_transformers import SentenceTransformer

        reference = SentenceTransformer(str(bundled_minilm_path()), device="cpu")
        started = time.perf_counter()
        vectors = reference.encode(texts, batch_size=32, normalize_embeddings=True)
        ref_seconds = time.perf_counter() - started
        # the cosine to fp32 MiniLM only means something for MiniLM's own int8 build
        same_model = model_name(model).startswith("all-MiniLM")
        cosine = (stored_body_vectors(db) * vectors[len(titles) :]).sum(axis=1)
        articles = len(bodies)
        return {
            "model": model,
            "articles": articles,
            "pages_fetched": site.counts.pages,
            "refresh_seconds": round(seconds, 2),
            "refresh_articles_per_s": round(articles / seconds, 2),
            "reference_seconds": round(ref_seconds, 2),
            "reference_articles_per_s": round(articles / ref_seconds, 2),
            "reference_texts": len(texts),
            "distinct_texts": len(set(texts)),
            "ratio": round(ref_seconds / seconds, 3),
            "body_cosine_mean": round(float(cosine.mean()), 4) if same_model else None,
            "body_cosine_min": round(float(cosine.min()), 4) if same_model else None,
            "failures": dict(Counter(report.failures.values())),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--per-feed", type=int, default=6)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument(
        "--per-host",
        type=int,
        default=8,
        help="concurrent requests per host; every synthetic feed shares one host, "
        "where on the web they would be spread over many",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = run(args.feeds, args.per_feed, args.model, args.per_host)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"full refresh ({result['model']}): {result['articles']} articles, "
            f"{result['pages_fetched']} pages in {result['refresh_seconds']} s = "
            f"{result['refresh_articles_per_s']} articles/s"
        )
        print(
            f"bare fp32 SentenceTransformer.encode of the same {result['reference_texts']} texts: "
            f"{result['reference_seconds']} s = {result['reference_articles_per_s']} articles/s"
        )
        if result["body_cosine_mean"] is not None:
            print(
                f"body vectors vs fp32: cosine mean {result['body_cosine_mean']} "
                f"min {result['body_cosine_min']}"
            )
    ok = result["ratio"] >= 1.0
    print(
        "BENCH "
        + json.dumps(
            {
                "bench": "refresh_throughput",
                "metric": "refresh ÷ bare fp32 encode (articles/s)",
                "value": result["ratio"],
                "target": ">= 1.0 (stretch 1.5)",
                "ok": ok,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
