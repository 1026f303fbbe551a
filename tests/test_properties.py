"""Hostile bytes into the parsers: data back, or the aggregator's own error, and nothing else.

Inputs are random bytes and real feeds from the shared corpus with bytes flipped, cut off, or
spliced with markup fragments that parsers find hard (entity declarations, CDATA, NUL bytes, BOMs).
Each test counts the inputs it tried; run with ``-s`` to see the counts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.errors import AggregatorError
from aggregator.extract import extract
from aggregator.models import Extraction, ParsedFeed
from aggregator.parse import parse_feed

FEEDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "feeds-real"
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


def test_corpus_is_present() -> None:
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
@given(st.sampled_from(REAL) if REAL else st.nothing(), st.data())
def test_mutated_real_feeds_into_parse_feed(path: Path, data: st.DataObject) -> None:
    body = _mutate(data, path.read_bytes())
    ctype = data.draw(
        st.sampled_from([None, "application/rss+xml", "text/html; charset=latin-1", "text/xml"])
    )
    _holds("parse_feed mutated", lambda: parse_feed(body, URL, content_type=ctype))


@settings(QUICK, max_examples=100 * SCALE)
@given(st.sampled_from(REAL + PAGES) if REAL else st.nothing(), st.data())
def test_mutated_documents_into_extract(path: Path, data: st.DataObject) -> None:
    body = _mutate(data, path.read_bytes())
    charset = data.draw(st.sampled_from([None, "utf-8", "shift_jis", "bogus-charset"]))
    _holds("extract mutated", lambda: extract(body, "http://site.test/a.html", charset=charset))


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> object:
    yield None
    if TRIED:
        total = sum(TRIED.values())
        lines = ", ".join(f"{name}: {count}" for name, count in sorted(TRIED.items()))
        print(f"\nhostile inputs tried: {total} ({lines})")
