"""Words worth comparing: tokenising per script, stopwords for the feed languages, IDF weights.

Within one language, shared rare words (names, places, model numbers, figures) separate two events
about the same companies better than sentence embeddings do, so the clusterer keeps a sparse
TF-IDF view beside the dense one. Chinese has no spaces; overlapping character bigrams stand in for
words, which is the usual unsegmented baseline and needs no dictionary.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from aggregator.text import WORD as _WORD

STOPWORD_DIR = Path(__file__).parent / "stopwords"
"""One ``<language>.txt`` per language: words split by white space, ``#`` starts a comment."""


def _read_stopwords(path: Path) -> frozenset[str]:
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        words.update(line.split("#", 1)[0].split())
    return frozenset(words)


STOPWORDS: Mapping[str, frozenset[str]] = {
    path.stem: _read_stopwords(path) for path in sorted(STOPWORD_DIR.glob("*.txt"))
}
_ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
#: Hiragana: in Japanese the particles and inflections around the kanji and katakana that carry
#: the meaning, so a run of it is never a term.
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")
#: Words are cut to this many characters: a cheap, language-neutral stemmer that joins inflections
#: (Renault/Renault's, elettrica/elettriche, Fahrzeug/Fahrzeuge) without a per-language dictionary.
STEM_LENGTH = 7


def language_key(language: str | None) -> str:
    """``"pt-BR"`` -> ``"pt"``; unknown languages share one key."""
    if not language:
        return "und"
    return language.strip().lower().replace("_", "-").split("-")[0] or "und"


def tokens(text: str, language: str | None = None) -> list[str]:
    """Comparable word forms of ``text``: lowercased, stopwords dropped, cut to a stem length.

    Han runs become character bigrams (and single characters for one-character runs) and hiragana
    runs are dropped; everything else is split on word boundaries, whatever the declared language,
    because feeds mix scripts. Combining marks (vowel signs, viramas, diacritics) stay inside words.
    """
    stop = STOPWORDS.get(language_key(language), _ALL_STOPWORDS)
    out: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if _HAN.search(word) or _HIRAGANA.search(word):
            for run in _HAN.findall(word):
                if len(run) == 1:
                    if run not in stop:
                        out.append(run)
                    continue
                out.extend(
                    run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in stop
                )
            word = _HIRAGANA.sub(" ", _HAN.sub(" ", word)).strip()
            if not word:
                continue
            out.extend(_plain(part, stop) for part in word.split() if _keep(part, stop))
            continue
        if _keep(word, stop):
            out.append(_plain(word, stop))
    return out


def _keep(word: str, stop: frozenset[str]) -> bool:
    if word in stop:
        return False
    if word.isdigit():
        return len(word) >= 2
    return len(word) >= 2


def _plain(word: str, stop: frozenset[str]) -> str:
    for suffix in ("'s", "’s"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    cut = STEM_LENGTH
    while cut < len(word) and unicodedata.category(word[cut]).startswith("M"):
        cut += 1  # never part a letter from its vowel sign or virama
    return word[:cut]


def term_counts(text: str, language: str | None = None, *, name_boost: int = 2) -> Counter[str]:
    """Bag of stems of ``text``, names and figures counted ``name_boost`` times.

    A capitalised word inside a sentence (a company, a person, a place, a model) or a number (a
    price, a date, a count) is what tells one event from another about the same firms, so it weighs
    more. Scripts without case (Hindi, Chinese) rely on the knowledge-base entities instead.
    """
    counts: Counter[str] = Counter(tokens(text, language))
    if name_boost > 1:
        for line in re.split(r"(?<=[.!?:])\s+|\n", text):
            words = _WORD.findall(line)
            for position, word in enumerate(words):
                named = (position > 0 and word[:1].isupper()) or (word.isdigit() and len(word) >= 2)
                if not named:
                    continue
                for stem in tokens(word, language):
                    if stem in counts:
                        counts[stem] += name_boost - 1
    return counts


class DocumentFrequencies:
    """Per-language document frequencies, counted online as documents arrive.

    IDF uses the smoothed form ``log((1 + n) / (1 + df)) + 1`` so a word seen in every document
    still weighs a little and an unseen one weighs most.
    """

    def __init__(self) -> None:
        self._df: dict[str, Counter[str]] = {}
        self._n: Counter[str] = Counter()

    def add(self, language: str, terms: Iterable[str]) -> None:
        self._df.setdefault(language, Counter()).update(set(terms))
        self._n[language] += 1

    def documents(self, language: str) -> int:
        return self._n[language]

    def idf(self, language: str, term: str) -> float:
        df = self._df.get(language)
        count = df[term] if df is not None else 0
        return math.log((1 + self._n[language]) / (1 + count)) + 1.0

    def weigh(self, language: str, counts: Mapping[str, int]) -> dict[str, float]:
        """Unit-length TF-IDF vector (sublinear term frequency) of one bag of words."""
        weights = {t: (1.0 + math.log(c)) * self.idf(language, t) for t, c in counts.items() if c}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        if norm == 0:
            return {}
        return {t: w / norm for t, w in weights.items()}


def sparse_dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two sparse vectors, iterating over the shorter."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())
