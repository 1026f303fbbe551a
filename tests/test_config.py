"""feeds.yaml and settings validation: every mistake names the file, the feed, the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.config import Settings, dump_feeds, load_feeds, parse_feeds
from aggregator.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_shipped_feed_list_is_valid_and_broad() -> None:
    feeds = load_feeds(REPO / "feeds.yaml").feeds
    assert len(feeds) >= 20
    assert len({f.language for f in feeds}) >= 5
    assert all(f.tags for f in feeds)
    assert not any(f.allow_private for f in feeds)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "feeds:\n  - name: A\n    url: https://a.example/feed\n    langauge: en\n",
            ["feeds.yaml:4", "feed 'A'", "'langauge'", "did you mean 'language'"],
        ),
        (
            "feeds:\n  - name: A\n    url: ftp://a.example/feed\n",
            ["feeds.yaml:3", "feed 'A'", "'url'", "http"],
        ),
        (
            "feeds:\n  - name: A\n    url: https://a.example/f\n  - name: A\n    url: https://b.example/f\n",
            ["feeds.yaml:4", "feed 'A'", "duplicate name", "line 2"],
        ),
        (
            "feeds:\n  - name: A\n    url: https://a.example/f\n  - name: B\n    url: https://a.example/f/\n",
            ["feed 'B'", "'url'", "duplicate of feed 'A'"],
        ),
        ("feeds:\n  - url: https://a.example/f\n", ["feed #1", "'name'", "required"]),
        (
            "feeds:\n  - name: A\n    url: https://a.example/f\n    language: English\n",
            ["feed 'A'", "'language'", "'English'"],
        ),
        (
            "feeds:\n  - name: A\n    url: https://a.example/f\n    tags: EV news!\n",
            ["feed 'A'", "'tags'"],
        ),
        ("feedz:\n  - name: A\n", ["feeds.yaml:1", "'feedz'", "did you mean 'feeds'"]),
        ("feeds: [unclosed\n", ["feeds.yaml", "not valid YAML"]),
        (
            "feeds:\n  - name: A\n    url: !!python/name:os.system x\n",
            ["feeds.yaml:3", "feed #1", "'url'", "python/name:os.system"],
        ),
    ],
)
def test_mistakes_name_file_feed_key_and_line(text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_feeds(text, Path("feeds.yaml"))
    for fragment in fragments:
        assert fragment in str(caught.value)


THREE_MISTAKES = """\
feeds:
  - name: Alpha
    url: https://alpha.example/feed
    langauge: en
  - name: Beta
    url: ftp://beta.example/feed
  - name: Gamma
    url: https://gamma.example/feed
    tags: EV news!
  - name: Delta
    url: https://delta.example/feed
"""


def test_every_mistake_is_reported_at_once_with_its_line_feed_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_feeds(THREE_MISTAKES, Path("feeds.yaml"))
    lines = str(caught.value).splitlines()
    assert lines[0] == "feeds.yaml: 3 mistakes in the feed list:"
    assert lines[1] == (
        "  feeds.yaml:4: feed 'Alpha': key 'langauge': unknown key (did you mean 'language'?)"
    )
    assert lines[2].startswith("  feeds.yaml:6: feed 'Beta': key 'url': 'ftp://beta.example/feed'")
    assert lines[3] == (
        "  feeds.yaml:9: feed 'Gamma': key 'tags': must be a list of short lower-case words"
    )
    assert len(lines) == 4


def test_one_feed_with_several_mistakes_reports_each_key() -> None:
    text = "feeds:\n  - url: nowhere\n    enabled: sometimes\n"
    with pytest.raises(ConfigError) as caught:
        parse_feeds(text, Path("feeds.yaml"))
    message = str(caught.value)
    assert "3 mistakes" in message
    for key in ("'name'", "'url'", "'enabled'"):
        assert f"feed #1: key {key}" in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_feeds(tmp_path / "nope.yaml")


def test_dump_round_trips(tmp_path: Path) -> None:
    feeds = load_feeds(REPO / "feeds.yaml").feeds
    again = parse_feeds(dump_feeds(feeds), tmp_path / "x.yaml").feeds
    assert again == feeds


def test_settings_precedence_flag_over_env_over_default() -> None:
    env = {"AGGREGATOR_DB": "/tmp/env.db", "AGGREGATOR_READ_TIMEOUT": "3.5"}
    assert Settings.from_env(env).db == Path("/tmp/env.db")
    assert Settings.from_env(env).read_timeout == 3.5
    assert Settings.from_env(env, db=Path("/tmp/flag.db")).db == Path("/tmp/flag.db")
    assert Settings.from_env({}).db == Path("data/aggregator.db")


def test_bad_setting_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="AGGREGATOR_MAX_REDIRECTS"):
        Settings.from_env({"AGGREGATOR_MAX_REDIRECTS": "many"})
    with pytest.raises(ConfigError, match="page_workers"):
        Settings.from_env({"AGGREGATOR_PAGE_WORKERS": "0"})


@given(st.text(max_size=300))
def test_any_text_is_a_feed_list_or_a_config_error(text: str) -> None:
    try:
        result = parse_feeds(text, Path("feeds.yaml"))
    except ConfigError as exc:
        assert "feeds.yaml" in str(exc)
    else:
        assert all(f.url.startswith(("http://", "https://")) for f in result.feeds)


def test_a_lease_shorter_than_twice_the_feed_deadline_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"lease_seconds \(90\).*feed_deadline \(60\)"):
        Settings.from_env({"AGGREGATOR_LEASE_SECONDS": "90"})
    assert Settings.from_env({"AGGREGATOR_LEASE_SECONDS": "120"}).lease_seconds == 120.0
