"""Which language a text is written in, preferring the languages the aggregator follows.

py3langid knows ~100 languages and, on short or mixed text, happily answers with a close relative
(Marathi for Hindi, Catalan or Galician for Spanish, Corsican for Italian). Our feeds are in a
handful of languages, so the answer is biased towards them: if one of ours is nearly as likely as
the overall winner, ours wins. Scripts settle the easy cases: Han without kana is Chinese.
"""

from __future__ import annotations

import re
import threading

from py3langid.langid import MODEL_FILE, LanguageIdentifier

PREFERRED = ("en", "hi", "it", "de", "zh", "fr", "es")
_MIN_LETTERS = 12
_MIN_HAN = 4
_MIN_CONFIDENCE = 0.5
_PREFERENCE = 0.25  # one of ours wins when its probability is at least this share of the top one

_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+")


_LOADING = threading.Lock()
_LOADED: list[LanguageIdentifier] = []


def _identifier() -> LanguageIdentifier:
    """The model, loaded once per process on first use (it takes a few hundred ms).

    Page workers reach the first use together; the lock makes the others wait for one load
    instead of each decompressing the model again.
    """
    if not _LOADED:
        with _LOADING:
            if not _LOADED:
                _LOADED.append(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
    return _LOADED[0]


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``; None when the text is too short or the model is unsure."""
    if not text:
        return None
    sample = _URL.sub(" ", text[:2000])
    letters = len(_LETTER.findall(sample))
    han = len(_HAN.findall(sample))
    if han >= _MIN_HAN and han * 2 >= letters:
        if _KANA.search(sample):
            return "ja"
        return "zh"
    if letters < _MIN_LETTERS or (han and han < _MIN_HAN and han * 2 >= letters):
        return None
    if len(_HANGUL.findall(sample)) * 2 >= letters:
        return "ko"
    ranking = _identifier().rank(sample)
    if not ranking:
        return None
    top, top_p = str(ranking[0][0]), float(ranking[0][1])
    if len(_DEVANAGARI.findall(sample)) * 2 >= letters and top in {"mr", "ne", "hi", "sa"}:
        return "hi" if top != "hi" and dict(ranking).get("hi", 0.0) * 4 >= top_p else top
    if top not in PREFERRED:
        ours = next(((lang, p) for lang, p in ranking if lang in PREFERRED), None)
        if ours is not None and ours[1] >= _PREFERENCE * top_p:
            return str(ours[0])
    if top_p < _MIN_CONFIDENCE:
        return None
    return str(top)
