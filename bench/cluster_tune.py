"""Re-cluster labelled sets in seconds, to weigh a clustering change on every dev set at once.

`aggregator eval` measures the whole import path, embedding included, which takes minutes with a
multilingual model. Clustering decisions only need the stored vectors and entities, so this script
imports each labelled file once per model into a cached database (under ``$AGGREGATOR_CACHE/tune``)
and then runs the clusterer alone, exactly as an import's clustering step does (every article in
publication order, then consolidation, then the split pass), with any setting overridden:

    python bench/cluster_quality.py --export-jsonl DIR          # the labelled files
    python bench/cluster_tune.py DIR/demo.jsonl DIR/ecb.jsonl:nodates:0,1,2 DIR/uci.jsonl \\
        --set merge_threshold=0.40 --set link_threshold=0.22

``FILE:nodates:SEEDS`` drops publication times and averages over shuffled arrival orders, as
``aggregator eval --no-dates --shuffle`` does. Figures match `aggregator eval` on the same model.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.cluster import ClusterDoc, Clusterer, ClusterSettings  # noqa: E402
from aggregator.config import Settings  # noqa: E402
from aggregator.embed import DEFAULT_MODEL, cache_dir, model_name  # noqa: E402
from aggregator.evaluate import score  # noqa: E402
from aggregator.pipeline import Pipeline, read_jsonl  # noqa: E402
from aggregator.pipeline.derive import cluster_doc  # noqa: E402
from aggregator.store import Store  # noqa: E402
from aggregator.store.read import Reader  # noqa: E402

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def imported(path: Path, model: str) -> Path:
    """A database holding ``path``'s records, embedded with ``model``; built once, then cached."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    db = cache_dir() / "tune" / f"{path.stem}-{model_name(model)}-{digest}.db"
    if db.exists():
        return db
    db.parent.mkdir(parents=True, exist_ok=True)
    staging = db.with_suffix(".partial")
    staging.unlink(missing_ok=True)
    items = []
    for index, record in enumerate(read_jsonl(path)):
        item = {k: v for k, v in record.items() if k != "event"}
        item["id"] = str(index)
        item.setdefault("url", f"urn:eval:{index}")
        items.append(item)
    with Pipeline.build(Settings(db=staging, model=model)) as pipeline:
        pipeline.import_records(items, source="eval")
    staging.rename(db)
    return db


def load(path: Path, model: str) -> tuple[list[ClusterDoc], dict[int, str], dict[int, str]]:
    """The set's articles as the clusterer sees them, with gold labels and languages by id."""
    records = list(read_jsonl(path))
    db = imported(path, model)
    store = Store(db)  # opening the store upgrades a database cached by an older version
    try:
        docs = [cluster_doc(d) for d in store.window_members(_EPOCH, model_name(model))]
    finally:
        store.close()
    with Reader(db) as reader:
        external = {int(r["article_id"]): int(r["id"]) for r in reader.export_articles()}
    gold = {d.article_id: str(records[external[d.article_id]]["event"]) for d in docs}
    languages = {d.article_id: d.language or "und" for d in docs}
    return docs, gold, languages


def run(
    docs: list[ClusterDoc], settings: ClusterSettings, seed: int | None, dates: bool
) -> dict[int, int]:
    """Article id -> story id after clustering ``docs`` as one import would."""
    order = list(docs)
    if seed is not None:
        random.Random(seed).shuffle(order)
    renumbered = {}
    prepared = []
    for position, doc in enumerate(order, start=1):
        renumbered[position] = doc.article_id
        prepared.append(
            dataclasses.replace(
                doc, article_id=position, published=doc.published if dates else None
            )
        )
    prepared.sort(key=lambda d: (d.published.timestamp() if d.published else 0.0, d.article_id))
    clusterer = Clusterer(settings)
    clusterer.calibrate(prepared)
    for doc in prepared:
        clusterer.add(doc)
    clusterer.consolidate()
    clusterer.split()
    return {
        renumbered[a]: renumbered[story]
        for story, members in clusterer.stories().items()
        for a in members
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="FILE.jsonl[:nodates][:SEED,SEED...]")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--set", action="append", default=[], help="SETTING=VALUE")
    args = parser.parse_args()
    overrides: dict[str, float] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = float(value)
    multilingual = model_name(args.model) in {
        "multilingual-e5-small-onnx-int8",
        "multilingual-e5-small-q4",
    }
    settings = ClusterSettings.for_embedder(
        model_name(args.model), multilingual=multilingual, **overrides
    )
    for spec in args.sets:
        path_text, *options = spec.split(":")
        dates = "nodates" not in options
        seeds: list[int | None] = [None]
        for option in options:
            if option != "nodates":
                seeds = [int(s) for s in option.split(",")]
        docs, gold, languages = load(Path(path_text), args.model)
        started = time.perf_counter()
        runs = [
            score(
                {str(k): v for k, v in gold.items()},
                {str(k): str(v) for k, v in run(docs, settings, seed, dates).items()},
                groups={str(k): v for k, v in languages.items()},
            )
            for seed in seeds
        ]
        seconds = time.perf_counter() - started
        keys = ("bcubed_precision", "bcubed_recall", "bcubed_f1")
        mean = {k: sum(getattr(r, k) for r in runs) / len(runs) for k in keys}
        worst = {}
        for r in runs:
            for group, value in r.group_precision.items():
                worst[group] = min(worst.get(group, 1.0), value)
        low = ", ".join(f"{g} {v:.3f}" for g, v in sorted(worst.items()) if v < 0.95)
        print(
            f"{Path(path_text).stem:>8}: P {mean['bcubed_precision']:.3f}  "
            f"R {mean['bcubed_recall']:.3f}  F1 {mean['bcubed_f1']:.3f}  "
            f"stories {runs[0].n_pred} for {runs[0].n_gold} events"
            f"  ({seconds:.1f} s){'  precision < .95: ' + low if low else ''}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
