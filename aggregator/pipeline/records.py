"""Articles from elsewhere: imported JSON records (one object a line in a JSONL file) as
Articles, checked line by line so that a bad file is refused before anything is written."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.errors import AggregatorError, ConfigError
from aggregator.language import detect_language
from aggregator.models import Article
from aggregator.text import one_line, plain_text


def article_from_record(record: dict[str, Any], number: int, source: str) -> Article:
    """An imported JSON object as an Article; a bad record is an error naming its line."""
    if not isinstance(record, dict):
        raise AggregatorError(f"line {number}: expected a JSON object")
    title = plain_text(str(record.get("title") or ""))
    text = str(record.get("text") or "").strip()
    if not title and not text:
        raise AggregatorError(f"line {number}: needs a 'title' or a 'text'")
    external = record.get("id")
    external_id = str(external) if external is not None else None
    url = str(record.get("url") or "").strip()
    if not url:
        key = external_id or hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:20]
        url = f"urn:import:{key}"
    published = _parse_when(record.get("published"), number)
    language = record.get("language") or detect_language(f"{title}\n{text}")
    return Article(
        url=url,
        source=str(record.get("source") or source),
        title=title or one_line(text)[:120],
        text=text or title,
        summary=str(record.get("summary") or ""),
        published=published,
        language=language,
        summary_only=not text,
        extract_method="import",
        external_id=external_id,
        tags=tuple(str(t) for t in record.get("tags") or ()),
    )


def _parse_when(value: Any, number: int) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 10**11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError) as exc:
        raise AggregatorError(f"line {number}: 'published' is not a date: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


REQUIRED_KEYS = ("url", "title", "text")
"""What every record of an imported file must carry (the records of ``eval`` need less)."""


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file, one a line; a bad line is an error naming file and line."""
    for _, record in _numbered_jsonl(path):
        yield record


def _numbered_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not valid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise ConfigError(f"{path}:{number}: expected a JSON object")
            yield number, record


def validated_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file to import, checked before anything is written, so that a bad
    line leaves the database as it was. Each record needs a non-empty ``url``, ``title`` and
    ``text``."""
    numbered = list(_numbered_jsonl(path))
    for number, record in numbered:
        if "correction" in record:
            continue  # a reader's correction carried by an export, checked by its own reader
        for key in REQUIRED_KEYS:
            value = record.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise ConfigError(
                    f"{path}:{number}: key {key!r} is required "
                    f"(every record needs {', '.join(map(repr, REQUIRED_KEYS))})"
                )
            if not isinstance(value, str):
                kind = type(value).__name__
                raise ConfigError(f"{path}:{number}: key {key!r} must be text, not {kind}")
        try:
            article_from_record(record, number, "import")
        except AggregatorError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    return [record for _, record in numbered]
