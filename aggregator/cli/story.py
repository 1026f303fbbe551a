"""One story from the command line, and readers' corrections: ``story ID`` shows a story,
``story move|split|merge|undo`` correct the clustering, ``corrections`` lists the history.

Showing is the default, so ``aggregator story 42`` and ``aggregator story show 42`` are the same.
The correcting commands are refused (exit 2) when ``AGGREGATOR_READONLY=1``; a correction that
cannot be made as asked exits 1 and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from aggregator.cli.context import Context, open_reader
from aggregator.errors import ConfigError, CorrectionError
from aggregator.text import plural

if TYPE_CHECKING:
    from aggregator.pipeline.corrections import Corrections
    from aggregator.store.read import CorrectionRow, StoryDetail


class DefaultGroup(click.Group):
    """A group whose first argument, when it names no subcommand, goes to ``show``."""

    default = "show"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default, *args]
        return super().parse_args(ctx, args)


BY = click.option("--by", "by", default=None, metavar="NAME", help="Who made the correction.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group(cls=DefaultGroup)
def story() -> None:
    """Show one story (the default: `aggregator story ID`), or correct the clustering."""


@story.command(name="show")
@click.argument("story_id", type=int)
@AS_JSON
@click.pass_obj
def show(obj: Context, story_id: int, as_json: bool) -> None:
    """A story's label, keywords, entities, articles by source, coverage timeline and merges."""
    with open_reader(obj.settings) as reader:
        detail = reader.story(story_id)
        if detail is None:
            raise CorrectionError(f"there is no story {story_id}")
        merged = reader.merged_into(detail.story.id)
        corrections = reader.story_corrections(detail.story.id)
    if as_json:
        click.echo(json.dumps(_story_json(detail, merged, corrections), ensure_ascii=False))
        return
    _print_story(detail, merged, corrections)


def _coverage(detail: StoryDetail) -> tuple[str, list[tuple[str, int]]]:
    series = detail.coverage()
    hourly = len(series) > 1 and (series[1][0] - series[0][0]).days == 0
    pattern = "%Y-%m-%d %H:00" if hourly else "%Y-%m-%d"
    return ("hour" if hourly else "day"), [(t.strftime(pattern), n) for t, n in series]


def _story_json(
    detail: StoryDetail, merged: list[int], corrections: list[CorrectionRow]
) -> dict[str, Any]:
    s = detail.story
    step, series = _coverage(detail)
    return {
        "id": s.id,
        "requested_id": detail.requested_id,
        "headline": s.headline,
        "articles": s.n_articles,
        "sources": s.n_sources,
        "languages": list(s.languages),
        "keywords": list(s.keywords),
        "entities": list(s.entities),
        "mentions": [
            {"id": e, "name": name, "kind": kind, "count": n}
            for e, name, kind, n in detail.mentions
        ],
        "first": s.first_published.isoformat(),
        "last": s.last_published.isoformat(),
        "lead_article_id": s.lead_article_id,
        "by_source": [
            {
                "source": source,
                "articles": [
                    {
                        "article_id": a.id,
                        "title": a.title,
                        "url": a.url,
                        "language": a.language,
                        "published": a.published.isoformat(),
                    }
                    for a in rows
                ],
            }
            for source, rows in detail.by_source()
        ],
        "coverage": {"step": step, "counts": series},
        "merged": merged,
        "corrections": [c.as_dict() for c in corrections],
    }


def _print_story(detail: StoryDetail, merged: list[int], corrections: list[CorrectionRow]) -> None:
    s = detail.story
    if detail.merged:
        click.echo(f"(story {detail.requested_id} was merged into story {s.id})")
    click.echo(f"#{s.id} {s.headline}")
    click.echo(
        f"{plural(s.n_articles, 'article')} · {plural(s.n_sources, 'source')} · "
        f"{', '.join(s.languages)} · {s.first_published:%Y-%m-%d %H:%M} – "
        f"{s.last_published:%Y-%m-%d %H:%M} UTC"
    )
    if s.keywords:
        click.echo(f"keywords: {', '.join(s.keywords)}")
    if s.entities:
        click.echo(f"involves: {', '.join(s.entities)}")
    if merged:
        click.echo(f"merged into it: {', '.join(f'#{m}' for m in merged)}")
    step, series = _coverage(detail)
    if series:
        click.echo(f"\ncoverage (articles per {step}, UTC):")
        top = max(n for _, n in series) or 1
        quiet = False
        for label, count in series:
            if not count:
                if not quiet:
                    click.echo("  …")  # a run of slots without articles
                quiet = True
                continue
            quiet = False
            bar = "█" * max(1, round(count * 30 / top))
            click.echo(f"  {label:<16} {count:>3} {bar}")
    click.echo(f"\narticles by source ({plural(len(detail.by_source()), 'source')}):")
    for source, rows in detail.by_source():
        click.echo(f"  {source} ({len(rows)})")
        for a in rows:
            click.echo(
                f"    [{a.id}] {a.published:%Y-%m-%d %H:%M} {a.language or 'und'}  {a.title}"
            )
            click.echo(f"          {a.url}")
    if corrections:
        click.echo("\ncorrections:")
        for c in corrections:
            click.echo(f"  {_history_line(c)}")


