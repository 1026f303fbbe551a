"""Plain-text hygiene shared by the stages: markup out, whitespace tidy, stable hashes."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

import nh3
import regex

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^>]*>")
_WORDS = re.compile(r"\w+", re.UNICODE)

#: A character inside a word: a letter, a digit, or a combining mark (Unicode M*: the vowel signs
#: and viramas of Devanagari and Tamil, Thai vowels and tones, Arabic harakat, decomposed accents).
#: Python's ``\w`` leaves marks out, which cuts "अपने" to "अपन" and "இந்தியா" to three shards.
WORD_CHAR = r"[\p{L}\p{N}\p{M}]"
#: A word: starts with a letter or digit, may join parts with a hyphen or an apostrophe.
WORD = regex.compile(rf"[\p{{L}}\p{{N}}]{WORD_CHAR}*(?:[-'’]{WORD_CHAR}+)*")
#: The same, starting with a letter: what can be a keyword.
LETTER_WORD = regex.compile(rf"\p{{L}}{WORD_CHAR}*(?:[-'’]{WORD_CHAR}+)*")


def plain_text(markup: str | None) -> str:
    """Untrusted HTML (titles, summaries) to plain text: tags and scripts gone, entities decoded.

    nh3 drops every tag and the content of script/style; unescaping then yields the text a reader
    sees. The result is never rendered as HTML anywhere.
    """
    if not markup:
        return ""
    text = _BLOCK_TAGS.sub("\n", markup)
    cleaned = nh3.clean(
        text,
        tags=set(),
        clean_content_tags={"script", "style", "iframe", "object", "template", "noscript"},
    )
    text = html.unescape(html.unescape(cleaned)) if "&amp;" in cleaned else html.unescape(cleaned)
    text = text.replace("\x00", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def one_line(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def excerpt(text: str, limit: int) -> str:
    """The start of ``text`` in at most ``limit`` characters, cut between words, "…" if cut.

    Text without spaces near the limit (Chinese, Japanese, Thai) is cut at the limit, but never
    between a letter and its combining marks.
    """
    text = one_line(text)
    if len(text) <= limit:
        return text
    budget = limit - 1  # room for the ellipsis
    cut = text[:budget]
    space = cut.rfind(" ")
    if space >= budget * 2 // 3:
        cut = cut[:space]
    else:
        end = budget
        while end > 0 and unicodedata.category(text[end]).startswith("M"):
            end -= 1  # back to the letter those marks belong to, and cut before it
        cut = text[:end]
    return cut.rstrip(" ,;:.-–—") + "…"


def content_hash(title: str, text: str) -> str:
    """A hash of the words of an article, blind to case, spacing and punctuation.

    Two copies of one article served under different URLs or GUIDs hash alike.
    """
    normal = unicodedata.normalize("NFKC", f"{title}\n{text}").casefold()
    words = _WORDS.findall(normal)
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32]


def text_hash(text: str) -> str:
    """Exact hash of a model input, to know when an embedding is still valid."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def plural(count: int, word: str) -> str:
    """``1 article``, ``2 articles``, ``3 stories``, ``4 days``."""
    if count == 1:
        return f"{count} {word}"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{count} {word[:-1]}ies"
    return f"{count} {word}s"
