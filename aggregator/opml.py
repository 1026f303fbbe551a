"""OPML in and out, so that subscriptions move between the aggregator and other feed readers.

Import reads OPML as Miniflux, FreshRSS, Feedly, Inoreader and NewsBlur write it: folders
(outlines without ``xmlUrl`` that hold others) and ``category`` attributes become tags, HTML
entities left in titles are decoded, outlines without a feed address are skipped with a note.
The XML is parsed with defusedxml: a DOCTYPE with entities is refused, never expanded, since an
OPML file is usually downloaded from somewhere else.

Every subscription is checked before anything is written: a bad address makes the whole import
fail (nothing written) unless the caller asks to skip the bad ones; duplicates (of feeds.yaml or
inside the file) are skipped and reported. The new feeds are appended to feeds.yaml as lines of
their own so its comments survive, and the file is replaced in one rename.

Export writes OPML 2.0: one ``type="rss"`` outline per feed with ``text``, ``title`` and
``xmlUrl``, nested in a folder named after its first tag (how Miniflux and FreshRSS read
categories), every tag in the standard ``category`` attribute, and the language in a ``language``
attribute (OPML allows extra attributes; readers that do not know it ignore it).
"""

from __future__ import annotations

import html
import os
import re
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from aggregator.config import (
    LANGUAGE_RE,
    TAG_RE,
    FeedList,
    check_url,
    dump_feeds,
    feed_address_key,
    parse_feeds,
)
from aggregator.errors import ConfigError
from aggregator.models import Feed

MAX_OPML_BYTES = 20_000_000
_TAG_JUNK = re.compile(r"[^a-z0-9 _-]+")


@dataclass(frozen=True)
class Subscription:
    """One feed outline as read from an OPML file, before it is checked against feeds.yaml."""

    name: str
    url: str
    language: str | None = None
    tags: tuple[str, ...] = ()
    line: str = ""  # where it came from, for messages: the folder path and title


@dataclass(frozen=True)
class ImportPlan:
    """What an import would do: the feeds to add and every reason something was left out."""

    added: tuple[Feed, ...]
    duplicates: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    feeds: tuple[Feed, ...] = field(default_factory=tuple)  # feeds.yaml after the import

    @property
    def ok(self) -> bool:
        return not self.invalid


def tag_of(label: str) -> str | None:
    """A folder or category name as a feeds.yaml tag (lower case, ASCII, at most 40 chars)."""
    folded = unicodedata.normalize("NFKD", html.unescape(label)).encode("ascii", "ignore")
    text = _TAG_JUNK.sub("-", folded.decode("ascii").lower()).strip(" _-")
    text = re.sub(r"\s*-[\s-]*", "-", text)[:40].rstrip(" _-")
    return text if text and TAG_RE.match(text) else None


def _clean_title(value: str | None) -> str:
    # Some exporters escape twice ("&amp;amp;"): XML parsing removes one level, this the other.
    return " ".join(html.unescape(value or "").split())


