"""Commands that talk to other feed readers: OPML import and export of the feed list, Atom
feeds of the top stories (``publish``) and saved searches with alerts (``watch``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from aggregator.cli.context import Context, open_reader
from aggregator.cli.reading import feeds
from aggregator.config import load_feeds
from aggregator.errors import ConfigError


@feeds.command(name="import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be added; write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Add the good feeds even if some are bad.")
@click.pass_obj
def feeds_import(obj: Context, path: Path, dry_run: bool, skip_invalid: bool) -> None:
    """Add the subscriptions of an OPML file to the feed list (folders become tags)."""
    from aggregator.opml import import_opml

    plan = import_opml(path, obj.settings.feeds, dry_run=dry_run, skip_invalid=skip_invalid)
    for line in (*plan.notes, *(f"duplicate: {d}" for d in plan.duplicates)):
        click.echo(f"  {line}")
    if not plan.ok:
        for line in plan.invalid:
            click.echo(f"  invalid: {line}", err=True)
        raise ConfigError(
            f"{path}: {len(plan.invalid)} invalid address(es); nothing written "
            "(--skip-invalid adds the others)"
        )
    verb = "would add" if dry_run else "added"
    click.echo(
        f"{verb} {len(plan.added)} feed(s) to {obj.settings.feeds}; "
        f"{len(plan.duplicates)} duplicate(s) skipped"
    )
    for feed in plan.added:
        tags = f" [{', '.join(feed.tags)}]" if feed.tags else ""
        click.echo(f"  + {feed.name}: {feed.url}{tags}")


@feeds.command(name="export")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to a file instead of standard output.",
)
@click.pass_obj
def feeds_export(obj: Context, output: Path | None) -> None:
    """Write the feed list as OPML 2.0 for other feed readers."""
    from aggregator.opml import export_opml, write_atomically

    data = export_opml(load_feeds(obj.settings.feeds).feeds)
    if output:
        write_atomically(output, data.decode("utf-8"))
    else:
        click.echo(data.decode("utf-8"), nl=False)


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory for top.atom and watch-<name>.atom.",
)
@click.option("--limit", default=30, show_default=True, help="Stories per feed.")
@click.option(
    "--base-url", default=None, help="Public URL of the directory, for each feed's rel=self link."
)
@click.option(
    "--authority",
    default="aggregator.localhost",
    show_default=True,
    help="Domain in the entries' tag: ids; keep it fixed once readers subscribe.",
)
@click.pass_obj
def publish(obj: Context, out_dir: Path, limit: int, base_url: str | None, authority: str) -> None:
    """Write Atom feeds of the top stories and of every saved search."""
    from aggregator.publish import publish as write_feeds

    with open_reader(obj.settings) as reader:
        written = write_feeds(reader, out_dir, limit=limit, base_url=base_url, authority=authority)
    for item in written:
        click.echo(f"{item.path}: {item.entries} stories")


@click.group()
def watch() -> None:
    """Saved searches that record new matching articles after each refresh."""


@watch.command(name="add")
@click.argument("name")
@click.argument("query")
@click.option(
    "--mode",
    type=click.Choice(["keyword", "semantic", "hybrid"]),
    default="keyword",
    show_default=True,
)
@click.option("--language", "languages", multiple=True, help="Only articles in this language.")
@click.option("--source", "sources", multiple=True, help="Only articles from this feed.")
@click.option("--tag", "tags", multiple=True, help="Only articles with this feed tag.")
@click.option("--email", default=None, help="Send alerts to this address (AGGREGATOR_SMTP_*).")
@click.option("--webhook", default=None, help="POST alerts as JSON to this http(s) URL.")
@click.pass_obj
def watch_add(
    obj: Context,
    name: str,
    query: str,
    mode: str,
    languages: tuple[str, ...],
    sources: tuple[str, ...],
    tags: tuple[str, ...],
    email: str | None,
    webhook: str | None,
) -> None:
    """Save a search; it alerts on articles stored from now on."""
    from aggregator.config import check_url
    from aggregator.store import Store
    from aggregator.store import watches as db
    from aggregator.store.read import Filters
    from aggregator.watch import check_name

    problem = check_name(name)
    if problem:
        raise ConfigError(f"watch name {name!r} {problem}")
    if webhook and (why := check_url(webhook)):
        raise ConfigError(f"--webhook {webhook!r} {why}")
    if email is not None and "@" not in email:
        raise ConfigError(f"--email {email!r} is not an e-mail address")
    with Store(obj.settings.db) as store:
        db.add_watch(
            store,
            name=name,
            query=query,
            mode=mode,
            filters=Filters(languages=languages, sources=sources, tags=tags),
            email=email,
            webhook=webhook,
            now=datetime.now(UTC),
        )
    click.echo(f"saved search {name!r} added; it matches articles from the next refresh on")


@watch.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def watch_list(obj: Context, as_json: bool) -> None:
    """Every saved search with its unread and total hits."""
    from aggregator.store import Store
    from aggregator.store import watches as db

    with Store(obj.settings.db) as store:
        rows = db.list_watches(store.conn)
    if not rows and not as_json:
        click.echo("No saved searches. Add one with `aggregator watch add NAME QUERY`.")
    for row in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "name": row.name,
                        "query": row.query,
                        "mode": row.mode,
                        "languages": list(row.languages),
                        "sources": list(row.sources),
                        "tags": list(row.tags),
                        "email": row.email,
                        "webhook": row.webhook,
                        "unread": row.unread,
                        "hits": row.total,
                    },
                    ensure_ascii=False,
                )
            )
            continue
        click.echo(f"{row.name}: {row.query!r} ({row.mode}) · {row.unread} unread of {row.total}")


@watch.command(name="remove")
@click.argument("name")
@click.pass_obj
def watch_remove(obj: Context, name: str) -> None:
    """Delete a saved search and its hits."""
    from aggregator.store import Store
    from aggregator.store import watches as db

    with Store(obj.settings.db) as store:
        if not db.remove_watch(store, name):
            raise ConfigError(f"no saved search named {name!r}")
    click.echo(f"removed {name!r}")


@watch.command(name="hits")
@click.argument("name")
@click.option("--unread", is_flag=True, help="Only hits not yet marked read.")
@click.option("--mark-read", is_flag=True, help="Mark the hits shown as read.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def watch_hits(obj: Context, name: str, unread: bool, mark_read: bool, as_json: bool) -> None:
    """The articles a saved search matched, newest first ('*' marks unread)."""
    from aggregator.store import Store
    from aggregator.store import watches as db
    from aggregator.watch import hit_record

    with Store(obj.settings.db) as store:
        found = db.get_watch(store.conn, name)
        rows = db.hits(store.conn, found, unread_only=unread)
        for hit in rows:
            if as_json:
                click.echo(json.dumps(hit_record(hit), ensure_ascii=False))
                continue
            flag = " [new story]" if hit.new_story else ""
            when = f"{hit.published:%Y-%m-%d %H:%M}" if hit.published else "?"
            click.echo(f"{' ' if hit.read else '*'} {when} {hit.source}: {hit.title}{flag}")
            if hit.story:
                click.echo(f"    story #{hit.story_id}: {hit.story}")
        if mark_read and rows:
            count = db.mark_read(store, found, [h.id for h in rows])
            if not as_json:
                click.echo(f"marked {count} read")
