"""Commands that fill the database: ``refresh`` (the cron job) and ``demo`` (the bundled corpus
served locally and refreshed through the same code)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import click

from aggregator.cli.context import (
    DATE_FORMATS,
    EXIT_FAILED,
    Context,
    TerminalProgress,
    open_pipeline,
    setup_logging,
    utc,
)
from aggregator.config import Settings, bundled, load_feeds
from aggregator.models import Feed


def run_refresh(
    settings: Settings, feeds: Sequence[Feed], *, quiet: bool, as_json: bool, force: bool
) -> int:
    """One refresh with its report printed; returns the exit code."""
    progress = TerminalProgress(sys.stderr.isatty() and not quiet and not as_json)
    pipeline = open_pipeline(settings, progress)
    try:
        report = pipeline.refresh(feeds, force=force)
    finally:
        progress.done()
        pipeline.store.close()
    code = EXIT_FAILED if report.partial else 0
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif quiet:
        # cron mails whatever a job prints: one line when a feed's health changes, not every run
        for change in report.changes:
            click.echo(change.line(), err=True)
    else:
        click.echo(report.summary_line())
        for name, error in report.failures.items():
            click.echo(f"  failed: {name}: {error}")
        for change in report.changes:
            if change.after != "failing":  # a feed that started failing is listed just above
                click.echo(f"  {change.line()}")
        if report.partial:
            click.echo("  `aggregator feeds` lists every feed with its last error")
    return code


@click.command()
@click.option(
    "--quiet",
    is_flag=True,
    help="Print only when a feed starts failing, is paused or recovers (for cron).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.option("--force", is_flag=True, help="Fetch every feed now, ignoring backoff and TTL.")
@click.pass_obj
def refresh(obj: Context, quiet: bool, as_json: bool, force: bool) -> None:
    """Fetch every due feed once, store new articles, update stories (the cron job)."""
    if quiet:
        setup_logging(obj.verbose, quiet=True)
    feeds = load_feeds(obj.settings.feeds)
    sys.exit(run_refresh(obj.settings, feeds.feeds, quiet=quiet, as_json=as_json, force=force))


def _demo_dir() -> Path:
    return bundled(Path("data/demo"))


@click.command()
@click.option(
    "--until",
    type=click.DateTime(DATE_FORMATS),
    default=None,
    help="Serve the corpus as it stood at this moment (UTC), e.g. 2024-04-28T12:00.",
)
@click.option(
    "--replay",
    is_flag=True,
    help="Step through the month a day at a time, "
    "refreshing after each day, so stories grow as they did.",
)
@click.option(
    "--serve",
    "serve_only",
    is_flag=True,
    help="Only serve the demo feeds on 127.0.0.1 until interrupted.",
)
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port for the demo server (0: any) [default: 8765, or any free port if taken].",
)
@click.pass_obj
def demo(
    obj: Context, until: datetime | None, replay: bool, serve_only: bool, port: int | None
) -> None:
    """Serve the bundled demo corpus on 127.0.0.1 and refresh from it, through the real code."""
    from aggregator.demo import DemoCorpus
    from aggregator.demo.links import start_demo_server

    corpus = DemoCorpus.load(_demo_dir())
    moment = utc(until)
    with start_demo_server(corpus, until=moment, port=port) as server:
        feeds = server.feeds()
        if serve_only:
            click.echo(f"serving {len(feeds)} demo feeds at {server.base_url} (Ctrl-C stops)")
            for feed in feeds:
                click.echo(f"  {feed.name}: {feed.url}")
            try:
                while True:
                    import time

                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        if replay:
            first, last = corpus.time_range
            day = first.replace(hour=23, minute=59, second=59)
            while day <= last + timedelta(days=1):
                server.set_until(day)
                click.echo(f"{day:%Y-%m-%d}: ", nl=False)
                run_refresh(obj.settings, feeds, quiet=False, as_json=False, force=True)
                day += timedelta(days=1)
        else:
            run_refresh(obj.settings, feeds, quiet=False, as_json=False, force=True)
    from aggregator.store.engine import describe

    click.echo(
        f"database: {describe(obj.settings.db)}  ·  next: aggregator stories, aggregator dashboard"
    )