# corrections ----------------------------------------------------------------------------------


@contextmanager
def _corrections(obj: Context) -> Iterator[Corrections]:
    """The corrections API on the configured database, refused when it is read-only."""
    if obj.settings.readonly:
        raise ConfigError(
            "corrections are turned off on this deployment (AGGREGATOR_READONLY=1); "
            "unset it to move, split, merge or undo"
        )
    from aggregator.embed import model_name
    from aggregator.pipeline.corrections import Corrections
    from aggregator.store import Store
    from aggregator.store.engine import exists

    if not exists(obj.settings.db):
        raise CorrectionError(
            f"database {obj.settings.db} does not exist: run `aggregator refresh`"
        )
    with Store(obj.settings.db) as store:
        yield Corrections(
            store,
            model=model_name(obj.settings.model),
            reader_language=obj.settings.reader_language,
        )


def _report(row: CorrectionRow, as_json: bool, line: str) -> None:
    if as_json:
        click.echo(json.dumps(row.as_dict(), ensure_ascii=False))
    else:
        click.echo(line)


@story.command(name="move")
@click.argument("article_id", type=int)
@click.option("--to", "to_story", type=int, required=True, help="The story to move it to.")
@BY
@AS_JSON
@click.pass_obj
def move(obj: Context, article_id: int, to_story: int, by: str | None, as_json: bool) -> None:
    """Move an article (its id as `aggregator story ID` shows it) to another story."""
    with _corrections(obj) as fix:
        row = fix.move(article_id, to_story, by=by)
    _report(row, as_json, f"correction {row.id}: {row.describe()}")


@story.command(name="split")
@click.argument("story_id", type=int)
@click.argument("article_ids", type=int, nargs=-1, required=True)
@BY
@AS_JSON
@click.pass_obj
def split(
    obj: Context, story_id: int, article_ids: tuple[int, ...], by: str | None, as_json: bool
) -> None:
    """Split some articles off a story into a new story, and print the new story's id."""
    with _corrections(obj) as fix:
        row = fix.split(story_id, list(article_ids), by=by)
    _report(row, as_json, f"{row.target_id}")
    if not as_json:
        click.echo(f"correction {row.id}: {row.describe()}", err=True)


@story.command(name="merge")
@click.argument("story_id", type=int)
@click.option("--into", "into", type=int, required=True, help="The story to merge it into.")
@BY
@AS_JSON
@click.pass_obj
def merge(obj: Context, story_id: int, into: int, by: str | None, as_json: bool) -> None:
    """Merge a story into another; its id then leads to the other."""
    with _corrections(obj) as fix:
        row = fix.merge(story_id, into, by=by)
    _report(row, as_json, f"correction {row.id}: {row.describe()}")


@story.command(name="undo")
@BY
@AS_JSON
@click.pass_obj
def undo(obj: Context, by: str | None, as_json: bool) -> None:
    """Revert the last correction still in force (it stays in the history, marked undone)."""
    with _corrections(obj) as fix:
        row = fix.undo(by=by)
    _report(row, as_json, f"undid correction {row.id}: {row.describe()}")


def _history_line(c: CorrectionRow) -> str:
    who = f" by {c.made_by}" if c.made_by else ""
    line = f"{c.id}. {c.made:%Y-%m-%d %H:%M} {c.describe()}{who}"
    if c.undone:
        undoer = f" by {c.undone_by}" if c.undone_by else ""
        line += f" (undone {c.undone:%Y-%m-%d %H:%M}{undoer})"
    return line


@click.command(name="corrections")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@AS_JSON
@click.pass_obj
def corrections(obj: Context, limit: int, as_json: bool) -> None:
    """The history of readers' corrections, newest first, undone ones marked."""
    with open_reader(obj.settings) as reader:
        rows = reader.corrections(limit=limit)
    if not rows and not as_json:
        click.echo("No corrections yet.")
    for row in rows:
        if as_json:
            click.echo(json.dumps(row.as_dict(), ensure_ascii=False))
        else:
            click.echo(_history_line(row))
