"""A refresh where no feed changed fetches no page, embeds nothing and never touches the model.

One feed answers the conditional GET with 304; the other sends the same bytes again without any
validators. Both must end as "unchanged" before a page is requested or a text reaches the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dbs
from faultserver import HashEmbedder
from httpserver import LocalServer, Route

from aggregator.config import Settings
from aggregator.embed import Kind, Vectors
from aggregator.entities import KnowledgeBase
from aggregator.models import Feed
from aggregator.pipeline import Pipeline
from aggregator.store import Store
from aggregator.store.engine import Location

REPO = Path(__file__).resolve().parent.parent
SITE = Path(__file__).parent / "fixtures" / "site"


class WatchedEmbedder:
    """A small deterministic embedder that records every use beyond asking its name."""

    def __init__(self) -> None:
        self._inner = HashEmbedder()
        self.texts_encoded = 0
        self.touched = False

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        self.touched = True
        return self._inner.dim

    @property
    def multilingual(self) -> bool:
        return False

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        self.touched = True
        self.texts_encoded += len(texts)
        return self._inner.encode(texts, kind)


def serve(server: LocalServer) -> list[Feed]:
    server.routes["/one/feed.xml"] = Route(
        (SITE / "feed-one.xml").read_bytes(), content_type="application/rss+xml"
    )
    server.routes["/two/feed.xml"] = Route(
        (SITE / "feed-two.xml").read_bytes(),
        content_type="application/atom+xml; charset=utf-8",
        validators=False,
    )
    server.routes["/news/a1.html?utm_source=rss"] = Route((SITE / "a1.html").read_bytes())
    server.routes["/news/b1.html"] = Route((SITE / "b1.html").read_bytes())
    server.routes["/two/a2.html"] = Route((SITE / "a2.html").read_bytes())
    return [
        Feed("Example Motors", server.url("/one/feed.xml"), "en", allow_private=True),
        Feed("EV Courier", server.url("/two/feed.xml"), "en", allow_private=True),
    ]


def refresh(db: Location, feeds: list[Feed], embedder: WatchedEmbedder) -> tuple[int, int]:
    settings = Settings(db=db, entities=REPO / "data" / "entities.yaml")
    pipeline = Pipeline(settings, Store(db), embedder, KnowledgeBase.load(settings.entities))
    try:
        report = pipeline.refresh(feeds, force=True)
    finally:
        pipeline.store.close()
    return report.feeds_unchanged, report.new_articles


def embeddings(db: Location) -> list[tuple[int, str, str, bytes]]:
    rows = dbs.query(
        db, "SELECT article_id, field, text_hash, vector FROM embeddings ORDER BY 1, 2"
    )
    return [(int(a), str(f), str(h), bytes(v)) for a, f, h, v in rows]


def pages(server: LocalServer) -> list[str]:
    return [p for p in server.paths_requested() if ".html" in p]


def test_second_refresh_of_unchanged_feeds_fetches_and_embeds_nothing(
    server: LocalServer, db: Location
) -> None:
    feeds = serve(server)
    first = WatchedEmbedder()
    unchanged, new = refresh(db, feeds, first)
    assert (unchanged, new) == (0, 4)
    assert len(pages(server)) == 4  # one of them answers 404: its summary is kept
    assert first.texts_encoded > 0
    stored = embeddings(db)
    assert len(stored) == 2 * new  # title and body of each article

    requests_before = len(server.requests)
    second = WatchedEmbedder()
    unchanged, new = refresh(db, feeds, second)

    later = server.requests[requests_before:]
    assert sorted(r.path for r in later) == ["/one/feed.xml", "/two/feed.xml"]
    conditional = {r.path: r.headers.get("if-none-match") for r in later}
    assert conditional["/one/feed.xml"] is not None  # the 304 path was really taken
    assert conditional["/two/feed.xml"] is None  # and this one sent the same bytes again
    assert (unchanged, new) == (2, 0)
    assert second.texts_encoded == 0
    assert not second.touched
    assert embeddings(db) == stored
