"""The command line: help, exit codes, import/export round trip, README coverage."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import settings_help
from aggregator.store import Store
from aggregator.store.read import Reader

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "refresh",
    "stories",
    "search",
    "feeds",
    "import",
    "export",
    "demo",
    "dashboard",
    "eval",
    "extract",
    "settings",
}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = set(re.findall(r"^  (\w+)", result.output.split("Commands:")[1], re.MULTILINE))
    assert listed >= COMMANDS


def test_config_error_exits_2_and_names_the_key(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - name: X\n    url: https://x.example/f\n    tagz: [ev]\n")
    result = run("--db", str(tmp_path / "a.db"), "--feeds", str(feeds), "refresh")
    assert result.returncode == 2
    assert "feed 'X'" in result.stderr and "'tagz'" in result.stderr
    assert not (tmp_path / "a.db").exists()


def test_every_config_error_is_reported_and_the_exit_is_2(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        "  - {name: A, url: 'https://a.example/f', tagz: [ev]}\n"
        "  - {name: B, url: 'ftp://b.example/f'}\n"
        "  - {name: C, url: 'https://c.example/f', language: English}\n"
    )
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "a.db"), "--feeds", str(feeds), "refresh"]
    )
    assert result.exit_code == 2
    assert f"error: {feeds}: 3 mistakes in the feed list:" in result.output
    for where in (f"{feeds}:2: feed 'A': key 'tagz'", f"{feeds}:3: feed 'B': key 'url'"):
        assert where in result.output
    assert f"{feeds}:4: feed 'C': key 'language'" in result.output
    assert not (tmp_path / "a.db").exists()


def test_import_then_export_gives_every_article_a_story(tmp_path: Path) -> None:
    records = [
        {
            "id": "r1",
            "title": "Tesla cuts 10% of jobs worldwide",
            "text": "Tesla will lay off more than ten percent of its global workforce, "
            "Elon Musk said in a memo to staff on Monday.",
            "url": "https://a.example/1",
            "published": "2024-04-15T10:00:00Z",
            "source": "A",
        },
        {
            "id": "r2",
            "title": "Musk memo: Tesla to shed over a tenth of staff",
            "text": "Elon Musk told Tesla employees the company will cut more than 10 percent "
            "of jobs across the world as sales slow.",
            "url": "https://b.example/2",
            "published": "2024-04-15T12:00:00Z",
            "source": "B",
        },
        {
            "id": "r3",
            "title": "BMW starts Neue Klasse pre-production in Debrecen",
            "text": "BMW has begun building pre-series Neue Klasse cars at its new plant in "
            "Debrecen, Hungary.",
            "url": "https://c.example/3",
            "published": "2024-04-10T09:00:00Z",
        },
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    db = str(tmp_path / "x.db")
    imported = run("--db", db, "import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "new articles=3" in imported.stdout
    exported = run("--db", db, "export", "--format", "jsonl")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"r1", "r2", "r3"}
    assert all(isinstance(r["story_id"], int) for r in rows)
    assert by_id["r1"]["story_id"] == by_id["r2"]["story_id"] != by_id["r3"]["story_id"]
    again = run("--db", db, "import", str(path))
    assert "new articles=0" in again.stdout
    csv_out = run("--db", db, "export", "--format", "csv")
    assert csv_out.stdout.splitlines()[0].startswith("id,url,story_id,title,source")
    assert len(csv_out.stdout.splitlines()) == 4


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "Recall", "text": "Body"}, "key 'url' is required"),
        ({"url": "https://x.example/a", "text": "Body"}, "key 'title' is required"),
        ({"url": "https://x.example/a", "title": "Recall", "text": "  "}, "key 'text' is required"),
        ({"url": "https://x.example/a", "title": 42, "text": "Body"}, "key 'title' must be text"),
    ],
)
def test_import_records_need_url_title_and_text(
    tmp_path: Path, record: dict[str, object], message: str
) -> None:
    db = tmp_path / "kept.db"
    Store(db).close()
    good = {"url": "https://x.example/ok", "title": "Plant opens", "text": "A plant opens."}
    path = tmp_path / "in.jsonl"
    path.write_text(f"{json.dumps(good)}\n\n{json.dumps(record)}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(db), "import", str(path)])
    assert result.exit_code == 2
    assert f"error: {path}:3: {message}" in result.output  # the line, blank lines counted
    with Reader(db) as reader:
        assert reader.counts()["articles"] == 0  # the good line before it is not written either


def test_bad_import_line_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"url": "https://x.example/a", "title": "ok", "text": "fine"}\n{"title": \n')
    result = run("--db", str(tmp_path / "x.db"), "import", str(path))
    assert result.returncode == 2
    assert "in.jsonl:2" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_readers_on_a_missing_database_say_how_to_start(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    for command in (["stories"], ["feeds"], ["feeds", "--json"], ["feeds", "--reset-all"]):
        result = CliRunner().invoke(cli, ["--db", str(missing), *command])
        assert result.exit_code == 1, (command, result.output)
        assert f"database {missing} does not exist" in result.output
        assert "aggregator refresh" in result.output
        assert not missing.exists()  # a reader never creates the database it did not find


def _all_commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            names += _all_commands(command, f"{prefix}{name} ")
    return names


def test_readme_documents_every_command_option_and_setting() -> None:
    readme = (REPO / "README.md").read_text()
    for name in _all_commands(cli):
        assert f"aggregator {name}" in readme, f"README does not document `aggregator {name}`"
    for variable, _default, _kind in settings_help():
        assert variable in readme, f"README does not document {variable}"
    for command in cli.commands.values():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in ("--help",):
                    assert opt in readme, f"README does not document {opt}"


def test_demo_until_serves_the_corpus_as_of_a_moment(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    result = run("--db", db, "demo", "--until", "2024-04-10T12:00")
    assert result.returncode == 0, result.stderr
    assert "failed: Carblog: not a feed" in result.stdout
    exported = run("--db", db, "export")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert rows, "the demo produced no articles"
    assert max(r["published"] for r in rows) <= "2024-04-10T12:00:00Z"
    assert all(isinstance(r["story_id"], int) for r in rows)
    again = run("--db", db, "demo", "--until", "2024-04-10T12:00")
    assert "new articles=0" in again.stdout
