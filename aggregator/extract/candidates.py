"""Candidate article texts from several extractors, and the choice between them.

trafilatura stays inside this module. Each candidate is plain text with one paragraph per line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import trafilatura
from lxml.html import HtmlElement

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Candidate:
    """One extractor's idea of the article."""

    method: str
    text: str


def run_trafilatura(tree: HtmlElement, url: str, *, precision: bool = False) -> str:
    """trafilatura on an already parsed tree (it copies the tree before touching it)."""
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,
            fast=True,
            favor_precision=precision,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
        )
    except Exception as exc:
        log.debug("trafilatura failed on %s: %s", url, exc)
        return ""
    if document is None:
        return ""
    return str(getattr(document, "text", "") or "")


def shingles(text: str, size: int = 4) -> set[tuple[str, ...]]:
    """Word n-grams of a text, blind to case and punctuation."""
    words = _WORD.findall(text.casefold())
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def containment(inner: str, outer: str) -> float:
    """Share of ``inner``'s shingles that also occur in ``outer``."""
    a, b = shingles(inner), shingles(outer)
    return len(a & b) / len(a) if a else 0.0


def _line_key(line: str) -> str:
    return " ".join(_WORD.findall(line.casefold()))


_URL_TEXT = re.compile(r"^\s*(https?://|www\.)\S+\s*$", re.IGNORECASE)
_SUBHEADINGS = ("h2", "h3", "h4", "h5", "h6")


def link_keys(tree: HtmlElement) -> frozenset[str]:
    """The normalised text of every link on the page.

    A line of extracted text equal to one of these is nothing but a link: a teaser, a "get the
    app" call or an entry of a related-articles list, rather than a sentence of the story.
    """
    return _link_texts(tree)[0]


def _is_reference(link: HtmlElement, text: str) -> bool:
    """A link that is a subheading of its own (the whole of an h2-h6) or a bare cited URL."""
    if _URL_TEXT.match(text):
        return True
    parent = link.getparent()
    for _ in range(3):
        if parent is None:
            return False
        if parent.tag in _SUBHEADINGS:
            return _line_key(parent.text_content()) == _line_key(text)
        parent = parent.getparent()
    return False


def teaser_keys(tree: HtmlElement) -> frozenset[str]:
    """Link texts that read as teasers, leaving out linked subheadings and cited URLs.

    Product round-ups link every subheading and blogs list their sources as bare URLs; inside
    the story such a line is part of it, while a teaser is a headline wrapped in a paragraph.
    A text that also occurs as a teaser link elsewhere on the page counts as a teaser.
    """
    return _link_texts(tree)[1]


def _link_texts(tree: HtmlElement) -> tuple[frozenset[str], frozenset[str]]:
    """All link keys and the teaser ones, in one walk over the links."""
    keys: set[str] = set()
    teasers: set[str] = set()
    for link in tree.iter("a"):
        text = link.text_content()
        key = _line_key(text)
        if key:
            keys.add(key)
            if not _is_reference(link, text):
                teasers.add(key)
    return frozenset(keys), frozenset(teasers)


def merge_by_agreement(
    recall_text: str,
    precision_text: str,
    *,
    links: frozenset[str] = frozenset(),
    long_words: int = 40,
    max_gap: int = 3,
) -> str:
    """Lines of the recall-oriented text that the precision-oriented one confirms, plus some more.

    The two trafilatura modes disagree mostly on short lines at the edges of the article (teaser
    headlines, bylines, widget text): a short line kept only by the generous mode is more often
    chrome than story. Long paragraphs are kept either way, since chrome is rarely 40 words long
    and dropping a real paragraph costs more than keeping a stray one. A short unconfirmed line
    inside the article, in a run of at most ``max_gap`` such lines with confirmed text on both
    sides, is kept too: that is where subheadings and one-line asides sit, while widgets come in
    longer runs or at the edges.
    """
    if not precision_text.strip():
        return recall_text
    confirmed = {_line_key(line) for line in precision_text.split("\n")}
    lines = recall_text.split("\n")
    anchored = [_line_key(line) in confirmed or len(line.split()) >= long_words for line in lines]
    keep = list(anchored)
    start = 0
    while start < len(lines):
        if anchored[start]:
            start += 1
            continue
        end = start
        while end < len(lines) and not anchored[end]:
            end += 1
        inside = start > 0 and end < len(lines)
        if inside and end - start <= max_gap:
            for i in range(start, end):
                keep[i] = _line_key(lines[i]) not in links
        start = end
    return "\n".join(line for line, kept in zip(lines, keep, strict=True) if kept)


def drop_link_lists(text: str, links: frozenset[str]) -> str:
    """Remove lines that are only a link, when they sit at an edge or next to another such line.

    Runs of link-only lines are related-article lists, tag clouds and "more from" blocks; a
    link-only line at the very start or end is a teaser or an app prompt. A lone link-only line
    between two paragraphs is kept: it is as often a linked subheading or source as it is chrome.
    """
    if not links:
        return text
    lines = text.split("\n")
    linked = [_line_key(line) in links for line in lines]
    kept = [
        line
        for i, line in enumerate(lines)
        if not (linked[i] and (i == 0 or linked[i - 1] or i == len(lines) - 1 or linked[i + 1]))
    ]
    return "\n".join(kept)


def gather(tree: HtmlElement, url: str, jsonld: str | None) -> list[Candidate]:
    """The candidates worth comparing: both trafilatura modes merged, and JSON-LD when present."""
    generous = run_trafilatura(tree, url)
    strict = run_trafilatura(tree, url, precision=True)
    links, teasers = _link_texts(tree)
    found = []
    if generous and strict:
        merged = merge_by_agreement(generous, strict, links=teasers)
        found.append(Candidate("trafilatura+agreement", drop_link_lists(merged, links)))
    found.append(Candidate("trafilatura", drop_link_lists(generous or strict, links)))
    if jsonld:
        found.append(Candidate("jsonld", jsonld))
    return found


def choose(candidates: list[Candidate]) -> Candidate:
    """The first candidate with text: candidates come in order of preference."""
    for candidate in candidates:
        if candidate.text.strip():
            return candidate
    return candidates[0]
