"""Site chrome that survives generic extractors, removed line by line by its wording.

Written for the languages the aggregator follows rather than for any one site: "read also" links,
promo and messaging-app calls, comment counters and widgets, share prompts, photo credits, image
captions and the repeated headline. Only short lines are judged, so a story paragraph that happens
to mention WhatsApp or a newsletter survives. (Dropping elements by class name was tried and
removed: too many sites name their main column after a widget.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from aggregator.extract.consent import is_consent_line


def _words(*phrases: str) -> str:
    return "|".join(phrases)


_READ_ALSO = _words(
    r"read (also|more|next)",
    r"also read",
    r"see also",
    r"related( articles?| stories| news)?",
    r"recommended( for you)?",
    r"more from",
    r"you (may|might) also like",
    r"don'?t miss",
    r"leggi anche",
    r"leggi pure",
    r"potrebbe interessarti",
    r"ti potrebbe interessare",
    r"articoli correlati",
    r"vedi anche",
    r"lesen sie (auch|mehr)",
    r"auch interessant",
    r"mehr zum thema",
    r"das könnte sie (auch )?interessieren",
    r"weiterlesen",
    r"यह भी पढ़ें",
    r"ये भी पढ़ें",
    r"इसे भी पढ़ें",
    r"और पढ़ें",
    r"संबंधित खबरें",
    r"另请阅读",
    r"相关阅读",
    r"延伸阅读",
    r"推荐阅读",
    r"相关文章",
    r"相关新闻",
    r"阅读更多",
    r"à lire aussi",
    r"a lire aussi",
    r"lire aussi",
    r"voir aussi",
    r"sur le même sujet",
    r"lire la suite",
    r"lee también",
    r"leer también",
    r"lea también",
    r"te puede interesar",
    r"también te puede interesar",
    r"noticias relacionadas",
    r"leer más",
)
_READ_ALSO_LINE = re.compile(rf"^\W*({_READ_ALSO})(?!\w)\s*(?P<sep>[:：»>\-–—|]|$)?", re.IGNORECASE)

_PROMO = re.compile(
    _words(
        r"whats\s?app",
        r"telegram",
        r"coupon",
        r"newsletter",
        r"promo ?code",
        r"codice sconto",
        r"gutschein",
        r"code promo",
        r"código de descuento",
        r"cupón",
        r"优惠券",
        r"कूपन",
        r"व्हाट्सएप",
        r"टेलीग्राम",
        r"sign up",
        r"subscribe",
        r"iscriviti",
        r"abonnieren",
        r"abonnez-vous",
        r"suscríbete",
        r"suscribete",
        r"订阅",
        r"关注我们",
        r"follow us",
        r"seguici",
        r"folgen sie uns",
        r"suivez-nous",
        r"síguenos",
        r"हमें फॉलो करें",
    ),
    re.IGNORECASE,
)
_COMMENTS = re.compile(
    r"^\W*(\d+\s*)?("
    + _words(
        r"comments?",
        r"commenti?",
        r"kommentare?",
        r"टिप्पणियाँ",
        r"टिप्पणियां",
        r"टिप्पणी",
        r"条?评论",
        r"commentaires?",
        r"comentarios?",
        r"leave a (comment|reply)",
        r"post a comment",
        r"add a comment",
        r"lascia un commento",
        r"scrivi un commento",
        r"kommentar schreiben",
        r"schreibe einen kommentar",
        r"टिप्पणी करें",
        r"发表评论",
        r"laisser un commentaire",
        r"laissez un commentaire",
        r"deja (un|tu) comentario",
        r"deja una respuesta",
        r"inline feedbacks?",
        r"इनलाइन फीडबैक",
        r"view all comments",
        r"सभी टिप्पणियां देखें",
        r"notify of",
        r"सूचित करना",
        r"share( this( article| story)?)?",
        r"condividi",
        r"teilen",
        r"partager",
        r"compartir",
        r"शेयर करें",
        r"分享",
        r"print",
        r"email",
        r"tweet",
        r"guest",
        r"अतिथि",
        r"सदस्यता लें",
        r"login",
        r"log in",
    )
    + r")\W*$",
    re.IGNORECASE,
)
_PHOTO_CREDIT = re.compile(
    r"^\W*(photo|foto|image|bild|immagine|图片|图|फोटो|तस्वीर|crédit photo|credit)s?\b.{0,80}$",
    re.IGNORECASE,
)
_PROMO_MAX_WORDS = 30


_NON_WORD = re.compile(r"[\W_]+")
# A row of underscores, dashes or stars: the author's section break, part of the story's layout.
_SEPARATOR = re.compile(r"^\s*([_*=~\-–—])\1{2,}\s*$")


def _key(text: str) -> str:
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def is_boilerplate_line(line: str) -> bool:
    """True for a line that is chrome by its wording alone (short lines only)."""
    stripped = line.strip()
    if not stripped:
        return False
    words = len(stripped.split())
    short = words <= _PROMO_MAX_WORDS and len(stripped) <= 240
    if not short:
        return False
    read_also = _READ_ALSO_LINE.match(stripped)
    if read_also and (read_also.group("sep") is not None or words <= 14):
        return True
    if _COMMENTS.match(stripped) or is_consent_line(stripped):
        return True
    if _PROMO.search(stripped) and (words <= 18 or stripped.endswith(("!", "?"))):
        return True
    return bool(_PHOTO_CREDIT.match(stripped) and words <= 12)


def filter_lines(text: str, *, title: str | None, drop: Iterable[str] = ()) -> str:
    """Drop chrome lines, the repeated headline and any line in ``drop`` (e.g. known captions).

    Section breaks ("___", "***") between kept lines stay as they are; at the edges they go.
    """
    title_key = _key(title) if title else ""
    drop_keys = {k for k in (_key(d) for d in drop) if len(k) >= 4}
    kept: list[str] = []
    for line in text.split("\n"):
        key = _key(line)
        if _SEPARATOR.match(line):
            if kept and kept[-1] != "":
                kept.append(line.strip())
            continue
        if not key:
            if kept and kept[-1] != "":
                kept.append("")
            continue
        if (title_key and key == title_key) or key in drop_keys or is_boilerplate_line(line):
            continue
        kept.append(line.strip())
    while kept and (not kept[-1] or _SEPARATOR.match(kept[-1])):
        kept.pop()
    return "\n".join(kept).strip()
