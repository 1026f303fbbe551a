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
from aggregator.extract.boilerplate import filter_lines
from aggregator.extract.candidates import (
    drop_link_lists,
    link_keys,
    merge_by_agreement,
    shingles,
    teaser_keys,
)
from aggregator.extract.consent import is_consent_line, strip_consent
from aggregator.extract.decode import decode_html
from aggregator.extract.recover import restore_embedded_posts

PAGES = Path(__file__).parent / "fixtures" / "pages"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_f7f5fa66f061fd28.txt"
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


@pytest.mark.shared
@pytest.mark.skipif(
    not SEED.exists(), reason="../shared/seed (the development seed article) is not present"
)
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


@pytest.mark.parametrize("keep_lang", [True, False])
def test_a_french_page_in_windows_1252_declaring_utf8_is_read_as_windows_1252(
    keep_lang: bool,
) -> None:
    """Accents valid in several code pages must not come out Central European ("ŕ", "č")."""
    expected = (PAGES / "fr-auto.txt").read_text("utf-8")
    page = (PAGES / "fr-auto.html").read_text("utf-8")
    if not keep_lang:
        page = page.replace('<html lang="fr">', "<html>")
    body = page.encode("cp1252")
    assert b"charset=utf-8" in body
    result = extract(body, "https://www.example.org/fr", charset="utf-8")
    assert "électrique" in result.text and "après" in result.text
    assert not set("ŕčęěřś") & set(result.text), result.text
    assert "lire aussi" not in result.text.casefold()
    assert f1(expected, result.text) >= MIN_F1


@pytest.mark.parametrize(
    ("language", "codec", "sentence"),
    [
        (
            "cs",
            "cp1250",
            "Škoda Enyaq se vyrábí v Mladé Boleslavi, řekl mluvčí. Příští rok přijde nová verze.",
        ),
        (
            "ru",
            "cp1251",
            "Электромобиль поступит в продажу в России в следующем году по цене ниже миллиона.",
        ),
        (
            "de",
            "cp1252",
            "Die Außentemperaturen fallen, der Kofferraum fasst 545 Liter, die Reichweite wächst.",
        ),
        (
            "zh",
            "gb18030",
            "比亚迪在北京车展发布了新的旗舰车型，售价低于三十万元人民币，将于明年上市。",
        ),
    ],
)
def test_a_page_lying_about_utf8_is_read_with_its_languages_code_page(
    language: str, codec: str, sentence: str
) -> None:
    for lang_attr in (f' lang="{language}"', ""):
        html = f'<html{lang_attr}><head><meta charset="utf-8"></head><body><p>{sentence * 3}</p>'
        text, used = decode_html(f"{html}</body></html>".encode(codec), "utf-8")
        assert sentence in text, (lang_attr, used)


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


def test_consent_banners_marked_in_markup_are_removed_but_pages_about_them_are_not() -> None:
    story = " ".join(["The carmaker said the new model would reach dealers in June."] * 30)
    html = f"""<html><body class="cookie-consent-given">
    <div id="cookie-banner"><p>We use cookies.</p><button>OK</button></div>
    <div role="dialog" aria-label="Cookie settings"><p>Choose what we store.</p></div>
    <div role="dialog" aria-label="Newsletter"><p>Get the weekly briefing.</p></div>
    <div class="consent-wrapper"><article><p>{story}</p></article></div>
    <div class="gdpr-rules-explained"><p>{story}</p></div>
    </body></html>"""
    tree = lxml.html.document_fromstring(html)
    assert strip_consent(tree) == 2
    text = tree.text_content()
    assert "We use cookies" not in text and "Choose what we store" not in text
    assert "weekly briefing" in text
    assert text.count("reach dealers in June") == 60
    assert tree.find(".//body") is not None


@pytest.mark.parametrize(
    "line",
    [
        "We use cookies to personalise content and ads. By continuing to browse you agree.",
        "Wir verwenden Cookies, um Inhalte zu personalisieren. Mit der Nutzung der Seite "
        "stimmen Sie dem zu.",
        "Nous utilisons des cookies pour mesurer l'audience. En poursuivant, vous acceptez.",
        "Questo sito utilizza cookie tecnici e di profilazione. Proseguendo acconsenti.",
        "Utilizamos cookies propias y de terceros. Si continúas navegando, aceptas su uso.",
        "हम आपके अनुभव को बेहतर बनाने के लिए कुकीज़ का उपयोग करते हैं।",
        "本网站使用Cookie以改善您的浏览体验。继续浏览即表示您同意我们使用Cookie。",
        "We and our partners store and/or access information on a device.",
    ],
)
def test_consent_wording_is_chrome_in_each_of_our_languages(line: str) -> None:
    assert is_consent_line(line)
    assert filter_lines(f"First paragraph.\n{line}\nSecond paragraph.", title=None) == (
        "First paragraph.\nSecond paragraph."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Connected cars gather far more data than a website's cookies, and owners rarely agree "
        "to it knowingly.",
        "Die Cookies im Browser sind harmlos im Vergleich zu den Daten, die ein Auto sammelt.",
        "We use the car every day.",
    ],
)
def test_story_lines_about_cookies_or_using_things_are_kept(line: str) -> None:
    assert not is_consent_line(line)


def test_linked_subheadings_and_cited_urls_are_not_teasers() -> None:
    html = (
        b"<html><body><p>Intro.</p><h3><a href='/p'>Satechi car charger</a></h3>"
        b"<p>Body.</p><p><a href='https://example.org/src'>https://example.org/src</a></p>"
        b"<p><strong><a href='/t'>OTHER HEADLINE</a></strong></p></body></html>"
    )
    tree = lxml.html.document_fromstring(html)
    assert teaser_keys(tree) == {"other headline"}
    generous = (
        "Intro.\nSatechi car charger\nBody.\nhttps://example.org/src\nStory.\nOTHER HEADLINE\nEnd."
    )
    strict = "Intro.\nBody.\nStory.\nEnd."
    merged = merge_by_agreement(generous, strict, links=teaser_keys(tree)).split("\n")
    assert merged == [
        "Intro.",
        "Satechi car charger",
        "Body.",
        "https://example.org/src",
        "Story.",
        "End.",
    ]


def test_embedded_posts_inside_the_story_are_restored_after_their_paragraph() -> None:
    html = """<html><body><div class="story"><p>People reacted online.</p>
    <div class="social-media-embed"><blockquote class="twitter-tweet"><p>This campaign is
    something else entirely</p>&mdash; A Reader (@reader) <a href="#">May 1</a></blockquote></div>
    <p>The state defended the ads.</p></div>
    <aside><p>Unrelated sidebar.</p><p>More sidebar.</p><p>Even more.</p><p>Last.</p>
    <blockquote class="twitter-tweet"><p>Follow us for deals</p></blockquote></aside>
    </body></html>"""
    tree = lxml.html.document_fromstring(html)
    text = "People reacted online.\nThe state defended the ads."
    assert restore_embedded_posts(text, tree).split("\n") == [
        "People reacted online.",
        "This campaign is something else entirely",
        "The state defended the ads.",
    ]


def test_section_breaks_inside_the_story_are_kept_and_trimmed_at_the_edges() -> None:
    text = "___\nFirst part.\n___\nSecond part.\n___"
    assert filter_lines(text, title=None) == "First part.\n___\nSecond part."
