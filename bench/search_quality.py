"""Search quality on the demo corpus: R@10, nDCG@10 and MRR per mode and per query language.

The demo gold (data/demo/gold.jsonl) goes through the import path users take (the library
function behind `aggregator import`: dedup, embed, cluster, store) into a database under
data/cache/, keyed by the model and the gold's content, so a rerun only searches (--rebuild
starts afresh). Articles that the demo pages hold no text for are imported with the summary
their feed carries, as a refresh would store them. Then every query of
bench/search_queries.jsonl runs in every mode.

A query names the gold event(s) it asks for; relevant = every article of those events, in any
language. Measures, each over the top 10 and averaged over queries:

* R@10: relevant articles found / min(10, relevant articles), so a query whose events have more
  than ten articles can still reach 1;
* nDCG@10: binary gains, ideal = min(10, relevant) relevant articles first;
* MRR: 1 / rank of the first relevant article (0 when none is in the top 10).

    python bench/search_quality.py                      # the product's default model
    python bench/search_quality.py --model e5           # multilingual (slow to embed once)
    python bench/search_quality.py --model minilm --mode hybrid --misses
    python bench/search_quality.py --db postgresql://news@db.internal/quality   # on PostgreSQL

With ``--db URL`` the gold is imported into that PostgreSQL database instead (it must be empty,
or hold an earlier import of the same gold with the same model, which is then reused), so the
figures of the two engines can be compared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config import Settings  # noqa: E402
from aggregator.demo import DemoCorpus  # noqa: E402
from aggregator.embed import model_name  # noqa: E402
from aggregator.language import detect_language  # noqa: E402
from aggregator.search import (  # noqa: E402
    MODES,
    embed_query,
    hybrid_by_vector,
    keyword,
    semantic_by_vector,
)
from aggregator.store.engine import Location, is_postgres  # noqa: E402
from aggregator.store.read import Filters, Reader  # noqa: E402

GOLD = REPO / "data" / "demo" / "gold.jsonl"
QUERIES = REPO / "bench" / "search_queries.jsonl"
CACHE = REPO / "data" / "cache"
CUTOFF = 10


@dataclass(frozen=True)
class Query:
    text: str
    language: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Scores:
    recall: float
    ndcg: float
    mrr: float


def load_queries(path: Path) -> list[Query]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if not raw.get("query") or not raw.get("events"):
            raise SystemExit(f"{path}:{number}: needs 'query' and 'events'")
        queries.append(Query(raw["query"], raw.get("language", "en"), tuple(raw["events"])))
    return queries


def import_records(gold_path: Path) -> list[dict[str, Any]]:
    """The gold as `aggregator import` records; ``id`` is the gold line number."""
    summaries = {a.url_path: a.summary for a in DemoCorpus.load(gold_path.parent).articles}
    records = []
    for number, line in enumerate(gold_path.read_text(encoding="utf-8").splitlines()):
        raw = json.loads(line)
        records.append(
            {
                "id": str(number),
                "url": f"https://demo.example{raw['url']}",
                "title": raw["title"],
                "text": raw.get("body") or summaries.get(raw["url"], ""),
                "published": raw.get("published"),
                "source": raw.get("outlet") or "demo",
                "language": raw.get("language"),
            }
        )
    return records


def build(db: Location, model: str, gold_path: Path) -> None:
    """Import the gold into a fresh database at ``db`` through the product's import path."""
    from aggregator.pipeline import Pipeline

    if not is_postgres(db):
        Path(db).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    settings = replace(Settings.from_env(model=model), db=db)
    with Pipeline.build(settings) as pipeline:
        pipeline.import_records(import_records(gold_path), source="demo")


