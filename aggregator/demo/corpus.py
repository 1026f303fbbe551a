"""The demo corpus as data: outlets from ``outlets.yaml``, articles from ``events/*.json``.

Everything is validated at load time so a bad event file fails with a message naming the file,
the article and the key, instead of surfacing later as a strange page or a skewed evaluation.
The true text of every article lives here; the renderer only wraps it in feeds and pages, and
:meth:`DemoCorpus.gold_records` writes down what a perfect refresh should recover.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

from aggregator.errors import ConfigError
from aggregator.store import iso

FORMATS = ("rss2", "atom", "rss1", "html")
METADATA = ("json-ld", "opengraph")
QUIRKS = ("relative-links", "summary-only", "paywall", "truncated", "html-titles", "wrong-encoding")
LAYOUTS = ("magazine", "portal", "blog", "agency", "seed")
OUTLET_KEYS = ("name", "language", "format", "metadata", "quirks", "layout", "tags")
EVENT_KEYS = ("event", "description", "articles")
ARTICLE_KEYS = (
    "outlet",
    "language",
    "published",
    "title",
    "summary",
    "author",
    "image_caption",
    "body",
    "copy_of",
)
REQUIRED_ARTICLE_KEYS = ("outlet", "language", "published", "title", "summary")
FEED_LIMIT = 30
"""An outlet's feed lists at most this many of its newest items, like most real CMSs."""
TRUNCATED_SURVIVORS = 3
"""A truncated feed is cut in the middle of the item after this many complete ones."""


def truncated_survivors(count: int) -> int:
    """How many complete items a truncated feed of ``count`` items still holds."""
    return max(0, min(TRUNCATED_SURVIVORS, count - 1))


SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class DemoOutlet:
    """One fictional outlet: how its feed is written and which faults it reproduces."""

    slug: str
    name: str
    language: str
    format: str
    metadata: frozenset[str]
    quirks: frozenset[str]
    layout: str
    tags: tuple[str, ...]

    @property
    def feed_path(self) -> str:
        return f"/{self.slug}/feed.xml"


@dataclass(frozen=True)
class DemoArticle:
    """One article of one event as its outlet publishes it, with its true text."""

    event: str
    index: int
    outlet: str
    language: str
    published: datetime
    url_path: str
    title: str
    summary: str
    author: str | None
    body: tuple[str, ...]
    image_caption: str | None = None
    copy_of: int | None = None

    @property
    def guid(self) -> str:
        """Stable across renders, independent of host and port."""
        return f"tag:{self.outlet}.demo,2024:{self.event}/{self.index}"

    @property
    def text(self) -> str:
        return "\n\n".join(self.body)


