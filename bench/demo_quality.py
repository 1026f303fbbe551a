"""Refresh the demo corpus into a fresh database and score it against data/demo/gold.jsonl.

Prints clustering B-cubed precision/recall/F1 (overall and per language, plus AMI and ARI),
extraction word-4-gram shingle precision/recall/F1 against the gold bodies (averaged per page), and
the counts of feeds, articles, events and languages.

    python bench/demo_quality.py [--model minilm|minilm-onnx|e5|NAME] [--db postgresql://...]

``--db`` runs it on an empty PostgreSQL database instead of a temporary SQLite file, so the two
engines' figures can be compared.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config import Settings, db_location  # noqa: E402
from aggregator.demo import DemoCorpus, DemoServer  # noqa: E402
from aggregator.evaluate import score  # noqa: E402
from aggregator.extract.candidates import shingles  # noqa: E402
from aggregator.pipeline import Pipeline  # noqa: E402
from aggregator.store import Store  # noqa: E402


def shingle_prf(gold: str, predicted: str) -> tuple[float, float, float]:
    truth, guess = shingles(gold), shingles(predicted)
    if not truth or not guess:
        return (1.0, 1.0, 1.0) if truth == guess else (0.0, 0.0, 0.0)
    common = len(truth & guess)
    precision, recall = common / len(guess), common / len(truth)
    return precision, recall, (2 * precision * recall / (precision + recall) if common else 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--db", default=None, help="an empty postgresql:// database to use")
    args = parser.parse_args(argv)
    corpus = DemoCorpus.load(REPO / "data" / "demo")
    with tempfile.TemporaryDirectory(prefix="demo-quality-") as tmp, DemoServer(corpus) as server:
        where = db_location(args.db) if args.db else Path(tmp) / "demo.db"
        settings = Settings.from_env(db=where, model=args.model, per_host=8)
        started = time.perf_counter()
        with Pipeline.build(settings) as pipeline:
            report = pipeline.refresh(server.feeds(), force=True)
        elapsed = time.perf_counter() - started
        gold = {g["url"]: g for g in corpus.gold_records(server.base_url)}
        with Store(settings.db) as store:
            query = "SELECT url, story_id, text, summary_only FROM articles"
            rows = [tuple(r) for r in store.conn.execute(query).fetchall()]
    stored = {url: (story, text, bool(summary_only)) for url, story, text, summary_only in rows}
    matched = [url for url in stored if url in gold]
    truth = {u: gold[u]["event"] for u in matched}
    predicted = {u: str(stored[u][0]) for u in matched}
    languages = {u: gold[u]["language"] for u in matched}
    result = score(truth, predicted, groups=languages)

    pages = [g for g in gold.values() if g.get("body") and g["url"] in stored]
    prf = [shingle_prf(g["body"], stored[g["url"]][1]) for g in pages]
    summary_only = sum(1 for g in pages if stored[g["url"]][2])

    feeds = len(corpus.outlets) if hasattr(corpus, "outlets") else len(server.feeds())
    by_language = Counter(g["language"] for g in gold.values()).most_common()
    print(
        f"demo corpus: {feeds} feeds · {len(gold)} articles in gold · "
        f"{len({g['event'] for g in gold.values()})} events · "
        f"{len({g['language'] for g in gold.values()})} languages "
        f"({', '.join(f'{k} {v}' for k, v in by_language)})"
    )
    print(
        f"refresh ({settings.model}): {report.new_articles} articles stored, "
        f"{report.new_stories} stories, {report.feeds_failed} feeds failed, {elapsed:.1f} s "
        f"({report.new_articles / elapsed:.1f} articles/s)"
    )
    print(
        f"clustering on {len(matched)} gold articles: B-cubed P {result.bcubed_precision:.4f} "
        f"R {result.bcubed_recall:.4f} F1 {result.bcubed_f1:.4f} · AMI {result.ami:.4f} "
        f"ARI {result.ari:.4f} · stories {result.n_pred} for {result.n_gold} events"
    )
    print(
        "  per language (P / R): "
        + ", ".join(
            f"{lang} {result.group_precision[lang]:.3f}/{result.group_recall.get(lang, 0):.3f}"
            for lang in sorted(result.group_precision)
        )
    )
    if prf:
        n = len(prf)
        print(
            f"extraction on {n} gold pages: P {sum(p for p, _, _ in prf) / n:.4f} "
            f"R {sum(r for _, r, _ in prf) / n:.4f} F1 {sum(f for _, _, f in prf) / n:.4f} "
            f"· {summary_only} kept summary-only"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
