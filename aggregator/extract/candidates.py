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


def gather(tree: HtmlElement, pruned: HtmlElement, url: str, jsonld: str | None) -> list[Candidate]:
    """Every candidate text worth comparing, cheapest first."""
    found = [Candidate("trafilatura", run_trafilatura(pruned, url))]
    if jsonld:
        found.append(Candidate("jsonld", jsonld))
    return found


def choose(candidates: list[Candidate]) -> Candidate:
    """The candidate to keep."""
    for candidate in candidates:
        if candidate.text.strip():
            return candidate
    return candidates[0]