def parse_opml(data: bytes, source: str = "OPML") -> tuple[list[Subscription], list[str]]:
    """The feed outlines of an OPML document and notes about outlines that were skipped.

    Raises ConfigError when the bytes are not OPML (or carry entity declarations).
    """
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_OPML_BYTES} bytes, not read")
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ConfigError(f"{source}: refused: the file declares a DTD or entities") from exc
    except ET.ParseError as exc:
        raise ConfigError(f"{source}: not valid XML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise ConfigError(f"{source}: the root element is <{root.tag}>, not <opml>")
    body = next((child for child in root if child.tag.lower() == "body"), None)
    if body is None:
        raise ConfigError(f"{source}: no <body> element")
    found: list[Subscription] = []
    notes: list[str] = []
    _walk(body, (), found, notes)
    return found, notes


def _walk(
    node: ET.Element, folders: tuple[str, ...], found: list[Subscription], notes: list[str]
) -> None:
    for outline in node:
        if outline.tag.lower() != "outline":
            continue
        attrs = {key.lower(): value for key, value in outline.attrib.items()}
        title = _clean_title(attrs.get("title") or attrs.get("text"))
        url = (attrs.get("xmlurl") or "").strip()
        where = " / ".join((*folders, title or "(untitled)"))
        children = [c for c in outline if c.tag.lower() == "outline"]
        if not url:
            if children:
                _walk(outline, (*folders, title) if title else folders, found, notes)
            else:
                notes.append(f"{where}: skipped, no xmlUrl (not a feed)")
            continue
        tags: list[str] = []
        labels = list(folders)
        for category in (attrs.get("category") or "").split(","):
            labels.extend(part for part in category.split("/") if part.strip())
        for label in labels:
            tag = tag_of(label)
            if tag is None:
                notes.append(f"{where}: folder or category {label!r} cannot be a tag, dropped")
            elif tag not in tags:
                tags.append(tag)
        language = (attrs.get("language") or "").strip() or None
        if language is not None and not LANGUAGE_RE.match(language):
            notes.append(f"{where}: language {language!r} is not a code such as 'en', dropped")
            language = None
        name = title or (urlsplit(url).hostname or url)
        found.append(Subscription(name, url, language, tuple(tags), where))
        if children:
            notes.append(f"{where}: outlines nested inside a feed were ignored")


def plan_import(
    subscriptions: Sequence[Subscription], existing: FeedList, *, skip_invalid: bool = False
) -> ImportPlan:
    """Check every subscription against feeds.yaml and each other; nothing is written here."""
    urls = {feed_address_key(f.url): f.name for f in existing.feeds}
    names = {f.name for f in existing.feeds}
    added: list[Feed] = []
    duplicates: list[str] = []
    invalid: list[str] = []
    notes: list[str] = []
    for sub in subscriptions:
        problem = check_url(sub.url)
        if problem:
            invalid.append(f"{sub.line}: address {sub.url!r} {problem}")
            continue
        key = feed_address_key(sub.url)
        if key in urls:
            duplicates.append(f"{sub.line}: {sub.url} is already followed as {urls[key]!r}")
            continue
        name = sub.name
        if name in names:
            host = urlsplit(sub.url).hostname or "2"
            name = f"{sub.name} ({host})"
            number = 2
            while name in names:
                name = f"{sub.name} ({host} {number})"
                number += 1
            notes.append(f"{sub.line}: name taken, added as {name!r}")
        urls[key] = name
        names.add(name)
        added.append(Feed(name=name, url=sub.url.strip(), language=sub.language, tags=sub.tags))
    if invalid and skip_invalid:
        notes.extend(f"skipped: {line}" for line in invalid)
        invalid = []
    return ImportPlan(
        added=tuple(added),
        duplicates=tuple(duplicates),
        invalid=tuple(invalid),
        notes=tuple(notes),
        feeds=(*existing.feeds, *added),
    )


def updated_feeds_text(current: str | None, existing: FeedList, added: Sequence[Feed]) -> str:
    """feeds.yaml text with ``added`` appended, keeping the file's comments and layout.

    The appended text is checked by reading it back; when the file's layout does not allow a
    plain append (no list yet, odd indentation), the whole list is written out afresh.
    """
    if not added:
        return current if current is not None else dump_feeds(existing.feeds)
    wanted = (*existing.feeds, *added)
    if current and existing.feeds:
        indent = _item_indent(current)
        if indent is not None:
            lines = [
                f"{indent}- "
                + yaml.safe_dump(
                    _item(f), default_flow_style=True, width=10_000, allow_unicode=True
                ).strip()
                for f in added
            ]
            text = current.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
            try:
                if parse_feeds(text, existing.path).feeds == wanted:
                    return text
            except ConfigError:
                pass
    return dump_feeds(wanted)


def _item(feed: Feed) -> dict[str, object]:
    item: dict[str, object] = {"name": feed.name, "url": feed.url}
    if feed.language:
        item["language"] = feed.language
    if feed.tags:
        item["tags"] = list(feed.tags)
    return item


def _item_indent(text: str) -> str | None:
    """The indentation of the last list item line in feeds.yaml, if it has one."""
    matches = re.findall(r"^([ \t]*)- ", text, flags=re.MULTILINE)
    return matches[-1] if matches else None


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write: {exc}") from exc


def import_opml(
    opml: Path, feeds_path: Path, *, dry_run: bool = False, skip_invalid: bool = False
) -> ImportPlan:
    """Read ``opml``, plan the import against ``feeds_path`` and, unless told not to, apply it.

    Nothing is written when any address is invalid (unless ``skip_invalid``) or on a dry run.
    """
    try:
        data = opml.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{opml}: cannot read: {exc}") from exc
    subscriptions, notes = parse_opml(data, str(opml))
    current: str | None = None
    if feeds_path.exists():
        try:
            current = feeds_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{feeds_path}: cannot read the feed list: {exc}") from exc
        existing = parse_feeds(current, feeds_path)
    else:
        existing = FeedList(feeds_path, ())
    plan = plan_import(subscriptions, existing, skip_invalid=skip_invalid)
    plan = ImportPlan(plan.added, plan.duplicates, plan.invalid, (*notes, *plan.notes), plan.feeds)
    if dry_run or not plan.ok or not plan.added:
        return plan
    text = updated_feeds_text(current, existing, plan.added)
    if parse_feeds(text, feeds_path).feeds != plan.feeds:  # never write what would not load
        raise ConfigError(f"{feeds_path}: the updated feed list would not read back the same")
    write_atomically(feeds_path, text)
    return plan


def export_opml(
    feeds: Sequence[Feed], *, title: str = "Aggregator subscriptions", now: datetime | None = None
) -> bytes:
    """OPML 2.0 for ``feeds``: folders by first tag, all tags in ``category``."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            first = feed.tags[0]
            if first not in folders:
                folders[first] = ET.SubElement(body, "outline", text=first, title=first)
            parent = folders[first]
        attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        if feed.language:
            attrs["language"] = feed.language
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root, space="  ")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
