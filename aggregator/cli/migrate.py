"""``migrate``: copy the SQLite database into PostgreSQL, checked by counts and checksums."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aggregator.cli.context import Context, TerminalProgress
from aggregator.config import db_location
from aggregator.errors import ConfigError, StorageError


@click.command()
@click.option(
    "--to",
    "target",
    required=True,
    help="The PostgreSQL database to copy into, as a postgresql:// URL.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
@click.pass_obj
def migrate(obj: Context, target: str, quiet: bool) -> None:
    """Copy the SQLite database (--db) into PostgreSQL: every table with its ids, then check
    both by row counts and checksums. Running it again changes nothing; an interrupted copy
    resumes where it stopped."""
    from aggregator.store import Store
    from aggregator.store.engine import describe, exists, is_postgres

    source = obj.settings.db
    where = db_location(target)
    if is_postgres(source):
        raise ConfigError(f"--db must be the SQLite file to copy, not {describe(source)}")
    if not is_postgres(where):
        raise ConfigError(f"--to must be a postgresql:// URL, got {target!r}")
    if not exists(source):
        raise ConfigError(f"database {source} does not exist: nothing to copy")
    from aggregator.store.postgres.copy import copy_to_postgres

    progress = TerminalProgress(enabled=not quiet and sys.stderr.isatty())
    with Store(where) as store:
        checks = copy_to_postgres(
            Path(source),
            store,
            progress=lambda table, rows: progress(table, rows),
        )
    progress.done()
    bad = [c for c in checks if not c.ok]
    if not quiet:
        for check in checks:
            status = "ok" if check.ok else "MISMATCH"
            click.echo(
                f"{check.table:<14} {check.target_rows:>9} rows  copied {check.copied:>9}  "
                f"checksum {check.target_sum}  {status}"
            )
    if bad:
        raise StorageError(
            "the copy differs from the source in "
            + ", ".join(
                f"{c.table} ({c.source_rows} rows, checksum {c.source_sum} here; "
                f"{c.target_rows} rows, {c.target_sum} there)"
                for c in bad
            )
            + ": was the SQLite database written to during the copy? Run migrate again."
        )
    click.echo(f"copied {source} to {describe(where)}: {len(checks)} tables verified")
