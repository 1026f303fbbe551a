"""The command line: help, exit codes, import/export round trip, README coverage."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import dbs
import pytest
from click.testing import CliRunner
from conftest import MakeDb

from aggregator.cli import cli
from aggregator.config import settings_help
from aggregator.store import Store
from aggregator.store.engine import Location, is_postgres
from aggregator.store.read import Reader

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "refresh",
    "stories",
    "story",
    "corrections",
    "search",
    "feeds",
    "import",
    "export",
    "demo",
    "dashboard",
    "eval",
    "reembed",
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


def test_import_then_export_gives_every_article_a_story(db: Location, tmp_path: Path) -> None:
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
    imported = run("--db", str(db), "import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "new articles=3" in imported.stdout
    exported = run("--db", str(db), "export", "--format", "jsonl")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"r1", "r2", "r3"}
    assert all(isinstance(r["story_id"], int) for r in rows)
    assert by_id["r1"]["story_id"] == by_id["r2"]["story_id"] != by_id["r3"]["story_id"]
    again = run("--db", str(db), "import", str(path))
    assert "new articles=0" in again.stdout
    csv_out = run("--db", str(db), "export", "--format", "csv")
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
    db: Location, tmp_path: Path, record: dict[str, object], message: str
) -> None:
    Store(db).close()
    good = {"url": "https://x.example/ok", "title": "Plant opens", "text": "A plant opens."}
    path = tmp_path / "in.jsonl"
    path.write_text(f"{json.dumps(good)}\n\n{json.dumps(record)}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(db), "import", str(path)])
    assert result.exit_code == 2
    assert f"error: {path}:3: {message}" in result.output  # the line, blank lines counted
    with Reader(db) as reader:
        assert reader.counts()["articles"] == 0  # the good line before it is not written either


def test_bad_import_line_is_named_and_nothing_is_written(db: Location, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"url": "https://x.example/a", "title": "ok", "text": "fine"}\n{"title": \n')
    result = run("--db", str(db), "import", str(path))
    assert result.returncode == 2
    assert "in.jsonl:2" in result.stderr
    if is_postgres(db):
        assert dbs.query(db, "SELECT count(*) FROM articles") == [(0,)]
    else:
        assert not Path(db).exists()


def test_readers_on_a_missing_database_say_how_to_start(tmp_path: Path) -> None:
    # SQLite only: a file that is not there; a server's missing database is a connection error
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


def test_demo_until_serves_the_corpus_as_of_a_moment(db: Location) -> None:
    result = run("--db", str(db), "demo", "--until", "2024-04-10T12:00")
    assert result.returncode == 0, result.stderr
    assert "failed: Carblog: not a feed" in result.stdout
    exported = run("--db", str(db), "export")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert rows, "the demo produced no articles"
    assert max(r["published"] for r in rows) <= "2024-04-10T12:00:00Z"
    assert all(isinstance(r["story_id"], int) for r in rows)
    again = run("--db", str(db), "demo", "--until", "2024-04-10T12:00")
    assert "new articles=0" in again.stdout


# --- one story, and readers' corrections ---------------------------------------------------------

MORE_TARIFFS = [
    (
        "en",
        "Wheelbase",
        "https://wheelbase.example/eu-tariffs-vote",
        "EU confirms tariffs of up to 38% on Chinese electric cars",
        "The European Commission confirmed its provisional anti-subsidy duties of up to 38 percent "
        "on electric cars imported from China. BYD, Geely and SAIC face different rates, and "
        "Beijing says it will defend its carmakers.",
        "2024-05-01T09:00:00Z",
    ),
    (
        "de",
        "Autoblatt",
        "https://autoblatt.example/eu-zoelle-bestaetigt",
        "EU bestätigt Strafzölle auf Elektroautos aus China",
        "Die EU-Kommission bestätigt die vorläufigen Strafzölle von bis zu 38 Prozent auf "
        "Elektroautos aus China. BYD, Geely und SAIC sind betroffen; Peking kündigt Gegenmaßnahmen "
        "an.",
        "2024-05-01T11:00:00Z",
    ),
    (
        "fr",
        "Auto Hebdo",
        "https://autohebdo.example/droits-confirmes",
        "L'UE confirme les droits de douane sur les voitures électriques chinoises",
        "La Commission européenne confirme les droits de douane provisoires allant jusqu'à 38 % "
        "sur les voitures électriques importées de Chine. BYD, Geely et SAIC sont concernés.",
        "2024-05-01T13:00:00Z",
    ),
    (
        "en",
        "Wheelbase",
        "https://wheelbase.example/toyota-outlook",
        "Toyota expects profit to fall after its record year on hybrids",
        "Toyota Motor, after a record operating profit of 5.35 trillion yen on hybrid sales, "
        "expects operating profit to fall this year as it raises wages and spends on software.",
        "2024-05-02T09:00:00Z",
    ),
]
REFRESHED = (
    "https://127.0.0.1/refreshed",  # replaced by the local server's address
    "BYD says it can live with EU tariffs on its Chinese-built electric cars",
    "BYD said the European Commission's provisional duties on electric cars built in China, the "
    "lowest of the rates at 17 percent, will not stop its expansion in Europe. Geely and SAIC "
    "face higher duties; SAIC's MG brand is hit hardest at 38 percent.",
)


def _invoke(db: Location, *args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    # the model newsdb.build embeds with: corrections need the stories' vectors
    result = CliRunner().invoke(cli, ["--db", str(db), "--model", "minilm", *args], env=env)
    return result


def _story_of(db: Location, url: str) -> int:
    return int(dbs.query(db, "SELECT story_id FROM articles WHERE url = ?", (url,))[0][0])


def _article_id(db: Location, url: str) -> int:
    return int(dbs.query(db, "SELECT id FROM articles WHERE url = ?", (url,))[0][0])


def _more_articles(path: Path) -> Path:
    rows = [
        {"language": lang, "source": source, "url": url, "title": title, "text": text,
         "published": published}
        for lang, source, url, title, text, published in MORE_TARIFFS
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _feed(server, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    from httpserver import Route

    _, title, text = REFRESHED
    page = (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        + "".join(f"<p>{text}</p>" for _ in range(3))
        + "</article></body></html>"
    )
    server.routes["/byd.html"] = Route(page.encode())
    rss = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>"
        f"<link>{server.url('/')}</link><description>d</description>"
        f"<item><title>{title}</title><link>{server.url('/byd.html')}</link><guid>byd</guid>"
        f"<pubDate>Wed, 01 May 2024 15:00:00 GMT</pubDate><description>{text}</description>"
        "</item></channel></rss>"
    )
    server.routes["/feed.xml"] = Route(rss.encode(), content_type="application/rss+xml")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - name: Wire\n    url: {server.url('/feed.xml')}\n    language: en\n"
        "    allow_private: true\n"
    )
    return feeds


def test_corrections_hold_through_an_import_and_a_refresh(  # type: ignore[no-untyped-def]
    make_db: MakeDb, tmp_path: Path, server
) -> None:
    import newsdb

    db = newsdb.build(make_db("news"))
    url = {title: u for _, _, u, title, _, _ in [*newsdb.XIAOMI, *newsdb.TARIFFS, *newsdb.TOYOTA]}
    en_tariffs, de_fr = [r[2] for r in newsdb.TARIFFS[:2]], [r[2] for r in newsdb.TARIFFS[2:]]
    tariffs = _story_of(db, en_tariffs[0])
    assert {_story_of(db, u) for u in [*en_tariffs, *de_fr]} == {tariffs}
    xiaomi, toyota = _story_of(db, newsdb.XIAOMI[0][2]), _story_of(db, newsdb.TOYOTA[0][2])
    hostile = _article_id(db, newsdb.HOSTILE_URL)

    shown = _invoke(db, "story", str(tariffs), "--json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    listed = {a["article_id"] for g in detail["by_source"] for a in g["articles"]}
    assert listed == {_article_id(db, u) for u in [*en_tariffs, *de_fr]}

    # merge, and undo it
    merged = _invoke(db, "story", "merge", str(toyota), "--into", str(xiaomi), "--by", "ana")
    assert merged.exit_code == 0, merged.output
    assert _story_of(db, newsdb.TOYOTA[0][2]) == xiaomi
    assert json.loads(_invoke(db, "story", str(toyota), "--json").output)["id"] == xiaomi
    undone = _invoke(db, "story", "undo", "--by", "bo", "--json")
    assert json.loads(undone.output)["kind"] == "merge"
    assert _story_of(db, newsdb.TOYOTA[0][2]) == toyota

    # split the German and French reports off the tariffs story; the new id is printed
    split = _invoke(db, "story", "split", str(tariffs), *[str(_article_id(db, u)) for u in de_fr])
    assert split.exit_code == 0, split.output
    parted = int(split.stdout.strip())
    assert {_story_of(db, u) for u in de_fr} == {parted} != {_story_of(db, u) for u in en_tariffs}

    # move the stray Tesla article into the Toyota story
    moved = _invoke(db, "story", "move", str(hostile), "--to", str(toyota), "--json")
    assert json.loads(moved.output)["kind"] == "move"
    assert _story_of(db, newsdb.HOSTILE_URL) == toyota

    history = _invoke(db, "corrections", "--json")
    kinds = [
        (r["kind"], r["undone"] is not None)
        for r in map(json.loads, history.output.split("\n")[:-1])
    ]
    assert kinds == [("move", False), ("split", False), ("merge", True)]

    # without the split, the same import would glue the halves together again
    control = make_db("control", like=db)
    with Store(control) as store, store.transaction() as conn:
        conn.execute("DELETE FROM corrections")
    more = _more_articles(tmp_path / "more.jsonl")
    assert _invoke(control, "import", str(more)).exit_code == 0
    assert _story_of(control, en_tariffs[0]) == _story_of(control, de_fr[0])

    imported = _invoke(db, "import", str(more))
    assert imported.exit_code == 0, imported.output
    refreshed = _invoke(db, "--feeds", str(_feed(server, tmp_path)), "refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert "new articles=1" in refreshed.output

    def holds(path: Location) -> None:
        en_story = _story_of(path, en_tariffs[0])
        assert _story_of(path, en_tariffs[1]) == en_story
        assert _story_of(path, de_fr[0]) == _story_of(path, de_fr[1]) != en_story
        assert _story_of(path, newsdb.HOSTILE_URL) == _story_of(path, newsdb.TOYOTA[0][2])

    holds(db)
    # new articles still joined the corrected stories
    assert _story_of(db, MORE_TARIFFS[3][2]) == toyota
    new_tariffs = {_story_of(db, r[2]) for r in MORE_TARIFFS[:3]}
    assert new_tariffs <= {_story_of(db, en_tariffs[0]), parted}

    # an export carries the corrections, and an import into a new database applies them again
    exported = _invoke(db, "export")
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert all(isinstance(r["article_id"], int) for r in lines if "correction" not in r)
    assert [r["correction"]["kind"] for r in lines if "correction" in r] == ["split", "move"]
    dump = tmp_path / "export.jsonl"
    dump.write_text(exported.stdout)
    copy = make_db("copy")
    again = _invoke(copy, "import", str(dump))
    assert again.exit_code == 0, again.output
    assert "corrections: 2 applied" in again.output
    holds(copy)
    assert url  # every title has its url

    # clustered afresh without them, the current settings would undo both corrections again
    checked = _invoke(db, "eval", "--corrections", "--json")
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert (report["corrections"], report["unnecessary"], report["needed"]) == (2, 0, 2)
    assert [(c["kind"], c["verdict"]) for c in report["checks"]] == [
        ("split", "needed"),
        ("move", "needed"),
    ]
    assert report["articles"] == 16


def test_bad_corrections_exit_1_and_readonly_refuses_with_exit_2(db: Location) -> None:
    import newsdb

    newsdb.build(db)
    tariffs = _story_of(db, newsdb.TARIFFS[0][2])
    article = _article_id(db, newsdb.TARIFFS[0][2])
    before = newsdb.query(db, "SELECT id, story_id FROM articles ORDER BY id")
    bad = [
        (["story", "move", "99999", "--to", str(tariffs)], "there is no article 99999"),
        (["story", "move", str(article), "--to", str(tariffs)], "already in story"),
        (["story", "merge", str(tariffs), "--into", str(tariffs)], "into itself"),
        (["story", "merge", "4242", "--into", str(tariffs)], "there is no story 4242"),
        (["story", "split", str(tariffs), *[str(_article_id(db, r[2])) for r in newsdb.TARIFFS]],
         "every article"),
        (["story", "undo"], "no correction to undo"),
        (["story", "4242"], "there is no story 4242"),
    ]  # fmt: skip
    for args, message in bad:
        result = _invoke(db, *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    readonly = {"AGGREGATOR_READONLY": "1"}
    for args in (
        ["story", "move", str(article), "--to", str(_story_of(db, newsdb.TOYOTA[0][2]))],
        ["story", "undo"],
    ):
        result = _invoke(db, *args, env=readonly)
        assert result.exit_code == 2, result.output
        assert "AGGREGATOR_READONLY=1" in result.output
    assert _invoke(db, "story", str(tariffs), env=readonly).exit_code == 0  # showing is fine
    assert newsdb.query(db, "SELECT id, story_id FROM articles ORDER BY id") == before
    assert newsdb.query(db, "SELECT count(*) FROM corrections") == [(0,)]


@pytest.mark.slow
def test_reembed_after_a_model_change_gives_every_article_the_new_vectors(
    db: Location, tmp_path: Path
) -> None:
    records = [
        {"url": f"https://example.com/{i}", "title": title, "text": f"{title}. " * 12}
        for i, title in enumerate(
            [
                "Renault's chief met Xiaomi's founder at the Beijing motor show",
                "雷诺CEO德梅奥在北京车展与雷军闭门交流",
                "Toyota reports a record operating profit on hybrid demand",
            ]
        )
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    imported = CliRunner().invoke(
        cli, ["--db", str(db), "--model", "minilm", "import", str(source)]
    )
    assert imported.exit_code == 0, imported.output
    with Reader(db) as reader:
        stories_before = {r["url"]: r["story_id"] for r in reader.export_articles()}

    result = CliRunner().invoke(cli, ["--db", str(db), "--model", "e5-onnx", "reembed"])
    assert result.exit_code == 0, result.output
    assert "3 articles to embed" in result.output
    assert "also stored: all-MiniLM-L6-v2 (3)" in result.output
    store = Store(db)
    try:
        assert store.embedding_models() == {
            "all-MiniLM-L6-v2": 3,
            "multilingual-e5-small-onnx-int8": 3,
        }
        assert store.count_missing_embeddings("multilingual-e5-small-onnx-int8") == 0
    finally:
        store.close()
    # nothing left to do, and the stories are as they were
    again = CliRunner().invoke(
        cli, ["--db", str(db), "--model", "e5-onnx", "reembed", "--drop-others"]
    )
    assert again.exit_code == 0, again.output
    assert "0 articles to embed" in again.output and "deleted 6 vectors" in again.output
    with Reader(db) as reader:
        assert {r["url"]: r["story_id"] for r in reader.export_articles()} == stories_before
