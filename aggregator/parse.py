"""Feed bytes to entries. feedparser stays inside this module.

Malformed feeds that feedparser can still read are used, with their problem reported on the result.
Documents that are not feeds (an HTML page, nothing readable) raise ParseError. Entity declarations
are removed before parsing so that a hostile DOCTYPE cannot expand into gigabytes.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from aggregator.errors import ParseError
from aggregator.models import Entry, ParsedFeed
from aggregator.text import plain_text

_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY_ANY = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)
_HTML_START = re.compile(
    rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html)", re.IGNORECASE | re.DOTALL
)
MAX_DOCUMENT = 20_000_000
MAX_ENTRIES = 500
MAX_TITLE = 500
MAX_SUMMARY = 5000


def _defuse(body: bytes) -> tuple[bytes, str | None]:
    """Remove the internal DTD subset, and any entity declaration left after it.

    The whole document is searched: a long comment before the DOCTYPE must not hide a declaration.
    Without declarations, references to custom entities stay unexpanded text, whatever their count.
    """
    if not _ENTITY_DECL.search(body):
        return body, None
    body = _DOCTYPE_SUBSET.sub(b"", body, count=1)
    body = _ENTITY_ANY.sub(b"", body)
    return body, "entity declarations removed"


def _clean(value: str | None) -> str:
    """Plain text from a feed field, cleaned until no markup is left.

    Feeds double-escape markup (``&amp;lt;script&amp;gt;``); one pass of unescaping would turn that
    into a live ``<script>`` tag in stored text, so the text is cleaned again while it changes.
    """
    text = plain_text(value)
    for _ in range(3):
        if "<" not in text:
            break
        again = plain_text(text)
        if again == text:
            break
        text = again
    return text


def _when(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _absolute(link: str | None, base: str) -> str | None:
    if not link:
        return None
    link = link.strip()
    joined = urljoin(base, link)
    if urlsplit(joined).scheme not in ("http", "https"):
        return None
    return joined


def _summary(entry: Any) -> str:
    content = entry.get("content") or []
    candidates = [entry.get("summary") or ""]
    candidates += [part.get("value", "") for part in content if isinstance(part, dict)]
    best = max((_clean(c) for c in candidates if c), key=len, default="")
    return best[:MAX_SUMMARY]


def parse_feed(body: bytes, url: str, *, content_type: str | None = None) -> ParsedFeed:
    """Read a feed document fetched from ``url``. Raises ParseError when nothing usable is in it."""
    if not body or not body.strip():
        raise ParseError("empty document", url=url)
    if len(body) > MAX_DOCUMENT:
        raise ParseError(f"document of {len(body):,} bytes is larger than a feed can be", url=url)
    body, defused = _defuse(body)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(
            body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser is defensive, but a parser bug must stay this feed's
        raise ParseError(f"feed parser failed: {type(exc).__name__}: {exc}", url=url) from exc
    problem = None
    exception = parsed.get("bozo_exception")
    # A missing or text/html Content-Type says nothing about the document, so it is no problem.
    if parsed.get("bozo") and not isinstance(exception, feedparser.NonXMLContentType):
        problem = f"{type(exception).__name__}: {exception}" if exception else "malformed feed"
    if defused:
        problem = f"{defused}; {problem}" if problem else defused
    entries_raw = parsed.get("entries") or []
    if not parsed.get("version") and not entries_raw:
        if _HTML_START.match(body[:2000]):
            raise ParseError("not a feed: the document is an HTML page", url=url)
        raise ParseError(f"not a feed: {problem or 'no feed elements found'}", url=url)
    channel = parsed.get("feed") or {}
    base = _absolute(channel.get("link"), url) or url
    entries: list[Entry] = []
    for raw in entries_raw[:MAX_ENTRIES]:
        link = _absolute(raw.get("link"), url) or _absolute(raw.get("link"), base)
        title = _clean(raw.get("title"))[:MAX_TITLE]
        summary = _summary(raw)
        if not (link or title or summary):
            continue
        entries.append(
            Entry(
                guid=(raw.get("id") or None),
                url=link,
                title=title,
                summary=summary,
                author=_clean(raw.get("author")) or None,
                published=_when(raw.get("published_parsed") or raw.get("updated_parsed")),
                language=(raw.get("language") or channel.get("language") or None),
            )
        )
    ttl = channel.get("ttl")
    return ParsedFeed(
        title=_clean(channel.get("title")) or None,
        entries=tuple(entries),
        problem=problem,
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
    )
