"""What every embedding backend shares: the protocol, the vector type and the on-disk cache."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

Kind = Literal["passage", "query"]
Vectors = npt.NDArray[np.float32]

BATCH_SIZE = 32


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of a fixed width."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def multilingual(self) -> bool: ...

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors: ...


def normalised(vectors: npt.ArrayLike) -> Vectors:
    """Rows scaled to unit length; an all-zero row stays zero."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(matrix), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = matrix / norms
    return unit


def cache_dir() -> Path:
    """Where rebuilt models and exported graphs live: ``$AGGREGATOR_CACHE`` or the user's cache
    directory (``$XDG_CACHE_HOME/aggregator``, by default ``~/.cache/aggregator``)."""
    explicit = os.environ.get("AGGREGATOR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aggregator"
