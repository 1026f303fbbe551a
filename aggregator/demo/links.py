"""Links of a demo database that open: the demo's pages served again beside the dashboard.

``aggregator demo`` refreshes from a server on 127.0.0.1, so every article URL it stores points
there, and the server stops with the command. :func:`serve_demo_pages` starts it again, in a
thread of the calling process (the dashboard), on the address the database's feeds name, so the
links in the dashboard, in search results, exports and Atom feeds open while the dashboard runs.
The demo listens on :data:`DEMO_PORT` unless that port is taken, which keeps the stored URLs the
same from one ``make demo`` to the next.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from aggregator.demo.corpus import DemoCorpus
from aggregator.demo.server import DemoServer
from aggregator.errors import AggregatorError
from aggregator.store.engine import Location, exists
from aggregator.store.read import Reader

log = logging.getLogger(__name__)

DEMO_PORT = 8765
"""Where ``aggregator demo`` serves the corpus unless ``--port`` says otherwise or it is taken."""
LOOPBACK = ("127.0.0.1", "localhost")


def start_demo_server(
    corpus: DemoCorpus, until: datetime | None = None, port: int | None = None
) -> DemoServer:
    """A running demo server on ``port``; with ``None``, on DEMO_PORT or any free port if taken."""
    if port is not None:
        return DemoServer(corpus, until=until, port=port).start()
    try:
        return DemoServer(corpus, until=until, port=DEMO_PORT).start()
    except OSError as exc:
        log.warning("port %d is taken (%s); the demo uses any free port", DEMO_PORT, exc)
        return DemoServer(corpus, until=until, port=0).start()


def demo_address(corpus: DemoCorpus, feeds: Iterable[tuple[str, str]]) -> tuple[str, int] | None:
    """The loopback host and port the demo served ``feeds`` (name, url) from, or None.

    The database holds the demo when it has every outlet of the corpus, by name, at its feed path
    on one loopback address.
    """
    by_name = dict(feeds)
    addresses: set[tuple[str, int]] = set()
    for outlet in corpus.outlets.values():
        url = by_name.get(outlet.name)
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK or parts.port is None or parts.path != outlet.feed_path:
            return None
        addresses.add((parts.hostname, parts.port))
    if len(addresses) != 1:
        return None
    (address,) = addresses
    return address


def serve_demo_pages(db: Location, corpus_dir: Path) -> DemoServer | None:
    """Serve the demo corpus where the demo refresh of ``db`` found it; None if ``db`` is no demo.

    Every page is served (no ``until``), so the links of a ``--until`` or ``--replay`` run open
    too. A taken port is logged and left alone: it is most likely ``aggregator demo --serve``.
    """
    if not exists(db):
        return None
    try:
        with Reader(db) as reader:
            feeds = [(str(f["name"]), str(f["url"])) for f in reader.feeds()]
        corpus = DemoCorpus.load(corpus_dir)
    except AggregatorError as exc:
        log.info("demo pages not served: %s", exc)
        return None
    address = demo_address(corpus, feeds)
    if address is None:
        return None
    host, port = address
    try:
        return DemoServer(corpus, host=host, port=port).start()
    except OSError as exc:
        log.warning("demo pages not served on %s:%d: %s", host, port, exc)
        return None
