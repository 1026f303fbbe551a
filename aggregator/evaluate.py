"""Clustering quality: B-cubed precision/recall/F1, AMI and ARI against a gold partition.

B-cubed scores each item by how much of its predicted story shares its gold event (precision) and
how much of its gold event landed in its predicted story (recall), then averages over items. Unlike
pair counting it does not let one huge story dominate, which is why news clustering papers use it.
Per-group precision (a group is usually a language) shows where a model merges unrelated articles:
an English-only encoder that rates all Hindi texts alike shows up as low Hindi precision.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score


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
