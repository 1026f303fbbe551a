"""Plain frozen records passed between the stages. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
"""One embedding (or a sum of them): float32, the model's dimension."""


@dataclass(frozen=True)
class Feed:
    """One subscription from feeds.yaml."""

    name: str
    url: str
    language: str | None = None
    tags: tuple[str, ...] = ()
    allow_private: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class Validators:
    """What the server told us last time, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one successful HTTP exchange (2xx or 304)."""

    url: str
    final_url: str
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))

    @property
    def charset(self) -> str | None:
        content_type = self.headers.get("content-type", "")
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"' ").lower()
        return None


@dataclass(frozen=True)
class Entry:
    """One item of a feed, as plain text (markup already stripped)."""

    guid: str | None
    url: str | None
    title: str
    summary: str
    author: str | None = None
    published: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A feed document read into entries, with any problem the parser tolerated."""

    title: str | None
    entries: tuple[Entry, ...]
    problem: str | None = None
    ttl_minutes: int | None = None


@dataclass(frozen=True)
class Extraction:
    """The article found in one page."""

    text: str
    method: str
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    image: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    is_article: bool = True


@dataclass(frozen=True)
class Article:
    """An article ready to be stored: from a feed entry and its page, or from an import."""

    url: str
    source: str
    title: str
    text: str
    summary: str = ""
    guid: str | None = None
    author: str | None = None
    published: datetime | None = None
    """None when neither feed nor page gave a believable date: stored as the fetch time, but
    marked undated so clustering does not take it for the time of the event."""
    language: str | None = None
    image: str | None = None
    summary_only: bool = False
    extract_method: str | None = None
    external_id: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    """A named entity found in an article."""

    entity_id: str
    name: str
    kind: str
    count: int = 1
