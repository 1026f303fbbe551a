"""Article metadata from the page head: JSON-LD first, then Open Graph and friends, then markup.

JSON-LD is what publishers write for search engines, so it is usually the most careful source of
headline, author, dates and even the full ``articleBody``. Meta tags fill the gaps.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from lxml.html import HtmlElement

from aggregator.text import one_line, plain_text

log = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "blogposting",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "techarticle",
        "liveblogposting",
        "report",
        "scholarlyarticle",
        "socialmediaposting",
        "review",
    }
)
LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "profilepage"})
VIDEO_TYPES = frozenset({"videoobject"})


@dataclass(frozen=True)
class PageMeta:
    """What the page says about itself, before any text extraction."""

    title: str | None
    author: str | None
    published: datetime | None
    image: str | None
    canonical_url: str | None
    body: str | None
    types: frozenset[str]
    og_type: str | None
    lang: str | None
    paywalled: bool


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a JSON-LD document, including those nested in @graph or lists."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v.rsplit("/", 1)[-1].lower() for v in values if isinstance(v, str)}


def _json_ld(tree: HtmlElement) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for script in tree.iterfind(".//script[@type]"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        raw = script.text.strip().removeprefix("<!--").removesuffix("-->").strip()
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            log.debug("unreadable JSON-LD block skipped")
            continue
        objects.extend(_walk(data))
    return objects


def _name(value: Any) -> str | None:
    """An author-ish JSON-LD value (string, Person, list of them) as one display string."""
    if isinstance(value, str):
        return one_line(value) or None
    if isinstance(value, dict):
        return _name(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def _url(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return _url(value.get("url") or value.get("contentUrl"))
    if isinstance(value, list):
        for item in value:
            found = _url(item)
            if found:
                return found
    return None


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO-ish timestamp as an aware UTC datetime; naive times are taken as UTC."""
    if not value:
        return None
    text = value.strip().replace(" ", "T", 1)
    text = re.sub(r"Z$", "+00:00", text)
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _meta(tree: HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in tree.iterfind(".//meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        content = tag.get("content")
        if key and content and key not in found:
            found[key] = content.strip()
    return found


def _first(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip():
            return value.strip()
    return None


def read_meta(tree: HtmlElement, url: str) -> PageMeta:
    """Collect title, author, date, image, canonical URL and any JSON-LD article body."""
    objects = _json_ld(tree)
    types: set[str] = set()
    for obj in objects:
        types |= _types(obj)
    articles = [obj for obj in objects if _types(obj) & ARTICLE_TYPES]
    article = max(articles, key=lambda o: len(str(o.get("articleBody") or "")), default={})
    meta = _meta(tree)

    body_raw = article.get("articleBody") or article.get("text")
    body = plain_text(body_raw) if isinstance(body_raw, str) else None
    paywalled = any(obj.get("isAccessibleForFree") in (False, "False", "false") for obj in articles)

    h1 = tree.find(".//h1")
    title_tag = tree.find(".//title")
    title = _first(
        _name(article.get("headline")),
        meta.get("og:title"),
        meta.get("twitter:title"),
        h1.text_content() if h1 is not None else None,
        title_tag.text_content() if title_tag is not None else None,
    )
    author = _first(
        _name(article.get("author")),
        meta.get("author"),
        meta.get("article:author")
        if not (meta.get("article:author") or "").startswith("http")
        else None,
        meta.get("parsely-author"),
        meta.get("dc.creator"),
    )
    published = None
    for candidate in (
        article.get("datePublished"),
        meta.get("article:published_time"),
        meta.get("datepublished"),
        meta.get("pubdate"),
        meta.get("publishdate"),
        meta.get("date"),
        meta.get("dc.date"),
        meta.get("parsely-pub-date"),
        article.get("dateCreated"),
        next((t.get("datetime") for t in tree.iterfind(".//time[@datetime]")), None),
    ):
        published = parse_datetime(candidate) if isinstance(candidate, str) else None
        if published:
            break
    image = _first(meta.get("og:image"), meta.get("twitter:image"), _url(article.get("image")))
    canonical = None
    for link in tree.iterfind(".//link[@rel]"):
        if (link.get("rel") or "").strip().lower() == "canonical" and link.get("href"):
            canonical = link.get("href")
            break
    canonical = _first(canonical, meta.get("og:url"))
    html_el = tree if tree.tag == "html" else tree.getroottree().getroot()
    lang = (html_el.get("lang") or meta.get("og:locale") or "").strip() or None
    return PageMeta(
        title=one_line(plain_text(title)) or None if title else None,
        author=one_line(author)[:200] if author else None,
        published=published,
        image=urljoin(url, image) if image else None,
        canonical_url=urljoin(url, canonical) if canonical else None,
        body=body or None,
        types=frozenset(types),
        og_type=(meta.get("og:type") or "").lower() or None,
        lang=lang,
        paywalled=paywalled,
    )
