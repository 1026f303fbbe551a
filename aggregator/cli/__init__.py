"""The command line. Thin commands over the library; errors become exit codes here and only here.

Exit codes: 0 success, 1 a partial refresh (some enabled feed failing or paused) or a storage
error, 2 configuration error, 3 another refresh holds the lock.

The group and the error handling live here; the commands live in modules by concern
(``refresh``, ``reading``, ``story``, ``feedreader``, ``importing``, ``dashboard``) and are
registered below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from aggregator.cli.context import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_LOCKED,
    Context,
    fail,
    setup_logging,
)
from aggregator.cli.dashboard import dashboard
from aggregator.cli.feedreader import publish, watch
from aggregator.cli.importing import eval_, extract_cmd, import_
from aggregator.cli.migrate import migrate
from aggregator.cli.reading import export, feeds, search, stories
from aggregator.cli.reembed import reembed
from aggregator.cli.refresh import demo, refresh
from aggregator.cli.story import corrections, story
from aggregator.config import Settings, db_location, settings_help
from aggregator.errors import AggregatorError, ConfigError, LockedError, StorageError

__all__ = ["cli", "main"]


def _exit_code(exc: AggregatorError) -> int:
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, LockedError):
        return EXIT_LOCKED
    return EXIT_FAILED


class Group(click.Group):
    """Turns the aggregator's own errors into one clear line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AggregatorError as exc:
            fail(str(exc), _exit_code(exc))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default=None,
    help="Database: a SQLite file or a postgresql:// URL [env AGGREGATOR_DB; "
    "default data/aggregator.db].",
)
@click.option(
    "--feeds",
    "feeds_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Feed list [env AGGREGATOR_FEEDS; default feeds.yaml].",
)
@click.option(
    "--model",
    default=None,
    help="Embedding model: e5-onnx (multilingual), minilm, minilm-onnx, e5, or a "
    "sentence-transformers name or path [env AGGREGATOR_MODEL; default e5-onnx].",
)
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv for debug).")
@click.version_option(package_name="aggregator")
@click.pass_context
def cli(
    ctx: click.Context, db: str | None, feeds_path: Path | None, model: str | None, verbose: int
) -> None:
    """Automotive news from many feeds and languages, clustered into stories."""
    try:
        settings = Settings.from_env(
            db=db_location(db) if db else None, feeds=feeds_path, model=model
        )
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    ctx.obj = Context(settings, verbose)
    setup_logging(verbose, quiet=False)


@click.command(name="settings")
def settings_cmd() -> None:
    """List every setting with its environment variable and default."""
    for name, default, kind in settings_help():
        click.echo(f"{name}={default}  ({kind})")


for _command in (
    refresh,
    stories,
    story,
    corrections,
    search,
    feeds,
    import_,
    export,
    migrate,
    publish,
    watch,
    demo,
    dashboard,
    eval_,
    reembed,
    extract_cmd,
    settings_cmd,
):
    cli.add_command(_command)


def main() -> None:
    try:
        cli(prog_name="aggregator")
    except StorageError as exc:
        fail(str(exc), EXIT_FAILED)
