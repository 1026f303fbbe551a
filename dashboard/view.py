"""What every dashboard page shares: the read-only database, cached reads, and safe rendering.

Pages call the read API through the cached functions here, so a rerun (every widget change)
costs a dictionary lookup instead of a query. Caches are keyed by the database path, its inode (so
pointing the dashboard at a rebuilt database never shows stale rows) and its data version, which
changes whenever anything is committed by any process or machine (``Reader.data_version``): the
next rerun after a refresh or a correction made elsewhere shows it, and a rerun with nothing new
costs one tiny query.

Feed titles, summaries and bodies are untrusted: they are shown through :func:`md` (markdown
escaped), ``st.text`` or dataframes, never as HTML, and only http(s) links become clickable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import streamlit as st

from aggregator.config import Settings, db_location
from aggregator.errors import AggregatorError, StorageError
from aggregator.freshness import run_notice
from aggregator.search import StoryHits, group_by_story
from aggregator.search import search as run_search
from aggregator.store.engine import is_postgres
from aggregator.store.read import (
    ArticleRow,
    EntityRow,
    Facets,
    Filters,
    Reader,
    StoryDetail,
    StoryPage,
    StoryRow,
    http_url,
)
from aggregator.text import plural as plural  # the pages call view.plural

TTL = timedelta(seconds=60)
EMPTY_MESSAGE = "No stories yet — run `aggregator refresh` (or `aggregator demo` for a sample)."
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&])")
_BARS = "▁▂▃▄▅▆▇█"

PAGE_TOP = "app_pages/top_stories.py"
PAGE_STORY = "app_pages/story.py"
PAGE_SEARCH = "app_pages/search.py"
PAGE_ENTITIES = "app_pages/entities.py"
PAGE_FEEDS = "app_pages/feeds.py"


@dataclass(frozen=True)
class Database:
    """The database the dashboard reads: its path, a stamp that changes when it is replaced, and
    its data version as of this page run."""

    path: str
    stamp: int
    version: str = ""


def settings() -> Settings:
    try:
        return Settings.from_env()
    except AggregatorError as exc:
        fail(f"The dashboard settings are invalid: {exc}")


def fail(message: str) -> NoReturn:
    st.error(message)
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover


def database() -> Database:
    """The configured database, or a clear message and the end of this page run."""
    where = db_location(os.environ.get("AGGREGATOR_DB") or settings().db)
    if is_postgres(where):
        located = Database(str(where), 0)  # a server: nothing is replaced under the dashboard
    else:
        path = Path(where)
        try:
            stamp = path.stat().st_ino
        except OSError:
            st.info(
                f"No database at `{md(str(path))}` yet — run `aggregator refresh` to create it "
                "(or `aggregator demo` for a sample)."
            )
            st.stop()
            raise AssertionError("st.stop() returned") from None  # pragma: no cover
        located = Database(str(path.resolve()), stamp)
    try:
        version = _reader(located.path, located.stamp).data_version()
    except StorageError as exc:
        fail(f"The database cannot be read: {exc}")
    return Database(located.path, located.stamp, version)


@st.cache_resource(ttl=timedelta(minutes=10), show_spinner=False)
def _reader(path: str, stamp: int) -> Reader:
    return Reader(db_location(path))


def reader(db: Database) -> Reader:
    try:
        return _reader(db.path, db.stamp)
    except StorageError as exc:
        fail(f"The database cannot be read: {exc}")


def guarded(db: Database, call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a cached read; a damaged or locked database becomes a message, not a traceback."""
    try:
        return call(db.path, db.stamp, db.version, *args, **kwargs)
    except StorageError as exc:
        fail(f"The database cannot be read: {exc}")


# cached reads -----------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def top_atom(path: str, stamp: int, version: str) -> bytes:
    """The top stories as an Atom feed, built from the database as `aggregator publish` does."""
    from aggregator.publish import top_document

    return top_document(_reader(path, stamp))


@st.cache_data(ttl=TTL, show_spinner=False)
def counts(path: str, stamp: int, version: str) -> dict[str, int]:
    return _reader(path, stamp).counts()


