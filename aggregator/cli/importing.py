"""Commands that take articles from files or single pages: ``import`` (JSONL through the whole
pipeline), ``eval`` (clustering quality against gold labels, or against readers' corrections) and
``extract`` (one page's text)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from aggregator.cli.context import Context, TerminalProgress, open_pipeline
from aggregator.errors import ConfigError


@click.command(name="import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--source", default="import", show_default=True, help="Source name for records without one."
)
@click.pass_obj
def import_(obj: Context, path: Path, source: str) -> None:
    """Add articles from a JSONL file (title, text, url; optional published, source, language,
    id) through the same dedup, embed, cluster and store path as fetched articles; corrections
    in the file (as `aggregator export` writes them) are applied again, by article url."""
    from aggregator.pipeline import validated_records
    from aggregator.pipeline.corrections import Corrections, portable_correction

    records = validated_records(path)
    articles = [r for r in records if "correction" not in r]
    fixes = [
        portable_correction(r["correction"], f"{path}:{number}")
        for number, r in enumerate(records, start=1)
        if "correction" in r
    ]
    if fixes and obj.settings.readonly:
        raise ConfigError(
            f"{path} carries {len(fixes)} correction(s), and corrections are turned off here "
            "(AGGREGATOR_READONLY=1)"
        )
    pipeline = open_pipeline(obj.settings, TerminalProgress(sys.stderr.isatty()))
    try:
        count, report = pipeline.import_records(articles, source=source)
        replayed = Corrections(
            pipeline.store,
            model=pipeline.embedder.name,
            reader_language=obj.settings.reader_language,
        ).replay(fixes)
    finally:
        pipeline.store.close()
    click.echo(
        f"read {count} records; new articles={report.new_articles}; "
        f"new stories={report.new_stories} updated stories={report.updated_stories}"
    )
    if fixes:
        click.echo(
            f"corrections: {replayed.applied} applied, {replayed.known} already here, "
            f"{replayed.skipped} without their articles"
        )


@click.command(name="eval")
@click.argument("path", type=click.Path(path_type=Path), required=False)
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
@click.option(
    "--corrections",
    "check",
    is_flag=True,
    help="Instead of a labelled file: cluster the database's articles afresh, without the "
    "readers' corrections, and count the corrections in force it already agrees with.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eval_(
    obj: Context,
    path: Path | None,
    seeds: tuple[int, ...],
    no_dates: bool,
    label_key: str,
    check: bool,
    as_json: bool,
) -> None:
    """Cluster labelled articles through the import path and print B-cubed P/R/F1, AMI, ARI;
    with --corrections, say which corrections the current settings would have made
    unnecessary."""
    if check:
        if path is not None:
            raise ConfigError("give a labelled file or --corrections, not both")
        _eval_corrections(obj, as_json)
        return
    if path is None:
        raise ConfigError("give a labelled JSONL file to score, or --corrections")
    from aggregator.evaluate import evaluate_file

    result = evaluate_file(path, obj.settings, seeds=seeds, dates=not no_dates, label_key=label_key)
    runs, mean, groups = result.runs, result.mean(), result.precision_by_language()
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
        f"items {runs[0].n_items}/{result.total} · gold events {runs[0].n_gold} · "
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


def _eval_corrections(obj: Context, as_json: bool) -> None:
    from aggregator.evaluate import check_corrections

    result = check_corrections(obj.settings)
    counts = {k: result.count(k) for k in ("unnecessary", "needed", "overridden")}
    if as_json:
        checks = [
            {**v.correction.as_dict(), "verdict": v.verdict, "pairs": v.pairs, "kept": v.kept}
            for v in result.verdicts
        ]
        click.echo(
            json.dumps(
                {
                    "model": result.model,
                    "articles": result.articles,
                    "stories": result.stories,
                    "corrections": len(result.verdicts),
                    **counts,
                    "checks": checks,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not result.verdicts:
        click.echo(f"no corrections in force in {obj.settings.db}")
        return
    click.echo(
        f"clustered {result.articles} articles afresh with {result.model}, without corrections: "
        f"{result.stories} stories"
    )
    click.echo(
        f"corrections in force {len(result.verdicts)} · unnecessary now "
        f"{counts['unnecessary']} · still needed {counts['needed']} · overridden by later "
        f"ones {counts['overridden']}"
    )
    for v in result.verdicts:
        row = v.correction
        click.echo(
            f"  #{row.id} {v.verdict:<11} {row.describe()} — {v.kept} of {v.pairs} article "
            "pairs kept"
        )


@click.command(name="extract")
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
