"""Is this page an article at all? Listings, videos, paywall stubs, consent walls and soft 404s.

The pipeline keeps the feed summary for pages that are not articles, so a wrong "no" costs the
full text while a wrong "yes" stores chrome as if it were a story. The rules therefore need two
signals before saying no: a tell (phrase, schema type, many teasers) and too little running text.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from aggregator.extract.metadata import ARTICLE_TYPES, LISTING_TYPES, VIDEO_TYPES, PageMeta

_MIN_ARTICLE_WORDS = 120
_STUB_WORDS = 60

_PAYWALL = re.compile(
    "|".join(
        (
            r"subscribe to (continue|read)",
            r"to continue reading",
            r"continue reading with",
            r"already a subscriber",
            r"subscribers? only",
            r"for subscribers",
            r"sign in to read",
            r"register to (continue|read)",
            r"this (article|content) is (for|reserved for) "
            r"(paid )?(subscribers|members)",
            r"unlock (this|full) (article|story)",
            r"abbonati per (continuare|leggere)",
            r"riservato agli abbonati",
            r"sei già abbonato",
            r"contenuto riservato",
            r"jetzt abonnieren",
            r"weiterlesen mit",
            r"bereits abonnent",
            r"nur für abonnenten",
            r"exklusiv für abonnenten",
            r"abonnez-vous pour (lire|continuer)",
            r"réservé aux abonnés",
            r"déjà abonné",
            r"suscríbete para (seguir|continuar|leer)",
            r"exclusivo para suscriptores",
            r"solo para suscriptores",
            r"ya eres suscriptor",
            r"订阅后(继续)?阅读",
            r"付费(内容|阅读)",
            r"会员专享",
            r"पढ़ने के लिए सब्सक्राइब",
            r"सब्सक्राइब करें और पढ़ें",
            r"प्रीमियम (लेख|सामग्री)",
        )
    ),
    re.IGNORECASE,
)
_CONSENT = re.compile(
    r"we value your privacy|cookie|consent|accept all|accetta tutti|alle akzeptieren|"
    r"tout accepter|aceptar todo|datenschutz|informativa|隐私|सहमति",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"\b404\b|page not found|not be found|no longer available|pagina non trovata|"
    r"seite nicht gefunden|nicht gefunden|页面不存在|找不到|page introuvable|n'existe pas|"
    r"página no encontrada|no existe|पेज नहीं मिला|पृष्ठ नहीं मिला",
    re.IGNORECASE,
)


def _word_count(text: str) -> int:
    # Chinese has no spaces: count two Han characters as a word.
    han = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return len(text.split()) + han // 2


def _teasers(tree: HtmlElement) -> int:
    """Headline links: the shape of a listing page (many linked h2/h3 or <article> cards)."""
    linked_heads = 0
    for tag in ("h2", "h3"):
        for head in tree.iter(tag):
            if head.find(".//a[@href]") is not None or (
                head.getparent() is not None and (head.getparent().tag == "a")
            ):
                linked_heads += 1
    cards = sum(1 for _ in tree.iter("article"))
    return max(linked_heads, cards)


def is_article(text: str, meta: PageMeta, tree: HtmlElement, page_text: str) -> bool:
    """Decide whether ``text`` (the extracted body) is a full article worth keeping."""
    words = _word_count(text)
    if words < _STUB_WORDS:
        return False
    tail = text[-600:] + " " + page_text[:3000]
    if _PAYWALL.search(tail) and (meta.paywalled or words < 3 * _MIN_ARTICLE_WORDS):
        return False
    title = meta.title or ""
    if _NOT_FOUND.search(title) and words < 3 * _MIN_ARTICLE_WORDS:
        return False
    if words < _MIN_ARTICLE_WORDS:
        head = text[:400]
        if _CONSENT.search(head):
            return False
        if meta.types & VIDEO_TYPES and not meta.types & ARTICLE_TYPES:
            return False
        if meta.og_type and "video" in meta.og_type:
            return False
    has_article_schema = bool(meta.types & ARTICLE_TYPES) or meta.og_type == "article"
    if meta.types & LISTING_TYPES and not has_article_schema:
        return False
    return not (not has_article_schema and _teasers(tree) >= 8 and words < 4 * _MIN_ARTICLE_WORDS)
