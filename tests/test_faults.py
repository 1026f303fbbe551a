"""One refresh against a server full of faults: each feed ends in the right state, the rest succeed.

Every hostile route sits beside well-behaved feeds in the same run, so a fault that leaked out of
its feed (an exception, a stall, a poisoned transaction) would show up as a missing good article.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dbs
from click.testing import CliRunner
from faultserver import MB, HashEmbedder, drip, endless, gzip_bomb, hang, page, redirect, rss
from httpserver import LocalServer, Route

from aggregator.cli import cli
from aggregator.config import Settings
from aggregator.entities import KnowledgeBase
from aggregator.models import Feed
from aggregator.pipeline import Pipeline
from aggregator.store import Store, parse_iso
from aggregator.store.engine import Location

REPO = Path(__file__).resolve().parent.parent
XML = "application/rss+xml"


def fast_settings(db: Location, **overrides: Any) -> Settings:
    """Small timeouts and caps so that every fault resolves within a few seconds.

    The read timeout leaves room for a loaded 2-core machine: at 0.5 s a healthy but starved
    server thread was once taken for a silent one."""
    values: dict[str, Any] = {
        "db": db,
        "entities": REPO / "data" / "entities.yaml",
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "feed_deadline": 2.5,
        "max_feed_bytes": 1_000_000,
        "max_page_bytes": 1_000_000,
        "max_redirects": 3,
        "pause_after": 2,
        "backoff_base": 60.0,
        "backoff_max": 7200.0,
        "page_workers": 2,
        "per_host": 32,
    }
    values.update(overrides)
    return Settings(**values)


def make_pipeline(db: Location, **overrides: Any) -> Pipeline:
    settings = fast_settings(db, **overrides)
    return Pipeline(
        settings, Store(settings.db), HashEmbedder(), KnowledgeBase.load(settings.entities)
    )


def feed_rows(db: Location) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in dbs.dicts(db, "SELECT * FROM feeds")}


def article_rows(db: Location) -> list[dict[str, Any]]:
    return dbs.dicts(db, "SELECT * FROM articles ORDER BY id")


def serve_good(server: LocalServer, name: str, count: int = 2) -> Feed:
    """A healthy feed with ``count`` article pages."""
    slug = name.lower().replace(" ", "-")
    items = [(f"{slug}-{n}", f"/{slug}/a{n}.html", f"{name} story {n}") for n in range(count)]
    server.routes[f"/{slug}.xml"] = Route(rss(name, server.base_url, items), content_type=XML)
    for _, path, title in items:
        server.routes[path] = Route(page(title))
    return Feed(name, server.url(f"/{slug}.xml"), "en", ("test",), allow_private=True)


def serve_faults(server: LocalServer) -> list[Feed]:
    base = server.base_url
    one = [("f-1", "/shared/a.html", "Faulty feed story")]
    cp1252 = rss("Charset", base, [("c-1", "/c1.html", "Citroën ë-C3 price cut")])
    truncated = rss("Cut", base, [("t-1", "/t1.html", "Truncated first"), ("t-2", "/t2", "Gone")])
    laughs = rss("Laughs", base, [("l-1", "/l1.html", "Recall &lol9; notice")]).replace(
        b"<rss",
        b'<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n<rss',
        1,
    )
    script = rss(
        "Script",
        base,
        [("s-1", "/s1.html", "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Safe headline")],
    )
    bomb, _ = gzip_bomb(32 * MB)
    routes = {
        "/slow.xml": Route(handler=drip(rss("Slow", base, one) * 4, 0.02)),
        "/hang.xml": Route(handler=hang(5)),
        "/loop.xml": Route(handler=redirect("/loop2.xml")),
        "/loop2.xml": Route(handler=redirect("/loop.xml")),
        "/busy.xml": Route(b"later", status=429, headers={"Retry-After": "3600"}),
        "/error.xml": Route(b"oops", status=500),
        "/gone.xml": Route(b"gone", status=410),
        "/html.xml": Route(b"<!doctype html><html><body><p>Our new site</p></body></html>"),
        "/charset.xml": Route(
            cp1252.decode().encode("cp1252"), content_type=XML + "; charset=utf-8"
        ),
        "/cut.xml": Route(truncated[: truncated.index(b"<item><guid>t-2") + 25], content_type=XML),
        "/laughs.xml": Route(laughs, content_type=XML),
        "/huge.xml": Route(handler=endless(50 * MB)),
        "/bomb.xml": Route(handler=bomb),
        "/strict.xml": Route(rss("Strict", base, one), content_type=XML),
        "/script.xml": Route(script, content_type=XML),
        "/c1.html": Route(page("Citroën ë-C3 price cut")),
        "/t1.html": Route(page("Truncated first")),
        "/l1.html": Route(page("Recall notice")),
        "/s1.html": Route(page("Safe headline")),
    }
    server.routes.update(routes)
    names = {
        "Slow": "/slow.xml",
        "Hang": "/hang.xml",
        "Loop": "/loop.xml",
        "Busy": "/busy.xml",
        "Error": "/error.xml",
        "Gone": "/gone.xml",
        "Html": "/html.xml",
        "Charset": "/charset.xml",
        "Cut": "/cut.xml",
        "Laughs": "/laughs.xml",
        "Huge": "/huge.xml",
        "Bomb": "/bomb.xml",
        "Script": "/script.xml",
    }
    feeds = [Feed(n, server.url(p), "en", (), allow_private=True) for n, p in names.items()]
    feeds.append(Feed("Strict", server.url("/strict.xml"), "en", ()))  # no allow_private
    return feeds


def due_in(row: dict[str, Any]) -> float:
    fetched, due = parse_iso(row["last_fetch"]), parse_iso(row["next_due"])
    assert fetched is not None and due is not None
    return (due - fetched).total_seconds()


EXPECTED_FAILURES = {
    # name: (kind, fragment of the error, HTTP status stored)
    "Slow": ("transient", "deadline", None),
    "Hang": ("transient", "timed out", None),
    "Loop": ("permanent", "redirect loop", 310),
    "Busy": ("transient", "HTTP 429", 429),
    "Error": ("transient", "HTTP 500", 500),
    "Gone": ("permanent", "HTTP 410", 410),
    "Html": ("permanent", "not a feed", None),
    "Huge": ("permanent", "exceeds the cap", 200),
    "Bomb": ("permanent", "exceeds the cap", 200),
    "Strict": ("permanent", "resolves to a loopback", None),
}


def test_every_fault_ends_in_its_own_state_and_good_feeds_are_stored(
    server: LocalServer, db: Location
) -> None:
    good = [serve_good(server, "Alpha Motors"), serve_good(server, "Beta Wheels")]
    faults = serve_faults(server)
    pipeline = make_pipeline(db)
    report = pipeline.refresh([good[0], *faults, good[1]])

    assert report.feeds_failed == len(EXPECTED_FAILURES)
    assert set(report.failures) == set(EXPECTED_FAILURES)
    rows = feed_rows(pipeline.settings.db)
    for name, (kind, fragment, status) in EXPECTED_FAILURES.items():
        row = rows[name]
        assert row["last_error"].startswith(f"{kind}: "), (name, row["last_error"])
        assert fragment in row["last_error"], (name, row["last_error"])
        assert row["last_status"] == status, (name, row["last_status"])
        assert row["consecutive_failures"] == 1 and row["paused"] == 0, name
        assert row["last_success"] is None, name
    # the feed refused for its loopback address is told which key lifts that; no other feed is
    hint = "a feed meant to be on this machine or network needs `allow_private: true` in feeds.yaml"
    assert rows["Strict"]["last_error"].endswith(hint) and report.failures["Strict"].endswith(hint)
    assert [n for n, r in rows.items() if hint in (r["last_error"] or "")] == ["Strict"]
    for name in set(EXPECTED_FAILURES) - {"Busy"}:
        assert 48 <= due_in(rows[name]) <= 72, name  # backoff_base 60 s with ±20 % jitter
    assert due_in(rows["Busy"]) >= 3599  # Retry-After wins over the shorter backoff

    titles = {a["title"]: a for a in article_rows(pipeline.settings.db)}
    for feed in good:
        for n in range(2):
            article = titles[f"{feed.name} story {n}"]
            assert article["source"] == feed.name and not article["summary_only"]
        assert rows[feed.name]["last_error"] is None and rows[feed.name]["problem"] is None

    assert rows["Charset"]["problem"] and rows["Charset"]["last_error"] is None
    assert "Citroën ë-C3 price cut" in titles
    assert rows["Cut"]["problem"] and "Truncated first" in titles
    assert "entity declarations removed" in rows["Laughs"]["problem"]
    laughs = next(a for a in titles.values() if a["source"] == "Laughs")
    assert "lollol" not in laughs["title"] + laughs["text"]
    assert "Safe headline" in titles
    for article in titles.values():
        for column in ("title", "summary", "text"):
            assert "<script" not in article[column].lower(), (article["title"], column)
            assert "alert(1)" not in article[column]
    assert {a["source"] for a in titles.values()} == {
        "Alpha Motors",
        "Beta Wheels",
        "Charset",
        "Cut",
        "Laughs",
        "Script",
    }


def test_backoff_grows_permanent_failures_pause_and_reset_resumes(
    server: LocalServer, db: Location
) -> None:
    good = serve_good(server, "Alpha Motors")
    server.routes["/gone.xml"] = Route(b"gone", status=410)
    server.routes["/error.xml"] = Route(b"oops", status=500)
    gone = Feed("Gone", server.url("/gone.xml"), "en", (), allow_private=True)
    error = Feed("Error", server.url("/error.xml"), "en", (), allow_private=True)
    pipeline = make_pipeline(db)
    pipeline.refresh([good, gone, error])
    second = pipeline.refresh([good, gone, error], force=True)
    rows = feed_rows(db)
    assert second.feeds_unchanged == 1 and second.feeds_failed == 2
    assert [(c.name, c.before, c.after) for c in second.changes] == [("Gone", "failing", "paused")]
    assert rows["Gone"]["paused"] == 1 and rows["Gone"]["consecutive_failures"] == 2
    assert rows["Error"]["paused"] == 0 and rows["Error"]["consecutive_failures"] == 2
    assert 96 <= due_in(rows["Error"]) <= 144  # doubled: 120 s with ±20 % jitter

    before = server.paths_requested().count("/gone.xml")
    third = pipeline.refresh([good, gone, error], force=True)
    assert server.paths_requested().count("/gone.xml") == before  # paused: not even asked
    # a paused feed is not "skipped": it keeps the run partial, as the feed in backoff does
    assert third.feeds_skipped == 0 and third.feeds_paused == 1 and third.feeds_failing == 1
    assert third.status == "partial"
    assert [(c.name, c.before, c.after) for c in third.changes] == []  # said in the second run

    runner = CliRunner()
    listing = runner.invoke(cli, ["--db", str(db), "feeds"])
    assert listing.exit_code == 0
    assert "Gone: paused" in listing.output and "last error: permanent: HTTP 410" in listing.output
    assert "Error: failing" in listing.output and "failures 3" in listing.output
    assert "next due" in listing.output
    as_json = runner.invoke(cli, ["--db", str(db), "feeds", "--json"])
    by_name = {r["name"]: r for r in map(json.loads, as_json.output.splitlines())}
    assert by_name["Gone"]["paused"] == 1 and by_name["Error"]["consecutive_failures"] == 3

    reset = runner.invoke(cli, ["--db", str(db), "feeds", "--reset", "Gone"])
    assert reset.exit_code == 0 and "reset 1 feed(s)" in reset.output
    rows = feed_rows(db)
    assert rows["Gone"]["paused"] == 0 and rows["Gone"]["consecutive_failures"] == 0
    assert rows["Error"]["consecutive_failures"] == 3  # only the named feed
    server.routes["/gone.xml"] = Route(rss("Back", server.base_url, []), content_type=XML)
    fourth = pipeline.refresh([good, gone])
    assert "Gone" not in fourth.failures and feed_rows(db)["Gone"]["last_success"] is not None


def test_ttl_and_cache_control_set_next_due(server: LocalServer, db: Location) -> None:
    base = server.base_url
    server.routes["/ttl.xml"] = Route(rss("TTL", base, [], extra="<ttl>90</ttl>"), content_type=XML)
    server.routes["/cc.xml"] = Route(
        rss("CC", base, []), content_type=XML, headers={"Cache-Control": "public, max-age=1800"}
    )
    feeds = [
        Feed("TTL", server.url("/ttl.xml"), "en", (), allow_private=True),
        Feed("CC", server.url("/cc.xml"), "en", (), allow_private=True),
    ]
    pipeline = make_pipeline(db)
    pipeline.refresh(feeds)
    rows = feed_rows(pipeline.settings.db)
    assert due_in(rows["TTL"]) == 90 * 60 and rows["TTL"]["ttl_minutes"] == 90
    assert due_in(rows["CC"]) == 1800
    again = pipeline.refresh(feeds)  # not forced: neither is due yet
    assert again.feeds_skipped == 2
    assert server.paths_requested().count("/ttl.xml") == 1


def test_changed_guids_and_tracking_parameters_add_nothing(
    server: LocalServer, db: Location
) -> None:
    base = server.base_url
    items = [("g-1", "/n/a.html", "Rivian layoffs"), ("g-2", "/n/b.html", "Lucid Gravity")]
    server.routes["/g.xml"] = Route(rss("G", base, items), content_type=XML)
    for _, path, title in items:
        server.routes[path] = Route(page(title))
    feed = Feed("G", server.url("/g.xml"), "en", (), allow_private=True)
    pipeline = make_pipeline(db)
    assert pipeline.refresh([feed]).new_articles == 2
    changed = [
        ("g-1-v2", "/n/a.html?utm_source=rss&amp;utm_medium=feed", "Rivian layoffs"),
        ("g-2", "/n/b.html?fbclid=xyz", "Lucid Gravity (updated)"),
    ]
    server.routes["/g.xml"] = Route(rss("G", base, changed), content_type=XML)
    report = pipeline.refresh([feed], force=True)
    assert report.new_articles == 0 and report.feeds_failed == 0
    assert len(article_rows(pipeline.settings.db)) == 2


def test_redirect_to_a_private_address_fails_only_that_feed(
    server: LocalServer, db: Location, loopback_is_public: None
) -> None:
    port = server.httpd.server_address[1]
    server.routes["/hop.xml"] = Route(handler=redirect(f"http://127.0.0.2:{port}/admin", 302))
    good = serve_good(server, "Public Wire")
    public = Feed(good.name, good.url, "en", ())  # no allow_private, still fetched
    hop = Feed("Hop", server.url("/hop.xml"), "en", ())
    pipeline = make_pipeline(db)
    report = pipeline.refresh([hop, public])
    rows = feed_rows(pipeline.settings.db)
    assert report.failures.keys() == {"Hop"}
    assert "permanent: refused: 127.0.0.2 resolves to a loopback" in rows["Hop"]["last_error"]
    assert "`allow_private: true` in feeds.yaml" in rows["Hop"]["last_error"]
    assert "/admin" not in server.paths_requested()
    assert len(article_rows(pipeline.settings.db)) == 2


def test_article_pages_that_fail_keep_the_summary(server: LocalServer, db: Location) -> None:
    base = server.base_url
    items = [("p-1", "/p/hang.html", "Page hangs"), ("p-2", "/p/huge.html", "Page huge")]
    server.routes["/p.xml"] = Route(rss("P", base, items), content_type=XML)
    server.routes["/p/hang.html"] = Route(handler=hang(5))
    server.routes["/p/huge.html"] = Route(handler=endless(50 * MB))
    feed = Feed("P", server.url("/p.xml"), "en", (), allow_private=True)
    pipeline = make_pipeline(db)
    report = pipeline.refresh([feed])
    assert report.feeds_ok == 1 and report.new_articles == 2
    stored = article_rows(pipeline.settings.db)
    assert all(a["summary_only"] == 1 for a in stored)
    assert {a["text"] for a in stored} == {
        "Page hangs: a report on the automotive industry.",
        "Page huge: a report on the automotive industry.",
    }


def test_recorded_next_due_is_in_the_future(server: LocalServer, db: Location) -> None:
    server.routes["/busy.xml"] = Route(
        b"later", status=503, headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}
    )
    feed = Feed("Busy", server.url("/busy.xml"), "en", (), allow_private=True)
    pipeline = make_pipeline(db)
    pipeline.refresh([feed])
    due = parse_iso(feed_rows(pipeline.settings.db)["Busy"]["next_due"])
    assert due is not None
    # a far-off Retry-After is capped at backoff_max (2 h) rather than parking the feed for years
    assert datetime.now(UTC) + timedelta(hours=1) < due <= datetime.now(UTC) + timedelta(hours=3)


def test_run_deadline_stops_the_run_and_leaves_late_feeds_due(
    server: LocalServer, db: Location
) -> None:
    from aggregator.pipeline import FEED_WORKERS

    body = rss("Drip", server.base_url, [])
    server.routes["/drip.xml"] = Route(handler=drip(body, 6.0 / len(body)))  # 6 s per feed
    feeds = [
        Feed(f"Drip {n}", server.url("/drip.xml") + f"?n={n}", "en", (), allow_private=True)
        for n in range(FEED_WORKERS + 2)
    ]
    for n in range(FEED_WORKERS + 2):
        server.routes[f"/drip.xml?n={n}"] = server.routes["/drip.xml"]
    pipeline = make_pipeline(db, run_deadline=1.5, feed_deadline=30.0)
    report = pipeline.refresh(feeds)
    rows = feed_rows(pipeline.settings.db)
    # the first wave is cut by the run deadline (the feed deadline alone would allow 30 s) ...
    assert report.feeds_failed == FEED_WORKERS
    assert all("deadline" in error for error in report.failures.values())
    # ... and the feeds whose turn came after it are left untouched and due
    assert report.feeds_skipped == 2
    untouched = [r for r in rows.values() if r["last_fetch"] is None]
    assert len(untouched) == 2
    assert all(r["consecutive_failures"] == 0 and r["next_due"] is None for r in untouched)


def test_page_titles_and_private_article_links_are_untrusted(
    server: LocalServer, db: Location, loopback_is_public: None
) -> None:
    port = server.httpd.server_address[1]
    escaped = "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;"
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>U</title>'
        f"<item><guid>u-1</guid><link>{server.url('/u/1.html')}</link>"
        "<description>Untitled item about a plant.</description></item>"
        f"<item><guid>u-2</guid><link>http://127.0.0.2:{port}/u/private.html</link>"
        "<title>Private link</title><description>Summary kept.</description></item>"
        "</channel></rss>"
    ).encode()
    server.routes["/u.xml"] = Route(body, content_type=XML)
    server.routes["/u/1.html"] = Route(
        page("Plant news").replace(b"<title>Plant news", f"<title>{escaped}Plant news".encode())
    )
    server.routes["/u/private.html"] = Route(page("Private link"))
    pipeline = make_pipeline(db)
    report = pipeline.refresh([Feed("U", server.url("/u.xml"), "en", ())])
    assert report.new_articles == 2
    stored = {a["url"]: a for a in article_rows(pipeline.settings.db)}
    titled = stored[server.url("/u/1.html")]
    assert titled["title"] == "Plant news"
    private = stored[f"http://127.0.0.2:{port}/u/private.html"]
    assert private["summary_only"] == 1 and private["text"] == "Summary kept."
    assert "/u/private.html" not in server.paths_requested()
