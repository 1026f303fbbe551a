"""Page bytes to text: the declared charset is a hint, not a fact.

Servers and templates often disagree about the encoding: a CMS emits UTF-8 while the web server
still says ``ISO-8859-1``, or an old ``<meta charset=gb2312>`` survives a migration. The order of
trust is byte-order mark, then the document's own declaration (meta tag or XML prolog), then the
HTTP header. A declared charset is only kept when it decodes cleanly and does not produce the
tell-tale mojibake of UTF-8 read as a single-byte code page.

When every declaration fails, the page's language decides: a French page that is not UTF-8 is
almost always windows-1252, a Czech one windows-1250, a Russian one windows-1251. Statistical
detectors get this wrong on short Western pages (French accents are equally valid windows-1250
bytes, and "à" comes out as "ŕ"), so they are only the last resort. The language comes from the
markup (``<html lang>``, ``content-language``, ``og:locale``) or, failing that, from the text
itself read as windows-1252, the most common legacy encoding on the web.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata

from charset_normalizer import from_bytes

from aggregator.language import detect_language

log = logging.getLogger(__name__)

_HEAD_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")
# UTF-8 lead/continuation bytes read as cp1252/latin-1: "Ã©", "â€™", "Ã¤", "Â " ...
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030"
    "\u2039\u203a\u20ac\u2122]"
)

_LANG_ATTR = re.compile(rb"""<html\b[^>]*?\blang\s*=\s*["']?\s*([A-Za-z]{2,3})\b""", re.IGNORECASE)
_META_LANG = re.compile(
    rb"""<meta[^>]+(?:content-language|og:locale)["'][^>]*content\s*=\s*["']?\s*([A-Za-z]{2,3})"""
    rb"""|<meta[^>]+content\s*=\s*["']?\s*([A-Za-z]{2,3})[^>]*(?:content-language|og:locale)""",
    re.IGNORECASE,
)
_TAG = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]*>", re.IGNORECASE | re.DOTALL)

_WESTERN = ("cp1252",)
# The legacy code pages each language was written in before UTF-8, most common first.
_LEGACY_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "en",
            "de",
            "fr",
            "it",
            "es",
            "pt",
            "nl",
            "da",
            "sv",
            "no",
            "nb",
            "nn",
            "fi",
            "is",
            "ca",
            "gl",
            "eu",
            "ga",
            "af",
            "id",
            "ms",
            "sw",
            "lb",
            "oc",
        ),
        _WESTERN,
    ),
    **dict.fromkeys(("cs", "sk", "pl", "hu", "ro", "hr", "sl", "bs", "sq"), ("cp1250",)),
    **dict.fromkeys(("ru", "uk", "bg", "be", "sr", "mk"), ("cp1251", "koi8_r")),
    **dict.fromkeys(("et", "lv", "lt"), ("cp1257",)),
    **dict.fromkeys(("tr", "az"), ("cp1254",)),
    **dict.fromkeys(("ar", "fa", "ur"), ("cp1256",)),
    "el": ("cp1253",),
    "he": ("cp1255",),
    "vi": ("cp1258",),
    "th": ("cp874",),
    "zh": ("gb18030", "big5"),
    "ja": ("cp932", "euc_jp"),
    "ko": ("cp949",),
}
# Punctuation and symbols that real text puts next to letters; any other non-ASCII symbol wedged
# inside a word is the sign of a wrong code page.
_PLAUSIBLE_SYMBOLS = frozenset("\u00a0«»‹›„“”‘’‚–—…·•°€£¥§©®™¿¡×")
_MAX_IMPLAUSIBLE = 0.02

# WHATWG: these labels really mean their supersets on the web.
_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "utf8": "utf-8",
    "unicode": "utf-8",
}


