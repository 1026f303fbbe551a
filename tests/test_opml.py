"""OPML import and export: files as other readers write them, round trips, nothing half-applied."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import load_feeds, parse_feeds
from aggregator.errors import ConfigError
from aggregator.models import Feed
from aggregator.opml import export_opml, import_opml, parse_opml, tag_of

FIXTURES = Path(__file__).parent / "fixtures" / "opml"
REPO = Path(__file__).resolve().parent.parent

START = """\
# My feeds. This comment must survive an import.
feeds:
  - {name: Electrek, url: "https://electrek.co/feed/", language: en, tags: [ev, tesla]}
"""


def read(name: str) -> tuple[list, list[str]]:
    return parse_opml((FIXTURES / name).read_bytes(), name)


def by_name(subs: list) -> dict:
    return {s.name: s for s in subs}


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "miniflux.opml",
            {
                "Electrek": ("https://electrek.co/feed/", ("ev",)),
                "InsideEVs": ("https://insideevs.com/rss/articles/all/", ("ev",)),
                "CnEVPost": ("https://cnevpost.com/feed/", ("china",)),
            },
        ),
        (
            "freshrss.opml",
            {
                "heise Autos": ("https://www.heise.de/autos/rss/news-atom.xml", ("autos",)),
                "Automobile Propre": ("https://www.automobile-propre.com/feed/", ("autos",)),
                "Motor1 Italia": ("https://it.motor1.com/rss/news/all/", ("sans categorie",)),
            },
        ),
        (
            "feedly.opml",
            {
                "Autocar": ("https://www.autocar.co.uk/rss", ("cars",)),
                "Car and Driver": ("https://www.caranddriver.com/rss/all.xml/", ("cars",)),
                "The Verge - Transportation": (
                    "https://www.theverge.com/rss/transportation/index.xml",
                    ("tech",),
                ),
            },
        ),
        (
            "inoreader.opml",
            {
                "CleanTechnica": ("https://cleantechnica.com/feed/", ("electric",)),
                "Teslarati": ("https://www.teslarati.com/feed/", ("electric",)),
                "RushLane": ("https://www.rushlane.com/feed", ()),
            },
        ),
        (
            "newsblur.opml",
            {
                "electrive": ("https://www.electrive.com/feed/", ("industry", "europe")),
                "Motor1": ("https://www.motor1.com/rss/news/all/", ("industry",)),
                "CarNewsChina": ("https://carnewschina.com/feed/", ()),
            },
        ),
    ],
)
def test_reads_opml_as_each_reader_writes_it(fixture: str, expected: dict) -> None:
    subs, notes = read(fixture)
    assert {s.name: (s.url, s.tags) for s in subs} == expected
    assert notes == []


def test_odd_outlines_entities_categories_and_nesting() -> None:
    subs, notes = read("odd.opml")
    found = by_name(subs)
    assert "Auto, Motor & Sport" in found
    assert found["Auto, Motor & Sport"].language == "de"
    cafe = found["Café Racer – News"]
    assert cafe.tags == ("electrique", "batteries", "china")
    hindi = found["DriveSpark Hindi"]
    assert hindi.tags == ("regional", "asia", "india")
    assert hindi.language == "hi"
    assert found["No language code"].language is None
    assert found["untitled.example.net"].url == "https://untitled.example.net/feed.xml"
    joined = "\n".join(notes)
    assert "Reading list: skipped, no xmlUrl" in joined
    assert "Empty folder: skipped, no xmlUrl" in joined
    assert "'English' is not a code" in joined


def test_entity_declarations_are_refused_not_expanded() -> None:
    with pytest.raises(ConfigError, match="DTD or entities"):
        read("entities.opml")


def test_not_opml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not <opml>"):
        parse_opml(b"<rss version='2.0'><channel/></rss>", "x")
    with pytest.raises(ConfigError, match="not valid XML"):
        parse_opml(b"<opml><body><outline></body>", "x")


def test_tag_names_are_made_valid() -> None:
    assert tag_of("Electric Vehicles") == "electric vehicles"
    assert tag_of("Autos & Motors") == "autos-motors"
    assert tag_of("Électrique") == "electrique"
    assert tag_of("电动车") is None
    long = tag_of("x" * 80)
    assert long is not None and len(long) == 40


def test_import_adds_new_skips_duplicates_and_keeps_comments(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(START, encoding="utf-8")
    plan = import_opml(FIXTURES / "odd.opml", feeds)
    assert plan.ok
    text = feeds.read_text(encoding="utf-8")
    assert text.startswith("# My feeds. This comment must survive an import.")
    loaded = load_feeds(feeds)
    names = [f.name for f in loaded.feeds]
    assert names[0] == "Electrek"
    assert "Auto, Motor & Sport" in names and "Twice" not in names
    assert any("already followed as 'Auto, Motor & Sport'" in d for d in plan.duplicates)
    assert len(loaded.feeds) == 1 + len(plan.added) == 6
    # importing again changes nothing: every feed is now a duplicate
    again = import_opml(FIXTURES / "odd.opml", feeds)
    assert again.added == ()
    assert feeds.read_text(encoding="utf-8") == text


def test_import_of_feed_already_followed_is_a_duplicate(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(START, encoding="utf-8")
    plan = import_opml(FIXTURES / "miniflux.opml", feeds)
    assert [f.name for f in plan.added] == ["InsideEVs", "CnEVPost"]
    assert len(plan.duplicates) == 1 and "Electrek" in plan.duplicates[0]


def test_bad_addresses_mean_nothing_is_written(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(START, encoding="utf-8")
    plan = import_opml(FIXTURES / "bad_url.opml", feeds)
    assert not plan.ok
    assert len(plan.invalid) == 2
    assert any("gopher" in line for line in plan.invalid)
    assert feeds.read_text(encoding="utf-8") == START
    skipped = import_opml(FIXTURES / "bad_url.opml", feeds, skip_invalid=True)
    assert [f.name for f in skipped.added] == ["Good one"]
    assert [f.name for f in load_feeds(feeds).feeds] == ["Electrek", "Good one"]


def test_dry_run_writes_nothing_and_missing_file_is_created(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    plan = import_opml(FIXTURES / "feedly.opml", feeds, dry_run=True)
    assert len(plan.added) == 3 and not feeds.exists()
    import_opml(FIXTURES / "feedly.opml", feeds)
    assert [f.name for f in load_feeds(feeds).feeds] == [f.name for f in plan.added]


def test_name_clash_with_different_address_gets_a_distinct_name(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        'feeds:\n  - {name: Motor1, url: "https://other.example.com/rss"}\n', encoding="utf-8"
    )
    plan = import_opml(FIXTURES / "newsblur.opml", feeds)
    assert "Motor1 (www.motor1.com)" in [f.name for f in load_feeds(feeds).feeds]
    assert any("name taken" in n for n in plan.notes)


def test_export_is_opml_2_with_folders_and_categories() -> None:
    feeds = [
        Feed("Electrek", "https://electrek.co/feed/", "en", ("ev", "tesla")),
        Feed("d1ev", "https://www.d1ev.com/rss", "zh", ()),
    ]
    root = ET.fromstring(export_opml(feeds))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.find("head/title") is not None and root.find("head/dateCreated") is not None
    folder = root.find("body/outline[@text='ev']")
    assert folder is not None and folder.get("xmlUrl") is None
    electrek = folder.find("outline")
    assert electrek is not None
    assert electrek.attrib == {
        "type": "rss",
        "text": "Electrek",
        "title": "Electrek",
        "xmlUrl": "https://electrek.co/feed/",
        "category": "ev,tesla",
        "language": "en",
    }
    top = root.find("body/outline[@text='d1ev']")
    assert top is not None and top.get("xmlUrl") == "https://www.d1ev.com/rss"


def test_round_trip_of_the_shipped_feed_list_loses_nothing(tmp_path: Path) -> None:
    original = load_feeds(REPO / "feeds.yaml")
    opml = tmp_path / "out.opml"
    opml.write_bytes(export_opml(original.feeds))
    target = tmp_path / "feeds.yaml"
    plan = import_opml(opml, target)
    assert plan.ok and plan.notes == ()
    back = parse_feeds(target.read_text(encoding="utf-8"), target).feeds
    # Feeds come back grouped by folder, so compare without order; each field must survive.
    assert sorted((f.name, f.url, f.language, f.tags) for f in back) == sorted(
        (f.name, f.url, f.language, f.tags) for f in original.feeds
    )
    assert len(back) == len(original.feeds) > 10


def test_cli_import_export(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(START, encoding="utf-8")
    runner = CliRunner()
    args = ["--feeds", str(feeds), "--db", str(tmp_path / "x.db"), "feeds"]
    dry = runner.invoke(cli, [*args, "import", str(FIXTURES / "inoreader.opml"), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would add 3" in dry.output and feeds.read_text(encoding="utf-8") == START
    bad = runner.invoke(cli, [*args, "import", str(FIXTURES / "bad_url.opml")])
    assert bad.exit_code == 2
    assert "gopher://old.example.com/feed" in bad.output
    done = runner.invoke(cli, [*args, "import", str(FIXTURES / "inoreader.opml")])
    assert done.exit_code == 0 and "added 3" in done.output
    out = tmp_path / "export.opml"
    exported = runner.invoke(cli, [*args, "export", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    urls = {o.get("xmlUrl") for o in ET.parse(out).iter("outline")} - {None}
    assert urls == {f.url for f in load_feeds(feeds).feeds}
    stdout = runner.invoke(cli, [*args, "export"])
    assert "https://www.rushlane.com/feed" in stdout.output
