"""Story labels: a representative headline, keywords and the entities involved.

- Headline: the title of the most central article (highest cosine to the story's mean body vector),
  chosen among articles in the reader's language when the story has any; central means typical,
  which avoids both the wire stub and the opinion piece.
- Keywords: class-based TF-IDF in the spirit of c-TF-IDF: a word scores by how many of the story's
  articles use it (titles count double), discounted by how common it is in general text (stopwords
  removed per language, very short words and bare numbers skipped). 3 to 8 words are kept.
- Entities: knowledge-base entities mentioned by the most articles of the story.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aggregator.cluster import ClusterDoc
from aggregator.cluster.terms import STOPWORDS, language_key
from aggregator.text import LETTER_WORD

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")
#: Characters that begin or end no Chinese or Japanese keyword: particles and function words,
#: so that "特斯拉与" (Tesla and) gives way to "特斯拉".
_HAN_EDGES = frozenset("的了是和与及也为对将这那就都而等于被把从到让其该在个有已并但或之")
#: Katakana words (トヨタ, ハイブリッド): in Japanese the names and loanwords a story is about.
_KATAKANA = re.compile(r"[\u30a0-\u30ff]{2,}")
_UNSPACED = ("zh", "ja")
MAX_KEYWORDS = 8
MIN_KEYWORDS = 3
MAX_ENTITIES = 8


@dataclass(frozen=True)
class StoryLabel:
    lead_article_id: int
    headline: str
    keywords: tuple[str, ...]
    entities: tuple[str, ...]


def _lead(docs: Sequence[ClusterDoc], reader_language: str) -> ClusterDoc:
    preferred = [d for d in docs if language_key(d.language) == language_key(reader_language)]
    pool = preferred or list(docs)
    if len(pool) == 1:
        return pool[0]
    matrix = np.stack([d.body_vector for d in pool]).astype(np.float32)
    centre = matrix.mean(axis=0)
    centre /= float(np.linalg.norm(centre)) or 1.0
    scores = matrix @ centre
    best = max(range(len(pool)), key=lambda i: (float(scores[i]), -pool[i].article_id))
    return pool[best]


# Words a story's articles share without saying what it is about: counts and spans of time. They
# stay in the clusterer's vocabulary ("three weeks" does help tell two reports apart) but make
# poor keywords ("Xiaomi, SU7, deliveries, three, weeks").
_VAGUE_EN = """three four five six seven eight nine ten hundred thousand million billion month
    months weeks hour hours today yesterday percent cent"""
_VAGUE = {"en": frozenset(_VAGUE_EN.split())}


def _words(text: str, language: str | None) -> set[str]:
    key = language_key(language)
    stop = STOPWORDS.get(key, frozenset()) | _VAGUE.get(key, frozenset())
    found: set[str] = set()
    for word in LETTER_WORD.findall(text):
        lowered = word.lower().strip("-'’")
        if len(lowered) < 3 or lowered in stop:
            continue
        found.add(word if word[:1].isupper() and not word.isupper() else lowered)
    return found


def _unspaced_terms(text: str, key: str) -> Counter[str]:
    """Chinese or Japanese candidate words of ``text``, counted: every 2- to 4-character piece of
    a Han run that neither begins nor ends with a particle, and Japanese katakana words."""
    stop = STOPWORDS.get(key, frozenset())
    found: Counter[str] = Counter()
    for run in _HAN_RUN.findall(text):
        for size in (2, 3, 4):
            for start in range(len(run) - size + 1):
                piece = run[start : start + size]
                if piece[0] not in _HAN_EDGES and piece[-1] not in _HAN_EDGES and piece not in stop:
                    found[piece] += 1
    if key == "ja":
        found.update(w for w in _KATAKANA.findall(text) if w not in stop)
    return found


def _unspaced_keywords(pool: Sequence[ClusterDoc], key: str) -> tuple[str, ...]:
    """Keywords where no space marks a word: the pieces most articles share, then the most
    repeated, the longer first when two tie; a piece of a word already chosen is left out."""
    support: Counter[str] = Counter()
    repeats: Counter[str] = Counter()
    for doc in pool:
        title = _unspaced_terms(doc.title, key)
        body = _unspaced_terms(doc.text[:3000], key)
        for piece in title.keys() | body.keys():
            support[piece] += 1 + (1 if piece in title else 0)
        repeats.update(title)
        repeats.update(body)
    # A piece written once is as likely to straddle two words ("国车企高") as to be one; a word
    # comes back, in the title and the text or in several articles.
    ranked = sorted(support, key=lambda p: (repeats[p] < 2, -support[p], -repeats[p], -len(p), p))
    threshold = 2 if len(pool) > 1 else 1
    chosen: list[str] = []
    for piece in ranked:
        weak = repeats[piece] < 2 or support[piece] < threshold
        if len(chosen) >= MAX_KEYWORDS or (weak and len(chosen) >= MIN_KEYWORDS):
            break
        if not any(piece in word for word in chosen):
            chosen.append(piece)
    return tuple(chosen)


def keywords(docs: Sequence[ClusterDoc], language: str | None) -> tuple[str, ...]:
    """Words shared by many of the story's articles in ``language``."""
    key = language_key(language)
    pool = [d for d in docs if language_key(d.language) == key] or list(docs)
    if key in _UNSPACED:
        return _unspaced_keywords(pool, key)
    counts: Counter[str] = Counter()
    forms: dict[str, str] = {}
    for doc in pool:
        body = _words(doc.text[:3000], doc.language)
        title = _words(doc.title, doc.language)
        for word in sorted(body | title):  # sorted: ties rank the same in every process
            folded = word.casefold()
            if word == folded:  # a word any article writes in lower case is no name
                forms[folded] = word
            else:
                forms.setdefault(folded, word)
            counts[folded] += 1 + (1 if word in title else 0)
    threshold = 2 if len(pool) > 1 else 1
    ranked = [forms[w] for w, n in counts.most_common() if n >= threshold]
    if len(ranked) < MIN_KEYWORDS:
        ranked = [forms[w] for w, _ in counts.most_common(MIN_KEYWORDS)]
    return tuple(ranked[:MAX_KEYWORDS])


def label_story(docs: Sequence[ClusterDoc], *, reader_language: str = "en") -> StoryLabel:
    """The label of a story made of ``docs`` (at least one)."""
    if not docs:
        raise ValueError("a story needs at least one article")
    lead = _lead(docs, reader_language)
    entity_counts: Counter[str] = Counter()
    for doc in docs:
        entity_counts.update(e for e in doc.entities if not e.startswith("name:"))
    # ties go to the entity id, not to set order, which changes with every process
    ranked = sorted(entity_counts.items(), key=lambda item: (-item[1], item[0]))
    entities = tuple(e for e, _ in ranked[:MAX_ENTITIES])
    return StoryLabel(
        lead_article_id=lead.article_id,
        headline=lead.title,
        keywords=keywords(docs, lead.language),
        entities=entities,
    )
