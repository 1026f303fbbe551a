"""Readers beside a running refresh, a second refresh beside the first, and the lock of a dead one.

The refresh runs as a real ``aggregator refresh`` subprocess (with the hashed embedder, see
test_crash.py) writing a real SQLite file or PostgreSQL database, while this process reads it
the way the CLI and the dashboard do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import dbs
import pytest
from faultserver import drip, gated, page, rss
from httpserver import LocalServer, Route
from test_crash import Env, refresh_command, wait_until_running

from aggregator.errors import StorageError
from aggregator.store.engine import Location, is_postgres
from aggregator.store.read import Reader

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
XML = "application/rss+xml"


def site(
    server: LocalServer,
    tmp_path: Path,
    db: Location,
    *,
    feeds: int,
    items: int,
    slow: float,
    read_timeout: float | None = None,
) -> Env:
    """``feeds`` feeds of ``items`` pages, plus one feed that answers after ``slow`` seconds."""
    lines = []
    for feed in range(feeds):
        entries = [
            (f"c{feed}-{n}", f"/c{feed}/{n}.html", f"Plant {feed} shift {n}") for n in range(items)
        ]
        server.routes[f"/c{feed}.xml"] = Route(
            rss(f"C{feed}", server.base_url, entries), content_type=XML
        )
        for _, path, title in entries:
            server.routes[path] = Route(page(title))
        lines.append(
            f"  - {{name: C{feed}, url: '{server.url(f'/c{feed}.xml')}', allow_private: true}}\n"
        )
    slow_feed = rss("Slow", server.base_url, [])
    server.routes["/slow.xml"] = Route(handler=drip(slow_feed, slow / len(slow_feed)))
    lines.append(f"  - {{name: Slow, url: '{server.url('/slow.xml')}', allow_private: true}}\n")
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(lines))
    environ = {
        **os.environ,
        "AGGREGATOR_ENTITIES": str(REPO / "data" / "entities.yaml"),
        "AGGREGATOR_READ_TIMEOUT": str(read_timeout or slow + 5),
        "AGGREGATOR_PER_HOST": "8",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)]),
    }
    return Env(db, feeds_file, environ)


def start(env: Env, *extra: str) -> subprocess.Popen[str]:
    command = [c for c in refresh_command(env) if c != "--quiet"] + list(extra)
    return subprocess.Popen(
        command, env=env.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_readers_never_see_a_locked_database(
    server: LocalServer, tmp_path: Path, db: Location
) -> None:
    env = site(server, tmp_path, db, feeds=6, items=6, slow=3)
    first = start(env)
    assert wait_until_running(env, first)
    errors: list[str] = []
    reads = 0
    seen_articles: list[int] = []
    while first.poll() is None:
        try:
            with Reader(env.db) as reader:  # a new connection each time, as a CLI call makes
                seen_articles.append(reader.counts()["articles"])
                reader.feeds()
                reader.top_stories(limit=5)
                reader.search_keyword("plant shift", limit=5)
                reader.refresh_running()
                reads += 1
        except StorageError as exc:
            errors.append(str(exc))
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err[-2000:]
    assert errors == []
    assert reads >= 5
    assert seen_articles == sorted(seen_articles)  # never a half-visible or rolled-back state
    with Reader(env.db) as reader:
        assert reader.counts()["articles"] == 36


def test_second_refresh_beside_the_first(server: LocalServer, tmp_path: Path, db: Location) -> None:
    """On SQLite a second refresh exits 3 at once; on PostgreSQL it is a second worker, which
    leaves the feed the first still holds and finishes without waiting for it."""
    # the gated feed waits for the whole second run, which on a loaded machine takes longer than
    # the usual read timeout
    env = site(server, tmp_path, db, feeds=2, items=2, slow=0.1, read_timeout=150)
    gate = threading.Event()
    server.routes["/slow.xml"] = Route(handler=gated(rss("Slow", server.base_url, []), gate))
    first = start(env)
    try:
        assert wait_until_running(env, first)
        second = subprocess.run(
            [*refresh_command(env), "--json"],
            env=env.environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert first.poll() is None  # the first is still waiting on the gated feed
        if is_postgres(db):  # the second did not take the first for a killed run
            with Reader(env.db) as reader:
                assert reader.refresh_running()
    finally:
        gate.set()
    if is_postgres(db):
        assert second.returncode == 0, second.stderr[-2000:]
        report = json.loads(second.stdout)
        # the gated feed at least stays with the first worker, which holds its lease
        assert report["feeds_skipped"] >= 1 and report["feeds_failed"] == 0
        assert report["feeds_ok"] + report["feeds_skipped"] == 3
    else:
        assert second.returncode == 3
        assert "another refresh is running" in second.stderr
        assert second.stdout == ""
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    with Reader(env.db) as reader:
        assert reader.counts()["articles"] == 4
    assert server.paths_requested().count("/slow.xml") == 1
    (row,) = dbs.query(env.db, "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL")
    assert row[0] == 0  # every lease was given back
    statuses = [r[0] for r in dbs.query(env.db, "SELECT status FROM runs ORDER BY id")]
    assert statuses == (["ok", "ok"] if is_postgres(db) else ["ok"])


def test_workers_on_postgresql_share_the_feeds(
    server: LocalServer, tmp_path: Path, db: Location
) -> None:
    """Three workers started together fetch every feed once between them, store every article
    once and cluster each into exactly one story."""
    if not is_postgres(db):
        pytest.skip("one SQLite file has one refresh at a time (see the test above)")
    env = site(server, tmp_path, db, feeds=12, items=2, slow=0.1)
    for number in range(12):
        # slow enough that no worker is done before the others start; due again in an hour
        entries = [
            (f"c{number}-{n}", f"/c{number}/{n}.html", f"Plant {number} shift {n}")
            for n in range(2)
        ]
        body = rss(f"C{number}", server.base_url, entries, extra="<ttl>60</ttl>")
        server.routes[f"/c{number}.xml"] = Route(handler=drip(body, 1.5 / len(body)))
    command = [c for c in refresh_command(env) if c not in ("--force", "--quiet")] + ["--json"]
    workers = [
        subprocess.Popen(
            command, env=env.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]
        reports.append(json.loads(out))
    fetched = Counter(server.paths_requested())
    assert all(fetched[f"/c{n}.xml"] == 1 for n in range(12)), fetched
    assert fetched["/slow.xml"] == 1
    assert sum(r["feeds_ok"] for r in reports) == 13
    assert sum(r["new_articles"] for r in reports) == 24
    assert sum(1 for r in reports if r["feeds_ok"]) >= 2  # the work was shared
    (row,) = dbs.query(
        env.db,
        "SELECT count(*), count(DISTINCT url_key), count(story_id) FROM articles",
    )
    assert tuple(row) == (24, 24, 24)


def test_lock_of_a_killed_refresh_is_released(
    server: LocalServer, tmp_path: Path, db: Location
) -> None:
    env = site(server, tmp_path, db, feeds=2, items=2, slow=30)
    first = start(env)
    assert wait_until_running(env, first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    server.routes["/slow.xml"] = Route(rss("Slow", server.base_url, []), content_type=XML)
    again = subprocess.run(
        refresh_command(env), env=env.environ, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr[-2000:]
    with Reader(env.db) as reader:
        assert reader.counts()["articles"] == 4 and reader.refresh_running() is not None


def test_cron_output_quiet_json_and_key_value_logs(
    server: LocalServer, tmp_path: Path, db: Location
) -> None:
    env = site(server, tmp_path, db, feeds=1, items=2, slow=0.1)
    quiet = subprocess.run(
        refresh_command(env), env=env.environ, capture_output=True, text=True, timeout=120
    )
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""

    server.routes["/c0.xml"] = Route(b"gone", status=410)
    command = [c for c in refresh_command(env) if c != "--quiet"]
    as_json = subprocess.run(
        [
            *command[: command.index("refresh")],
            "-v",
            *command[command.index("refresh") :],
            "--json",
        ],
        env=env.environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["feeds_failed"] == 1 and "HTTP 410" in report["failures"]["C0"]
    lines = [line for line in as_json.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("ts=") and " level=" in line for line in lines)
    assert any("feed='C0' status=failed" in line for line in lines)