class DemoCorpus:
    """Outlets and articles of the demo, sorted by publication time (then URL)."""

    def __init__(
        self,
        root: Path,
        outlets: Mapping[str, DemoOutlet],
        articles: Iterable[DemoArticle],
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.outlets: dict[str, DemoOutlet] = dict(outlets)
        self.articles: tuple[DemoArticle, ...] = tuple(
            sorted(articles, key=lambda a: (a.published, a.url_path))
        )
        self.descriptions: dict[str, str] = dict(descriptions or {})
        self._by_path = {a.url_path: a for a in self.articles}

    @classmethod
    def load(cls, root: Path) -> DemoCorpus:
        """Read ``root/outlets.yaml`` and every ``root/events/*.json``; raise ConfigError."""
        outlets = load_outlets(root / "outlets.yaml")
        articles: list[DemoArticle] = []
        descriptions: dict[str, str] = {}
        taken: set[str] = set()
        events_dir = root / "events"
        paths = sorted(events_dir.glob("*.json")) if events_dir.is_dir() else []
        for path in paths:
            event, description, items = _load_event(path, outlets, taken)
            descriptions[event] = description
            articles.extend(items)
        return cls(root, outlets, articles, descriptions)

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(sorted({a.event for a in self.articles}))

    @property
    def time_range(self) -> tuple[datetime, datetime]:
        if not self.articles:
            raise ConfigError(f"{self.root / 'events'}: the demo corpus has no articles")
        return self.articles[0].published, self.articles[-1].published

    def article_at(self, url_path: str) -> DemoArticle | None:
        return self._by_path.get(url_path)

    def outlet_articles(self, slug: str) -> tuple[DemoArticle, ...]:
        """The outlet's articles, oldest first."""
        return tuple(a for a in self.articles if a.outlet == slug)

    def feed_items(self, slug: str, until: datetime | None = None) -> tuple[DemoArticle, ...]:
        """What the outlet's feed lists as of ``until``: newest first, at most FEED_LIMIT."""
        visible = [a for a in self.outlet_articles(slug) if until is None or a.published <= until]
        return tuple(reversed(visible))[:FEED_LIMIT]

    def exposed_in_feed(self, slug: str, until: datetime | None = None) -> tuple[DemoArticle, ...]:
        """The items a reader of the served feed can actually get (after truncation)."""
        items = self.feed_items(slug, until)
        outlet = self.outlets[slug]
        if outlet.format == "html":
            return ()
        if "truncated" in outlet.quirks:
            return items[: truncated_survivors(len(items))]
        return items

    def page_status(self, article: DemoArticle) -> str:
        """``full``, ``paywall`` or ``missing``: what the article's page gives a reader."""
        outlet = self.outlets[article.outlet]
        if "paywall" not in outlet.quirks:
            return "full"
        position = self.outlet_articles(article.outlet).index(article)
        return "missing" if position % 3 == 2 else "paywall"

    def gold_records(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """One record per article: what a perfect refresh of the whole corpus should store.

        URLs are server-relative unless ``base_url`` is given. ``in_feed`` says whether the
        feed served with no time limit exposes the item (truncation and the 30-item window
        hide some); ``body`` is None where the page holds no full text.
        """
        exposed = {a.url_path for slug in self.outlets for a in self.exposed_in_feed(slug, None)}
        records: list[dict[str, Any]] = []
        for article in self.articles:
            status = self.page_status(article)
            url = urljoin(base_url, article.url_path) if base_url else article.url_path
            original: str | None = None
            if article.copy_of is not None:
                source = self._source_of(article)
                original = urljoin(base_url, source.url_path) if base_url else source.url_path
            records.append(
                {
                    "url": url,
                    "event": article.event,
                    "language": article.language,
                    "outlet": article.outlet,
                    "published": iso(article.published),
                    "title": article.title,
                    "author": article.author,
                    "summary_only": status != "full",
                    "page": status,
                    "in_feed": article.url_path in exposed,
                    "copy_of": original,
                    "body": article.text if status == "full" else None,
                }
            )
        return records

    def write_gold(self, path: Path) -> int:
        """Write gold records as JSON lines (deterministic bytes); return how many."""
        records = self.gold_records()
        lines = [json.dumps(r, ensure_ascii=False, sort_keys=False) for r in records]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return len(records)

    def _source_of(self, article: DemoArticle) -> DemoArticle:
        for candidate in self.articles:
            if candidate.event == article.event and candidate.index == article.copy_of:
                return candidate
        raise ConfigError(f"event {article.event}: copy_of {article.copy_of} not found")


def load_outlets(path: Path) -> dict[str, DemoOutlet]:
    """Read and validate ``outlets.yaml``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: outlet list not found") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the outlet list: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("outlets"), dict):
        raise ConfigError(f"{path}: expected a mapping with an 'outlets' mapping")
    outlets: dict[str, DemoOutlet] = {}
    for slug, spec in raw["outlets"].items():
        outlets[str(slug)] = _outlet(path, str(slug), spec)
    return outlets


def _outlet(path: Path, slug: str, spec: Any) -> DemoOutlet:
    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: outlet {slug!r}: key {key!r}: {why}")

    if not SLUG_RE.match(slug):
        raise ConfigError(f"{path}: outlet {slug!r}: slug must be lowercase ASCII and hyphens")
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: outlet {slug!r}: expected a mapping of keys")
    for key in spec:
        if key not in OUTLET_KEYS:
            raise fail(str(key), f"unknown key (known: {', '.join(OUTLET_KEYS)})")
    for key in ("name", "language", "format", "layout"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise fail(key, "required, a non-empty string")
    if spec["format"] not in FORMATS:
        raise fail("format", f"{spec['format']!r} is not one of {', '.join(FORMATS)}")
    if spec["layout"] not in LAYOUTS:
        raise fail("layout", f"{spec['layout']!r} is not one of {', '.join(LAYOUTS)}")
    lists: dict[str, tuple[str, ...]] = {}
    for key, allowed in (("metadata", METADATA), ("quirks", QUIRKS), ("tags", None)):
        value = spec.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(key, "must be a list of strings")
        if allowed is not None:
            for item in value:
                if item not in allowed:
                    raise fail(key, f"{item!r} is not one of {', '.join(allowed)}")
        lists[key] = tuple(value)
    return DemoOutlet(
        slug=slug,
        name=spec["name"],
        language=spec["language"],
        format=spec["format"],
        metadata=frozenset(lists["metadata"]),
        quirks=frozenset(lists["quirks"]),
        layout=spec["layout"],
        tags=lists["tags"],
    )


def _load_event(
    path: Path, outlets: Mapping[str, DemoOutlet], taken: set[str]
) -> tuple[str, str, list[DemoArticle]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable JSON event file: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object with 'event' and 'articles'")
    for key in raw:
        if key not in EVENT_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(EVENT_KEYS)})")
    event = raw.get("event")
    if not isinstance(event, str) or event != path.stem:
        raise ConfigError(f"{path}: key 'event': must equal the file name {path.stem!r}")
    entries = raw.get("articles")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: key 'articles': must be a non-empty list")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{path}: key 'description': must be a string")
    checked = [_check_article(path, i, entry, outlets) for i, entry in enumerate(entries)]
    articles: list[DemoArticle] = []
    for index, fields in enumerate(checked):
        body = fields["body"]
        copy_of = fields["copy_of"]
        if copy_of is not None:
            where = f"{path}: article #{index}: key 'copy_of'"
            if not 0 <= copy_of < len(checked) or copy_of == index:
                raise ConfigError(f"{where}: {copy_of} is not another article of this event")
            source = checked[copy_of]
            if source["copy_of"] is not None:
                raise ConfigError(f"{where}: article #{copy_of} is itself a copy")
            if fields["published"] < source["published"]:
                raise ConfigError(f"{where}: a copy cannot be published before its original")
            body = source["body"]
        url_path = _unique_path(fields, event, index, taken)
        articles.append(
            DemoArticle(
                event=event,
                index=index,
                outlet=fields["outlet"],
                language=fields["language"],
                published=fields["published"],
                url_path=url_path,
                title=fields["title"],
                summary=fields["summary"],
                author=fields["author"],
                body=tuple(body),
                image_caption=fields["image_caption"],
                copy_of=copy_of,
            )
        )
    return event, description, articles


def _check_article(
    path: Path, index: int, entry: Any, outlets: Mapping[str, DemoOutlet]
) -> dict[str, Any]:
    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: article #{index}: key {key!r}: {why}")

    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: article #{index}: expected a JSON object")
    for key in entry:
        if key not in ARTICLE_KEYS:
            raise fail(key, f"unknown key (known: {', '.join(ARTICLE_KEYS)})")
    for key in REQUIRED_ARTICLE_KEYS:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise fail(key, "required, a non-empty string")
    outlet = outlets.get(entry["outlet"])
    if outlet is None:
        raise fail("outlet", f"{entry['outlet']!r} is not in outlets.yaml")
    if outlet.format == "html":
        raise fail("outlet", f"{outlet.slug!r} publishes no feed, so it cannot carry articles")
    if entry["language"] != outlet.language:
        why = f"{entry['language']!r} but {outlet.slug} writes {outlet.language!r}"
        raise fail("language", why)
    try:
        published = datetime.fromisoformat(entry["published"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise fail("published", f"not an ISO 8601 time: {entry['published']!r}") from exc
    if published.tzinfo is None:
        raise fail("published", "needs a time zone (end it with Z)")
    for key in ("author", "image_caption"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise fail(key, "must be a string or null")
    copy_of = entry.get("copy_of")
    body = entry.get("body")
    if copy_of is not None:
        if not isinstance(copy_of, int) or isinstance(copy_of, bool):
            raise fail("copy_of", "must be the index of another article of this event")
        if body is not None:
            raise fail("body", "a copy takes the body of its original; leave 'body' out")
    elif (
        not isinstance(body, list)
        or not body
        or not all(isinstance(p, str) and p.strip() for p in body)
    ):
        raise fail("body", "required, a non-empty list of non-empty paragraphs")
    return {
        "outlet": outlet.slug,
        "language": entry["language"],
        "published": published.astimezone(UTC),
        "title": entry["title"].strip(),
        "summary": entry["summary"].strip(),
        "author": (entry.get("author") or "").strip() or None,
        "image_caption": (entry.get("image_caption") or "").strip() or None,
        "body": [p.strip() for p in body] if body is not None else None,
        "copy_of": copy_of,
    }


def slugify(title: str, limit: int = 72) -> str:
    """ASCII-safe slug of a title, or '' when too little of it is Latin script."""
    spaced = re.sub(r"[^\w]+", " ", title)  # apostrophes separate words: l'auto -> l-auto
    ascii_text = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    letters = sum(ch.isalpha() for ch in title)
    kept = sum(len(w) for w in words)
    if not words or (letters and kept < 0.6 * letters):
        return ""
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            break
        slug = candidate
    return slug or words[0][:limit]


def _unique_path(fields: Mapping[str, Any], event: str, index: int, taken: set[str]) -> str:
    slug = slugify(fields["title"]) or f"{event}-{index}"
    published: datetime = fields["published"]
    base = f"/{fields['outlet']}/{published:%Y}/{published:%m}/{slug}"
    path, n = f"{base}.html", 2
    while path in taken:
        path, n = f"{base}-{n}.html", n + 1
    taken.add(path)
    return path
