"""The ``reembed`` command: vectors of the configured model for every stored article, after a
model change, with a progress bar."""

from __future__ import annotations

import sys

import click

from aggregator.cli.context import Context, open_pipeline, setup_logging
from aggregator.embed import model_name

EMBED_BATCH = 128  # articles per step of the progress bar


@click.command()
@click.option(
    "--drop-others",
    is_flag=True,
    help="Then delete the vectors of every other model (they are kept by default, so going back "
    "to the old model costs nothing).",
)
@click.pass_obj
def reembed(obj: Context, drop_others: bool) -> None:
    """Embed every article that has no vectors of the configured model yet.

    Vectors are stored with their model's name, and clustering and search only ever read the
    configured model's, so a database never mixes two models. A refresh embeds what is missing
    too; this command does it ahead of time, with a progress bar, so the next refresh is short.
    Stories stay as they are: new articles join them through the new model's vectors.
    """
    setup_logging(obj.verbose, quiet=False)
    name = model_name(obj.settings.model)
    pipeline = open_pipeline(obj.settings)
    try:
        store = pipeline.store
        before = store.embedding_models()
        missing = store.count_missing_embeddings(name)
        others = ", ".join(f"{m} ({n})" for m, n in sorted(before.items()) if m != name)
        click.echo(
            f"model {name}: {missing} articles to embed"
            + (f"; also stored: {others}" if others else "")
        )
        if missing:
            with click.progressbar(length=missing, label="embedding", file=sys.stderr) as bar:
                done = 0
                while True:
                    step = pipeline.embed_pending(limit=EMBED_BATCH)
                    if not step:
                        break
                    bar.update(step)
                    done += step
            click.echo(f"embedded {done} articles with {name}")
        if drop_others:
            dropped = store.drop_embeddings_except(name)
            click.echo(f"deleted {dropped} vectors of other models")
    finally:
        store.close()
