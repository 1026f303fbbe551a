"""Story clustering quality on the labelled sets, beside a plain single-threshold baseline.

    python bench/cluster_quality.py                 # ECB+ dev (3 shuffles) and UCI headlines
    python bench/cluster_quality.py --demo          # also the demo corpus (per-language precision)
    python bench/cluster_quality.py --model e5 --demo
    python bench/cluster_quality.py --scale         # time to add 1,000 articles to 10k / 100k
    python bench/cluster_quality.py --export-jsonl DIR   # the sets as `aggregator eval` input

The exported files let the same sets run through the product path:
    aggregator eval DIR/ecb.jsonl --shuffle 0 --shuffle 1 --shuffle 2 --no-dates
    aggregator eval DIR/uci.jsonl
    aggregator eval DIR/demo.jsonl

Embeddings are cached in data/cache/ keyed by model and text hash, so reruns only cluster.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.cluster import ClusterDoc, Clusterer, ClusterSettings  # noqa: E402
from aggregator.embed import DEFAULT_MODEL, model_name  # noqa: E402
from aggregator.evaluate import Scores, score  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"  # the development data sits beside the checkout
ECB = SHARED / "ecbplus-dev" / "docs.jsonl"
UCI = SHARED / "uci-headlines" / "headlines.jsonl"
DEMO = ROOT / "data" / "demo" / "gold.jsonl"
CACHE = ROOT / "data" / "cache"


@dataclass(frozen=True)
class Item:
    key: str
    gold: str
    doc: ClusterDoc


def embed(model: str, texts: Sequence[str]) -> np.ndarray:
    """Vectors for ``texts``, from the cache where possible."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"embeddings-{model.replace('/', '_')}.npz"
    cached: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as data:
            cached = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    if missing:
        from aggregator.embed import load_embedder

        vectors = load_embedder(model).encode([t for _, t in missing])
        cached.update({k: v for (k, _), v in zip(missing, vectors, strict=True)})
        np.savez(path, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
    return np.stack([cached[k] for k in keys]).astype(np.float32)


def _docs(rows: list[dict[str, object]], model: str) -> list[ClusterDoc]:
    """Cluster inputs as the product path builds them: knowledge-base entities for every set.

    The import path finds entities in every article, so scoring a set without them measures a
    clusterer users never get (headline entity profiles once cost UCI .08 F1 unseen here).
    """
    from aggregator.entities import KnowledgeBase

    kb = KnowledgeBase.load(ROOT / "data" / "entities.yaml")
    for r in rows:
        if "entities" not in r:
            r["entities"] = [m.entity_id for m in kb.find(f"{r['title']}\n{r['text']}")]
    titles = embed(model, [str(r["title"]) for r in rows])
    bodies = embed(model, [str(r["text"])[:2000] for r in rows])
    return [
        ClusterDoc(
            article_id=i + 1,
            source=str(r["source"]),
            language=r.get("language"),  # type: ignore[arg-type]
            published=r.get("published"),  # type: ignore[arg-type]
            title=str(r["title"]),
            text=str(r["text"]),
            title_vector=titles[i],
            body_vector=bodies[i],
            entities=frozenset(r.get("entities", ())),  # type: ignore[arg-type]
        )
        for i, r in enumerate(rows)
    ]


def load_ecb(model: str) -> list[Item]:
    rows = []
    for line in ECB.read_text().splitlines():
        raw = json.loads(line)
        lines = [ln for ln in raw["text"].splitlines() if ln.strip()]
        title = next((ln for ln in lines if "http" not in ln and len(ln) > 20), lines[0])
        rows.append(
            {
                "key": raw["doc"],
                "gold": raw["subtopic"],
                "title": title,
                "text": raw["text"],
                "source": raw["doc"],
                "language": "en",
            }
        )
    docs = _docs(rows, model)
    return [Item(str(r["key"]), str(r["gold"]), d) for r, d in zip(rows, docs, strict=True)]


def load_uci(model: str) -> list[Item]:
    rows = []
    for line in UCI.read_text().splitlines():
        raw = json.loads(line)
        rows.append(
            {
                "key": raw["id"],
                "gold": raw["story"],
                "title": raw["title"],
                "text": raw["title"],
                "source": raw["publisher"],
                "language": "en",
                "published": datetime.fromtimestamp(raw["timestamp_ms"] / 1000, tz=UTC),
            }
        )
    docs = _docs(rows, model)
    items = [Item(str(r["key"]), str(r["gold"]), d) for r, d in zip(rows, docs, strict=True)]
    return sorted(items, key=lambda it: (it.doc.published or datetime.min, it.doc.article_id))


def load_demo(model: str) -> list[Item]:
    from aggregator.entities import KnowledgeBase

    kb = KnowledgeBase.load(ROOT / "data" / "entities.yaml")
    rows = []
    for number, line in enumerate(DEMO.read_text().splitlines()):
        raw = json.loads(line)
        text = raw.get("body") or raw.get("text") or raw["title"]
        mentions = kb.find(f"{raw['title']}\n{text}")
        rows.append(
            {
                "key": str(raw.get("url", number)),
                "gold": str(raw["event"]),
                "title": raw["title"],
                "text": text,
                "source": raw.get("outlet", ""),
                "language": raw.get("language"),
                "published": datetime.fromisoformat(raw["published"])
                if raw.get("published")
                else None,
                "entities": [m.entity_id for m in mentions],
            }
        )
    docs = _docs(rows, model)
    items = [Item(str(r["key"]), str(r["gold"]), d) for r, d in zip(rows, docs, strict=True)]
    return sorted(items, key=lambda it: (it.doc.published or datetime.min, it.doc.article_id))


def export_jsonl(directory: Path) -> None:
    """Write ECB+, UCI and the demo gold as ``aggregator eval`` records (gold label ``event``)."""
    directory.mkdir(parents=True, exist_ok=True)
    ecb = []
    for line in ECB.read_text().splitlines():
        raw = json.loads(line)
        lines = [ln for ln in raw["text"].splitlines() if ln.strip()]
        title = next((ln for ln in lines if "http" not in ln and len(ln) > 20), lines[0])
        ecb.append(
            {
                "event": raw["subtopic"],
                "title": title,
                "text": raw["text"],
                "source": raw["doc"],
                "language": "en",
            }
        )
    uci = []
    for line in UCI.read_text().splitlines():
        raw = json.loads(line)
        published = datetime.fromtimestamp(raw["timestamp_ms"] / 1000, tz=UTC)
        uci.append(
            {
                "event": raw["story"],
                "title": raw["title"],
                "text": raw["title"],
                "published": published.isoformat(),
                "source": raw["publisher"],
                "language": "en",
            }
        )
    demo = []
    for line in DEMO.read_text().splitlines():
        raw = json.loads(line)
        record = {
            "event": raw["event"],
            "title": raw["title"],
            "text": raw.get("body") or raw.get("summary") or raw.get("text") or raw["title"],
            "source": raw.get("outlet", ""),
            "language": raw.get("language"),
        }
        if raw.get("published"):
            record["published"] = raw["published"]
        demo.append(record)
    for name, records in (("ecb", ecb), ("uci", uci), ("demo", demo)):
        with (directory / f"{name}.jsonl").open("w") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"wrote {directory / f'{name}.jsonl'}: {len(records)} records")


