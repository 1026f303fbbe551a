"""Regenerate data/demo/gold.jsonl from data/demo/events/*.json (deterministic output).

Run from the repository root whenever an event file changes:

    .venv/bin/python bench/build_demo_gold.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from aggregator.demo import DemoCorpus

ROOT = Path(__file__).resolve().parent.parent / "data" / "demo"


def main() -> int:
    corpus = DemoCorpus.load(ROOT)
    count = corpus.write_gold(ROOT / "gold.jsonl")
    languages = Counter(a.language for a in corpus.articles)
    sys.stdout.write(
        f"{count} articles, {len(corpus.events)} events, languages {dict(languages)}\n"
        f"written to {ROOT / 'gold.jsonl'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
