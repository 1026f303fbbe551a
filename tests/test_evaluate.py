"""B-cubed, AMI/ARI and per-group precision on examples worked out by hand."""

from __future__ import annotations

import pytest

from aggregator.evaluate import score


def test_perfect_prediction_scores_one() -> None:
    gold = {"a": "x", "b": "x", "c": "y"}
    s = score(gold, {"a": "1", "b": "1", "c": "2"})
    assert (s.bcubed_precision, s.bcubed_recall, s.bcubed_f1) == (1.0, 1.0, 1.0)
    assert s.ami == pytest.approx(1.0)
    assert s.ari == pytest.approx(1.0)
    assert (s.n_items, s.n_gold, s.n_pred) == (3, 2, 2)


def test_bcubed_by_hand() -> None:
    # gold: {a,b,c} {d,e}; predicted: {a,b} {c,d,e}
    gold = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y"}
    predicted = {"a": "1", "b": "1", "c": "2", "d": "2", "e": "2"}
    s = score(gold, predicted)
    # precision: a,b 2/2; c 1/3; d,e 2/3 -> (1 + 1 + 1/3 + 2/3 + 2/3) / 5 = 11/15
    assert s.bcubed_precision == pytest.approx(11 / 15)
    # recall: a,b 2/3; c 1/3; d,e 2/2 -> (2/3 + 2/3 + 1/3 + 1 + 1) / 5 = 11/15
    assert s.bcubed_recall == pytest.approx(11 / 15)
    assert s.bcubed_f1 == pytest.approx(11 / 15)


def test_everything_in_one_cluster_has_full_recall_and_low_precision() -> None:
    gold = {"a": "x", "b": "x", "c": "y", "d": "z"}
    s = score(gold, dict.fromkeys(gold, "all"))
    assert s.bcubed_recall == 1.0
    # a,b: 2/4; c,d: 1/4 -> 6/16
    assert s.bcubed_precision == pytest.approx(0.375)
    assert s.ari == pytest.approx(0.0)


def test_missing_predictions_count_as_singletons() -> None:
    gold = {"a": "x", "b": "x"}
    s = score(gold, {"a": "1"})
    assert s.bcubed_precision == 1.0
    assert s.bcubed_recall == pytest.approx(0.5)
    assert s.n_pred == 2


def test_per_group_precision_points_at_the_language_that_was_merged() -> None:
    gold = {"en1": "x", "en2": "y", "hi1": "p", "hi2": "q"}
    predicted = {"en1": "1", "en2": "2", "hi1": "3", "hi2": "3"}
    groups = {"en1": "en", "en2": "en", "hi1": "hi", "hi2": "hi"}
    s = score(gold, predicted, groups=groups)
    assert s.group_precision == {"en": 1.0, "hi": 0.5}
    assert s.group_recall == {"en": 1.0, "hi": 1.0}


def test_empty_gold_is_an_error() -> None:
    with pytest.raises(ValueError):
        score({}, {})
