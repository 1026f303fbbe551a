"""The extraction stage against hand-made pages in our languages and the seed article.

Each gold page sits next to the text a reader would call the article (``*.txt``) and the chrome
lines that must not survive (``*.chrome.json``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner
from httpserver import LocalServer, Route

from aggregator.cli import cli
from aggregator.errors import ExtractError
from aggregator.extract import extract
from aggregator.extract.candidates import drop_link_lists, link_keys, merge_by_agreement, shingles

PAGES = Path(__file__).parent / "fixtures" / "pages"
SEED = Path("/work/shared/seed/000_f7f5fa66f061fd28.txt")
GOLD = sorted(p.stem for p in PAGES.glob("*.txt"))
MIN_F1 = 0.95


def f1(gold: str, predicted: str) -> float:
    truth, guess = shingles(gold), shingles(predicted)
    common = len(truth & guess)
    if not common:
        return 0.0
    precision, recall = common / len(guess), common / len(truth)
    return 2 * precision * recall / (precision + recall)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _lines(text: str) -> set[str]:
    return {_norm(line) for line in text.split("\n") if _norm(line)}


@pytest.mark.parametrize("name", GOLD)
def test_gold_pages_keep_the_story_and_drop_the_chrome(name: str) -> None:
    html = (PAGES / f"{name}.html").read_bytes()
    expected = (PAGES / f"{name}.txt").read_text("utf-8")
    result = extract(html, f"https://www.example.org/{name}")
    assert f1(expected, result.text) >= MIN_F1, result.text
    chrome = json.loads((PAGES / f"{name}.chrome.json").read_text("utf-8"))
    kept = _norm(result.text)
    for line in chrome.values():
        assert _norm(line) not in kept, line
    assert result.is_article
    assert result.language == name.split("-")[0]
    assert result.published == datetime(2024, 5, 14, 7, 30, tzinfo=UTC)
    assert result.canonical_url and result.canonical_url.endswith(f"/{name}.html")
    assert result.image == f"https://img.example.org/{name}/cover.jpg"


def test_a_shingle_f1_below_threshold_is_detected() -> None:
    """The gold check must be able to fail: a page missing half its story scores low."""
    expected = (PAGES / "en-auto.txt").read_text("utf-8")
    half = "\n".join(expected.split("\n")[:2])
    assert f1(expected, half) < MIN_F1


@pytest.mark.skipif(not SEED.exists(), reason="seed document not available")
def test_seed_page_keeps_every_story_paragraph_and_no_chrome() -> None:
    seed = SEED.read_text("utf-8").split("\n")
    story = [line for line in seed if len(line.split()) > 25]
    chrome = [line for line in seed if line.strip() and line not in story]
    result = extract((PAGES / "seed-hi.html").read_bytes(), "https://www.xiaomitoday.it/hi/a/")
    lines = _lines(result.text)
    assert len(story) == 6
    for paragraph in story:
        assert _norm(paragraph) in lines, paragraph[:60]
    for line in chrome:
        assert _norm(line) not in lines, line
    assert len(lines) == len(story)
    assert result.is_article
    assert result.language == "hi"
    assert result.author == "Pierpaolo Figuccia"
    assert result.title == seed[2].strip()
    assert result.published == datetime(2024, 4, 29, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "declared_in_page"),
    [("iso-8859-1", "utf-8"), ("iso-8859-1", None), ("utf-8", "gb2312"), (None, "windows-1252")],
)
def test_pages_with_a_wrong_charset_come_out_right(
    header: str | None, declared_in_page: str | None
) -> None:
    expected = (PAGES / "fr-auto.txt").read_text("utf-8")
    page = (PAGES / "fr-auto.html").read_text("utf-8")
    if declared_in_page is None:
        page = re.sub(r"<meta http-equiv[^>]+>", "", page)
    else:
        page = page.replace("charset=utf-8", f"charset={declared_in_page}")
    result = extract(page.encode("utf-8"), "https://www.example.org/fr", charset=header)
    assert "électrique" in result.text and "Ã" not in result.text
    assert f1(expected, result.text) >= MIN_F1


def test_a_legacy_page_without_declaration_is_read_with_the_header() -> None:
    page = (PAGES / "de-auto.html").read_bytes()
    stripped = re.sub(rb"<meta http-equiv[^>]+>", b"", page)
    result = extract(stripped, "https://www.example.org/de", charset="windows-1252")
    assert "Außentemperaturen" in result.text and "Kofferraum fasst" in result.text


@pytest.mark.parametrize("name", ["paywall-en", "listing-de"])
def test_paywall_stubs_and_listings_are_not_articles(name: str) -> None:
    result = extract((PAGES / f"{name}.html").read_bytes(), f"https://www.example.org/{name}")
    assert result.is_article is False


@pytest.mark.parametrize(
    "body",
    [
        b"",
        bytes(range(256)) * 40,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"just some words with no markup at all",
        b"<html><body>   </body></html>",
    ],
)
def test_garbage_raises_extract_error_with_the_url(body: bytes) -> None:
    with pytest.raises(ExtractError) as caught:
        extract(body, "https://www.example.org/garbage")
    assert caught.value.url == "https://www.example.org/garbage"


def test_method_names_the_winner_and_json_ld_body_is_available() -> None:
    page = b"""<html><head><meta charset="utf-8"><script type="application/ld+json">
    {"@type": "NewsArticle", "headline": "Kia EV3 prices", "author": [{"name": "A. Rossi"}],
     "datePublished": "2024-03-01T09:00:00+01:00"}</script></head>
    <body><article><h1>Kia EV3 prices</h1><p>Kia has announced prices for the EV3 in Europe,
    starting below thirty-six thousand euros for the standard-range version with 58 kWh.</p>
    <p>The long-range model with an 81 kWh battery promises up to 600 kilometres on a charge
    and arrives in showrooms in the autumn, the company said on Friday in Frankfurt.</p>
    </article></body></html>"""
    result = extract(page, "https://www.example.org/kia")
    assert result.method.startswith("trafilatura")
    assert "thirty-six thousand euros" in result.text
    assert result.author == "A. Rossi"
    assert result.published == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def test_agreement_keeps_a_lone_subheading_inside_the_story_but_not_at_the_edges() -> None:
    generous = "Teaser at the top\nFirst paragraph.\nA subheading\nSecond paragraph.\nApp prompt"
    strict = "First paragraph.\nSecond paragraph."
    merged = merge_by_agreement(generous, strict).split("\n")
    assert merged == ["First paragraph.", "A subheading", "Second paragraph."]


def test_agreement_does_not_recover_a_line_that_is_only_a_link() -> None:
    generous = "First paragraph.\nRELATED HEADLINE\nSecond paragraph."
    strict = "First paragraph.\nSecond paragraph."
    links = frozenset({"related headline"})
    assert "RELATED HEADLINE" not in merge_by_agreement(generous, strict, links=links)


def test_link_lists_and_edge_links_go_but_a_lone_linked_line_stays() -> None:
    html = (
        b"<html><body><p>Story one.</p><p><a href='/s'>Linked source</a></p><p>Story two.</p>"
        b"<ul><li><a href='/a'>Other story A</a></li><li><a href='/b'>Other story B</a></li>"
        b"</ul></body></html>"
    )
    links = link_keys(lxml.html.document_fromstring(html))
    text = "Story one.\nLinked source\nStory two.\nOther story A\nOther story B"
    assert drop_link_lists(text, links).split("\n") == ["Story one.", "Linked source", "Story two."]


def test_cli_extract_reads_a_file_and_prints_metadata_then_text() -> None:
    result = CliRunner().invoke(cli, ["extract", str(PAGES / "en-auto.html")])
    assert result.exit_code == 0, result.output
    assert "method: trafilatura" in result.output
    assert "language: en" in result.output
    expected = (PAGES / "en-auto.txt").read_text("utf-8")
    assert f1(expected, result.output.split("\n\n", 1)[1]) >= MIN_F1


def test_cli_extract_fetches_a_local_url_only_when_private_addresses_are_allowed(
    server: LocalServer,
) -> None:
    server.routes["/story"] = Route(body=(PAGES / "de-auto.html").read_bytes())
    result = CliRunner().invoke(cli, ["extract", "--json", "--allow-private", server.url("/story")])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["language"] == "de" and found["is_article"] is True
    assert found["title"].startswith("VW ID.7 Tourer")
    expected = (PAGES / "de-auto.txt").read_text("utf-8")
    assert f1(expected, found["text"]) >= MIN_F1

    refused = CliRunner().invoke(cli, ["extract", server.url("/story")])
    assert refused.exit_code != 0
    assert server.paths_requested() == ["/story"]


def test_cli_extract_names_a_missing_file() -> None:
    result = CliRunner().invoke(cli, ["extract", "/no/such/page.html"])
    assert result.exit_code == 2
    assert "/no/such/page.html" in result.output
