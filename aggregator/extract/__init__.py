"""Page HTML to article text and metadata. trafilatura stays inside this package.

``extract`` decodes the bytes (the declared charset is only a hint), parses them once, reads the
metadata the page declares about itself, removes chrome whose markup gives it away (consent
banners among it), asks several extractors for the article, picks the most plausible text, puts
back quoted social posts dropped with their wrapper, drops chrome lines by their wording, and
finally decides whether the page was an article at all.
"""

from __future__ import annotations

import logging
import re

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from aggregator.errors import ExtractError
from aggregator.extract.boilerplate import filter_lines
from aggregator.extract.candidates import Candidate, choose, gather
from aggregator.extract.consent import strip_consent
from aggregator.extract.decode import decode_html
from aggregator.extract.metadata import read_meta
from aggregator.extract.pagekind import is_article
from aggregator.extract.recover import restore_embedded_posts
from aggregator.language import detect_language
from aggregator.models import Extraction

__all__ = ["extract"]

log = logging.getLogger(__name__)

_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"RIFF")
_MARKUP = re.compile(
    r"<\s*(html|head|body|p|div|article|main|section|title|meta|h[1-6]|span|br|table|!doctype)\b",
    re.IGNORECASE,
)
_INVISIBLE = ("script", "style", "noscript", "template", "svg", "iframe", "link", "meta", "object")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
_CAPTIONS = (
    ".//figcaption|.//*[contains(concat(' ', normalize-space(@class), ' '), ' wp-caption-text ')]"
)


def _check_markup(body: bytes, text: str, url: str) -> None:
    """Refuse bytes that are not an HTML document, before any parser guesses its way through."""
    if not body.strip():
        raise ExtractError("empty page", url=url)
    if body.lstrip()[:8].startswith(_BINARY_MAGIC):
        raise ExtractError("binary content, not HTML", url=url)
    head = text[:20_000]
    if len(_CONTROL.findall(head)) * 50 > len(head):
        raise ExtractError("binary content, not HTML", url=url)
    if not _MARKUP.search(text[:200_000]):
        raise ExtractError("no HTML markup in the page", url=url)


def _parser() -> lxml.html.HTMLParser:
    """An HTML parser whose elements get their class in C.

    lxml.html's default class lookup is a Python callback run for every element proxy, and both
    trafilatura passes walk the whole tree: about a tenth of the extraction time went there. The
    only thing lost is the special classes for form elements, which extraction never uses.
    lxml parsers are not thread-safe, so each page gets its own (it costs microseconds).
    """
    parser = lxml.html.HTMLParser()
    parser.set_element_class_lookup(
        lxml.etree.ElementDefaultClassLookup(
            element=HtmlElement,
            comment=lxml.html.HtmlComment,
            pi=lxml.html.HtmlProcessingInstruction,
            entity=lxml.html.HtmlEntity,
        )
    )
    return parser


def _parse(text: str, url: str) -> HtmlElement:
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        tree = lxml.html.document_fromstring(text, parser=_parser())
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ExtractError(f"unparsable HTML: {exc}", url=url) from exc
    return tree


def _visible_text(tree: HtmlElement) -> str:
    body = tree.find(".//body")
    root = body if body is not None else tree
    return " ".join(root.text_content().split())


def _strip_invisible(tree: HtmlElement) -> None:
    """Remove what no reader sees, once, so that each extractor pass works on a smaller tree."""
    lxml.etree.strip_elements(
        tree, *_INVISIBLE, lxml.etree.Comment, lxml.etree.ProcessingInstruction, with_tail=False
    )


def _extract(html: bytes, url: str, charset: str | None) -> Extraction:
    text, encoding = decode_html(html, charset)
    _check_markup(html, text, url)
    tree = _parse(text, url)
    meta = read_meta(tree, url)
    _strip_invisible(tree)
    strip_consent(tree)
    captions = [c.text_content() for c in tree.xpath(_CAPTIONS)]

    candidates = gather(tree, url, meta.body)
    chosen: Candidate = choose(candidates)
    story = restore_embedded_posts(chosen.text, tree)
    article = filter_lines(story, title=meta.title, drop=captions)
    page_text = _visible_text(tree)
    if not article.strip() and not page_text.strip():
        raise ExtractError("the page holds no text", url=url)
    log.debug("extracted %s with %s (%s)", url, chosen.method, encoding)
    return Extraction(
        text=article,
        method=chosen.method,
        title=meta.title,
        author=meta.author,
        published=meta.published,
        image=meta.image,
        canonical_url=meta.canonical_url,
        language=detect_language(article) if article else None,
        is_article=bool(article) and is_article(article, meta, tree, page_text),
    )


def extract(html: bytes, url: str, *, charset: str | None = None) -> Extraction:
    """The article in one page: text, method, metadata and whether it is an article at all.

    ``charset`` is the HTTP header's charset, used only when the document does not declare one
    that works. Raises ExtractError for bytes that are not HTML or a page with no text at all;
    nothing else escapes.
    """
    try:
        return _extract(html, url, charset)
    except ExtractError:
        raise
    except Exception as exc:
        raise ExtractError(f"extraction failed: {exc.__class__.__name__}: {exc}", url=url) from exc
