"""The store's engines: transaction boundaries, schema versions and the choice of engine, on a
real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dbs
import pytest

from aggregator.config import Settings, db_location
from aggregator.errors import StorageError
from aggregator.models import Feed
from aggregator.store import Store
from aggregator.store.engine import Location, describe, is_postgres
from aggregator.store.read import Reader
from aggregator.store.schema import SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent


def test_a_failed_write_reports_its_own_error_even_when_rollback_fails(tmp_path: Path) -> None:
    # SQLite only: a ROLLBACK statement inside the store's transaction ends SQLite's
    store = Store(tmp_path / "t.db")
    with (
        pytest.raises(ValueError, match="the write failed") as caught,
        store.transaction() as conn,
    ):
        conn.execute("INSERT INTO runs (started, status) VALUES ('2024-01-01', 'running')")
        conn.execute("ROLLBACK")  # the transaction is gone, as after a hard I/O error
        raise ValueError("the write failed")
    assert any("rollback" in note for note in caught.value.__notes__)
    # the connection is still usable for the next write
    with store.transaction() as conn:
        conn.execute("INSERT INTO runs (started, status) VALUES ('2024-01-02', 'running')")
    assert store.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_a_failed_write_leaves_nothing_behind(db: Location) -> None:
    with Store(db) as store:
        with pytest.raises(ValueError, match="the write failed"), store.transaction() as conn:
            conn.execute("INSERT INTO runs (started, status) VALUES ('2024-01-01', 'running')")
            raise ValueError("the write failed")
        with store.transaction() as conn:
            conn.execute("INSERT INTO runs (started, status) VALUES ('2024-01-02', 'running')")
    assert dbs.query(db, "SELECT started FROM runs") == [("2024-01-02",)]


def test_a_bad_statement_is_a_storage_error_that_names_the_database(db: Location) -> None:
    with (
        Store(db) as store,
        pytest.raises(StorageError, match="no_such_table"),
        store.transaction() as conn,
    ):
        conn.execute("SELECT * FROM no_such_table")
    with Store(db) as store:  # and the database is still usable
        assert store.start_run(datetime.now(UTC)) == 1


def test_a_readers_data_version_changes_with_each_commit_elsewhere_and_only_then(
    db: Location,
) -> None:
    Store(db).close()
    with Reader(db) as reader:
        before = reader.data_version()
        assert reader.counts()["articles"] == 0
        assert reader.data_version() == before  # reading changes nothing
        script = (
            "import sys; from datetime import datetime, UTC; from aggregator.store import Store; "
            "Store(sys.argv[1]).start_run(datetime.now(UTC))"
        )
        subprocess.run([sys.executable, "-c", script, str(db)], check=True, cwd=REPO)
        after = reader.data_version()
        assert after != before  # another process committed
        assert reader.data_version() == after
        assert reader.refresh_running()


def test_both_engines_reach_the_same_schema_version(db: Location) -> None:
    Store(db).close()
    if is_postgres(db):
        assert dbs.query(db, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    else:
        assert dbs.query(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    Store(db).close()  # migrating again changes nothing
    with Reader(db) as reader:
        assert reader.counts()["articles"] == 0


def test_every_migration_has_its_postgresql_twin() -> None:
    from aggregator.store.postgres.schema import LANGUAGE_CONFIGS, migrations

    assert len(migrations(set(LANGUAGE_CONFIGS.values()))) == SCHEMA_VERSION


def test_postgresql_reader_on_an_older_schema_says_how_to_upgrade(
    postgres: dbs.PostgresServer,
) -> None:
    url = postgres.new_database(migrated=False)
    try:
        with dbs.connect(url) as conn:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (2)")
        with pytest.raises(StorageError, match="aggregator refresh"):
            Reader(url)
        with dbs.connect(url) as conn:
            conn.execute("UPDATE schema_version SET version = 99")
        with pytest.raises(StorageError, match="newer than this aggregator"):
            Store(url)
    finally:
        postgres.drop(url)


def test_a_url_selects_postgresql_and_a_path_selects_sqlite() -> None:
    url = "postgresql://news:s3cret@db.example:5432/aggregator?sslmode=require"
    assert db_location(url) == url and is_postgres(db_location(url))
    assert db_location("data/aggregator.db") == Path("data/aggregator.db")
    assert Settings.from_env({"AGGREGATOR_DB": url}).db == url
    assert Settings.from_env({"AGGREGATOR_DB": "x.db"}).db == Path("x.db")
    assert "s3cret" not in describe(url) and "news:***@db.example" in describe(url)


def test_an_unreachable_server_is_a_clear_storage_error(tmp_path: Path) -> None:
    url = f"postgresql://nobody@/aggregator?host={tmp_path}&connect_timeout=2"
    with pytest.raises(StorageError, match="cannot connect to postgresql://"):
        Store(url)


def test_without_psycopg_the_error_names_the_package(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from aggregator.errors import StorageError\n"
        "from aggregator.store import Store\n"
        "try:\n"
        "    Store('postgresql://u@/d?host=/nonexistent')\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert "pip install 'psycopg[binary]'" in out.stdout


def test_no_module_above_the_store_speaks_sqlite() -> None:
    """Only aggregator.store knows the engine: nothing else imports sqlite3 or sqlite-utils."""
    offenders = []
    for path in [*(REPO / "aggregator").rglob("*.py"), *(REPO / "dashboard").rglob("*.py")]:
        if (REPO / "aggregator" / "store") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] in ("sqlite3", "sqlite_utils", "psycopg") for n in names):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_the_feed_list_syncs_changes_and_keeps_each_feeds_state(db: Location) -> None:
    first = [
        Feed("A", "http://a.example/feed", "en", ("ev",)),
        Feed("B", "http://b.example/f", "de", ()),
    ]
    with Store(db) as store:
        store.sync_feeds(first)
        store.update_feed("A", etag='"v1"', consecutive_failures=2)
        moved = [Feed("A", "http://a.example/new", "en", ("ev", "china")), first[1]]
        store.sync_feeds(moved)
        store.sync_feeds(moved)  # nothing changed: nothing written
        state = store.feed_state("A")
    rows = dbs.rows_by(db, "SELECT * FROM feeds", "name")
    assert rows["A"]["url"] == "http://a.example/new" and rows["A"]["tags"] == '["ev", "china"]'
    assert rows["B"]["url"] == "http://b.example/f"
    assert state.etag == '"v1"' and state.consecutive_failures == 2


def test_feed_states_are_read_together_and_an_unknown_feed_has_a_fresh_state(db: Location) -> None:
    feeds = [Feed(f"F{n}", f"http://f{n}.example/feed", "en", ()) for n in range(1203)]
    with Store(db) as store:
        store.sync_feeds(feeds)
        store.update_feed("F7", etag='"e7"', paused=1)
        store.update_feed("F1202", consecutive_failures=3, last_error="transient: HTTP 503")
        states = store.feed_states([*(f.name for f in feeds), "Unknown", "F7"])
        one = store.feed_state("F3")
    assert list(states)[:3] == ["F0", "F1", "F2"] and len(states) == 1204
    assert states["F7"].etag == '"e7"' and states["F7"].health == "paused"
    assert states["F1202"].health == "failing"
    assert states["F1202"].last_error == "transient: HTTP 503"
    assert states["F3"] == one and one.health == "ok"
    assert states["Unknown"].name == "Unknown" and states["Unknown"].etag is None
