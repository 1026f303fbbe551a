"""Feed documents of the demo outlets: RSS 2.0, Atom 1.0 and RSS 1.0, each with its outlet's faults.

The faults are written on purpose and the same way every time (relative links, escaped markup
in titles, a body cut mid-item, windows-1252 bytes under a utf-8 label, an HTML page where a feed
should be), so the parse stage can be tested against each of them offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape

from aggregator.demo.corpus import DemoArticle, DemoOutlet, truncated_survivors
from aggregator.demo.pages import PageRenderer

WRONG_ENCODING = "cp1252"
"""What the wrong-encoding outlet really writes while its headers and prolog say utf-8."""


BRANDS = frozenset({"Xiaomi", "SU7", "BYD", "Tesla", "Renault", "Volkswagen", "VW", "Tata", "NIO"})
"""Names a fan site likes to set in bold inside its titles."""


@dataclass(frozen=True)
class Rendered:
    """A document ready to serve: bytes plus the headers that describe them."""

    body: bytes
    content_type: str
    last_modified: datetime | None = None


def _x(text: str) -> str:
    return escape(text, quote=False)


def _a(text: str) -> str:
    return escape(text, quote=True)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def html_title(title: str) -> str:
    """A title as a careless CMS puts it in a feed: markup escaped once, ampersands twice."""
    doubled = _x(_x(title)).replace("’", "&#8217;").replace('"', "&quot;")
    words = doubled.split(" ")
    bold = next((i for i, w in enumerate(words) if w.strip(",.:;!?") in BRANDS), 0)
    words[bold] = f"&lt;b&gt;{words[bold]}&lt;/b&gt;"
    return " ".join(words)


def cdata_summary(summary: str) -> str:
    """A summary as HTML inside CDATA, the way many WordPress feeds ship it."""
    first, _, rest = summary.partition(" ")
    markup = f"<p><strong>{_x(first)}</strong> {_x(rest)}</p>".replace("]]>", "]]&gt;")
    return f"<![CDATA[{markup}]]>"


class FeedWriter:
    """Writes one outlet's feed for a given list of items (newest first)."""

    def __init__(self, outlet: DemoOutlet, base_url: str, pages: PageRenderer) -> None:
        self.outlet = outlet
        self.base_url = base_url.rstrip("/")
        self.pages = pages
        self.site = f"{self.base_url}/{outlet.slug}/"
        self.self_url = self.base_url + outlet.feed_path

    def render(self, items: Sequence[DemoArticle]) -> Rendered:
        newest = items[0].published if items else None
        if self.outlet.format == "html":
            body = self.pages.home_page().encode("utf-8")
            return Rendered(body, "text/html; charset=utf-8", None)
        writer = {"rss2": self._rss2, "atom": self._atom, "rss1": self._rss1}[self.outlet.format]
        text: str = writer(items)
        if "truncated" in self.outlet.quirks:
            text = self._truncate(text, items)
        kind = {"rss2": "application/rss+xml", "atom": "application/atom+xml"}.get(
            self.outlet.format, "application/rdf+xml"
        )
        if "wrong-encoding" in self.outlet.quirks:
            body = text.encode(WRONG_ENCODING, errors="xmlcharrefreplace")
        else:
            body = text.encode("utf-8")
        return Rendered(body, f"{kind}; charset=utf-8", newest)

    def _link(self, article: DemoArticle) -> str:
        if "relative-links" in self.outlet.quirks:
            return article.url_path.removeprefix(f"/{self.outlet.slug}/")
        return self.base_url + article.url_path

    def _title(self, article: DemoArticle) -> str:
        if "html-titles" in self.outlet.quirks:
            return html_title(article.title)
        return _x(article.title)

    def _summary(self, article: DemoArticle) -> str:
        if "html-titles" in self.outlet.quirks:
            return cdata_summary(article.summary)
        return _x(article.summary)

    def _description(self) -> str:
        return _x(f"{self.outlet.name}: {self.pages.chrome.nav[1]}")

    def _rss2(self, items: Sequence[DemoArticle]) -> str:
        channel_link = (
            f"/{self.outlet.slug}/" if "relative-links" in self.outlet.quirks else self.site
        )
        head = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom">',
            "<channel>",
            f"<title>{_x(self.outlet.name)}</title>",
            f"<link>{_x(channel_link)}</link>",
            f"<description>{self._description()}</description>",
            f"<language>{self.outlet.language}</language>",
            "<generator>NewsPress 4.2</generator>",
            "<ttl>30</ttl>",
        ]
        if "relative-links" not in self.outlet.quirks:
            head.append(
                f'<atom:link href="{_a(self.self_url)}" rel="self" type="application/rss+xml"/>'
            )
        if items:
            head.append(f"<lastBuildDate>{format_datetime(items[0].published)}</lastBuildDate>")
        entries = []
        for article in items:
            creator = f"<dc:creator>{_x(article.author)}</dc:creator>" if article.author else ""
            entries.append(
                "<item>"
                f"<title>{self._title(article)}</title>"
                f"<link>{_x(self._link(article))}</link>"
                f'<guid isPermaLink="false">{_x(article.guid)}</guid>'
                f"<pubDate>{format_datetime(article.published)}</pubDate>"
                f"{creator}"
                f"<description>{self._summary(article)}</description>"
                "</item>"
            )
        return "\n".join([*head, *entries, "</channel>", "</rss>", ""])

    def _atom(self, items: Sequence[DemoArticle]) -> str:
        updated = _stamp(items[0].published) if items else "2024-04-01T00:00:00Z"
        head = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{self.outlet.language}">',
            f"<title>{_x(self.outlet.name)}</title>",
            f"<subtitle>{self._description()}</subtitle>",
            f"<id>tag:{self.outlet.slug}.demo,2024:feed</id>",
            f"<updated>{updated}</updated>",
            f'<link rel="self" type="application/atom+xml" href="{_a(self.self_url)}"/>',
            f'<link rel="alternate" type="text/html" href="{_a(self.site)}"/>',
        ]
        entries = []
        for article in items:
            author = f"<author><name>{_x(article.author)}</name></author>" if article.author else ""
            entries.append(
                "<entry>"
                f"<id>{_x(article.guid)}</id>"
                f'<title type="text">{self._title(article)}</title>'
                f'<link rel="alternate" type="text/html" href="{_a(self._link(article))}"/>'
                f"<published>{_stamp(article.published)}</published>"
                f"<updated>{_stamp(article.published)}</updated>"
                f"{author}"
                f'<summary type="text">{self._summary(article)}</summary>'
                "</entry>"
            )
        return "\n".join([*head, *entries, "</feed>", ""])

    def _rss1(self, items: Sequence[DemoArticle]) -> str:
        seq = "".join(f'<rdf:li rdf:resource="{_a(self._link(a))}"/>' for a in items)
        head = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
            f'<channel rdf:about="{_a(self.self_url)}">',
            f"<title>{_x(self.outlet.name)}</title>",
            f"<link>{_x(self.site)}</link>",
            f"<description>{self._description()}</description>",
            f"<dc:language>{self.outlet.language}</dc:language>",
            f"<items><rdf:Seq>{seq}</rdf:Seq></items>",
            "</channel>",
        ]
        entries = []
        for article in items:
            creator = f"<dc:creator>{_x(article.author)}</dc:creator>" if article.author else ""
            entries.append(
                f'<item rdf:about="{_a(self._link(article))}">'
                f"<title>{self._title(article)}</title>"
                f"<link>{_x(self._link(article))}</link>"
                f"<description>{self._summary(article)}</description>"
                f"<dc:date>{_stamp(article.published)}</dc:date>"
                f"{creator}"
                "</item>"
            )
        return "\n".join([*head, *entries, "</rdf:RDF>", ""])

    def _truncate(self, text: str, items: Sequence[DemoArticle]) -> str:
        """Cut the document in the middle of the title of the first item that is lost.

        Cutting inside the title (before the link) means a tolerant parser recovers at most a
        fragment with no link, so that item is lost to the reader, as the gold file says.
        """
        survivors = truncated_survivors(len(items))
        start = 0
        for _ in range(survivors + 1):
            found = text.find("<item>", start)
            if found < 0:
                break
            start = found + len("<item>")
        if not items:
            start = text.find("<channel>")
        tag = "description" if not items else "title"
        opening = text.find(f"<{tag}>", start) + len(f"<{tag}>")
        closing = text.find(f"</{tag}>", opening)
        return text[: opening + max(1, (closing - opening) // 2)]
