"""What a run tells its caller: the RunReport it returns and the progress callback it calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Progress = Callable[[str, int], None]


def quiet(_stage: str, _count: int) -> None:
    """The progress callback of a run nobody watches."""
    return None


@dataclass(frozen=True)
class FeedChange:
    """A feed whose health differs from what the previous run reported."""

    name: str
    before: str  # "ok", "failing" or "paused"
    after: str
    error: str | None = None

    def line(self) -> str:
        """One line for a person (or a cron mail)."""
        if self.after == "ok":
            return f"feed {self.name!r} recovered (was {self.before})"
        verb = "is paused" if self.after == "paused" else "started failing"
        hint = f"; `aggregator feeds --reset {self.name!r}` resumes it" * (self.after == "paused")
        return f"feed {self.name!r} {verb}: {self.error or 'no error recorded'}{hint}"


@dataclass
class RunReport:
    """The summary a refresh prints and stores.

    ``feeds_failed`` counts the feeds that failed in this run; ``feeds_failing`` and
    ``feeds_paused`` count every enabled feed in that health after the run, including feeds that
    were not due because they are waiting out a backoff. Any of those makes the run "partial".
    """

    started: str = ""
    finished: str = ""
    status: str = "ok"
    feeds_ok: int = 0
    feeds_failed: int = 0
    feeds_unchanged: int = 0
    feeds_skipped: int = 0
    feeds_failing: int = 0
    feeds_paused: int = 0
    new_articles: int = 0
    pages_fetched: int = 0
    embedded: int = 0
    new_stories: int = 0
    updated_stories: int = 0
    merged_stories: int = 0
    split_stories: int = 0
    watch_hits: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    changes: list[FeedChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def partial(self) -> bool:
        return self.status == "partial"

    def summary_line(self) -> str:
        line = (
            f"feeds ok={self.feeds_ok} failed={self.feeds_failed} "
            f"unchanged={self.feeds_unchanged} skipped={self.feeds_skipped}; "
            f"new articles={self.new_articles}; new stories={self.new_stories} "
            f"updated stories={self.updated_stories}"
        )
        if self.partial:
            line += f"; partial: {self.feeds_failing} failing, {self.feeds_paused} paused"
        return line