def _normal_name(label: str | bytes | None) -> str | None:
    """A Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    text = label.decode("ascii", "ignore") if isinstance(label, bytes) else label
    text = text.strip().strip("\"'").lower()
    text = _SUPERSETS.get(text, text)
    try:
        name = codecs.lookup(text).name
    except LookupError:
        return None
    # A page cannot really be UTF-16 if the meta tag was readable as ASCII.
    return "utf-8" if name.startswith("utf-16") or name.startswith("utf-32") else name


def _bom(body: bytes) -> tuple[str, int] | None:
    for mark, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(mark):
            return name, len(mark)
    return None


def declared_charsets(body: bytes, header: str | None) -> list[str]:
    """Candidate codecs in order of trust: document declaration first, then the HTTP header."""
    head = body[:_HEAD_BYTES]
    found: list[str] = []
    for match in (_XML_ENCODING.search(head), _META_CHARSET.search(head)):
        name = _normal_name(match.group(1)) if match else None
        if name and name not in found:
            found.append(name)
    name = _normal_name(header)
    if name and name not in found:
        found.append(name)
    return found


def _looks_mojibake(text: str) -> bool:
    """UTF-8 bytes decoded as a Western code page leave pairs like 'Ã©' all over the text."""
    hits = len(_MOJIBAKE.findall(text))
    return hits >= 3 and hits * 200 > sum(1 for ch in text if ord(ch) > 127)


def _is_utf8_with_non_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def declared_language(body: bytes) -> str | None:
    """The ISO 639-1 code the markup gives for the page, if any (``<html lang>`` first)."""
    head = body[: _HEAD_BYTES * 4]
    match = _LANG_ATTR.search(head)
    if match is None:
        meta = _META_LANG.search(head)
        code = (meta.group(1) or meta.group(2)) if meta else None
    else:
        code = match.group(1)
    return code.decode("ascii").lower() if code else None


def implausible_share(text: str) -> float:
    """Share of non-ASCII characters that no correctly decoded text would contain.

    C1 control codes and replacement characters never belong in a page, and neither does a
    symbol such as "¹" or "¤" glued between two letters: that is a letter of another code page.
    """
    odd = total = 0
    for i, ch in enumerate(text):
        if ch.isascii():
            continue
        total += 1
        category = unicodedata.category(ch)
        if (
            category in ("Cc", "Co", "Cs")
            or ch == "\ufffd"
            or (
                not category.startswith(("L", "M", "Z"))
                and ch not in _PLAUSIBLE_SYMBOLS
                and 0 < i < len(text) - 1
                and text[i - 1].isalpha()
                and text[i + 1].isalpha()
            )
        ):
            odd += 1
    return odd / total if total else 0.0


def _visible_sample(text: str) -> str:
    body = text.find("<body")
    return " ".join(_TAG.sub(" ", text[body if body >= 0 else 0 :][:100_000]).split())[:4000]


def _by_language(body: bytes) -> tuple[str, str] | None:
    """Decode with the legacy code page of the page's language, when one reads plausibly.

    Without a declared language, windows-1252 is tried and kept only if the text it gives reads
    as a language written in that code page.
    """
    language = declared_language(body)
    names = _LEGACY_BY_LANGUAGE.get(language or "", ()) if language else _WESTERN
    for name in names:
        try:
            text = body.decode(name)
        except UnicodeDecodeError:
            continue
        if implausible_share(text) > _MAX_IMPLAUSIBLE or _looks_mojibake(text):
            continue
        if language is None:
            detected = detect_language(_visible_sample(text))
            if _LEGACY_BY_LANGUAGE.get(detected or "") != _WESTERN:
                continue
        log.debug("decoded with %s, the legacy code page of language %s", name, language)
        return text, name
    return None


def decode_html(body: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns the text and the codec that was used.

    Random non-ASCII bytes almost never form valid UTF-8, so bytes that are valid UTF-8 win over any
    other declaration: a UTF-8 page labelled Latin-1 or GBK is the most common lie on the web.
    """
    bom = _bom(body)
    if bom is not None:
        name, size = bom
        return body[size:].decode(name, errors="replace"), name

    candidates = declared_charsets(body, header_charset)
    utf8_ok = _is_utf8_with_non_ascii(body)
    for name in candidates:
        if name != "utf-8" and utf8_ok:
            log.debug("declared %s but the bytes are valid UTF-8", name)
            continue
        try:
            text = body.decode(name)
        except (UnicodeDecodeError, LookupError):
            log.debug("declared charset %s does not decode the page", name)
            continue
        if name != "utf-8" and _looks_mojibake(text):
            continue
        return text, name

    if utf8_ok or body.isascii():
        return body.decode("utf-8"), "utf-8"
    by_language = _by_language(body)
    if by_language is not None:
        return by_language
    best = from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        name = _normal_name(best.encoding) or "utf-8"
        return body.decode(name, errors="replace"), name
    return body.decode("utf-8", errors="replace"), "utf-8"