@st.cache_data(ttl=TTL, show_spinner=False)
def status(path: str, stamp: int, version: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether a refresh is running, and the last run with its report."""
    current = _reader(path, stamp)
    return current.refresh_running(), current.last_run()


@st.cache_data(ttl=TTL, show_spinner=False)
def facets(path: str, stamp: int, version: str) -> Facets:
    return _reader(path, stamp).facets()


@st.cache_data(ttl=TTL, show_spinner=False)
def reference_now(path: str, stamp: int, version: str) -> datetime:
    return _reader(path, stamp).reference_now()


@st.cache_data(ttl=TTL, show_spinner=False)
def story_page(
    path: str, stamp: int, version: str, limit: int, offset: int, filters: Filters
) -> StoryPage:
    return _reader(path, stamp).story_page(limit=limit, offset=offset, filters=filters)


@st.cache_data(ttl=TTL, show_spinner=False)
def story(path: str, stamp: int, version: str, story_id: int) -> StoryDetail | None:
    return _reader(path, stamp).story(story_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def related(path: str, stamp: int, version: str, story_id: int) -> list[StoryRow]:
    return _reader(path, stamp).related_stories(story_id, limit=6)


@st.cache_data(ttl=TTL, show_spinner="Searching…")
def search(
    path: str,
    stamp: int,
    version: str,
    query: str,
    mode: str,
    limit: int,
    filters: Filters,
    model: str,
) -> tuple[list[ArticleRow], list[StoryHits]]:
    current = _reader(path, stamp)
    hits = run_search(current, query, mode=mode, limit=limit, filters=filters, model=model)
    return hits, group_by_story(current, hits)


@st.cache_data(ttl=TTL, show_spinner=False)
def entities(path: str, stamp: int, version: str) -> list[EntityRow]:
    return _reader(path, stamp).entities(limit=2000)


@st.cache_data(ttl=TTL, show_spinner=False)
def entity_detail(
    path: str, stamp: int, version: str, entity_id: str
) -> tuple[list[tuple[str, int]], list[tuple[StoryRow, int]]]:
    current = _reader(path, stamp)
    return current.entity_timeline(entity_id), current.entity_stories(entity_id, limit=50)


@st.cache_data(ttl=TTL, show_spinner=False)
def feeds(path: str, stamp: int, version: str) -> list[dict[str, Any]]:
    return _reader(path, stamp).feeds()


@st.cache_resource(show_spinner=False)
def knowledge_base(path: str) -> Any:
    """The entity knowledge base (for aliases); None when it cannot be loaded."""
    from aggregator.entities import KnowledgeBase

    try:
        return KnowledgeBase.load(path)
    except AggregatorError:
        return None


# rendering --------------------------------------------------------------------------------


def md(text: str | None) -> str:
    """Untrusted text made inert for st.markdown: every markdown character escaped."""
    flat = " ".join((text or "").split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def link(label: str, url: str | None) -> str:
    """A markdown link when ``url`` is http(s), else the escaped label alone."""
    safe = http_url(url)
    if safe is None:
        return md(label)
    target = safe.replace("(", "%28").replace(")", "%29")
    return f"[{md(label)}]({target})"


def sparkline(timeline: Sequence[tuple[str, int]], days: int = 14) -> str:
    """Per-day counts as block characters over the ``days`` up to the story's last day."""
    if not timeline:
        return ""
    counts = {day: n for day, n in timeline}
    end = datetime.strptime(max(counts), "%Y-%m-%d")
    window = [(end - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days - 1, -1, -1)]
    series = [counts.get(day, 0) for day in window]
    top = max(series) or 1
    return "".join("▁" if n == 0 else _BARS[min(7, 1 + (n * 7 - 1) // top)] for n in series)


def time_frame(series: Sequence[tuple[datetime, int]], column: str) -> pd.DataFrame:
    """Counts per hour or day as a chart frame on a time axis (UTC), which labels a few
    readable ticks however many bars there are."""
    times = [t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t for t, _ in series]
    return pd.DataFrame({column: pd.to_datetime(times), "articles": [n for _, n in series]})


def every_day(timeline: Sequence[tuple[str, int]]) -> list[tuple[datetime, int]]:
    """Per-day counts (``YYYY-MM-DD``) from the first day to the last, quiet days at zero."""
    if not timeline:
        return []
    counts = {day: n for day, n in timeline}
    first = datetime.strptime(min(counts), "%Y-%m-%d")
    last = datetime.strptime(max(counts), "%Y-%m-%d")
    days = (last - first).days + 1
    moments = [first + timedelta(days=i) for i in range(days)]
    return [(moment, counts.get(f"{moment:%Y-%m-%d}", 0)) for moment in moments]


def span(first: datetime, last: datetime) -> str:
    if first.date() == last.date():
        return f"{first:%d %b %Y, %H:%M}–{last:%H:%M} UTC"
    return f"{first:%d %b %H:%M} – {last:%d %b %Y %H:%M} UTC"


def header(db: Database) -> tuple[bool, dict[str, Any] | None]:
    """The refresh notice shared by every page: one is running, or the last was partial or is
    long past."""
    running, last = guarded(db, status)
    if running:
        st.info("A refresh is running right now; the numbers will change as it stores results.")
    elif notice := run_notice(last, datetime.now(UTC)):
        st.warning(notice, icon=":material/warning:")
    return running, last


def require_stories(db: Database) -> dict[str, int]:
    """Stop the page with the empty-database message when there is nothing to show."""
    numbers = guarded(db, counts)
    if numbers["stories"] == 0:
        st.info(EMPTY_MESSAGE)
        st.stop()
    return numbers


def filter_widgets(db: Database, *, key: str) -> Filters:
    """Time range, language, tag and source pickers, laid out in one row."""
    options = guarded(db, facets)
    now = guarded(db, reference_now)
    ranges = {
        "Any time": None,
        "Last 24 hours": timedelta(hours=24),
        "Last 3 days": timedelta(days=3),
        "Last 7 days": timedelta(days=7),
        "Last 30 days": timedelta(days=30),
    }
    when, language, tag, source = st.columns(4)
    chosen = when.selectbox("Time range", list(ranges), key=f"{key}-range")
    languages = language.multiselect("Language", options.languages, key=f"{key}-lang")
    tags = tag.multiselect("Tag", options.tags, key=f"{key}-tag")
    sources = source.multiselect("Source", options.sources, key=f"{key}-source")
    window = ranges[chosen]
    return Filters(
        since=now - window if window else None,
        languages=tuple(languages),
        sources=tuple(sources),
        tags=tuple(tags),
    )
