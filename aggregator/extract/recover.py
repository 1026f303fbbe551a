"""Put back story paragraphs that the extractors threw away with the widget around them.

Embedded social posts are the common case: a story quotes reactions as embedded tweets, and the
embed sits in a wrapper whose class says "social" or "media", which trafilatura discards as
chrome. The quoted words are part of the story, so the text paragraphs of the post (not its
attribution line, not its media) are restored, each right after the story paragraph that
precedes the embed. A post counts as inside the story only when one of the few text blocks
just before it is in the extracted text already; embeds in sidebars and footers are left alone.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from aggregator.extract.candidates import containment

_WORD = re.compile(r"\w+")
_EMBEDS = (
    ".//blockquote[contains(concat(' ', normalize-space(@class), ' '), ' twitter-tweet ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' instagram-media ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' tiktok-embed ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' bluesky-embed ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' text-post-media ')]"
)
_BLOCKS = "preceding::*[self::p or self::h2 or self::h3 or self::h4 or self::li]"
_NEARBY = 3  # text blocks looked at before the embed
_ALREADY_THERE = 0.5  # share of a post's word 4-grams found in the text: kept in another shape


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _anchor(embed: HtmlElement, positions: dict[str, int]) -> int | None:
    """Line index of the story paragraph just before ``embed``, if it is close by."""
    seen = 0
    for block in reversed(embed.xpath(_BLOCKS)):
        key = _key(block.text_content())
        if not key:
            continue
        if key in positions:
            return positions[key]
        seen += 1
        if seen >= _NEARBY:
            return None
    return None


def restore_embedded_posts(text: str, tree: HtmlElement) -> str:
    """``text`` with the text paragraphs of embedded social posts put back in place."""
    embeds = tree.xpath(_EMBEDS)
    if not embeds or not text:
        return text
    lines = text.split("\n")
    positions = {_key(line): i for i, line in enumerate(lines) if _key(line)}
    inserts: dict[int, list[str]] = {}
    for embed in embeds:
        paragraphs = [" ".join(p.text_content().split()) for p in embed.iter("p")]
        missing = [
            p
            for p in paragraphs
            if _key(p) and _key(p) not in positions and containment(p, text) < _ALREADY_THERE
        ]
        if not missing:
            continue
        anchor = _anchor(embed, positions)
        if anchor is not None:
            inserts.setdefault(anchor, []).extend(missing)
            positions.update((_key(p), anchor) for p in missing)
    if not inserts:
        return text
    restored: list[str] = []
    for i, line in enumerate(lines):
        restored.append(line)
        restored.extend(inserts.get(i, ()))
    return "\n".join(restored)
