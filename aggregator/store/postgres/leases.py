"""What lets refresh workers on several machines share one PostgreSQL database's feeds.

A worker claims due feeds with ``SELECT … FOR UPDATE SKIP LOCKED``: two workers claiming at once
take different feeds and neither waits for the other. A claim is a lease that lives while its
worker's connection does and at most until its expiry: the feeds of a killed worker are free at
once, those of a hung one when the lease runs out, and a feed finished by another worker is not
due again in the same run. Requests per host are limited across workers by advisory
locks, one per host slot, which a killed worker's connection gives back with it.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from aggregator.store import DUE_FOR_RUN, iso
from aggregator.store.engine import Connection
from aggregator.store.postgres.connection import PgConnection

# the first keys of the two-key advisory locks that stand for host slots and for live runs
HOST_SLOTS = 0x61677203
LIVE_RUNS = 0x61677204


# the runs whose worker is connected (see mark_live)
LIVE = f"""
    SELECT objid::bigint AS run FROM pg_locks
    WHERE locktype = 'advisory' AND classid = {LIVE_RUNS} AND objsubid = 2 AND granted
"""


# Lease up to a number of the named feeds to a run, in the order of the names (parameters: the
# names, now, due_parameters, the number, the run, the worker's name, the lease's end). A lease
# is live until it expires or its run's worker disconnects (see mark_live); rows another worker
# is claiming at this moment are skipped, not waited for.
CLAIM = f"""
    WITH wanted AS (
        SELECT name, position FROM unnest(?::text[]) WITH ORDINALITY AS w(name, position)
    ), live AS ({LIVE}), picked AS (
        SELECT f.name, wanted.position FROM feeds f JOIN wanted ON wanted.name = f.name
        WHERE f.paused = 0
            AND (f.lease_run IS NULL OR f.lease_until <= ?
                OR NOT EXISTS (SELECT 1 FROM live WHERE live.run = f.lease_run))
            AND {DUE_FOR_RUN}
        ORDER BY wanted.position LIMIT ?
        FOR UPDATE OF f SKIP LOCKED
    )
    UPDATE feeds SET lease_run = ?, lease_owner = ?, lease_until = ?
    FROM picked WHERE feeds.name = picked.name
    RETURNING feeds.name, picked.position
"""


def orphaned(conn: Connection, now: datetime) -> list[str]:
    """Feeds leased to a run whose worker is gone, or whose lease has run out."""
    rows = conn.execute(
        f"WITH live AS ({LIVE}) SELECT name FROM feeds f WHERE f.lease_run IS NOT NULL "
        "AND (f.lease_until <= ? OR NOT EXISTS (SELECT 1 FROM live WHERE live.run = f.lease_run))",
        (iso(now),),
    ).fetchall()
    return [str(r[0]) for r in rows]


@contextmanager
def mark_live(conn: Connection, run: int) -> Iterator[None]:
    """Holds the advisory lock that says ``run``'s worker is alive, on the worker's connection:
    if the worker is killed, the server ends its session and the lock goes with it."""
    conn.execute("SELECT pg_advisory_lock(?, ?)", (LIVE_RUNS, run))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(?, ?)", (LIVE_RUNS, run))


def slot_key(host: str, slot: int) -> int:
    """The second advisory-lock key of ``host``'s slot number ``slot`` (a signed 32-bit int)."""
    key = zlib.crc32(f"{host}#{slot}".encode())
    return key - (1 << 32) if key >= 1 << 31 else key


class PgHostGate:
    """At most ``per_host`` requests in flight to one host across every worker on the database.

    Each slot is a session advisory lock taken on this worker's own connection: a slot is free
    when no session holds its lock, and a killed worker's slots are released with its
    connection. Threads of one worker share the connection, so it remembers which slots its own
    threads hold (a session may take a lock it already holds)."""

    def __init__(self, url: str, per_host: int, *, poll: float = 0.02) -> None:
        self.conn = PgConnection(url)
        self.per_host = max(1, per_host)
        self.poll = poll
        self._mutex = threading.Lock()
        self._held: set[int] = set()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        key = self._take(host)
        while key is None:
            time.sleep(random.uniform(0.5, 1.5) * self.poll)
            key = self._take(host)
        try:
            yield
        finally:
            with self._mutex:
                self.conn.execute("SELECT pg_advisory_unlock(?, ?)", (HOST_SLOTS, key))
                self._held.discard(key)

    def _take(self, host: str) -> int | None:
        """A free slot of ``host``, now held by this worker, or None when all are taken."""
        with self._mutex:
            for slot in range(self.per_host):
                key = slot_key(host, slot)
                if key in self._held:
                    continue
                row = self.conn.execute(
                    "SELECT pg_try_advisory_lock(?, ?)", (HOST_SLOTS, key)
                ).fetchone()
                if row[0]:
                    self._held.add(key)
                    return key
        return None
