"""What a run tells its caller: the RunReport it returns and the progress callback it calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Progress = Callable[[str, int], None]


def quiet(_stage: str, _count: int) -> None:
    """The progress callback of a run nobody watches."""
    return None


@dataclass
class RunReport:
    """The summary a refresh prints and stores."""

    started: str = ""
    finished: str = ""
    feeds_ok: int = 0
    feeds_failed: int = 0
    feeds_unchanged: int = 0
    feeds_skipped: int = 0
    new_articles: int = 0
    pages_fetched: int = 0
    embedded: int = 0
    new_stories: int = 0
    updated_stories: int = 0
    merged_stories: int = 0
    split_stories: int = 0
    watch_hits: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_line(self) -> str:
        return (
            f"feeds ok={self.feeds_ok} failed={self.feeds_failed} "
            f"unchanged={self.feeds_unchanged} skipped={self.feeds_skipped}; "
            f"new articles={self.new_articles}; new stories={self.new_stories} "
            f"updated stories={self.updated_stories}"
        )
