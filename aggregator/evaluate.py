"""Clustering quality: B-cubed precision/recall/F1, AMI and ARI against a gold partition, and
how many readers' corrections the current settings would have made unnecessary.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from aggregator.errors import ConfigError

if TYPE_CHECKING:
    from aggregator.config import Settings
    from aggregator.pipeline import Pipeline
    from aggregator.store.corrections import CorrectionRow

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


@dataclass(frozen=True)
class CorrectionVerdict:
    """What a clustering made afresh says about one correction in force.

    ``pairs`` counts the article pairs the correction still constrains (after later corrections
    overrode what they contradict): a must-link pair (the moved articles with those they joined,
    a split's articles with each other) and a cannot-link pair (a moved article and one it left).
    ``kept`` counts those the fresh clustering already keeps without being told.
    """

    correction: CorrectionRow
    kept: int
    pairs: int

    @property
    def verdict(self) -> str:
        if self.pairs == 0:
            return "overridden"  # later corrections undid all it set
        return "unnecessary" if self.kept == self.pairs else "needed"


@dataclass(frozen=True)
class CorrectionCheck:
    """The corrections in force against the database clustered afresh with current settings."""

    model: str
    articles: int
    stories: int
    verdicts: tuple[CorrectionVerdict, ...]

    def count(self, verdict: str) -> int:
        return sum(v.verdict == verdict for v in self.verdicts)


def check_corrections(
    settings: Settings, *, build: Callable[[Settings], Pipeline] | None = None
) -> CorrectionCheck:
    """How many corrections in force the current settings would have made unnecessary.

    The articles of ``settings.db`` are clustered afresh in a temporary copy, with the model and
    clustering settings of ``settings`` and without the corrections (stored vectors are reused;
    missing ones are computed). A correction is unnecessary when that clustering keeps every
    article pair it constrains: moved articles with the articles they joined, and apart from
    those they left. ``build`` makes the pipeline (default: :meth:`Pipeline.build`).
    """
    from aggregator.cluster import Constraints, Correction
    from aggregator.pipeline import Pipeline, RunReport
    from aggregator.store.corrections import unclustered_copy
    from aggregator.store.read import Reader

    with Reader(settings.db) as reader:
        rows = [c for c in reversed(reader.corrections()) if c.in_force]
    if not rows:
        return CorrectionCheck(settings.model, 0, 0, ())
    with tempfile.TemporaryDirectory(prefix="aggregator-corrections-") as tmp:
        fresh = Path(tmp) / "fresh.db"
        run_settings = replace(settings, db=fresh)
        unclustered_copy(settings.db, fresh)
        with (build or Pipeline.build)(run_settings) as pipeline:
            pipeline.embed_pending()
            pipeline.cluster_pending(RunReport())
            model = pipeline.embedder.name
        with Reader(run_settings.db) as reader:
            story_of = reader.placements()
    each = Constraints.each(
        [Correction(frozenset(c.moved), frozenset(c.stayed), frozenset(c.joined)) for c in rows]
    )
    verdicts = tuple(
        CorrectionVerdict(row, *constraints.kept_by(story_of))
        for row, constraints in zip(rows, each, strict=True)
    )
    return CorrectionCheck(model, len(story_of), len(set(story_of.values())), verdicts)