def database(model: str, gold_path: Path, rebuild: bool, url: str | None = None) -> Location:
    """The cached database for ``model`` and this gold, built when missing; an existing one
    is opened by the store first, so a database from an older schema is upgraded in place.
    With ``url``, that PostgreSQL database, filled when it holds no articles yet."""
    if url is not None:
        from aggregator.store import Store

        with Store(url) as store:
            empty = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
        if rebuild and not empty:
            raise SystemExit(f"--rebuild needs an empty database; {url} holds articles")
        if empty:
            began = time.perf_counter()
            build(url, model, gold_path)
            print(f"imported the gold in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        return url
    digest = hashlib.sha1(gold_path.read_bytes()).hexdigest()[:12]
    db = CACHE / f"search-quality-{model.replace('/', '_')}-{digest}.db"
    CACHE.mkdir(parents=True, exist_ok=True)
    if rebuild or not db.exists():
        began = time.perf_counter()
        build(db, model, gold_path)
        print(f"built {db.name} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    else:
        from aggregator.store import Store

        Store(db).close()
    return db


def score(ranked: Sequence[str], relevant: set[str], total: int) -> Scores:
    """R@10, nDCG@10 and reciprocal rank of one ranking (``ranked``: the event of each hit)."""
    top = list(ranked[:CUTOFF])
    hits = [event in relevant for event in top]
    ideal = min(CUTOFF, total)
    dcg = sum(1 / math.log2(rank + 2) for rank, hit in enumerate(hits) if hit)
    idcg = sum(1 / math.log2(rank + 2) for rank in range(ideal))
    first = next((rank for rank, hit in enumerate(hits, start=1) if hit), None)
    return Scores(sum(hits) / ideal, dcg / idcg, 1 / first if first else 0.0)


def mean(scores: Sequence[Scores]) -> Scores:
    n = len(scores) or 1
    return Scores(
        sum(s.recall for s in scores) / n,
        sum(s.ndcg for s in scores) / n,
        sum(s.mrr for s in scores) / n,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=Settings().model, help="default: the product's")
    parser.add_argument("--mode", choices=MODES, action="append", help="only this mode")
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--rebuild", action="store_true", help="import the gold afresh")
    parser.add_argument("--misses", action="store_true", help="list queries below R@10 = 1")
    parser.add_argument(
        "--db",
        default=None,
        help="a postgresql:// database to import into and search (empty, or holding this "
        "gold already); default: a cached SQLite file under data/cache/",
    )
    args = parser.parse_args(argv)
    if args.db is not None and not is_postgres(args.db):
        parser.error(
            "--db takes a postgresql:// URL; SQLite databases are cached under data/cache/"
        )

    queries = load_queries(args.queries)
    db = database(args.model, args.gold, args.rebuild, args.db)
    gold_events = [json.loads(line)["event"] for line in args.gold.read_text().splitlines()]
    with Reader(db) as reader:
        # relevant = the stored articles of the event (the import drops exact duplicates)
        stored = reader.conn.execute("SELECT id, external_id FROM articles").fetchall()
        event_of = {int(i): gold_events[int(ext)] for i, ext in stored}
        sizes: dict[str, int] = defaultdict(int)
        for event in event_of.values():
            sizes[event] += 1
        modes = args.mode or list(MODES)
        results, timings = run_queries(reader, queries, modes, args.model, event_of, sizes)
        if args.misses:
            for mode, rows in results.items():
                for query, scores in rows:
                    if scores.recall < 1:
                        print(
                            f"  {mode:<8} R@10 {scores.recall:.2f} [{query.language}] {query.text}",
                            file=sys.stderr,
                        )
    report(args.model, len(event_of), queries, results, timings)
    return 0


def run_queries(
    reader: Reader,
    queries: Sequence[Query],
    modes: Sequence[str],
    model: str,
    event_of: dict[int, str],
    sizes: dict[str, int],
) -> tuple[dict[str, list[tuple[Query, Scores]]], dict[str, float]]:
    """Every query in every mode, scored; each query is embedded once, and the embedding time
    is counted in both semantic and hybrid."""
    vectors: dict[str, Any] = {}
    embedding: dict[str, float] = {}
    if {"semantic", "hybrid"} & set(modes) and reader.vector_index(model_name(model)).size:
        for query in queries:
            began = time.perf_counter()
            vectors[query.text] = embed_query(query.text, model)
            embedding[query.text] = time.perf_counter() - began
    results: dict[str, list[tuple[Query, Scores]]] = {}
    timings: dict[str, float] = {}
    for mode in modes:
        began = time.perf_counter()
        rows = []
        for query in queries:
            vector = vectors.get(query.text)
            if mode == "keyword":
                hits = keyword(reader, query.text, limit=CUTOFF, filters=Filters())
            elif vector is None:
                hits = []
            elif mode == "semantic":
                hits = semantic_by_vector(
                    reader,
                    vector,
                    limit=CUTOFF,
                    filters=Filters(),
                    model=model,
                    language=detect_language(query.text),
                )
            else:
                hits = hybrid_by_vector(
                    reader, query.text, vector, limit=CUTOFF, filters=Filters(), model=model
                )
            relevant = set(query.events)
            total = sum(sizes[e] for e in relevant)
            rows.append((query, score([event_of.get(h.id, "") for h in hits], relevant, total)))
        timings[mode] = time.perf_counter() - began
        if mode != "keyword":
            timings[mode] += sum(embedding.values())
        results[mode] = rows
    return results, timings


def report(
    model: str,
    articles: int,
    queries: Sequence[Query],
    results: dict[str, list[tuple[Query, Scores]]],
    timings: dict[str, float],
) -> None:
    languages = sorted({q.language for q in queries}, key=lambda x: (x != "en", x))
    counts = {lang: sum(q.language == lang for q in queries) for lang in languages}
    print(
        f"model {model} · {articles} articles · {len(queries)} queries "
        f"({', '.join(f'{lang} {n}' for lang, n in counts.items())}) · cut-off {CUTOFF}"
    )
    header = f"{'mode':<9}{'measure':<9}{'all':>7}" + "".join(f"{lang:>7}" for lang in languages)
    print(header)
    print("-" * len(header))
    for mode, rows in results.items():
        overall = mean([s for _, s in rows])
        per_language = {
            lang: mean([s for q, s in rows if q.language == lang]) for lang in languages
        }
        for label, field in (("R@10", "recall"), ("nDCG@10", "ndcg"), ("MRR", "mrr")):
            cells = f"{getattr(overall, field):>7.3f}" + "".join(
                f"{getattr(per_language[lang], field):>7.3f}" for lang in languages
            )
            print(f"{mode if label == 'R@10' else '':<9}{label:<9}{cells}")
    print(
        "time per query: "
        + ", ".join(f"{m} {1000 * t / len(queries):.0f} ms" for m, t in timings.items())
    )


if __name__ == "__main__":
    raise SystemExit(main())
