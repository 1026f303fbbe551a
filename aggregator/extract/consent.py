"""Cookie and consent banners: removed by their markup first, then by their wording.

Consent managers mark their banners plainly (``id="cookie-banner"``, ``class="cc-window"``,
``role="dialog" aria-label="Cookie consent"``) and generic extractors still keep them now and then,
because a banner is a short run of sentences that looks like a paragraph. Elements so marked are
removed before any extractor sees the tree, with two guards: the element must be small next to
the page (a body or main column whose class merely mentions a consent state must survive), and it
must not hold an ``<article>``. Banners in unmarked markup (``<div class="notice">``) are caught
afterwards line by line: a short line that speaks of cookies together with using, agreeing or
accepting, in one of the aggregator's languages, is never story text.
"""

from __future__ import annotations

import bisect
import itertools
import re

import lxml.etree
from lxml.html import HtmlElement

# Tokens in id/class that consent managers and templates use for their banners.
_MARKED = re.compile(
    r"cookie|consent|gdpr|\bcmp\b|cmp[-_]|onetrust|didomi|cookiebot|usercentrics|"
    r"quantcast|truste|iubenda|tarteaucitron|sp_message|cc[-_](window|banner)|"
    r"privacy[-_]?(banner|notice|popup|bar|dialog|overlay)",
    re.IGNORECASE,
)
# Words in an aria-label or a dialog's text that make it a consent dialog.
_CONSENT_WORDS = re.compile(
    r"cookie|consent|gdpr|datenschutz|privacy|confidentialit|riservatezza|privacidad|"
    r"隐私|कुकी|सहमति",
    re.IGNORECASE,
)
_DIALOG_ROLES = frozenset({"dialog", "alertdialog", "banner", "region", "alert"})
_MAX_SHARE = 0.3  # a banner is a small part of the page
_MAX_WORDS = 250
_SCOPE = ("html", "body", "main", "article")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ATTRIBUTES = lxml.etree.XPath(
    "//body//*/@id | //body//*/@class | //body//*/@role | //body//*/@aria-modal"
)
# Matched against lower-cased values: case-blind matching is three times slower in ``re``.
_HINT = re.compile(
    _MARKED.pattern + r"|^(dialog|alertdialog|banner|region|alert|true)$", re.MULTILINE
)


def _words(text: str) -> int:
    return len(text.split()) + len(_HAN.findall(text)) // 2


def _is_marked(element: HtmlElement) -> bool:
    marks = f"{element.get('id', '')} {element.get('class', '')}"
    if _MARKED.search(marks):
        return True
    role = (element.get("role") or "").lower()
    label = f"{element.get('aria-label', '')} {element.get('aria-describedby', '')}"
    return (role in _DIALOG_ROLES or element.get("aria-modal") == "true") and bool(
        _CONSENT_WORDS.search(f"{label} {marks}")
    )


def strip_consent(tree: HtmlElement) -> int:
    """Remove consent banners and dialogs marked as such; returns how many were removed."""
    values = _ATTRIBUTES(tree)
    # One search over all attribute values at once, then back from offsets to elements.
    starts = list(itertools.accumulate((len(v) + 1 for v in values), initial=0))
    hits = {
        bisect.bisect_right(starts, m.start()) - 1
        for m in _HINT.finditer("\n".join(values).lower())
    }
    marked: list[HtmlElement] = []
    for index in sorted(hits):
        element = values[index].getparent()
        if element.tag not in _SCOPE and element not in marked and _is_marked(element):
            marked.append(element)
    if not marked:
        return 0
    body = tree.find(".//body")
    page_words = _words((body if body is not None else tree).text_content()) or 1
    doomed: list[HtmlElement] = []
    for element in marked:
        if any(d in doomed for d in element.iterancestors()):
            continue
        if element.find(".//article") is not None:
            continue
        words = _words(element.text_content())
        if words > _MAX_WORDS or words > _MAX_SHARE * page_words:
            continue
        doomed.append(element)
    for element in doomed:
        element.drop_tree()
    return len(doomed)


# -- wording --------------------------------------------------------------------------------------

_COOKIE = re.compile(r"cookie|कुकी", re.IGNORECASE)
# The banner speaks to the reader about the site: "we use", "you agree", "by continuing".
# Story text about cookies rarely does both, which keeps a paragraph on tracking in cars safe.
_CONSENT_ACT = re.compile(
    "|".join(
        (
            # en
            r"\bwe (use|and our partners)\b|\b(this|our) (web)?site\b|"
            r"\byou (agree|accept|consent)\b|\bby (continuing|using|browsing|clicking)\b|"
            r"\b(accept|allow) (all|cookies)\b|\bcookie (policy|settings|preferences)\b|"
            r"\bmanage (your )?(preferences|settings|choices)\b",
            # de
            r"\bwir (verwenden|nutzen|setzen)\b|\bdiese (web)?seite\b|\bstimmen sie\b|"
            r"\bsie (stimmen|akzeptieren|willigen)\b|\beinverstanden\b|\balle akzeptieren\b|"
            r"\bcookie-(einstellungen|richtlinie)\b|\bmit der nutzung\b",
            # fr
            r"\bnous utilisons\b|\b(ce|notre) site\b|\bvous (acceptez|consentez)\b|"
            r"\ben (poursuivant|continuant)\b|\btout accepter\b|\bgestion des cookies\b",
            # it
            r"\b(questo|il nostro) sito\b|\butilizziamo\b|\bacconsenti|\bproseguendo\b|"
            r"\baccetta( tutti)?\b|\binformativa\b|\bcontinuando a navigare\b",
            # es
            r"\butilizamos\b|\busamos\b|\b(este|nuestro) sitio\b|\bnuestra web\b|"
            r"\bcontin[uú]as? navegando\b|\baceptas?\b|\baceptar todo|\bpol[ií]tica de cookies\b",
            # hi: "we", "you", "agree", "accept"
            r"हम|आप|सहमत|स्वीकार",
            # zh: "this site", "we use", "you agree", "continue browsing", "accept"
            r"本网站|本站|我们使用|您同意|继续浏览|接受",
        )
    ),
    re.IGNORECASE,
)
# IAB-style wording that never names cookies at all.
_PARTNERS = re.compile(
    r"we and our (\d+ )?(partners|vendors)|wir und unsere partner|nous et nos partenaires|"
    r"noi e i nostri partner|nosotros y nuestros socios|store and/or access information",
    re.IGNORECASE,
)
_MAX_LINE_WORDS = 70


def is_consent_line(line: str) -> bool:
    """True for a short line asking the reader to accept cookies or tracking."""
    if _words(line) > _MAX_LINE_WORDS:
        return False
    if _PARTNERS.search(line):
        return True
    return bool(_COOKIE.search(line) and _CONSENT_ACT.search(line))
