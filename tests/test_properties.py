"""Hostile bytes into the parsers: data back, or the aggregator's own error, and nothing else.

Inputs are random bytes, and feeds and pages with bytes flipped, cut off, or spliced with markup
fragments that parsers find hard (entity declarations, CDATA, NUL bytes, BOMs). The documents are
the demo corpus's own feeds (RSS 2.0, Atom, RSS 1.0, a broken one) and pages, the page fixtures,
and, when ``../shared/data/feeds-real`` is beside the checkout, real feeds saved from the web.
Each test counts the inputs it tried; run with ``-s`` to see the counts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.demo import DemoCorpus, DemoServer
from aggregator.errors import AggregatorError
from aggregator.extract import extract
from aggregator.models import Extraction, ParsedFeed
from aggregator.parse import parse_feed

REPO = Path(__file__).resolve().parents[1]
FEEDS = REPO.parent / "shared" / "data" / "feeds-real"
REAL = sorted(p for p in FEEDS.rglob("*") if p.suffix in (".xml", ".rss", ".atom", ".json"))
REAL = [p for p in REAL if not p.name.endswith(".serde.json")]
PAGES = sorted((Path(__file__).parent / "fixtures").rglob("*.html"))
TRIED: Counter[str] = Counter()
URL = "http://feeds.test/feed.xml"

HARD = [
    b"<!ENTITY x SYSTEM 'file:///etc/passwd'>",
    b'<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>',
    b"&b;&b;&b;",
    b"<![CDATA[",
    b"]]>",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"<script>alert(1)</script>",
    b'<?xml version="1.0" encoding="utf-32"?>',
    b"</channel>",
    b"<item>",
    b"&#xD800;",
    b"&#0;",
    b"<" * 50,
]

# CI has two cores: a modest default; FUZZ_SCALE=20 for a long local hunt.
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
QUICK = settings(
    max_examples=100 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _mutate(data: st.DataObject, body: bytes) -> bytes:
    """Up to four byte flips, cuts and splices of hard fragments."""
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]), label="kind")
        if not body:
            break
        at = data.draw(st.integers(0, len(body) - 1), label="at")
        if kind == "flip":
            body = body[:at] + bytes([body[at] ^ data.draw(st.integers(1, 255))]) + body[at + 1 :]
        elif kind == "cut":
            body = body[:at]
        elif kind == "insert":
            piece = data.draw(st.sampled_from(HARD) | st.binary(max_size=16), label="piece")
            body = body[:at] + piece + body[at:]
        else:
            body = body[:at] + body[at + data.draw(st.integers(1, 64)) :]
    return body


def _holds(name: str, call: Callable[[], ParsedFeed | Extraction]) -> None:
    TRIED[name] += 1
    try:
        result = call()
    except AggregatorError:
        return
    if isinstance(result, ParsedFeed):
        for entry in result.entries:
            assert "<script" not in entry.title.lower() and "<script" not in entry.summary.lower()
    else:
        assert isinstance(result.text, str)


@cache
def demo_documents() -> tuple[tuple[str, bytes], ...]:
    """The demo corpus's feeds and pages as its server sends them, rendered once per run."""
    with DemoServer(DemoCorpus.load(REPO / "data" / "demo")) as server:
        return tuple((path, doc.body) for path, doc in server.documents())


@cache
def feeds() -> tuple[tuple[str, bytes], ...]:
    demo = tuple(d for d in demo_documents() if d[0].endswith("/feed.xml"))
    return demo + tuple((p.name, p.read_bytes()) for p in REAL)


@cache
def documents() -> tuple[tuple[str, bytes], ...]:
    pages = tuple((p.name, p.read_bytes()) for p in PAGES)
    return demo_documents() + pages + tuple((p.name, p.read_bytes()) for p in REAL)


def test_demo_documents_cover_every_feed_format_and_the_pages() -> None:
    bodies = [body for _, body in feeds()]
    assert len(bodies) >= 16
    for marker in (b"<rss", b"<feed", b"<rdf:RDF", b"<html"):
        assert any(marker in body[:400] for body in bodies), marker
    assert len(documents()) - len(feeds()) >= 200


@pytest.mark.shared
@pytest.mark.skipif(not FEEDS.is_dir(), reason="../shared/data/feeds-real is not present")
def test_real_feed_corpus_is_present() -> None:
    assert len(REAL) >= 20 and PAGES


@QUICK
@given(st.binary(max_size=4096))
def test_random_bytes_into_parse_feed(body: bytes) -> None:
    _holds("parse_feed random", lambda: parse_feed(body, URL))


@QUICK
@given(st.binary(max_size=4096))
def test_random_bytes_into_extract(body: bytes) -> None:
    _holds("extract random", lambda: extract(body, "http://site.test/a.html"))


@settings(QUICK, max_examples=300 * SCALE)
@given(st.data())
def test_mutated_feeds_into_parse_feed(data: st.DataObject) -> None:
    _, body = data.draw(st.sampled_from(feeds()), label="feed")
    body = _mutate(data, body)
    ctype = data.draw(
        st.sampled_from([None, "application/rss+xml", "text/html; charset=latin-1", "text/xml"])
    )
    _holds("parse_feed mutated", lambda: parse_feed(body, URL, content_type=ctype))


@settings(QUICK, max_examples=100 * SCALE)
@given(st.data())
def test_mutated_documents_into_extract(data: st.DataObject) -> None:
    _, body = data.draw(st.sampled_from(documents()), label="document")
    body = _mutate(data, body)
    charset = data.draw(st.sampled_from([None, "utf-8", "shift_jis", "bogus-charset"]))
    _holds("extract mutated", lambda: extract(body, "http://site.test/a.html", charset=charset))


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> object:
    yield None
    if TRIED:
        total = sum(TRIED.values())
        lines = ", ".join(f"{name}: {count}" for name, count in sorted(TRIED.items()))
        print(f"\nhostile inputs tried: {total} ({lines})")
