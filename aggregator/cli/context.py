"""What every command shares: the Context it receives, exit codes, logging, and how it opens the
store's reader, the pipeline and the progress line.

Kept apart from the group in ``__init__`` so that the command modules import it without importing
the package that registers them.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

import click

from aggregator.config import Settings

if TYPE_CHECKING:
    from aggregator.pipeline import Pipeline
    from aggregator.store.read import Reader

EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 1, 2, 3
DATE_FORMATS = [
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
]


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg`` lines on stderr, easy to grep and to ship."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"ts={stamp} level={record.levelname.lower()} logger={record.name} "
            f"{record.getMessage()}"
        )


def setup_logging(verbose: int, quiet: bool) -> None:
    """Aggregator log lines at the asked level; chatty libraries only when something is wrong."""
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("aggregator").setLevel(level)
    for noisy in ("httpx", "httpcore", "trafilatura", "sentence_transformers", "filelock"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


@dataclass
class Context:
    """The settings loaded once by the group, handed to every command."""

    settings: Settings
    verbose: int


def fail(message: str, code: int) -> NoReturn:
    """One ``error:`` line on stderr and the exit code; the only way a command dies."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class TerminalProgress:
    """One line on stderr that rewrites itself, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.counts: dict[str, int] = {}

    def __call__(self, stage: str, count: int) -> None:
        if not self.enabled:
            return
        self.counts[stage] = count
        line = "  ".join(f"{k} {v}" for k, v in self.counts.items())
        click.echo(f"\r{line}\033[K", err=True, nl=False)

    def done(self) -> None:
        if self.enabled and self.counts:
            click.echo("", err=True)


def open_pipeline(settings: Settings, progress: TerminalProgress | None = None) -> Pipeline:
    """The pipeline on ``settings``; imported here so that reading commands never load the model
    code."""
    from aggregator.pipeline import Pipeline

    return Pipeline.build(settings, progress=progress) if progress else Pipeline.build(settings)


def open_reader(settings: Settings) -> Reader:
    """The read-only view of the database, for commands that only show what is stored."""
    from aggregator.store.read import Reader

    return Reader(settings.db)


def utc(moment: datetime | None) -> datetime | None:
    """A naive date from the command line is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment
