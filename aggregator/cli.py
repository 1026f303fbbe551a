"""The command line. Thin commands over the library; errors become exit codes here and only here.

Exit codes: 0 success, 1 some feeds failed or a storage error, 2 configuration error,
3 another refresh holds the lock.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from aggregator.config import Settings, bundled, load_feeds, settings_help
from aggregator.errors import AggregatorError, ConfigError, LockedError, StorageError

log = logging.getLogger("aggregator")
REPO_ROOT = Path(__file__).resolve().parent.parent
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


def _setup_logging(verbose: int, quiet: bool) -> None:
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
    settings: Settings
    verbose: int


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


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
    type=click.Path(path_type=Path),
    default=None,
    help="Database file [env AGGREGATOR_DB; default data/aggregator.db].",
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
    help="Embedding model: minilm, minilm-onnx, e5, or a sentence-transformers name "
    "or path [env AGGREGATOR_MODEL; default minilm].",
)
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv for debug).")
@click.version_option(package_name="aggregator")
@click.pass_context
def cli(
    ctx: click.Context, db: Path | None, feeds_path: Path | None, model: str | None, verbose: int
) -> None:
    """Automotive news from many feeds and languages, clustered into stories."""
    try:
        settings = Settings.from_env(db=db, feeds=feeds_path, model=model)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    ctx.obj = Context(settings, verbose)
    _setup_logging(verbose, quiet=False)


def _pipeline(settings: Settings, progress: Any = None) -> Any:
    from aggregator.pipeline import Pipeline

    return Pipeline.build(settings, progress=progress) if progress else Pipeline.build(settings)


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


def _run_refresh(settings: Settings, feeds: Any, *, quiet: bool, as_json: bool, force: bool) -> int:
    progress = TerminalProgress(sys.stderr.isatty() and not quiet and not as_json)
    pipeline = _pipeline(settings, progress)
    try:
        report = pipeline.refresh(feeds, force=force)
    finally:
        progress.done()
        pipeline.store.close()
    code = 0 if report.feeds_failed == 0 else EXIT_FAILED
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif not quiet or code:
        stream_err = bool(code and quiet)
        click.echo(report.summary_line(), err=stream_err)
        for name, error in report.failures.items():
            click.echo(f"  failed: {name}: {error}", err=stream_err)
    return code


@cli.command()
@click.option("--quiet", is_flag=True, help="Print nothing when every feed succeeds (for cron).")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.option("--force", is_flag=True, help="Fetch every feed now, ignoring backoff and TTL.")
@click.pass_obj
def refresh(obj: Context, quiet: bool, as_json: bool, force: bool) -> None:
    """Fetch every due feed once, store new articles, update stories (the cron job)."""
    if quiet:
        _setup_logging(obj.verbose, quiet=True)
    feeds = load_feeds(obj.settings.feeds)
    sys.exit(_run_refresh(obj.settings, feeds.feeds, quiet=quiet, as_json=as_json, force=force))


def _reader(settings: Settings) -> Any:
    from aggregator.store.read import Reader

    return Reader(settings.db)


def _span(first: datetime, last: datetime) -> str:
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M}–{last:%H:%M}"
    return f"{first:%Y-%m-%d}–{last:%Y-%m-%d}"


@cli.command()
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

    with _reader(obj.settings) as reader:
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
                f"     #{story.id} · {story.n_articles} articles · {story.n_sources} sources · "
                f"{', '.join(story.languages)} · {span}"
            )
            if story.keywords:
                click.echo(f"     keywords: {', '.join(story.keywords)}")
            if story.entities:
                click.echo(f"     involves: {', '.join(story.entities[:6])}")


@cli.command()
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
        since=_utc(since), until=_utc(until), languages=languages, sources=sources, tags=tags
    )
    with _reader(obj.settings) as reader:
        hits = run_search(
            reader, query, mode=mode, limit=limit, filters=filters, model=obj.settings.model
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


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


@cli.group(invoke_without_command=True)
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
    if reset or reset_all:
        from aggregator.store import Store

        with Store(settings.db) as store:
            count = store.reset_feeds(None if reset_all else list(reset))
        click.echo(f"reset {count} feed(s)")
        return
    if not settings.db.exists():
        click.echo("No database yet. Run `aggregator refresh` (or `aggregator demo`).")
        return
    with _reader(settings) as reader:
        rows = reader.feeds()
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


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
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
            yield record


def _validated_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file, checked before anything is written."""
    from aggregator.pipeline import article_from_record

    records = list(_read_jsonl(path))
    now = datetime.now(UTC)
    for number, record in enumerate(records, start=1):
        try:
            article_from_record(record, number, "import", now)
        except AggregatorError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    return records


@cli.command(name="import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--source", default="import", show_default=True, help="Source name for records without one."
)
@click.pass_obj
def import_(obj: Context, path: Path, source: str) -> None:
    """Add articles from a JSONL file (title, text, url; optional published, source, language,
    id) through the same dedup, embed, cluster and store path as fetched articles."""
    records = _validated_records(path)
    pipeline = _pipeline(obj.settings, TerminalProgress(sys.stderr.isatty()))
    try:
        count, report = pipeline.import_records(records, source=source)
    finally:
        pipeline.store.close()
    click.echo(
        f"read {count} records; new articles={report.new_articles}; "
        f"new stories={report.new_stories} updated stories={report.updated_stories}"
    )


@cli.command()
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
    """Every article with url, id, story_id, title, source, published and language."""
    with _reader(obj.settings) as reader:
        rows = reader.export_articles()
        handle = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            if fmt == "jsonl":
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
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
                ]
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                for row in rows:
                    writer.writerow(row)
        finally:
            if output:
                handle.close()


@cli.command()
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

    with _reader(obj.settings) as reader:
        written = write_feeds(reader, out_dir, limit=limit, base_url=base_url, authority=authority)
    for item in written:
        click.echo(f"{item.path}: {item.entries} stories")


@cli.group()
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


def _demo_dir() -> Path:
    return bundled(Path("data/demo"))


@cli.command()
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
@click.option("--port", default=0, show_default=True, help="Port for the demo server (0: any).")
@click.pass_obj
def demo(obj: Context, until: datetime | None, replay: bool, serve_only: bool, port: int) -> None:
    """Serve the bundled demo corpus on 127.0.0.1 and refresh from it, through the real code."""
    from aggregator.demo import DemoCorpus, DemoServer

    corpus = DemoCorpus.load(_demo_dir())
    moment = _utc(until)
    with DemoServer(corpus, until=moment, port=port) as server:
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
                _run_refresh(obj.settings, feeds, quiet=False, as_json=False, force=True)
                day += timedelta(days=1)
        else:
            _run_refresh(obj.settings, feeds, quiet=False, as_json=False, force=True)
    click.echo(f"database: {obj.settings.db}  ·  next: aggregator stories, aggregator dashboard")


@cli.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
def dashboard(obj: Context, port: int, host: str) -> None:
    """Start the Streamlit dashboard on the configured database."""
    app = REPO_ROOT / "dashboard" / "streamlit_app.py"
    if not app.exists():
        raise ConfigError(f"dashboard not found at {app}")
    env = {
        **os.environ,
        "AGGREGATOR_DB": str(obj.settings.db.resolve()),
        "AGGREGATOR_MODEL": obj.settings.model,
    }
    click.echo(f"dashboard on http://{host}:{port}  (database {obj.settings.db})")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]
    sys.exit(subprocess.call(command, env=env))


@cli.command(name="eval")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--shuffle",
    "seeds",
    multiple=True,
    type=int,
    help="Cluster in a shuffled order with this seed (repeatable; mean reported).",
)
@click.option("--no-dates", is_flag=True, help="Ignore 'published' (clustering without time).")
@click.option(
    "--label",
    "label_key",
    default="event",
    show_default=True,
    help="Field holding the gold event label.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eval_(
    obj: Context, path: Path, seeds: tuple[int, ...], no_dates: bool, label_key: str, as_json: bool
) -> None:
    """Cluster labelled articles through the import path and print B-cubed P/R/F1, AMI, ARI."""
    from aggregator.evaluate import score

    records = list(_read_jsonl(path))
    for number, record in enumerate(records, start=1):
        if label_key not in record:
            raise ConfigError(f"{path}:{number}: missing the gold label {label_key!r}")
    runs = []
    for seed in seeds or (None,):
        ordered = list(enumerate(records))
        if seed is not None:
            random.Random(seed).shuffle(ordered)
        with tempfile.TemporaryDirectory(prefix="aggregator-eval-") as tmp:
            settings = Settings.from_env(db=Path(tmp) / "eval.db", model=obj.settings.model)
            items = []
            for index, record in ordered:
                item = {k: v for k, v in record.items() if k != label_key}
                item["id"] = str(index)
                item.setdefault("url", f"urn:eval:{index}")
                if no_dates:
                    item.pop("published", None)
                items.append(item)
            pipeline = _pipeline(settings)
            try:
                pipeline.import_records(items, source="eval")
            finally:
                pipeline.store.close()
            with _reader(settings) as reader:
                exported = list(reader.export_articles())
        predicted = {str(r["id"]): str(r["story_id"]) for r in exported}
        gold = {str(i): str(r[label_key]) for i, r in enumerate(records) if str(i) in predicted}
        languages = {str(r["id"]): str(r["language"]) for r in exported}
        runs.append(score(gold, predicted, groups=languages))
    _print_scores(runs, as_json, len(records))


def _print_scores(runs: list[Any], as_json: bool, total: int) -> None:
    keys = ("bcubed_precision", "bcubed_recall", "bcubed_f1", "ami", "ari")
    mean = {k: sum(getattr(r, k) for r in runs) / len(runs) for k in keys}
    groups: dict[str, float] = {}
    for run in runs:
        for group, value in run.group_precision.items():
            groups[group] = groups.get(group, 0.0) + value / len(runs)
    if as_json:
        click.echo(
            json.dumps(
                {
                    **mean,
                    "runs": len(runs),
                    "items": runs[0].n_items,
                    "gold_events": runs[0].n_gold,
                    "stories": runs[0].n_pred,
                    "precision_by_language": groups,
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"items {runs[0].n_items}/{total} · gold events {runs[0].n_gold} · "
        f"stories {runs[0].n_pred} · runs {len(runs)}"
    )
    click.echo(
        "B-cubed precision {bcubed_precision:.4f}  recall {bcubed_recall:.4f}  "
        "F1 {bcubed_f1:.4f}  AMI {ami:.4f}  ARI {ari:.4f}".format(**mean)
    )
    if groups:
        click.echo(
            "precision by language: " + ", ".join(f"{g} {v:.3f}" for g, v in sorted(groups.items()))
        )


@cli.command(name="extract")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True)
@click.option("--allow-private", is_flag=True, help="Allow a URL on a private/loopback address.")
@click.pass_obj
def extract_cmd(obj: Context, target: str, as_json: bool, allow_private: bool) -> None:
    """Print the text and metadata extracted from a URL or an HTML file, and which method won."""
    from aggregator.extract import extract
    from aggregator.fetch import PAGE_ACCEPT, Fetcher, FetchPolicy

    charset = None
    if target.startswith(("http://", "https://")):
        policy = FetchPolicy(
            connect_timeout=obj.settings.connect_timeout,
            read_timeout=obj.settings.read_timeout,
            max_bytes=obj.settings.max_page_bytes,
            max_redirects=obj.settings.max_redirects,
            allow_private=allow_private,
        )
        with Fetcher() as fetcher:
            page = fetcher.get(target, policy, accept=PAGE_ACCEPT)
        body, url, charset = page.body, page.final_url, page.charset
    else:
        source = Path(target)
        if not source.is_file():
            raise ConfigError(f"{target}: no such file (give a file or an http(s) URL)")
        body, url = source.read_bytes(), source.resolve().as_uri()
    result = extract(body, url, charset=charset)
    meta = {
        "method": result.method,
        "is_article": result.is_article,
        "title": result.title,
        "author": result.author,
        "published": result.published.isoformat() if result.published else None,
        "language": result.language,
        "image": result.image,
        "canonical_url": result.canonical_url,
        "characters": len(result.text),
    }
    if as_json:
        click.echo(json.dumps({**meta, "text": result.text}, ensure_ascii=False, indent=2))
        return
    for key, value in meta.items():
        click.echo(f"{key}: {value}")
    click.echo("")
    click.echo(result.text)


@cli.command(name="settings")
def settings_cmd() -> None:
    """List every setting with its environment variable and default."""
    for name, default, kind in settings_help():
        click.echo(f"{name}={default}  ({kind})")


def main() -> None:
    try:
        cli(prog_name="aggregator")
    except StorageError as exc:
        fail(str(exc), EXIT_FAILED)
