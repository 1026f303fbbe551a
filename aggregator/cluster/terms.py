"""Words worth comparing: tokenising per script, stopwords for the feed languages, IDF weights.

Within one language, shared rare words (names, places, model numbers, figures) separate two events
about the same companies better than sentence embeddings do, so the clusterer keeps a sparse
TF-IDF view beside the dense one. Chinese has no spaces; overlapping character bigrams stand in for
words, which is the usual unsegmented baseline and needs no dictionary.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

_STOPWORDS_TEXT = {
    "en": """a about above after again against all also am an and any are as at be because been
        before being below between both but by can could did do does doing down during each few for
        from further had has have having he her here hers him his how i if in into is it its itself
        just me more most my no nor not now of off on once only or other our out over own said same
        says she should so some such than that the their them then there these they this those
        through to too under until up very was we were what when where which while who whom why will
        with would you your new year years one two first last week day days told s t us mr ms per
        according report reports reported via may might must shall get gets got make makes made""",
    "it": """a ad al alla alle allo agli ai anche avere che chi ci come con contro cui da dal dalla
        dalle dai degli dei del della delle dello di dove e ed era essere fa fra gli ha hanno ho il
        in io la le lei li lo loro lui ma mi ne nei nel nella nelle nello noi non nostro o per
        perché più poi quale quando quanto quella quelle quello questa queste questo se sei si
        sia siamo
        sono su sua sue sui sul sulla suo suoi tra tutto un una uno vi è stato stata sarà anni anno
        oggi dopo ancora già solo molto""",
    "de": """aber alle allem allen aller als also am an auch auf aus bei bin bis bist da damit dann
        das dass dem den der des die dies diese diesem diesen dieser dieses doch dort du durch ein
        eine einem einen einer eines er es für gegen hat hatte haben hier ich ihr ihre im in ins ist
        jetzt kann kein keine mit muss nach nicht noch nun nur ob oder ohne sehr sein seine sich sie
        sind so soll über um und uns unter vom von vor war waren was wie wir wird wurde werden zu
        zum zur jahr jahre jahren heute neue neuen mehr schon bereits sowie""",
    "fr": """a au aux avec ce ces cette dans de des du elle en et eux il ils je la le les leur leurs
        lui ma mais me même mes moi mon ne nos notre nous on ou où par pas pour qu que qui sa se ses
        son sont sur ta te tes toi ton tu un une vos votre vous y été être est ont a plus comme fait
        faire aussi tout tous toute après avant entre sans sous depuis selon an ans année cette
        nouveau nouvelle l d c s n qu j""",
    "es": """a al algo ante antes como con contra cual cuando de del desde donde durante e el ella
        ellos en entre era es esa ese eso esta este esto estos fue ha han hasta hay la las le les lo
        los más me mi muy ni no nos o otra otro para pero por que qué se ser si sin sobre su sus
        también tiene todo un una uno unos y ya año años nuevo nueva está están será
        sido según tras""",
    "hi": """का के की को से में है हैं था थे थी और एक पर यह ये वह वे इस उस इन उन ने भी लिए तो कि
        जो कर करने किया किए गया गई गए हो होता होती होते रहा रही रहे साथ अपने अपनी अपना नहीं तक
        बाद कहा कहते जा जाता जाती जाएगा सकता सकती अब या एवं तथा द्वारा वाले वाली लेकिन हुआ हुई
        हुए बहुत कुछ सभी दौरान""",
    "zh": """的 了 在 是 和 与 及 也 有 为 对 将 这 那 就 都 而 等 中 上 下 个 于 被 把 从 到 让 其
        该 年 月 日 我们 他们 表示 已经 一个 没有 可以 以及 进行 目前""",
}

STOPWORDS: Mapping[str, frozenset[str]] = {
    lang: frozenset(words.split()) for lang, words in _STOPWORDS_TEXT.items()
}
_ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
#: A word character, or a Devanagari vowel sign or virama: Python counts those as marks, not
#: letters, and without them Hindi words fall apart into two-letter shards shared by chance.
_LETTER = r"(?:[^\W_]|[\u0900-\u0903\u093a-\u094f\u0955-\u0957\u0962\u0963])"
_WORD = re.compile(rf"[^\W_]{_LETTER}*(?:[-'’]{_LETTER}+)*", re.UNICODE)
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

    Han runs become character bigrams (and single characters for one-character runs); everything
    else is split on word boundaries, whatever the declared language, because feeds mix scripts.
    """
    stop = STOPWORDS.get(language_key(language), _ALL_STOPWORDS)
    out: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if _HAN.search(word):
            for run in _HAN.findall(word):
                if len(run) == 1:
                    if run not in stop:
                        out.append(run)
                    continue
                out.extend(
                    run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in stop
                )
            word = _HAN.sub(" ", word).strip()
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
    return word[:STEM_LENGTH]


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
