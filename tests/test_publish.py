"""Atom feeds of stories: RFC 4287's required elements, escaping, stable ids across refreshes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import feedparser
from click.testing import CliRunner
from test_watch import BATCH_ONE, BATCH_TWO, T0, add, make_pipeline, record

from aggregator.cli import cli
from aggregator.publish import publish, story_tag
from aggregator.store.engine import Location
from aggregator.store.read import Reader
from aggregator.watch import run_watches

A = "{http://www.w3.org/2005/Atom}"

HOSTILE = record(
    7,
    'Xiaomi SU7: price < 30k & "R&D"',
    "Xiaomi SU7 <b>bold</b> text with an ampersand & more.",
)
HOSTILE["url"] = "javascript:alert(1)"


def build(db: Location, batches: list[list[dict]]) -> Location:
    pipeline = make_pipeline(db)
    add(pipeline.store, "xiaomi", "xiaomi")
    for batch in batches:
        pipeline.import_records(batch)
        run_watches(pipeline.store, pipeline.embedder, now=T0)
    pipeline.store.close()
    return db


def write(database: Location, out: Path) -> None:
    with Reader(database) as reader:
        publish(reader, out, base_url="https://example.org/feeds", now=T0 + timedelta(days=1))


def entries(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {e.findtext(f"{A}id") or "": e for e in root.findall(f"{A}entry")}


def test_feeds_have_every_element_rfc_4287_requires(db: Location, tmp_path: Path) -> None:
    database = build(db, [BATCH_ONE, BATCH_TWO])
    write(database, tmp_path / "out")
    for name in ("top.atom", "watch-xiaomi.atom"):
        root = ET.parse(tmp_path / "out" / name).getroot()
        assert root.tag == f"{A}feed"
        for child in ("id", "title", "updated"):
            assert (root.findtext(f"{A}{child}") or "").strip(), (name, child)
        self_link = root.find(f"{A}link[@rel='self']")
        assert self_link is not None
        assert self_link.get("href") == f"https://example.org/feeds/{name}"
        assert root.findtext(f"{A}author/{A}name")
        found = root.findall(f"{A}entry")
        assert found, name
        for entry in found:
            for child in ("id", "title", "updated"):
                assert (entry.findtext(f"{A}{child}") or "").strip(), (name, child)
            assert entry.find(f"{A}link[@rel='alternate']") is not None
            assert entry.find(f"{A}content").get("type") == "text"
            assert (entry.findtext(f"{A}id") or "").startswith("tag:aggregator.localhost,2024:")


def test_feedparser_reads_stories_back(db: Location, tmp_path: Path) -> None:
    database = build(db, [BATCH_ONE, BATCH_TWO])
    write(database, tmp_path / "out")
    parsed = feedparser.parse(str(tmp_path / "out" / "top.atom"))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    with Reader(database) as reader:
        stories = {story_tag(s.id): s for s in reader.top_stories(limit=30)}
    assert {e.id for e in parsed.entries} == set(stories)
    for entry in parsed.entries:
        story = stories[entry.id]
        assert entry.title == story.headline
        assert f"{story.n_articles} article(s) from {story.n_sources} source(s)" in entry.summary
        assert entry.link.startswith("https://news.example.com/")
    watched = feedparser.parse(str(tmp_path / "out" / "watch-xiaomi.atom"))
    assert not watched.bozo
    text = " ".join(e.content[0].value for e in watched.entries)
    assert "Xiaomi SU7 crash test" in text and "BYD cuts Seal prices" not in text


def test_feed_text_is_escaped_and_only_http_links_are_written(db: Location, tmp_path: Path) -> None:
    database = build(db, [[*BATCH_ONE, HOSTILE]])
    write(database, tmp_path / "out")
    raw = (tmp_path / "out" / "watch-xiaomi.atom").read_text(encoding="utf-8")
    assert "price < 30k" not in raw and "price &lt; 30k &amp;" in raw
    root = ET.parse(tmp_path / "out" / "watch-xiaomi.atom").getroot()
    hrefs = [link.get("href") or "" for link in root.iter(f"{A}link")]
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)
    contents = " ".join(e.text or "" for e in root.iter(f"{A}content"))
    assert 'Xiaomi SU7: price < 30k & "R&D"' in contents  # the reader shows it as text


def test_entry_ids_are_stable_when_a_refresh_grows_a_story(db: Location, tmp_path: Path) -> None:
    pipeline = make_pipeline(db)
    add(pipeline.store, "xiaomi", "xiaomi")
    pipeline.import_records(BATCH_ONE)
    run_watches(pipeline.store, pipeline.embedder, now=T0)
    pipeline.store.close()
    write(db, tmp_path / "one")
    before = entries(tmp_path / "one" / "top.atom")
    pipeline = make_pipeline(db)
    pipeline.import_records(
        [
            record(
                9,
                "Xiaomi SU7 deliveries begin",
                "Xiaomi started SU7 deliveries in Beijing today, more cars arrive.",
            )
        ]
    )
    pipeline.store.close()
    write(db, tmp_path / "two")
    after = entries(tmp_path / "two" / "top.atom")
    assert set(before) <= set(after)
    grown = [
        key
        for key in before
        if before[key].findtext(f"{A}updated") != after[key].findtext(f"{A}updated")
    ]
    assert len(grown) == 1
    # publishing twice from the same data gives the same bytes
    write(db, tmp_path / "three")
    assert (tmp_path / "two" / "top.atom").read_bytes() == (
        tmp_path / "three" / "top.atom"
    ).read_bytes()


def test_cli_publish(db: Location, tmp_path: Path) -> None:
    database = build(db, [BATCH_ONE])
    result = CliRunner().invoke(
        cli, ["--db", str(database), "publish", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert "top.atom" in result.output and "watch-xiaomi.atom" in result.output
    assert (tmp_path / "o" / "watch-xiaomi.atom").exists()
