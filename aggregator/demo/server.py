"""A real HTTP server on 127.0.0.1 that serves the demo corpus as of a chosen moment.

The refresh runs against it exactly as against the web: conditional GETs, 304s, 404s, wrong
charsets. Moving ``until`` forward while it runs lets a replay step through the month day by day.
Pages are rendered once at start; feeds are rendered once per visible item count and cached.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from aggregator.demo.corpus import DemoArticle, DemoCorpus
from aggregator.demo.feeds import WRONG_ENCODING, FeedWriter, Rendered
from aggregator.demo.pages import PageRenderer
from aggregator.models import Feed

log = logging.getLogger(__name__)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connections when a refresh opens a dozen
    # feeds and pages at once; a dropped SYN only shows up later as a connect timeout.
    request_queue_size = 128


class DemoServer:
    """Serves feeds and pages of a :class:`DemoCorpus`; use as a context manager."""

    def __init__(
        self,
        corpus: DemoCorpus,
        until: datetime | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.corpus = corpus
        self._until = _aware(until)
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._pages: dict[str, tuple[DemoArticle, Rendered]] = {}
        self._not_found: dict[str, bytes] = {}
        self._feeds: dict[tuple[str, int], Rendered] = {}
        self._writers: dict[str, FeedWriter] = {}
        self.requests: list[str] = []
        """Paths requested so far, oldest first, so tests can see what a refresh fetched."""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> DemoServer:
        if self._httpd is not None:
            return self
        handler = type("DemoHandler", (_Handler,), {"demo": self})
        self._httpd = _Server((self._host, self._port), handler)
        self._httpd.daemon_threads = True
        self._render_all()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns at once
            name="demo-server",
            daemon=True,
        )
        self._thread.start()
        log.info("demo corpus served at %s", self.base_url)
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the demo server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def until(self) -> datetime | None:
        with self._lock:
            return self._until

    def set_until(self, until: datetime | None) -> None:
        """Move the served moment; later items vanish from feeds and their pages answer 404."""
        with self._lock:
            self._until = _aware(until)

    def feeds(self) -> list[Feed]:
        """One subscription per outlet, pointing at this server."""
        return [
            Feed(
                name=outlet.name,
                url=self.base_url + outlet.feed_path,
                language=outlet.language,
                tags=outlet.tags,
                allow_private=True,
            )
            for outlet in self.corpus.outlets.values()
        ]

    def documents(self) -> list[tuple[str, Rendered]]:
        """Every feed (as of the current moment) and every article page, by path."""
        found = [
            (outlet.feed_path, self.feed_document(slug))
            for slug, outlet in self.corpus.outlets.items()
        ]
        return found + [
            (path, rendered)
            for path, (article, rendered) in self._pages.items()
            if self._visible(article)
        ]

    # -- rendering ----------------------------------------------------------------------------

    def _render_all(self) -> None:
        base = self.base_url
        for slug, outlet in self.corpus.outlets.items():
            pages = PageRenderer(self.corpus, outlet, base)
            self._writers[slug] = FeedWriter(outlet, base, pages)
            self._not_found[slug] = pages.not_found_page().encode("utf-8")
            for position, article in enumerate(self.corpus.outlet_articles(slug)):
                if self.corpus.page_status(article) == "missing":
                    continue
                text = pages.article_page(article)
                if "wrong-encoding" in outlet.quirks and position % 2 == 1:
                    body = text.encode(WRONG_ENCODING, errors="xmlcharrefreplace")
                else:
                    body = text.encode("utf-8")
                rendered = Rendered(body, "text/html; charset=utf-8", article.published)
                self._pages[article.url_path] = (article, rendered)

    def feed_document(self, slug: str) -> Rendered:
        """The outlet's feed as of the current moment (cached per visible item count)."""
        until = self.until
        items = self.corpus.feed_items(slug, until)
        visible = sum(1 for a in self.corpus.outlet_articles(slug) if _shown(a, until))
        key = (slug, visible)
        with self._lock:
            cached = self._feeds.get(key)
        if cached is None:
            cached = self._writers[slug].render(items)
            with self._lock:
                self._feeds[key] = cached
        return cached

    def _visible(self, article: DemoArticle) -> bool:
        return _shown(article, self.until)

    def resolve(self, path: str) -> tuple[int, Rendered | None]:
        """What a GET of ``path`` answers right now: status and document."""
        parts = path.strip("/").split("/")
        slug = parts[0] if parts else ""
        if slug in self.corpus.outlets and path == self.corpus.outlets[slug].feed_path:
            return HTTPStatus.OK, self.feed_document(slug)
        found = self._pages.get(path)
        if found is not None and self._visible(found[0]):
            return HTTPStatus.OK, found[1]
        if slug in self._not_found:
            return HTTPStatus.NOT_FOUND, Rendered(self._not_found[slug], "text/html; charset=utf-8")
        return HTTPStatus.NOT_FOUND, None


def _shown(article: DemoArticle, until: datetime | None) -> bool:
    return until is None or article.published <= until


class _Handler(BaseHTTPRequestHandler):
    """Answers GET and HEAD with validators and conditional 304s."""

    demo: DemoServer
    server_version = "DemoNews/1.0"
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one buffered write, without Nagle: otherwise every keep-alive
    # request waits out a delayed ACK (about 40 ms), which makes a full refresh crawl.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = urlsplit(self.path).path
        with self.demo._lock:
            self.demo.requests.append(path)
        status, doc = self.demo.resolve(path)
        if doc is None:
            body = b"Not Found"
            self._send(status, body, {"Content-Type": "text/plain; charset=utf-8"}, send_body)
            return
        headers = {"Content-Type": doc.content_type}
        if status == HTTPStatus.OK:
            etag = _etag(doc.body)
            headers["ETag"] = etag
            if doc.last_modified is not None:
                headers["Last-Modified"] = format_datetime(doc.last_modified, usegmt=True)
            if self._not_modified(etag, doc.last_modified):
                self._send(HTTPStatus.NOT_MODIFIED, b"", headers, send_body=False)
                return
        self._send(status, doc.body, headers, send_body)

    def _not_modified(self, etag: str, last_modified: datetime | None) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:
            tags = [t.strip().removeprefix("W/") for t in match.split(",")]
            return etag in tags or "*" in tags
        since = self.headers.get("If-Modified-Since")
        if since is None or last_modified is None:
            return False
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= when

    def _send(self, status: int, body: bytes, headers: dict[str, str], send_body: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if status != 304 else 0))
        self.end_headers()
        if send_body and status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("demo server: " + format, *args)
