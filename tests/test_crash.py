"""``aggregator refresh`` SIGKILLed at random moments loses nothing, and the next run completes it.

Each round the local server publishes new items on every feed, a refresh starts as a real
subprocess and is killed after a random delay (drawn from the length of an unkilled run, so kills
land in fetching, storing, embedding and clustering alike). Then the database must pass
``PRAGMA integrity_check``, every feed's items of that round must be stored all together or not at
all, and a rerun must keep every article seen after the kill and leave each article embedded and
in an existing story. It runs on a SQLite file and on a PostgreSQL database alike.

Run as a script, this module is the command line with the hashed embedder in place of the model
(``--model hash-bow-64``), so that a process killed every second does not spend it loading one.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dbs
import pytest

from aggregator.errors import StorageError
from aggregator.store.engine import Location, is_postgres

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FEEDS, ITEMS, KILLS = 4, 5, 20
MODEL = "hash-bow-64"


@dataclass
class Env:
    db: Location
    feeds: Path
    environ: dict[str, str]


def refresh_command(env: Env) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--db",
        str(env.db),
        "--feeds",
        str(env.feeds),
        "--model",
        MODEL,
        "refresh",
        "--force",
        "--quiet",
    ]


def publish(server: object, round_number: int) -> None:
    """Every feed lists the items of this round (and keeps the last round's, as feeds do)."""
    from faultserver import page, rss
    from httpserver import Route

    for feed in range(FEEDS):
        items = []
        for number in range(max(0, round_number - 1) * ITEMS, (round_number + 1) * ITEMS):
            path = f"/f{feed}/r{number // ITEMS}-{number % ITEMS}.html"
            title = f"Feed {feed} round {number // ITEMS} item {number % ITEMS} battery plant"
            items.append((f"f{feed}-{number}", path, title))
            server.routes[path] = Route(page(title, paragraphs=4))  # type: ignore[attr-defined]
        body = rss(f"Feed {feed}", server.base_url, items)  # type: ignore[attr-defined]
        server.routes[f"/f{feed}.xml"] = Route(body, content_type="application/rss+xml")  # type: ignore[attr-defined]


def snapshot(db: Location) -> tuple[str, set[str], int]:
    """(integrity_check result, stored url keys, embedding rows) of a database after a crash
    (PostgreSQL has no integrity check to run: its write-ahead log is the server's business)."""
    with dbs.connect(db) as conn:
        check = "ok" if is_postgres(db) else conn.execute("PRAGMA integrity_check").fetchone()[0]
        keys = {row[0] for row in conn.execute("SELECT url_key FROM articles")}
        vectors = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        return check, keys, vectors


def complete(db: Location) -> dict[str, int]:
    """Counts that must all be zero once a run has finished undisturbed."""
    with dbs.connect(db) as conn:
        queries = {
            "articles without both vectors": (
                "SELECT count(*) FROM articles a WHERE (SELECT count(*) FROM embeddings e "
                "WHERE e.article_id = a.id AND e.model = ?) < 2",
                (MODEL,),
            ),
            "articles without a story": (
                "SELECT count(*) FROM articles WHERE story_id IS NULL",
                (),
            ),
            "articles in a missing story": (
                "SELECT count(*) FROM articles WHERE story_id IS NOT NULL "
                "AND story_id NOT IN (SELECT id FROM stories)",
                (),
            ),
            "stories with a wrong count": (
                "SELECT count(*) FROM stories s WHERE n_articles != "
                "(SELECT count(*) FROM articles a WHERE a.story_id = s.id)",
                (),
            ),
            "last run unfinished": (
                "SELECT count(*) FROM runs WHERE id = (SELECT max(id) FROM runs) "
                "AND finished IS NULL",
                (),
            ),
        }
        return {
            name: conn.execute(sql, args).fetchone()[0] for name, (sql, args) in queries.items()
        }


def per_feed_round(db: Location, round_number: int) -> dict[str, int]:
    rows = dbs.query(
        db,
        "SELECT source, count(*) FROM articles WHERE title LIKE ? GROUP BY source",
        (f"% round {round_number} item %",),
    )
    return {source: count for source, count in rows}


def wait_until_running(env: Env, process: subprocess.Popen[str]) -> bool:
    """Until the subprocess holds the lock (its run row exists, unfinished); False if it ended."""
    for _ in range(6000):
        if process.poll() is not None:
            return False
        if is_postgres(env.db) or Path(env.db).exists():
            try:
                (row,) = dbs.query(env.db, "SELECT count(*) FROM runs WHERE finished IS NULL")
                if row and row[0]:
                    return True
            except (sqlite3.OperationalError, StorageError):
                pass  # the schema is still being created
        time.sleep(0.02)
    raise AssertionError("the refresh never started")


def start(env: Env) -> subprocess.Popen[str]:
    return subprocess.Popen(
        refresh_command(env),
        env=env.environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_completion(env: Env) -> float:
    """Runs a refresh undisturbed; returns how long it worked after taking the lock."""
    process = start(env)
    # A run already finished by a previous, killed one can be quick: no lock seen is fine then.
    seen = wait_until_running(env, process)
    working = time.monotonic()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    return time.monotonic() - working if seen else 0.0


@pytest.mark.slow
def test_refresh_killed_at_random_moments_loses_nothing(
    server: object, tmp_path: Path, db: Location
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        + "".join(
            f"  - {{name: Feed {n}, url: '{server.url(f'/f{n}.xml')}', "  # type: ignore[attr-defined]
            "language: en, allow_private: true}\n"
            for n in range(FEEDS)
        )
    )
    environ = {
        **os.environ,
        "AGGREGATOR_ENTITIES": str(REPO / "data" / "entities.yaml"),
        "AGGREGATOR_PER_HOST": "8",
        "AGGREGATOR_CONNECT_TIMEOUT": "2",
        "AGGREGATOR_READ_TIMEOUT": "5",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)]),
    }
    env = Env(db, feeds, environ)
    rng = random.Random(20240426)
    publish(server, 0)
    working = run_to_completion(env)  # an unkilled run sets the range of kill moments
    kills, lost, round_number, after = 0, 0, 0, set()
    stored_feeds = unfinished = 0  # where the kills landed: after some commits, before clustering
    while kills < KILLS:
        round_number += 1
        assert round_number <= 3 * KILLS, f"only {kills} kills landed in {round_number} rounds"
        publish(server, round_number)
        process = start(env)
        if not wait_until_running(env, process):
            continue
        time.sleep(rng.uniform(0.3, 1.0) * max(working, 0.2))  # past start-up, into the work
        if process.poll() is not None:
            working *= 0.8  # it finished first: aim earlier next time
        else:
            kills += 1
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        check, before, _ = snapshot(env.db)
        assert check == "ok", f"round {round_number}: {check}"
        partial = per_feed_round(env.db, round_number)
        assert all(count == ITEMS for count in partial.values()), (round_number, partial)
        stored_feeds += len(partial)
        left = complete(env.db)
        unfinished += bool(
            left["articles without both vectors"] or left["articles without a story"]
        )

        working = max(0.2, (working + run_to_completion(env)) / 2)
        check, after, _ = snapshot(env.db)
        assert check == "ok"
        lost += len(before - after)
        assert before <= after, f"round {round_number}: lost {sorted(before - after)[:5]}"
        assert per_feed_round(env.db, round_number) == {f"Feed {n}": ITEMS for n in range(FEEDS)}
        assert all(v == 0 for v in complete(env.db).values()), complete(env.db)
    assert len(after) == FEEDS * ITEMS * (round_number + 1) and lost == 0
    print(
        f"\nrefreshes killed mid-run and completed: {kills} in {round_number} rounds; lost {lost}; "
        f"feeds committed before a kill: {stored_feeds}; kills that left embedding or "
        f"clustering for the next run: {unfinished}"
    )


def _main() -> None:
    """The command line, with the hashed embedder standing in for every model."""
    sys.path.insert(0, str(HERE))
    from faultserver import HashEmbedder

    import aggregator.embed

    aggregator.embed.load_embedder = lambda spec="": HashEmbedder()  # type: ignore[assignment,misc]
    from aggregator.cli import main

    main()


if __name__ == "__main__":
    _main()
