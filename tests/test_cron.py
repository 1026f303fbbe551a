"""``aggregator refresh --quiet`` as cron runs it: a real process against a real HTTP server.

Cron mails whatever a job prints, so a quiet refresh speaks once when a feed's health changes
(starts failing, is paused, recovers) and exits 1 for as long as any feed is failing or paused,
including feeds that were not due because they wait out their backoff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dbs
from faultserver import rss
from httpserver import LocalServer, Route

from aggregator.store.engine import Location

REPO = Path(__file__).resolve().parent.parent
XML = "application/rss+xml"


class Cron:
    """Runs ``aggregator refresh`` the way a crontab line would, on one database and feed list."""

    def __init__(self, db: Location, tmp_path: Path, server: LocalServer, names: list[str]) -> None:
        self.db = db
        self.feeds = tmp_path / "feeds.yaml"
        lines = ["feeds:"]
        for name in names:
            slug = name.lower()
            lines += [
                f"  - name: {name}",
                f"    url: {server.url(f'/{slug}.xml')}",
                "    allow_private: true",
            ]
        self.feeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.env = {
            **os.environ,
            "AGGREGATOR_DB": str(self.db),
            "AGGREGATOR_FEEDS": str(self.feeds),
            "AGGREGATOR_ENTITIES": str(REPO / "data" / "entities.yaml"),
            "AGGREGATOR_PAUSE_AFTER": "2",
            "AGGREGATOR_CONNECT_TIMEOUT": "2",
            "AGGREGATOR_READ_TIMEOUT": "2",
        }

    def refresh(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.aggregator("refresh", *args)

    def aggregator(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "aggregator", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=REPO,
            timeout=300,
        )

    def last_run(self) -> tuple[str, dict[str, object]]:
        ((status, report),) = dbs.query(
            self.db, "SELECT status, report FROM runs ORDER BY id DESC LIMIT 1"
        )
        return status, json.loads(report)


def feed_ok(server: LocalServer, name: str) -> None:
    server.routes[f"/{name.lower()}.xml"] = Route(rss(name, server.base_url, []), content_type=XML)


def feed_down(server: LocalServer, name: str, status: int = 503) -> None:
    server.routes[f"/{name.lower()}.xml"] = Route(b"down", status=status)


def test_failing_feeds_exit_1_every_run_and_speak_once_per_change(
    server: LocalServer, db: Location, tmp_path: Path
) -> None:
    cron = Cron(db, tmp_path, server, ["Alpha", "Beta"])
    feed_down(server, "Alpha")
    feed_down(server, "Beta")

    first = cron.refresh("--quiet")
    assert first.returncode == 1, first.stderr
    assert first.stdout == ""
    lines = first.stderr.splitlines()
    assert len(lines) == 2, first.stderr
    assert all("started failing" in line and "HTTP 503" in line for line in lines)
    assert {"'Alpha'", "'Beta'"} == {line.split()[1] for line in lines}
    status, report = cron.last_run()
    assert status == "partial" and report["status"] == "partial"
    assert report["feeds_failing"] == 2

    # both feeds now wait out their backoff: not fetched, not "skipped", still failing
    asked = len(server.paths_requested())
    second = cron.refresh("--quiet")
    assert len(server.paths_requested()) == asked
    assert second.returncode == 1
    assert second.stdout == "" and second.stderr == ""
    status, report = cron.last_run()
    assert status == "partial"
    assert report["feeds_failing"] == 2 and report["feeds_skipped"] == 0

    listing = cron.aggregator("feeds")
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[0].endswith(": partial (2 failing, 0 paused)")
    assert (
        "Alpha: failing" in listing.stdout and "last error: transient: HTTP 503" in listing.stdout
    )

    # without --quiet the same state is spelt out, and the exit code is the same
    loud = cron.refresh()
    assert loud.returncode == 1
    assert "partial: 2 failing, 0 paused" in loud.stdout

    feed_ok(server, "Alpha")
    feed_ok(server, "Beta")
    recovered = cron.refresh("--quiet", "--force")
    assert recovered.returncode == 0, recovered.stderr
    assert sorted(recovered.stderr.splitlines()) == [
        "feed 'Alpha' recovered (was failing)",
        "feed 'Beta' recovered (was failing)",
    ]
    assert cron.last_run()[0] == "ok"
    assert cron.aggregator("feeds").stdout.splitlines()[0].endswith(": ok")
    calm = cron.refresh("--quiet", "--force")
    assert calm.returncode == 0 and calm.stdout == "" and calm.stderr == ""


def test_a_paused_feed_is_announced_once_and_keeps_the_exit_code_at_1(
    server: LocalServer, db: Location, tmp_path: Path
) -> None:
    cron = Cron(db, tmp_path, server, ["Gone", "Fine"])
    feed_down(server, "Gone", status=410)
    feed_ok(server, "Fine")

    first = cron.refresh("--quiet")
    assert first.returncode == 1
    assert first.stderr.splitlines() == ["feed 'Gone' started failing: permanent: HTTP 410"]
    second = cron.refresh("--quiet", "--force")  # the second permanent failure pauses it
    assert second.returncode == 1
    assert second.stderr.splitlines() == [
        "feed 'Gone' is paused: permanent: HTTP 410; `aggregator feeds --reset 'Gone'` resumes it"
    ]
    third = cron.refresh("--quiet", "--force")
    assert third.returncode == 1 and third.stderr == ""
    status, report = cron.last_run()
    assert status == "partial" and report["feeds_paused"] == 1 and report["feeds_failing"] == 0
    assert report["feeds_ok"] == 1 and report["feeds_skipped"] == 0


def test_a_disabled_failing_feed_does_not_hold_the_exit_code(
    server: LocalServer, db: Location, tmp_path: Path
) -> None:
    cron = Cron(db, tmp_path, server, ["Old", "Fine"])
    feed_down(server, "Old")
    feed_ok(server, "Fine")
    assert cron.refresh("--quiet").returncode == 1
    text = cron.feeds.read_text(encoding="utf-8")
    cron.feeds.write_text(
        text.replace("name: Old\n", "name: Old\n    enabled: false\n"), encoding="utf-8"
    )
    again = cron.refresh("--quiet")
    assert again.returncode == 0 and again.stderr == ""
    assert cron.last_run()[0] == "ok"
