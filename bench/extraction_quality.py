"""Extraction quality and speed: the aggregator's extractor against trafilatura on saved pages.

Reads ``<data>/html/<key>.html.gz`` and ``<data>/ground-truth.json`` ({key: {articleBody, url}}),
scores every page with word 4-gram shingle precision, recall and F1, averages per page, and times
each extractor over the same bytes in the same process. No network.

    python bench/extraction_quality.py [--data ../shared/data/extraction-dev] [--repeat 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from aggregator.errors import ExtractError
from aggregator.extract import extract
from aggregator.extract.candidates import shingles

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction-dev"


@dataclass(frozen=True)
class Row:
    name: str
    precision: float
    recall: float
    f1: float
    pages_per_second: float
    outputs: dict[str, str]


def score(gold: str, predicted: str) -> tuple[float, float, float]:
    """Shingle precision, recall and F1 of one page; two empty texts agree perfectly."""
    truth, guess = shingles(gold), shingles(predicted)
    if not truth and not guess:
        return 1.0, 1.0, 1.0
    if not truth or not guess:
        return 0.0, 0.0, 0.0
    common = len(truth & guess)
    precision, recall = common / len(guess), common / len(truth)
    f1 = 0.0 if common == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def load(data: Path) -> tuple[dict[str, bytes], dict[str, dict[str, str]]]:
    truth: dict[str, dict[str, str]] = json.loads((data / "ground-truth.json").read_text("utf-8"))
    pages = {key: gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes()) for key in truth}
    return pages, truth


def ours(body: bytes, url: str) -> str:
    try:
        return extract(body, url).text
    except ExtractError:
        return ""


def trafilatura_defaults(body: bytes, url: str) -> str:
    return trafilatura.extract(body, url=url) or ""


def trafilatura_precision(body: bytes, url: str) -> str:
    return trafilatura.extract(body, url=url, favor_precision=True) or ""


def run(
    name: str,
    extractor: Callable[[bytes, str], str],
    pages: dict[str, bytes],
    truth: dict[str, dict[str, str]],
    repeat: int,
) -> Row:
    # one untimed pass first, so that lazy model and config loading is not billed to one side
    extractor(next(iter(pages.values())), "http://warm.up/")
    outputs: dict[str, str] = {}
    started = time.perf_counter()
    for _ in range(repeat):
        for key, body in pages.items():
            outputs[key] = extractor(body, truth[key].get("url", ""))
    elapsed = time.perf_counter() - started
    scores = [score(truth[key]["articleBody"], outputs[key]) for key in pages]
    n = len(scores)
    return Row(
        name=name,
        precision=sum(s[0] for s in scores) / n,
        recall=sum(s[1] for s in scores) / n,
        f1=sum(s[2] for s in scores) / n,
        pages_per_second=n * repeat / elapsed,
        outputs=outputs,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the pages")
    parser.add_argument("--dump", type=Path, help="write per-page outputs and scores as JSON")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    pages, truth = load(args.data)
    rows = [
        run("trafilatura defaults", trafilatura_defaults, pages, truth, args.repeat),
        run("trafilatura favor_precision", trafilatura_precision, pages, truth, args.repeat),
        run("aggregator.extract", ours, pages, truth, args.repeat),
    ]
    base = rows[0].pages_per_second
    out = sys.stdout
    out.write(f"{len(pages)} pages from {args.data}\n\n")
    out.write(f"{'extractor':<30}{'P':>8}{'R':>8}{'F1':>8}{'pages/s':>10}{'speed':>8}\n")
    for row in rows:
        out.write(
            f"{row.name:<30}{row.precision:>8.4f}{row.recall:>8.4f}{row.f1:>8.4f}"
            f"{row.pages_per_second:>10.1f}{row.pages_per_second / base:>7.2f}x\n"
        )
    if args.dump:
        per_page = {
            key: {
                row.name: {
                    "text": row.outputs[key],
                    "prf": score(truth[key]["articleBody"], row.outputs[key]),
                }
                for row in rows
            }
            for key in pages
        }
        args.dump.write_text(json.dumps(per_page, ensure_ascii=False, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
