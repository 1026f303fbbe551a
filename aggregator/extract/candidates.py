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


def merge_by_agreement(recall_text: str, precision_text: str, *, long_words: int = 40) -> str:
    """Lines of the recall-oriented text that the precision-oriented one confirms, plus long ones.

    The two trafilatura modes disagree mostly on short lines at the edges of the article (teaser
    headlines, bylines, widget text): a short line kept only by the generous mode is more often
    chrome than story. Long paragraphs are kept either way, since chrome is rarely 40 words long
    and dropping a real paragraph costs more than keeping a stray one.
    """
    if not precision_text.strip():
        return recall_text
    confirmed = {_line_key(line) for line in precision_text.split("\n")}
    kept = [
        line
        for line in recall_text.split("\n")
        if _line_key(line) in confirmed or len(line.split()) >= long_words
    ]
    return "\n".join(kept)


def gather(tree: HtmlElement, url: str, jsonld: str | None) -> list[Candidate]:
    """The candidates worth comparing: both trafilatura modes merged, and JSON-LD when present."""
    generous = run_trafilatura(tree, url)
    strict = run_trafilatura(tree, url, precision=True)
    found = []
    if generous and strict:
        found.append(Candidate("trafilatura+agreement", merge_by_agreement(generous, strict)))
    found.append(Candidate("trafilatura", generous or strict))
    if jsonld:
        found.append(Candidate("jsonld", jsonld))
    return found


def choose(candidates: list[Candidate]) -> Candidate:
    """The first candidate with text: candidates come in order of preference."""
    for candidate in candidates:
        if candidate.text.strip():
            return candidate
    return candidates[0]
