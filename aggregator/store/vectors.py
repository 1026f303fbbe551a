"""Vectors held in memory for exact nearest-neighbour search.

Semantic search used to read every body embedding from SQLite on every query, which costs about
half a second at 100,000 articles. Instead a reader keeps one float32 matrix per model and only
reads the rows written since it last looked: embeddings get a new rowid whenever they are
inserted or replaced, so ``max(rowid)`` is a cheap marker of "something changed" and
``rowid > marker`` is exactly the new work. A brute-force matrix product over 100,000 x 384
float32 values takes a few milliseconds, well under the latency budget, and is exact, so no
approximate index (and no extra dependency) is needed at this scale (see bench/search_latency.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]


class VectorIndex:
    """All body embeddings of one model as one normalised matrix; exact inner-product search."""

    def __init__(self, ids: Sequence[int], matrix: Any) -> None:
        self.ids = list(ids)
        self.matrix: Matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._id_array = np.asarray(self.ids, dtype=np.int64)
        self._position = {article_id: row for row, article_id in enumerate(self.ids)}

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def empty(self) -> bool:
        return not self.ids

    def position(self, article_id: int) -> int | None:
        return self._position.get(article_id)

    def nearest(
        self, vector: Any, k: int, *, allowed: Sequence[int] | None = None
    ) -> tuple[list[int], list[float]]:
        """The ``k`` ids with the highest inner product, best first.

        ``allowed`` restricts the candidates (the ids that pass the search filters), so a filter
        never empties the result the way filtering a fixed top-k afterwards would.
        """
        if self.size == 0 or k <= 0:
            return [], []
        scores = self.matrix @ np.asarray(vector, dtype=np.float32)
        if allowed is not None:
            mask = np.isin(self._id_array, np.asarray(list(allowed), dtype=np.int64))
            scores = np.where(mask, scores, -np.inf)
            k = min(k, int(mask.sum()))
            if k == 0:
                return [], []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self.ids[i] for i in top], [float(scores[i]) for i in top]

    def extended(self, ids: Sequence[int], rows: Matrix) -> VectorIndex:
        """A new index with ``rows`` replacing known ids and appended for new ones."""
        if not ids:
            return self
        matrix = self.matrix.copy() if self.size else np.zeros((0, rows.shape[1]), np.float32)
        order = list(self.ids)
        fresh_ids: list[int] = []
        fresh_rows: list[int] = []
        for offset, article_id in enumerate(ids):
            row = self._position.get(article_id)
            if row is not None and matrix.shape[1] == rows.shape[1]:
                matrix[row] = rows[offset]
            else:
                fresh_ids.append(article_id)
                fresh_rows.append(offset)
        if fresh_ids:
            matrix = np.vstack([matrix, rows[fresh_rows]]) if matrix.size else rows[fresh_rows]
            order.extend(fresh_ids)
        return VectorIndex(order, matrix)


@dataclass
class CachedIndex:
    """A reader's index for one model and the embeddings rowid it reflects."""

    marker: int
    index: VectorIndex


def matrix_from_blobs(blobs: Sequence[bytes]) -> Matrix:
    """Stack float32 blobs of one width into a matrix, in one copy."""
    if not blobs:
        return np.zeros((0, 1), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype=np.float32)
    return flat.reshape(len(blobs), -1)
