"""Atom 1.0 feeds of stories, so any feed reader can follow the aggregator's output.

``publish(reader, out)`` writes ``top.atom`` (the top stories now) and ``watch-<name>.atom`` for
every saved search (the stories of its latest hits). Each entry is one story:

- its id is a tag URI built from the story id alone (``tag:<authority>,2024:story/<id>``), so a
  story that gains articles keeps its id and a reader shows it as updated, not as new;
- ``updated`` is the time of the story's newest article, so republishing unchanged data gives
  the same file;
- the summary and content are plain text (``type="text"``, escaped by the XML writer): article
  titles come from feeds and are never passed on as markup;
- links point at the articles, and only http(s) addresses are linked.

Files are written to a temporary name and renamed, so a web server never serves half a feed.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from aggregator.errors import StorageError
from aggregator.store import iso
from aggregator.store import watches as db
from aggregator.store.read import Reader, StoryDetail, http_url

ATOM = "http://www.w3.org/2005/Atom"
TAG_DATE = "2024"
DEFAULT_AUTHORITY = "aggregator.localhost"
MAX_LINKS = 20

ET.register_namespace("", ATOM)


@dataclass(frozen=True)
class Published:
    """One feed written: its file, title and number of entries."""

    path: Path
    title: str
    entries: int


def story_tag(story_id: int, authority: str = DEFAULT_AUTHORITY) -> str:
    """The permanent Atom id of a story (RFC 4151 tag URI)."""
    return f"tag:{authority},{TAG_DATE}:story/{story_id}"


def _el(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _story_text(detail: StoryDetail) -> tuple[str, str]:
    """Summary (one line of counts) and content (the articles, one per line) as plain text."""
    story = detail.story
    languages = ", ".join(story.languages) or "unknown"
    summary = (
        f"{story.n_articles} article(s) from {story.n_sources} source(s) "
        f"in {story.n_languages} language(s): {languages}."
    )
    lines = [summary]
    if story.keywords:
        lines.append("Keywords: " + ", ".join(story.keywords))
    if story.entities:
        lines.append("Involves: " + ", ".join(story.entities[:8]))
    lines.append("")
    for article in sorted(detail.articles, key=lambda a: a.published, reverse=True):
        lines.append(
            f"- {article.title} ({article.source}, {article.language or '?'}, "
            f"{article.published:%Y-%m-%d %H:%M})"
        )
        link = http_url(article.url)
        if link:
            lines.append(f"  {link}")
    return summary, "\n".join(lines)


def feed_document(
    title: str,
    self_url: str,
    details: list[StoryDetail],
    *,
    feed_id: str,
    authority: str = DEFAULT_AUTHORITY,
    now: datetime | None = None,
) -> bytes:
    """An Atom 1.0 document with one entry per story."""
    root = ET.Element(f"{{{ATOM}}}feed")
    _el(root, "id", feed_id)
    _el(root, "title", title)
    newest = max((d.story.last_published for d in details), default=now or datetime.now(UTC))
    _el(root, "updated", iso(newest))
    _el(root, "link", rel="self", href=self_url, type="application/atom+xml")
    author = _el(root, "author")
    _el(author, "name", "Automotive news aggregator")
    _el(root, "generator", "aggregator")
    for detail in details:
        story = detail.story
        entry = _el(root, "entry")
        _el(entry, "id", story_tag(story.id, authority))
        _el(entry, "title", story.headline)
        _el(entry, "updated", iso(story.last_published))
        _el(entry, "published", iso(story.first_published))
        summary, content = _story_text(detail)
        _el(entry, "summary", summary, type="text")
        _el(entry, "content", content, type="text")
        links = [
            (a, link)
            for a in sorted(detail.articles, key=lambda a: a.id != story.lead_article_id)
            if (link := http_url(a.url))
        ]
        for number, (article, link) in enumerate(links[:MAX_LINKS]):
            _el(
                entry,
                "link",
                rel="alternate" if number == 0 else "related",
                href=link,
                title=f"{article.source}: {article.title}",
            )
        for language in story.languages:
            _el(entry, "category", term=language, label=f"language {language}")
    ET.indent(root, space="  ")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {exc}") from exc


def _self_url(base_url: str | None, path: Path) -> str:
    if base_url:
        return base_url.rstrip("/") + "/" + quote(path.name)
    return path.resolve().as_uri()


TOP_TITLE = "Top automotive stories"


def top_details(
    reader: Reader, *, limit: int = 30, now: datetime | None = None
) -> list[StoryDetail]:
    """The top stories now, each with its articles, as the top feed lists them."""
    return [
        d for s in reader.top_stories(limit=limit, now=now) if (d := reader.story(s.id)) is not None
    ]


def top_document(
    reader: Reader,
    *,
    limit: int = 30,
    base_url: str | None = None,
    authority: str = DEFAULT_AUTHORITY,
    now: datetime | None = None,
) -> bytes:
    """top.atom as bytes, for serving it without writing a file (the dashboard offers it)."""
    return feed_document(
        TOP_TITLE,
        _self_url(base_url, Path("top.atom")),
        top_details(reader, limit=limit, now=now),
        feed_id=f"tag:{authority},{TAG_DATE}:feed/top",
        authority=authority,
        now=now,
    )


def publish(
    reader: Reader,
    out: Path,
    *,
    limit: int = 30,
    base_url: str | None = None,
    authority: str = DEFAULT_AUTHORITY,
    now: datetime | None = None,
) -> list[Published]:
    """Write top.atom and one watch-<name>.atom per saved search into ``out``."""
    written: list[Published] = []

    def write_feed(name: str, title: str, details: list[StoryDetail], feed_path: str) -> None:
        path = out / name
        document = feed_document(
            title,
            _self_url(base_url, path),
            details,
            feed_id=f"tag:{authority},{TAG_DATE}:feed/{feed_path}",
            authority=authority,
            now=now,
        )
        _write(path, document)
        written.append(Published(path, title, len(details)))

    write_feed("top.atom", TOP_TITLE, top_details(reader, limit=limit, now=now), "top")
    for watch in db.list_watches(reader.conn):
        story_ids: list[int] = []
        for hit in db.hits(reader.conn, watch):
            if hit.story_id is not None and hit.story_id not in story_ids:
                story_ids.append(hit.story_id)
        details: list[StoryDetail] = []
        for sid in story_ids:
            detail = reader.story(sid)  # follows merges, so two old ids may lead to one story
            if detail is not None and all(d.story.id != detail.story.id for d in details):
                details.append(detail)
            if len(details) >= limit:
                break
        details.sort(key=lambda d: d.story.last_published, reverse=True)
        write_feed(
            f"watch-{watch.name}.atom",
            f"Saved search: {watch.name} ({watch.query})",
            details,
            f"watch/{watch.name}",
        )
    return written
