"""Commands that show what is stored: ``stories``, ``search``, ``feeds`` and ``export``."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from aggregator.cli.context import DATE_FORMATS, Context, open_reader, utc
from aggregator.config import Settings, bundled
from aggregator.errors import StorageError
from aggregator.text import plural


def _span(first: datetime, last: datetime) -> str:
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M}–{last:%H:%M}"
    return f"{first:%Y-%m-%d}–{last:%Y-%m-%d}"


@click.command()
@click.option("--limit", default=20, show_default=True, help="How many stories.")
@click.option("--language", "languages", multiple=True, help="Only stories with this language.")
@click.option("--source", "sources", multiple=True, help="Only stories covered by this source.")
@click.option("--tag", "tags", multiple=True, help="Only stories with this feed tag.")
@click.option("--days", type=float, default=None, help="Only stories active in the last N days.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")
@click.pass_obj
def stories(
    obj: Context,
    limit: int,
    languages: tuple[str, ...],
    sources: tuple[str, ...],
    tags: tuple[str, ...],
    days: float | None,
    as_json: bool,
) -> None:
    """The top stories now: label, counts, languages and time span."""
    from aggregator.store.read import Filters

    with open_reader(obj.settings) as reader:
        since = reader.reference_now() - timedelta(days=days) if days else None
        rows = reader.top_stories(
            limit=limit,
            filters=Filters(since=since, languages=languages, sources=sources, tags=tags),
        )
        if not rows and not as_json:
            click.echo("No stories yet. Run `aggregator refresh` (or `aggregator demo`).")
        for rank, story in enumerate(rows, start=1):
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "rank": rank,
                            "id": story.id,
                            "headline": story.headline,
                            "score": round(story.score, 4),
                            "articles": story.n_articles,
                            "sources": story.n_sources,
                            "languages": list(story.languages),
                            "keywords": list(story.keywords),
                            "entities": list(story.entities),
                            "first": story.first_published.isoformat(),
                            "last": story.last_published.isoformat(),
                        },
                        ensure_ascii=False,
                    )
                )
                continue
            click.echo(f"{rank:>3}. {story.headline}")
            span = _span(story.first_published, story.last_published)
            click.echo(
                f"     #{story.id} · {plural(story.n_articles, 'article')} · "
                f"{plural(story.n_sources, 'source')} · "
                f"{', '.join(story.languages)} · {span}"
            )
            if story.keywords:
                click.echo(f"     keywords: {', '.join(story.keywords)}")
            if story.entities:
                click.echo(f"     involves: {', '.join(story.entities[:6])}")


@click.command()
@click.argument("query")
@click.option(
    "--mode",
    type=click.Choice(["keyword", "semantic", "hybrid"]),
    default="keyword",
    show_default=True,
    help="Full-text, embedding, or both fused by rank.",
)
@click.option("--limit", default=20, show_default=True)
@click.option("--language", "languages", multiple=True)
@click.option("--source", "sources", multiple=True)
@click.option("--tag", "tags", multiple=True)
@click.option(
    "--since", type=click.DateTime(DATE_FORMATS), default=None, help="Published on or after."
)
@click.option(
    "--until", type=click.DateTime(DATE_FORMATS), default=None, help="Published on or before."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def search(
    obj: Context,
    query: str,
    mode: str,
    limit: int,
    languages: tuple[str, ...],
    sources: tuple[str, ...],
    tags: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """Search articles: "quoted phrases", prefix*, and several words (all must match)."""
    from aggregator.search import search as run_search
    from aggregator.store.read import Filters

    filters = Filters(
        since=utc(since), until=utc(until), languages=languages, sources=sources, tags=tags
    )
    with open_reader(obj.settings) as reader:
        hits = run_search(
            reader,
            query,
            mode=mode,
            limit=limit,
            filters=filters,
            model=obj.settings.model,
            entities=bundled(obj.settings.entities),
        )
    if not hits and not as_json:
        click.echo("No matches.")
    for hit in hits:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": hit.id,
                        "story_id": hit.story_id,
                        "title": hit.title,
                        "source": hit.source,
                        "url": hit.url,
                        "published": hit.published.isoformat(),
                        "language": hit.language,
                        "rank": round(hit.rank, 5),
                    },
                    ensure_ascii=False,
                )
            )
        else:
            click.echo(
                f"[story {hit.story_id}] {hit.published:%Y-%m-%d} {hit.source}: "
                f"{hit.title}\n    {hit.url}"
            )


@click.group(invoke_without_command=True)
@click.option(
    "--reset",
    "reset",
    multiple=True,
    metavar="NAME",
    help="Un-pause a feed and clear its failures (repeatable).",
)
@click.option("--reset-all", is_flag=True, help="Un-pause every feed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_context
def feeds(ctx: click.Context, reset: tuple[str, ...], reset_all: bool, as_json: bool) -> None:
    """Each feed with its last fetch, status, last error and article count."""
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj.settings
    from aggregator.store.engine import describe, exists

    if not exists(settings.db):
        raise StorageError(
            f"database {describe(settings.db)} does not exist: "
            "run `aggregator refresh` (or `aggregator demo`)"
        )
    if reset or reset_all:
        from aggregator.store import Store

        with Store(settings.db) as store:
            count = store.reset_feeds(None if reset_all else list(reset))
        click.echo(f"reset {count} feed(s)")
        return
    with open_reader(settings) as reader:
        rows = reader.feeds()
        last = reader.last_run()
    if last is not None and not as_json:
        click.echo(_run_line(last))
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False, default=str))
            continue
        state = (
            "paused"
            if row["paused"]
            else (
                "failing" if row["consecutive_failures"] else ("ok" if row["last_fetch"] else "new")
            )
        )
        click.echo(
            f"{row['name']}: {state} · last fetch {row['last_fetch'] or 'never'} · "
            f"HTTP {row['last_status'] or '-'} · {row['articles']} articles "
            f"({row['articles_7d']} in 7 days) · failures {row['consecutive_failures']}"
            + (f" · next due {row['next_due']}" if row["next_due"] else "")
        )
        if row["last_error"]:
            click.echo(f"    last error: {row['last_error']}")
        if row["problem"]:
            click.echo(f"    feed problem: {row['problem']}")


def _run_line(run: dict[str, Any]) -> str:
    """The last refresh in one line: when, and whether every feed was healthy after it."""
    report = run["report"]
    line = f"last refresh #{run['id']} {run['finished'] or run['started']}: {run['status']}"
    if run["status"] == "partial" and "feeds_failing" in report:
        line += f" ({report['feeds_failing']} failing, {report['feeds_paused']} paused)"
    elif run["status"] == "partial":  # a report written before failing feeds were counted
        line += f" ({report.get('feeds_failed', 0)} failed)"
    return line


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to a file instead of standard output.",
)
@click.pass_obj
def export(obj: Context, fmt: str, output: Path | None) -> None:
    """Every article with url, id, article_id, story_id, title, source, published and language;
    JSONL adds readers' corrections in force, which `aggregator import` applies again."""
    with open_reader(obj.settings) as reader:
        rows = reader.export_articles()
        handle = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            if fmt == "jsonl":
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                for fix in reversed(reader.corrections(limit=None)):
                    if fix.in_force:
                        line = {"correction": fix.portable()}
                        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            else:
                columns = [
                    "id",
                    "url",
                    "story_id",
                    "title",
                    "source",
                    "published",
                    "language",
                    "summary_only",
                    "article_id",
                ]
                # the text stays in JSONL, which an import reads back; a sheet wants one line a row
                writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                for row in rows:
                    writer.writerow(row)
        finally:
            if output:
                handle.close()