def run_clusterer(items: Sequence[Item], settings: ClusterSettings) -> dict[str, str]:
    clusterer = Clusterer(settings)
    clusterer.calibrate([item.doc for item in items])
    for item in items:
        clusterer.add(item.doc)
    clusterer.consolidate()
    clusterer.split()
    by_article = {item.doc.article_id: item.key for item in items}
    return {
        by_article[a]: str(sid) for sid, members in clusterer.stories().items() for a in members
    }


def run_baseline(items: Sequence[Item], threshold: float) -> dict[str, str]:
    """Single pass, one cosine threshold against story centroids of body vectors."""
    centroids: list[np.ndarray] = []
    labels: dict[str, str] = {}
    for item in items:
        v = item.doc.body_vector
        if centroids:
            matrix = np.stack(centroids)
            sims = matrix @ v / np.linalg.norm(matrix, axis=1)
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                centroids[best] = centroids[best] + v
                labels[item.key] = str(best)
                continue
        centroids.append(v.copy())
        labels[item.key] = str(len(centroids) - 1)
    return labels


def _row(name: str, s: Scores) -> str:
    return (
        f"  {name:<22} P {s.bcubed_precision:.3f}  R {s.bcubed_recall:.3f}  "
        f"F1 {s.bcubed_f1:.3f}  AMI {s.ami:.3f}  ARI {s.ari:.3f}  stories {s.n_pred}"
    )


def _mean(scores: Sequence[Scores]) -> Scores:
    fields = ["bcubed_precision", "bcubed_recall", "bcubed_f1", "ami", "ari", "n_pred"]
    means = {f: float(np.mean([getattr(s, f) for s in scores])) for f in fields}
    means["n_pred"] = round(means["n_pred"])
    return replace(scores[0], **means)  # type: ignore[arg-type]


