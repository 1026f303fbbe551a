"""parse_feed on hostile and broken documents: used when readable, an error when not."""

from __future__ import annotations

import pytest
from faultserver import rss

from aggregator.errors import ParseError
from aggregator.parse import MAX_DOCUMENT, parse_feed

BASE = "http://feeds.test"
URL = BASE + "/feed.xml"

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>Laughs</title>
<item><title>Recall &lol9; notice</title><link>http://feeds.test/a</link></item>
</channel></rss>"""


def test_well_formed_feed_has_no_problem() -> None:
    parsed = parse_feed(rss("Good", BASE, [("g1", "/a", "Kia EV3 launch")]), URL)
    assert parsed.problem is None
    assert [(e.url, e.title) for e in parsed.entries] == [("http://feeds.test/a", "Kia EV3 launch")]
    assert parsed.entries[0].guid is not None and parsed.entries[0].guid.endswith("g1")


@pytest.mark.parametrize("hidden_behind", [0, 300_000])
def test_billion_laughs_is_not_expanded(hidden_behind: int) -> None:
    body = LAUGHS.replace(b"<!DOCTYPE", b"<!--" + b" " * hidden_behind + b"-->\n<!DOCTYPE", 1)
    parsed = parse_feed(body, URL)
    assert parsed.problem is not None and "entity declarations removed" in parsed.problem
    (entry,) = parsed.entries
    assert len(entry.title) < 100 and "lollol" not in entry.title


def test_billion_laughs_in_utf16_is_not_expanded() -> None:
    body = LAUGHS.decode().replace('version="1.0"', 'version="1.0" encoding="utf-16"')
    parsed = parse_feed(body.encode("utf-16"), URL)
    assert all(len(e.title) < 100 for e in parsed.entries)


def test_truncated_feed_keeps_complete_items_and_reports_the_problem() -> None:
    whole = rss("Cut", BASE, [("g1", "/a", "First story"), ("g2", "/b", "Second story")])
    parsed = parse_feed(whole[: whole.index(b"<item><guid>g2") + 20], URL)
    assert parsed.problem
    assert "First story" in [e.title for e in parsed.entries]


def test_wrong_declared_charset_is_read_and_reported() -> None:
    body = rss("Charset", BASE, [("g1", "/a", "Citroën ë-C3 prices")]).decode().encode("cp1252")
    parsed = parse_feed(body, URL, content_type="application/rss+xml; charset=utf-8")
    assert parsed.problem
    assert parsed.entries[0].title == "Citroën ë-C3 prices"


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="HTML page"):
        parse_feed(b"<!doctype html><html><body><p>Welcome</p></body></html>", URL)


@pytest.mark.parametrize("body", [b"", b"   \n", b"\x00\x01\x02garbage", b"just some words"])
def test_unreadable_bytes_raise_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, URL)
    assert caught.value.url == URL


def test_oversized_document_is_refused_before_parsing() -> None:
    with pytest.raises(ParseError, match="larger than a feed"):
        parse_feed(b"<rss>" + b" " * MAX_DOCUMENT + b"</rss>", URL)


@pytest.mark.parametrize(
    "title",
    [
        "&lt;script&gt;alert(1)&lt;/script&gt;Safe headline",
        "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Safe headline",
        "<![CDATA[<script>alert(1)</script>Safe headline]]>",
        "<![CDATA[<img src=x onerror=alert(1)>Safe headline]]>",
    ],
)
def test_markup_never_reaches_titles_or_summaries(title: str) -> None:
    (entry,) = parse_feed(rss("Script", BASE, [("g1", "/a", title)]), URL).entries
    for text in (entry.title, entry.summary):
        assert "<script" not in text.lower() and "alert(1)" not in text
        assert "onerror" not in text and "<img" not in text
    assert entry.title == "Safe headline"


def test_ttl_and_relative_links() -> None:
    body = rss("TTL", BASE, [("g1", "/a", "Story")], extra="<ttl>45</ttl>").replace(
        b"http://feeds.test/a", b"/a"
    )
    parsed = parse_feed(body, URL)
    assert parsed.ttl_minutes == 45
    assert parsed.entries[0].url == "http://feeds.test/a"
