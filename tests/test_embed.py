"""The ONNX int8 MiniLM backend: batching that bounds memory, and vectors that match fp32."""

from __future__ import annotations

import numpy as np
import pytest

from aggregator.embed_onnx import MAX_TOKENS, TOKEN_BUDGET, _batches

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
    batches = _batches(order, lengths, 32)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [i for batch in batches for i in batch] == order
    for batch in batches:
        assert len(batch) <= 32
        assert len(batch) * max(lengths[i] for i in batch) <= max(TOKEN_BUDGET, MAX_TOKENS)
    assert any(len(b) == 32 for b in batches)  # short texts still share full batches


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
