"""Language centering: take out of each vector what every text of its language shares.

A multilingual encoder puts any two texts of one language, and any two texts about cars, closer
than it puts a report and its translation: in multilingual-e5-small the mean vector of a
language's news is a large common component. Two German reports of different events then look as
close as a German and a Chinese report of the same event, and no single threshold tells them
apart. Subtracting each language's mean vector (and re-normalising) removes that component: on
the demo corpus the share of same-event cross-language pairs that score above different-event
same-language pairs rose from 0.72 to 0.98.

The means come from the articles being clustered (the active window and the new articles), so
they follow whatever languages and topics the feeds carry, with no table to maintain. A language
with few articles borrows strength from the mean of all articles: its mean is shrunk towards the
overall one with the weight of ``prior`` articles, so three Polish reports of one event do not
subtract their own event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np

from aggregator.cluster.model import ClusterDoc
from aggregator.cluster.terms import language_key
from aggregator.models import Vector


class LanguageCentering:
    """Per-language mean vectors (title and body), fitted once per clustering run."""

    def __init__(self, docs: Iterable[ClusterDoc], prior: float) -> None:
        body: dict[str, Vector] = {}
        title: dict[str, Vector] = {}
        counts: dict[str, int] = {}
        for doc in docs:
            key = language_key(doc.language)
            if key in body:
                body[key] = body[key] + doc.body_vector
                title[key] = title[key] + doc.title_vector
            else:
                body[key] = doc.body_vector.astype(np.float32).copy()
                title[key] = doc.title_vector.astype(np.float32).copy()
            counts[key] = counts.get(key, 0) + 1
        self._body: dict[str, Vector] = {}
        self._title: dict[str, Vector] = {}
        self._fallback: tuple[Vector, Vector] | None = None
        if not counts:
            return
        self._body, body_mean = shrunk_means(body, counts, prior)
        self._title, title_mean = shrunk_means(title, counts, prior)
        self._fallback = (body_mean, title_mean)

    def apply(self, doc: ClusterDoc) -> ClusterDoc:
        """``doc`` with both vectors centred on its language's mean and re-normalised."""
        if self._fallback is None:
            return doc
        key = language_key(doc.language)
        body = self._body.get(key, self._fallback[0])
        title = self._title.get(key, self._fallback[1])
        return dataclasses.replace(
            doc,
            body_vector=unit(doc.body_vector - body),
            title_vector=unit(doc.title_vector - title),
        )


def shrunk_means(
    sums: Mapping[str, Vector], counts: Mapping[str, int], prior: float
) -> tuple[dict[str, Vector], Vector]:
    """Each language's mean vector, shrunk towards the overall mean with the weight of ``prior``
    vectors, and the overall mean; ``sums`` and ``counts`` add up each language's vectors."""
    total = sum(counts.values())
    overall: Vector = (np.sum(list(sums.values()), axis=0) / total).astype(np.float32)
    means = {
        key: ((sums[key] + prior * overall) / (n + prior)).astype(np.float32)
        for key, n in counts.items()
    }
    return means, overall


def unit(vector: Vector) -> Vector:
    norm = float(np.linalg.norm(vector))
    out: Vector = (vector / norm if norm > 1e-9 else vector).astype(np.float32)
    return out