def evaluate(
    name: str,
    items: list[Item],
    settings: ClusterSettings,
    baseline: float,
    shuffles: int = 0,
    groups: bool = False,
) -> Scores:
    gold = {it.key: it.gold for it in items}
    orders: list[list[Item]] = [items]
    if shuffles:
        orders = []
        for seed in range(shuffles):
            order = list(items)
            random.Random(seed).shuffle(order)
            orders.append(order)
    mine = _mean([score(gold, run_clusterer(o, settings)) for o in orders])
    plain = _mean([score(gold, run_baseline(o, baseline)) for o in orders])
    suffix = f" (mean of {shuffles} shuffles)" if shuffles else ""
    print(f"{name}: {len(items)} items, {len(set(gold.values()))} gold stories{suffix}")
    print(_row("clusterer", mine))
    print(_row(f"plain cosine >= {baseline}", plain))
    if groups:
        language = {it.key: it.doc.language or "und" for it in items}
        s = score(gold, run_clusterer(items, settings), groups=language)
        print(
            "  per-language precision: "
            + "  ".join(f"{g} {p:.3f}" for g, p in s.group_precision.items())
        )
    return mine


def scale(existing_counts: Sequence[int], new: int = 1000, dim: int = 384) -> None:
    """Time to add ``new`` synthetic articles when ``existing`` are already loaded.

    Existing articles span 60 days, so only those of the last ``quiet_days`` are in the window the
    pipeline loads; the load time and add time should follow the window, not the total.
    """
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20000)]
    now = datetime(2025, 1, 1, tzinfo=UTC)
    settings = ClusterSettings()

    def synthetic(i: int, at: datetime, topic: int) -> ClusterDoc:
        base = np.random.default_rng(topic).standard_normal(dim)
        v = (base + rng.standard_normal(dim)).astype(np.float32)
        v /= np.linalg.norm(v)
        topic_words = [words[(topic * 7 + k) % len(words)] for k in range(5)]
        text = " ".join(topic_words + list(rng.choice(words, 40)))
        return ClusterDoc(
            i, f"s{i % 50}", "en", at, text[:60], text, v, v, frozenset({f"E{topic % 300}"})
        )

    for existing in existing_counts:
        clusterer = Clusterer(settings)
        start = clusterer.window_start(now)
        # Articles older than the window are never read, so only the window's are generated.
        stamps = [now - timedelta(days=60 * (1 - i / existing)) for i in range(existing)]
        window = [synthetic(i + 1, at, i // 5) for i, at in enumerate(stamps) if at >= start]
        began = time.perf_counter()
        clusterer.load((d.article_id // 5 * 5 + 1, d) for d in window)
        loaded = time.perf_counter() - began
        fresh = [
            synthetic(existing + i + 1, now + timedelta(minutes=i), existing // 5 + i // 3)
            for i in range(new)
        ]
        began = time.perf_counter()
        for d in fresh:
            clusterer.add(d)
        added = time.perf_counter() - began
        began = time.perf_counter()
        clusterer.consolidate()
        merged = time.perf_counter() - began
        print(
            f"scale: {existing:>7} existing ({len(window)} in window): load {loaded:.2f}s, "
            f"add {new} {added:.2f}s, consolidate {merged:.2f}s"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--demo", action="store_true", help="also score data/demo/gold.jsonl")
    parser.add_argument("--only", choices=["ecb", "uci", "demo"], help="one data set only")
    parser.add_argument("--scale", action="store_true", help="time the window-bound cost")
    parser.add_argument("--export-jsonl", type=Path, metavar="DIR", help="write eval inputs")
    args = parser.parse_args(argv)
    if args.export_jsonl:
        export_jsonl(args.export_jsonl)
        return
    if args.scale:
        scale([10_000, 100_000])
        return
    from aggregator.embed import load_embedder

    multilingual = args.model in ("e5", "multilingual") or load_embedder(args.model).multilingual
    settings = ClusterSettings.for_embedder(model_name(args.model), multilingual=multilingual)
    plain = 0.9 if "e5" in args.model else 0.5
    jobs: list[tuple[str, Callable[[], None]]] = [
        (
            "ecb",
            lambda: (
                evaluate("ECB+ dev", load_ecb(args.model), settings, plain, shuffles=3) and None
            ),
        ),
        (
            "uci",
            lambda: (
                evaluate(
                    "UCI headlines",
                    load_uci(args.model),
                    settings,
                    0.9 if "e5" in args.model else 0.4,
                )
                and None
            ),
        ),
    ]
    if args.demo or args.only == "demo":
        jobs.append(
            (
                "demo",
                lambda: (
                    evaluate("demo corpus", load_demo(args.model), settings, plain, groups=True)
                    and None
                ),
            )
        )
    for name, job in jobs:
        if args.only in (None, name):
            job()


if __name__ == "__main__":
    main()
