"""Clustering quality: B-cubed precision/recall/F1, AMI and ARI against a gold partition.

B-cubed scores each item by how much of its predicted story shares its gold event (precision) and
how much of its gold event landed in its predicted story (recall), then averages over items. Unlike
pair counting it does not let one huge story dominate, which is why news clustering papers use it.
Per-group precision (a group is usually a language) shows where a model merges unrelated articles:
an English-only encoder that rates all Hindi texts alike shows up as low Hindi precision.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from aggregator.errors import ConfigError

if TYPE_CHECKING:
    from aggregator.config import Settings

SCORE_KEYS = ("bcubed_precision", "bcubed_recall", "bcubed_f1", "ami", "ari")


@dataclass(frozen=True)
class Scores:
    """Agreement between a predicted clustering and the gold one."""

    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    ami: float
    ari: float
    n_items: int
    n_gold: int
    n_pred: int
    group_precision: Mapping[str, float] = field(default_factory=dict)
    group_recall: Mapping[str, float] = field(default_factory=dict)


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def score(
    gold: Mapping[str, str],
    predicted: Mapping[str, str],
    groups: Mapping[str, str] | None = None,
) -> Scores:
    """Score ``predicted`` (item -> cluster) against ``gold`` (item -> event).

    Items are those of ``gold``. An item the prediction does not mention counts as a cluster of its
    own, so that dropping hard items cannot raise the score; predicted items outside gold are
    ignored. ``groups`` (item -> group, e.g. language) adds per-group B-cubed precision and recall.
    """
    items = list(gold)
    if not items:
        raise ValueError("the gold clustering is empty")
    pred = {item: predicted.get(item, f"\x00unassigned:{item}") for item in items}
    gold_sizes = Counter(gold[item] for item in items)
    pred_sizes = Counter(pred[item] for item in items)
    overlap = Counter((gold[item], pred[item]) for item in items)

    item_precision: dict[str, float] = {}
    item_recall: dict[str, float] = {}
    for item in items:
        shared = overlap[(gold[item], pred[item])]
        item_precision[item] = shared / pred_sizes[pred[item]]
        item_recall[item] = shared / gold_sizes[gold[item]]
    precision = sum(item_precision.values()) / len(items)
    recall = sum(item_recall.values()) / len(items)

    group_precision: dict[str, float] = {}
    group_recall: dict[str, float] = {}
    if groups is not None:
        members: dict[str, list[str]] = defaultdict(list)
        for item in items:
            members[groups.get(item, "")].append(item)
        for group, group_items in sorted(members.items()):
            group_precision[group] = sum(item_precision[i] for i in group_items) / len(group_items)
            group_recall[group] = sum(item_recall[i] for i in group_items) / len(group_items)

    gold_labels = [gold[item] for item in items]
    pred_labels = [pred[item] for item in items]
    return Scores(
        bcubed_precision=precision,
        bcubed_recall=recall,
        bcubed_f1=_f1(precision, recall),
        ami=float(adjusted_mutual_info_score(gold_labels, pred_labels)),
        ari=float(adjusted_rand_score(gold_labels, pred_labels)),
        n_items=len(items),
        n_gold=len(gold_sizes),
        n_pred=len(pred_sizes),
        group_precision=group_precision,
        group_recall=group_recall,
    )


@dataclass(frozen=True)
class Evaluation:
    """The scores of one clustering run per shuffle seed over the same labelled file."""

    runs: tuple[Scores, ...]
    total: int  # records in the file, whether or not they were clustered

    def mean(self) -> dict[str, float]:
        """Each headline score averaged over the runs."""
        return {k: sum(getattr(r, k) for r in self.runs) / len(self.runs) for k in SCORE_KEYS}

    def precision_by_language(self) -> dict[str, float]:
        """Per-language B-cubed precision averaged over the runs."""
        groups: dict[str, float] = {}
        for run in self.runs:
            for group, value in run.group_precision.items():
                groups[group] = groups.get(group, 0.0) + value / len(self.runs)
        return groups


def evaluate_file(
    path: Path,
    settings: Settings,
    *,
    seeds: Sequence[int] = (),
    dates: bool = True,
    label_key: str = "event",
) -> Evaluation:
    """Cluster the labelled JSONL file at ``path`` through the import path and score it.

    Each run goes into a fresh temporary database with the model of ``settings``, so that the
    figures measure the code a reader runs and nothing already stored. Every seed shuffles the
    arrival order (online clustering depends on it); without seeds the file order is used.
    ``dates=False`` drops 'published', to see what the time window contributes.
    """
    # the pipeline is imported here so that scoring alone (the benchmarks) loads no model code
    from aggregator.pipeline import Pipeline, read_jsonl
    from aggregator.store.read import Reader

    records = list(read_jsonl(path))
    for number, record in enumerate(records, start=1):
        if label_key not in record:
            raise ConfigError(f"{path}:{number}: missing the gold label {label_key!r}")
    runs = []
    for seed in seeds or (None,):
        ordered = list(enumerate(records))
        if seed is not None:
            random.Random(seed).shuffle(ordered)
        with tempfile.TemporaryDirectory(prefix="aggregator-eval-") as tmp:
            run_settings = replace(settings, db=Path(tmp) / "eval.db")
            items = []
            for index, record in ordered:
                item = {k: v for k, v in record.items() if k != label_key}
                item["id"] = str(index)
                item.setdefault("url", f"urn:eval:{index}")
                if not dates:
                    item.pop("published", None)
                items.append(item)
            with Pipeline.build(run_settings) as pipeline:
                pipeline.import_records(items, source="eval")
            with Reader(run_settings.db) as reader:
                exported = list(reader.export_articles())
        predicted = {str(r["id"]): str(r["story_id"]) for r in exported}
        gold = {str(i): str(r[label_key]) for i, r in enumerate(records) if str(i) in predicted}
        languages = {str(r["id"]): str(r["language"]) for r in exported}
        runs.append(score(gold, predicted, groups=languages))
    return Evaluation(tuple(runs), len(records))
