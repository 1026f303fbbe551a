"""What to follow (feeds.yaml) and how to run (Settings), each validated once, at load time.

Precedence for settings: command-line flag > ``AGGREGATOR_*`` environment variable > default.
Every problem is a :class:`ConfigError` naming the file, the feed, the key and the line.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from aggregator.errors import ConfigError
from aggregator.models import Feed

FEED_KEYS = ("name", "url", "language", "tags", "allow_private", "enabled")
TOP_KEYS = ("feeds",)
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")


@dataclass(frozen=True)
class Settings:
    """How the aggregator runs. Every field can be set as ``AGGREGATOR_<FIELD>``."""

    db: Path | str = Path("data/aggregator.db")
    """A SQLite file, or a ``postgresql://`` URL (see :func:`db_location`)."""
    feeds: Path = Path("feeds.yaml")
    model: str = "e5-onnx"
    entities: Path = Path("data/entities.yaml")
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    feed_deadline: float = 60.0
    run_deadline: float = 600.0
    max_feed_bytes: int = 10_000_000
    max_page_bytes: int = 5_000_000
    max_redirects: int = 5
    page_workers: int = 8
    per_host: int = 2
    lease_seconds: float = 600.0
    """How long a refresh worker holds the feeds it claims if it hangs (a killed worker's are
    free at once). At least twice ``feed_deadline``, which bounds one feed's work."""
    pause_after: int = 10
    backoff_base: float = 300.0
    backoff_max: float = 86_400.0
    story_window_days: float = 7.0
    reader_language: str = "en"
    readonly: bool = False
    """No corrections: the dashboard hides editing and the correcting commands are refused."""

    @property
    def lock_path(self) -> Path:
        """The refresh lock beside a SQLite file (PostgreSQL uses an advisory lock)."""
        return Path(f"{self.db}.lock")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``AGGREGATOR_*`` variables, then explicit (non-None) overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = env.get(f"AGGREGATOR_{spec.name.upper()}")
            if raw is not None and raw != "":
                values[spec.name] = _coerce(spec.name, spec.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ConfigError(f"setting {spec.name} must be positive, got {value}")
        if self.lease_seconds < 2 * self.feed_deadline:
            # a claimed feed starts at once and takes at most feed_deadline; its result may then
            # wait as long again for a slower feed claimed before it to be stored
            raise ConfigError(
                f"setting lease_seconds ({self.lease_seconds:g}) must be at least twice "
                f"feed_deadline ({self.feed_deadline:g}): a feed's lease has to outlast its work"
            )


REPO_ROOT = Path(__file__).resolve().parent.parent
DB_URL_SCHEMES = ("postgresql", "postgres")


def db_location(raw: str | Path) -> Path | str:
    """A database setting: a ``postgresql://`` URL stays text (a ``Path`` would fold its
    ``//``); anything else is a SQLite file."""
    text = str(raw)
    return text if urlsplit(text).scheme in DB_URL_SCHEMES else Path(text)


def bundled(path: Path) -> Path:
    """``path`` as given when it exists or is absolute, else inside the aggregator's checkout.

    Lets the shipped data (entity knowledge base, demo corpus) be found from any directory.
    """
    if path.is_absolute() or path.exists():
        return path
    candidate = REPO_ROOT / path
    return candidate if candidate.exists() else path


def _coerce(name: str, kind: Any, raw: str) -> Any:
    source = f"environment variable AGGREGATOR_{name.upper()}"
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name == "int":
            return int(raw)
        if kind_name == "float":
            return float(raw)
        if kind_name == "Path":
            return Path(raw)
        if kind_name == "Path | str":
            return db_location(raw)
        if kind_name == "bool":
            return _flag(raw)
    except ValueError as exc:
        raise ConfigError(f"{source}: expected a {kind_name}, got {raw!r}") from exc
    return raw


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1 or 0 (true or false), got {raw!r}")


def settings_help() -> list[tuple[str, str, str]]:
    """(environment variable, default, type) for every setting, for the CLI and the README."""
    return [
        (f"AGGREGATOR_{spec.name.upper()}", str(spec.default), str(spec.type))
        for spec in fields(Settings)
    ]


@dataclass(frozen=True)
class FeedList:
    """The validated content of feeds.yaml."""

    path: Path
    feeds: tuple[Feed, ...] = field(default_factory=tuple)

    def by_name(self, name: str) -> Feed:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise ConfigError(f"{self.path}: no feed named {name!r}")


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a feed address, or None when it is fine."""
    if not isinstance(url, str) or not url.strip():
        return "is empty"
    if any(ch.isspace() for ch in url.strip()):
        return "contains whitespace"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"must start with http:// or https://, not {parts.scheme or 'nothing'}:"
    if not parts.hostname:
        return "has no host"
    if port == 0:
        return "has port 0"
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


# libyaml's parser when PyYAML was built with it: the pure-Python one took about 0.8 ms per feed,
# which every worker paid for the whole list on every run. Marks and tags come out the same.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _scalar(node: yaml.Node) -> Any:
    """The value of a composed node, as ``yaml.safe_load`` would read it."""
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def load_feeds(path: Path) -> FeedList:
    """Read and validate feeds.yaml; a mistake is a ConfigError naming file, feed, key, line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: feed list not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the feed list: {exc}") from exc
    return parse_feeds(text, path)


def parse_feeds(text: str, path: Path) -> FeedList:
    """Validate feeds.yaml text; every mistake in it is reported at once, one line each."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if root is None:
        return FeedList(path, ())
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:{_line(root)}: expected a mapping with a 'feeds' list")
    problems: list[str] = []
    feeds_node: yaml.Node | None = None
    for key_node, value_node in root.value:
        key = key_node.value
        if key not in TOP_KEYS:
            problems.append(
                f"{path}:{_line(key_node)}: unknown key {key!r}{_suggest(key, TOP_KEYS)}"
            )
            continue
        feeds_node = value_node
    feeds: list[Feed] = []
    empty = isinstance(feeds_node, yaml.ScalarNode) and not feeds_node.value
    if isinstance(feeds_node, yaml.SequenceNode):
        feeds = _feed_items(feeds_node, path, problems)
    elif feeds_node is not None and not empty:
        problems.append(f"{path}:{_line(feeds_node)}: 'feeds' must be a list")
    if problems:
        raise ConfigError(_problems_message(path, problems))
    return FeedList(path, tuple(feeds))


def _feed_items(feeds_node: yaml.SequenceNode, path: Path, problems: list[str]) -> list[Feed]:
    """The valid feeds of the list; the mistakes of the others, and duplicates, go to
    ``problems``."""
    feeds: list[Feed] = []
    names: dict[str, int] = {}
    urls: dict[str, str] = {}
    for index, item in enumerate(feeds_node.value, start=1):
        feed = _feed(item, index, path, problems)
        if feed is None:
            continue
        where = f"{path}:{_line(item)}: feed {feed.name!r}"
        if feed.name in names:
            problems.append(f"{where}: duplicate name (first defined at line {names[feed.name]})")
            continue
        url_key = feed_address_key(feed.url)
        if url_key in urls:
            problems.append(f"{where}: key 'url': duplicate of feed {urls[url_key]!r}")
            continue
        names[feed.name] = _line(item)
        urls[url_key] = feed.name
        feeds.append(feed)
    return feeds


def _problems_message(path: Path, problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{path}: {len(problems)} mistakes in the feed list:\n" + "\n".join(
        f"  {problem}" for problem in problems
    )


def feed_address_key(url: str) -> str:
    """What makes two feed addresses one feed: case and a trailing slash do not count.

    feeds.yaml validation and OPML import share it, so an import never adds a feed that the list
    would then refuse as a duplicate.
    """
    return url.strip().rstrip("/").lower()


def _suggest(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"


def _feed(node: yaml.Node, index: int, path: Path, problems: list[str]) -> Feed | None:
    """The feed described by ``node``, or None with each of its mistakes added to ``problems``."""
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{path}:{_line(node)}: feed #{index} must be a mapping of keys")
        return None
    raw: dict[str, Any] = {}
    lines: dict[str, int] = {}
    unreadable = len(problems)
    for key_node, value_node in node.value:
        lines[key_node.value] = _line(key_node)
        try:
            raw[key_node.value] = _scalar(value_node)
        except yaml.YAMLError as exc:  # a tag no safe loader constructs, such as !!python/...
            why = getattr(exc, "problem", None) or exc
            where = f"{path}:{_line(key_node)}: feed #{index}: key {key_node.value!r}"
            problems.append(f"{where}: {why}")
    if len(problems) > unreadable:
        return None
    name = raw.get("name")
    label = f"feed {name!r}" if isinstance(name, str) and name.strip() else f"feed #{index}"
    found = len(problems)

    def fail(key: str, why: str) -> None:
        problems.append(f"{path}:{lines.get(key, _line(node))}: {label}: key {key!r}: {why}")

    for key in raw:
        if key not in FEED_KEYS:
            fail(key, f"unknown key{_suggest(key, FEED_KEYS)}")
    if not isinstance(name, str) or not name.strip():
        fail("name", "is required and must be text")
    url = raw.get("url")
    if url is None:
        fail("url", "is required")
    else:
        problem = check_url(url) if isinstance(url, str) else "must be text"
        if problem:
            fail("url", f"{url!r} {problem}")
    language = raw.get("language")
    if language is not None and (not isinstance(language, str) or not LANGUAGE_RE.match(language)):
        fail("language", f"{language!r} is not a language code such as 'en' or 'hi'")
    tags = raw.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) and TAG_RE.match(t) for t in tags):
        fail("tags", "must be a list of short lower-case words")
    for flag in ("allow_private", "enabled"):
        if flag in raw and not isinstance(raw[flag], bool):
            fail(flag, "must be true or false")
    if len(problems) > found:
        return None
    assert isinstance(name, str) and isinstance(url, str)  # checked above
    return Feed(
        name=name.strip(),
        url=url.strip(),
        language=language,
        tags=tuple(tags),
        allow_private=bool(raw.get("allow_private", False)),
        enabled=bool(raw.get("enabled", True)),
    )


def dump_feeds(feeds: list[Feed] | tuple[Feed, ...]) -> str:
    """feeds.yaml text for ``feeds``, in the same shape :func:`parse_feeds` reads."""
    items: list[dict[str, Any]] = []
    for feed in feeds:
        item: dict[str, Any] = {"name": feed.name, "url": feed.url}
        if feed.language:
            item["language"] = feed.language
        if feed.tags:
            item["tags"] = list(feed.tags)
        if feed.allow_private:
            item["allow_private"] = True
        if not feed.enabled:
            item["enabled"] = False
        items.append(item)
    return yaml.safe_dump({"feeds": items}, allow_unicode=True, sort_keys=False, width=100)
