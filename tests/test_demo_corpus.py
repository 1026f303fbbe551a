"""The demo corpus and its server: real HTTP on 127.0.0.1, real feedparser, real bytes.

Most tests run against a small corpus written into a temporary directory, so they exercise
every outlet quirk whatever the state of ``data/demo/events``; the corpus-size tests check the
shipped content itself.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import httpx
import pytest

from aggregator.demo import DemoCorpus, DemoServer
from aggregator.demo.corpus import FEED_LIMIT
from aggregator.errors import ConfigError
from aggregator.models import Feed

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


def _article(outlet: str, language: str, when: str, title: str, **extra: object) -> dict:
    body = [
        f"{title} opened the day. Second sentence of the lead paragraph with 42 units.",
        f"Context paragraph about {outlet} number two, with figures like 3.5 billion.",
        f"A third paragraph quoting someone on {title}.",
        "A closing paragraph that looks ahead to the next quarter.",
    ]
    record: dict[str, object] = {
        "outlet": outlet,
        "language": language,
        "published": when,
        "title": title,
        "summary": f"Summary of {title}.",
        "author": "Ana Pérez",
        "image_caption": "A car on a stand",
        "body": body,
    }
    record.update(extra)
    if "copy_of" in record:
        del record["body"]
    return record


def _write_event(events: Path, event: str, articles: list[dict]) -> None:
    doc = {"event": event, "description": "test event", "articles": articles}
    (events / f"{event}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    (root / "events").mkdir(parents=True)
    shutil.copy(DEMO / "outlets.yaml", root / "outlets.yaml")
    first = [
        _article("autowire", "en", "2024-04-10T08:00:00Z", "Renault cancels Ampere listing"),
        _article("voltwire", "en", "2024-04-10T09:00:00Z", "Ampere IPO called off"),
        _article(
            "ev-india", "en", "2024-04-10T09:30:00Z", "Renault shelves EV unit float", copy_of=0
        ),
        _article(
            "mi-motori",
            "it",
            "2024-04-10T10:00:00Z",
            'Xiaomi SU7 & Renault: l’incontro "segreto"',
        ),
        _article(
            "auto-actu",
            "fr",
            "2024-04-10T11:00:00Z",
            "Renault renonce à l’introduction en Bourse d’Ampère",
        ),
        _article("chinaev-daily", "en", "2024-04-10T12:00:00Z", "Ampere listing dropped"),
        _article("gaadi-khabar", "hi", "2024-04-10T13:00:00Z", "रेनॉल्ट ने एम्पियर आईपीओ रद्द किया"),
        _article("qiche-ribao", "zh", "2024-04-10T14:00:00Z", "雷诺取消Ampere上市计划"),
    ]
    second = [
        _article("autopulse", "en", "2024-04-20T08:00:00Z", "Beijing show opens"),
        _article("autowelt", "de", "2024-04-20T09:00:00Z", "Peking: Die Messe beginnt"),
        _article("motor-hoy", "es", "2024-04-20T10:00:00Z", "Arranca el salón de Pekín"),
        _article("motorivista", "it", "2024-04-20T10:30:00Z", "Al via il salone di Pechino"),
        _article("batteryweek", "en", "2024-04-20T11:00:00Z", "CATL shows new cells"),
        _article("auto-actu", "fr", "2024-04-20T12:00:00Z", "Pékin : le salon s’ouvre"),
    ]
    # Five Fleet Notes and three Motor Ledger items: enough to truncate and to paywall.
    for day in range(11, 16):
        when = f"2024-04-{day}T07:00:00Z"
        second.append(_article("fleet-notes", "en", when, f"Fleet update day {day}"))
    for day in range(11, 14):
        when = f"2024-04-{day}T15:00:00Z"
        second.append(_article("motor-ledger", "en", when, f"Ledger brief day {day}"))
    _write_event(root / "events", "e90-test-ampere", first)
    _write_event(root / "events", "e91-test-beijing", second)
    return root


@pytest.fixture
def corpus(corpus_dir: Path) -> DemoCorpus:
    return DemoCorpus.load(corpus_dir)


@pytest.fixture
def server(corpus: DemoCorpus):  # type: ignore[no-untyped-def]
    with DemoServer(corpus) as running:
        yield running


_CLIENT: list[httpx.Client] = []


@pytest.fixture(autouse=True, scope="module")
def _http_client():  # type: ignore[no-untyped-def]
    """One client for the module: building a client per request is slow."""
    with httpx.Client(timeout=10) as client:
        _CLIENT.append(client)
        yield
        _CLIENT.clear()


def _get(server: DemoServer, path: str, **headers: str) -> httpx.Response:
    return _CLIENT[0].get(server.base_url + path, headers=headers)


def _article_by_title(corpus: DemoCorpus, title: str):  # type: ignore[no-untyped-def]
    return next(a for a in corpus.articles if a.title == title)


# -- the shipped content ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> DemoCorpus:
    return DemoCorpus.load(DEMO)


def test_shipped_corpus_is_large_and_varied(shipped: DemoCorpus) -> None:
    feeds_with_items = [s for s in shipped.outlets if shipped.outlet_articles(s)]
    assert len(shipped.outlets) >= 22
    assert len(feeds_with_items) >= 20
    assert len(shipped.articles) >= 280
    assert len(shipped.events) >= 45
    non_english = sum(a.language != "en" for a in shipped.articles)
    assert non_english / len(shipped.articles) >= 0.45


def test_shipped_corpus_speaks_thirteen_languages_in_their_own_scripts(
    shipped: DemoCorpus,
) -> None:
    """Every language is carried by several articles, not a token one, across several events."""
    by_language: dict[str, list] = defaultdict(list)
    for article in shipped.articles:
        by_language[article.language].append(article)
    expected = {"en", "de", "zh", "it", "fr", "hi", "es", "ja", "pt", "ar", "tr", "pl", "ko"}
    assert set(by_language) == expected
    for language, articles in by_language.items():
        assert len(articles) >= 4, language
        assert len({a.event for a in articles}) >= 3, language
    scripts = {
        "zh": ("\u4e00", "\u9fff"),
        "ja": ("\u3040", "\u30ff"),
        "ko": ("\uac00", "\ud7a3"),
        "hi": ("\u0900", "\u097f"),
        "ar": ("\u0600", "\u06ff"),
    }
    for language, (low, high) in scripts.items():
        for article in by_language[language]:
            assert any(low <= ch <= high for ch in article.title), article.url_path


def test_shipped_corpus_holds_the_cases_that_split_or_glue_stories(shipped: DemoCorpus) -> None:
    by_event: dict[str, list] = defaultdict(list)
    for article in shipped.articles:
        by_event[article.event].append(article)
    # events told by many outlets in many languages, and short wires outside English
    wide = [
        e
        for e, arts in by_event.items()
        if len({a.outlet for a in arts}) >= 6 and len({a.language for a in arts}) >= 4
    ]
    assert len(wide) >= 3
    short = [a for a in shipped.articles if a.language != "en" and len(a.text) <= 600]
    assert len({a.language for a in short}) >= 4
    # follow-ups: the same event reported again two days or more after its first article
    followed = [
        e
        for e, arts in by_event.items()
        if max(a.published for a in arts) - min(a.published for a in arts) >= timedelta(days=2)
    ]
    assert len(followed) >= 10


def test_shipped_feeds_lose_no_item_to_the_thirty_item_window(shipped: DemoCorpus) -> None:
    """Only the truncated feed hides items; no outlet carries more than a feed lists."""
    for slug, outlet in shipped.outlets.items():
        if outlet.format == "html" or "truncated" in outlet.quirks:
            continue
        assert len(shipped.outlet_articles(slug)) <= FEED_LIMIT, slug
        assert set(shipped.exposed_in_feed(slug)) == set(shipped.outlet_articles(slug)), slug


def test_shipped_events_are_covered_by_several_outlets_and_languages(
    shipped: DemoCorpus,
) -> None:
    by_event: dict[str, list] = defaultdict(list)
    for article in shipped.articles:
        by_event[article.event].append(article)
    for event, articles in by_event.items():
        assert 2 <= len(articles) <= 15, event
        assert len({a.outlet for a in articles}) >= 2, event
    multilingual = [e for e, arts in by_event.items() if len({a.language for a in arts}) >= 3]
    assert len(multilingual) >= 3


def test_shipped_corpus_serves_every_article(shipped: DemoCorpus) -> None:
    """Every full page holds its whole text; every healthy feed parses and lists its items."""
    broken = {"fleet-notes", "carblog", "auto-actu"}
    with DemoServer(shipped) as server:
        for slug, outlet in shipped.outlets.items():
            parsed = feedparser.parse(_get(server, outlet.feed_path).content)
            if slug not in broken:
                assert not parsed.bozo, (slug, parsed.get("bozo_exception"))
                assert len(parsed.entries) == len(shipped.feed_items(slug)), slug
        for article in shipped.articles:
            response = _get(server, article.url_path)
            status = shipped.page_status(article)
            assert response.status_code == (404 if status == "missing" else 200), article.url_path
            if status == "full":
                try:
                    html = response.content.decode("utf-8")
                except UnicodeDecodeError:
                    assert "wrong-encoding" in shipped.outlets[article.outlet].quirks
                    html = response.content.decode("cp1252")
                for paragraph in article.body:
                    assert f"<p>{escape(paragraph)}</p>" in html, article.url_path


def test_committed_gold_matches_the_event_files(shipped: DemoCorpus) -> None:
    """Fails when an event file changed and bench/build_demo_gold.py was not run."""
    lines = (DEMO / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == shipped.gold_records()


# -- loading and validation -------------------------------------------------------------------


def test_load_sorts_articles_and_copies_syndicated_bodies(corpus: DemoCorpus) -> None:
    times = [a.published for a in corpus.articles]
    assert times == sorted(times)
    assert corpus.time_range == (
        datetime(2024, 4, 10, 8, tzinfo=UTC),
        datetime(2024, 4, 20, 12, tzinfo=UTC),
    )
    original = _article_by_title(corpus, "Renault cancels Ampere listing")
    copy = _article_by_title(corpus, "Renault shelves EV unit float")
    assert copy.body == original.body and copy.copy_of == 0
    hindi = _article_by_title(corpus, "रेनॉल्ट ने एम्पियर आईपीओ रद्द किया")
    assert hindi.url_path == "/gaadi-khabar/2024/04/e90-test-ampere-6.html"
    french = _article_by_title(corpus, "Renault renonce à l’introduction en Bourse d’Ampère")
    assert french.url_path == (
        "/auto-actu/2024/04/renault-renonce-a-l-introduction-en-bourse-d-ampere.html"
    )


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"outlet": "no-such-outlet"}, "outlet"),
        ({"language": "de"}, "language"),
        ({"published": "yesterday"}, "published"),
        ({"copy_of": 7}, "copy_of"),
        ({"colour": "red"}, "colour"),
        ({"outlet": "carblog"}, "outlet"),
    ],
)
def test_bad_event_files_name_file_article_and_key(
    corpus_dir: Path, change: dict, key: str
) -> None:
    article = _article("voltwire", "en", "2024-04-12T08:00:00Z", "Broken")
    article.update(change)
    if key == "copy_of":
        del article["body"]
    _write_event(corpus_dir / "events", "e99-broken", [article])
    with pytest.raises(ConfigError) as raised:
        DemoCorpus.load(corpus_dir)
    message = str(raised.value)
    assert "e99-broken.json" in message and "article #0" in message and repr(key) in message


def test_event_id_must_match_the_file_name(corpus_dir: Path) -> None:
    doc = {
        "event": "other-name",
        "articles": [_article("voltwire", "en", "2024-04-12T08:00:00Z", "x")],
    }
    (corpus_dir / "events" / "e98-named.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"e98-named\.json.*'event'"):
        DemoCorpus.load(corpus_dir)


def test_bad_outlet_list_names_the_outlet_and_key(corpus_dir: Path) -> None:
    path = corpus_dir / "outlets.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("format: atom", "format: json", 1))
    with pytest.raises(ConfigError, match=r"outlets\.yaml: outlet 'autopulse': key 'format'"):
        DemoCorpus.load(corpus_dir)


# -- feeds --------------------------------------------------------------------------------------


def test_server_lists_one_private_feed_per_outlet(server: DemoServer) -> None:
    feeds = server.feeds()
    assert all(isinstance(f, Feed) and f.allow_private for f in feeds)
    assert {f.url for f in feeds} == {
        f"{server.base_url}/{slug}/feed.xml" for slug in server.corpus.outlets
    }
    assert all(f.url.startswith("http://127.0.0.1:") for f in feeds)
    by_url = {f.url: f for f in feeds}
    assert by_url[f"{server.base_url}/gaadi-khabar/feed.xml"].language == "hi"
    assert "demo" in by_url[f"{server.base_url}/autowelt/feed.xml"].tags


def test_well_formed_feeds_parse_and_link_to_live_pages(server: DemoServer) -> None:
    corpus = server.corpus
    broken = {"fleet-notes", "carblog", "auto-actu"}
    for slug, outlet in corpus.outlets.items():
        if slug in broken:
            continue
        feed_url = server.base_url + outlet.feed_path
        response = _CLIENT[0].get(feed_url)
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, (slug, parsed.get("bozo_exception"))
        expected = corpus.feed_items(slug)
        assert [urljoin(feed_url, e.link) for e in parsed.entries] == [
            server.base_url + a.url_path for a in expected
        ]
        for article in expected:
            status = _get(server, article.url_path).status_code
            assert status == (404 if corpus.page_status(article) == "missing" else 200)


def test_relative_links_need_the_feed_url_to_resolve(server: DemoServer) -> None:
    body = _get(server, "/chinaev-daily/feed.xml").text
    assert "<link>/chinaev-daily/</link>" in body
    assert "<link>2024/04/ampere-listing-dropped.html</link>" in body
    assert server.base_url not in body


def test_fan_site_titles_carry_escaped_markup(server: DemoServer) -> None:
    body = _get(server, "/mi-motori/feed.xml").text
    assert (
        "&lt;b&gt;Xiaomi&lt;/b&gt; SU7 &amp;amp; Renault: l&#8217;incontro &quot;segreto&quot;"
        in body
    )
    assert "<description><![CDATA[<p><strong>" in body


def test_truncated_feed_is_cut_inside_an_item(server: DemoServer, corpus: DemoCorpus) -> None:
    response = _get(server, "/fleet-notes/feed.xml")
    assert response.status_code == 200
    text = response.text.rstrip()
    assert not text.endswith("</rss>") and text.count("<item>") == 4
    assert text.count("</item>") == 3
    parsed = feedparser.parse(response.content)
    assert parsed.bozo
    linked = [e.link for e in parsed.entries if e.get("link")]
    survivors = corpus.exposed_in_feed("fleet-notes")
    assert linked == [server.base_url + a.url_path for a in survivors]
    assert len(survivors) == 3


def test_not_a_feed_answers_with_an_ordinary_page(server: DemoServer) -> None:
    response = _get(server, "/carblog/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    assert feedparser.parse(response.content).entries == []


def test_wrong_encoding_feed_declares_utf8_but_sends_windows_1252(
    server: DemoServer,
) -> None:
    response = _get(server, "/auto-actu/feed.xml")
    assert "charset=utf-8" in response.headers["content-type"]
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    recovered = response.content.decode("cp1252")
    assert "Renault renonce à l’introduction en Bourse d’Ampère" in recovered
    assert "Pékin : le salon s’ouvre" in recovered


def test_feed_lists_at_most_the_newest_thirty(corpus_dir: Path) -> None:
    items = [
        _article("voltwire", "en", f"2024-04-{10 + n // 10}T{8 + n % 10:02d}:00:00Z", f"Item {n}")
        for n in range(35)
    ]
    _write_event(corpus_dir / "events", "e97-many", items)
    corpus = DemoCorpus.load(corpus_dir)
    with DemoServer(corpus) as server:
        parsed = feedparser.parse(_get(server, "/voltwire/feed.xml").content)
    titles = [e.title for e in parsed.entries]
    assert len(titles) == FEED_LIMIT
    assert titles[0] == "Item 34" and "Item 4" not in titles
    gold = {r["title"]: r for r in corpus.gold_records()}
    assert gold["Item 4"]["in_feed"] is False and gold["Item 5"]["in_feed"] is True


# -- time ---------------------------------------------------------------------------------------


def test_until_hides_later_items_and_their_pages(server: DemoServer, corpus: DemoCorpus) -> None:
    early = _article_by_title(corpus, "Ampere IPO called off")
    late = _article_by_title(corpus, "Beijing show opens")
    server.set_until(datetime(2024, 4, 15, 0, 0, tzinfo=UTC))
    assert _get(server, early.url_path).status_code == 200
    assert _get(server, late.url_path).status_code == 404
    parsed = feedparser.parse(_get(server, "/autopulse/feed.xml").content)
    assert parsed.entries == []
    fleet = feedparser.parse(_get(server, "/fleet-notes/feed.xml").content)
    assert all(
        datetime(*e.published_parsed[:6], tzinfo=UTC) <= server.until
        for e in fleet.entries
        if e.get("published_parsed")
    )
    server.set_until(None)
    assert _get(server, late.url_path).status_code == 200
    parsed = feedparser.parse(_get(server, "/autopulse/feed.xml").content)
    assert [e.title for e in parsed.entries] == ["Beijing show opens"]


def test_naive_until_is_read_as_utc(corpus: DemoCorpus) -> None:
    with DemoServer(corpus, until=datetime(2024, 4, 10, 9, 15)) as server:
        assert (
            _get(server, _article_by_title(corpus, "Ampere IPO called off").url_path).status_code
            == 200
        )
        page = _article_by_title(corpus, "Renault shelves EV unit float").url_path
        assert _get(server, page).status_code == 404


# -- validators ---------------------------------------------------------------------------------


def test_etag_and_last_modified_answer_conditional_requests(server: DemoServer) -> None:
    first = _get(server, "/voltwire/feed.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert modified == "Wed, 10 Apr 2024 09:00:00 GMT"
    again = _get(server, "/voltwire/feed.xml", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    since = _get(server, "/voltwire/feed.xml", **{"If-Modified-Since": modified})
    assert since.status_code == 304
    stale = _get(server, "/voltwire/feed.xml", **{"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.content == first.content


def test_moving_until_changes_the_etag(server: DemoServer) -> None:
    server.set_until(datetime(2024, 4, 10, 8, 30, tzinfo=UTC))
    before = _get(server, "/voltwire/feed.xml")
    server.set_until(None)
    after = _get(server, "/voltwire/feed.xml", **{"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]


# -- pages --------------------------------------------------------------------------------------


def test_pages_hold_the_true_text_inside_outlet_chrome(
    server: DemoServer, corpus: DemoCorpus
) -> None:
    read_also = {
        "voltwire": "Read also:",
        "mi-motori": "Leggi anche:",
        "autowelt": "Lesen Sie auch:",
        "gaadi-khabar": "यह भी पढ़ें:",
        "qiche-ribao": "另请阅读：",
        "auto-actu": "À lire aussi :",
        "motor-hoy": "Lee también:",
    }
    seen_classes: set[str] = set()
    for slug, label in read_also.items():
        article = corpus.outlet_articles(slug)[0]
        response = _get(server, article.url_path)
        html = response.content.decode(response.charset_encoding or "utf-8")
        for paragraph in article.body:
            assert f"<p>{escape(paragraph)}</p>" in html
        assert escape(label) in html
        assert "<figcaption>A car on a stand</figcaption>" in html
        assert "0 " in html and "<footer" in html
        seen_classes.add(html.split('<body class="', 1)[1].split('"', 1)[0])
    assert len(seen_classes) == len(read_also)


def test_json_ld_and_opengraph_only_where_the_outlet_has_them(
    server: DemoServer, corpus: DemoCorpus
) -> None:
    volt = _get(server, _article_by_title(corpus, "Ampere IPO called off").url_path).text
    data = json.loads(volt.split('<script type="application/ld+json">', 1)[1].split("</script>")[0])
    assert data["@type"] == "NewsArticle"
    assert data["articleBody"] == _article_by_title(corpus, "Ampere IPO called off").text
    assert 'property="og:title"' in volt
    battery = _get(server, _article_by_title(corpus, "CATL shows new cells").url_path).text
    assert "ld+json" not in battery and "og:" not in battery


def test_seed_like_page_repeats_headline_and_author(server: DemoServer, corpus: DemoCorpus) -> None:
    article = corpus.outlet_articles("gaadi-khabar")[0]
    html = _get(server, article.url_path).text
    assert html.count(escape(article.title)) >= 3  # <title>, <h1>, the repeat
    assert html.count("Ana Pérez") >= 3
    assert "0 टिप्पणियाँ" in html and "WHATSAPP" in html


def test_wrong_encoding_pages_alternate(server: DemoServer, corpus: DemoCorpus) -> None:
    first, second = corpus.outlet_articles("auto-actu")
    good = _get(server, first.url_path).content
    bad = _get(server, second.url_path).content
    assert escape(first.title) in good.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        bad.decode("utf-8")
    assert '<meta charset="utf-8">' in bad.decode("cp1252")
    assert escape(second.title) in bad.decode("cp1252")


def test_paywalled_outlet_shows_a_stub_or_nothing(server: DemoServer, corpus: DemoCorpus) -> None:
    ledger = corpus.outlet_articles("motor-ledger")
    statuses = [corpus.page_status(a) for a in ledger]
    assert statuses == ["paywall", "paywall", "missing"]
    stub = _get(server, ledger[0].url_path)
    assert stub.status_code == 200
    assert "Subscribe to continue reading" in stub.text
    assert ledger[0].body[0].split(". ")[0] in stub.text
    assert escape(ledger[0].body[1]) not in stub.text
    assert _get(server, ledger[2].url_path).status_code == 404


def test_unknown_paths_are_404(server: DemoServer) -> None:
    assert _get(server, "/voltwire/2024/04/nothing.html").status_code == 404
    assert _get(server, "/nowhere").status_code == 404


# -- gold ---------------------------------------------------------------------------------------


def test_gold_records_say_what_a_perfect_refresh_recovers(
    corpus: DemoCorpus, tmp_path: Path
) -> None:
    records = corpus.gold_records()
    assert len(records) == len(corpus.articles)
    by_title = {r["title"]: r for r in records}
    assert by_title["Ampere IPO called off"]["body"].split("\n\n") == list(
        _article_by_title(corpus, "Ampere IPO called off").body
    )
    assert by_title["Ampere IPO called off"]["url"].startswith("/voltwire/2024/04/")
    copy = by_title["Renault shelves EV unit float"]
    assert copy["copy_of"] == by_title["Renault cancels Ampere listing"]["url"]
    assert copy["body"] == by_title["Renault cancels Ampere listing"]["body"]
    ledger = [r for r in records if r["outlet"] == "motor-ledger"]
    assert all(r["summary_only"] and r["body"] is None for r in ledger)
    fleet = [r for r in records if r["outlet"] == "fleet-notes"]
    assert [r["in_feed"] for r in fleet] == [False, False, True, True, True]
    assert Counter(r["in_feed"] for r in records)[False] == 2
    absolute = corpus.gold_records("http://127.0.0.1:8000")
    assert absolute[0]["url"] == "http://127.0.0.1:8000" + records[0]["url"]
    one, two = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    corpus.write_gold(one)
    DemoCorpus.load(corpus.root).write_gold(two)
    assert one.read_bytes() == two.read_bytes()
