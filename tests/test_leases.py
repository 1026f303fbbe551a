"""Feed leases and shared host slots: what lets refresh workers share one database's feeds."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import dbs
import pytest

from aggregator.models import Feed
from aggregator.store import Store, iso
from aggregator.store.engine import Location, is_postgres

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)
FEEDS = [Feed(f"F{n}", f"http://127.0.0.1/f{n}.xml", "en", ()) for n in range(6)]
NAMES = [feed.name for feed in FEEDS]


def claim(
    store: Store, run: int, *, now: datetime = NOW, limit: int = 10, force: bool = False
) -> list[str]:
    """A claim by a run that started a second before ``now``, for five minutes."""
    return store.lease_feeds(
        run,
        NAMES,
        now=now,
        until=now + timedelta(minutes=5),
        limit=limit,
        started=now - timedelta(seconds=1),
        force=force,
    )


def test_a_claim_takes_due_unleased_feeds_in_list_order(db: Location) -> None:
    with Store(db) as store, Store(db) as other:
        store.sync_feeds(FEEDS)
        store.update_feed("F1", next_due=iso(NOW + timedelta(hours=1)))  # not due yet
        store.update_feed("F2", paused=1)
        store.update_feed("F3", last_fetch=iso(NOW))  # done by a worker since this run started
        with store.working(1), store.working(2), other.working(3):
            assert claim(store, 1, limit=2) == ["F0", "F4"]
            assert claim(store, 2) == ["F5"]  # F0 and F4 are leased to run 1
            assert claim(store, 2, force=True) == ["F1"]  # forced: due or not, once per run
            # a later run may fetch F3 again; the others' leases run five minutes
            assert claim(other, 3, now=NOW + timedelta(minutes=4)) == ["F3"]
            # the leases have run out while their worker hangs: another worker takes the feeds
            assert claim(other, 3, now=NOW + timedelta(minutes=6)) == ["F0", "F4", "F5"]
            assert other.release_leases(3) == 4
            assert other.release_leases(3) == 0
        (row,) = dbs.query(db, "SELECT count(*) FROM feeds WHERE lease_run = 3")
        assert row[0] == 0


def test_the_leases_of_a_killed_worker_are_free_at_once(db: Location) -> None:
    killed = Store(db)
    killed.sync_feeds(FEEDS)
    killed.working(1).__enter__()
    assert claim(killed, 1) == NAMES
    killed.close()  # its connection ends as a killed process's does, leases still written
    with Store(db) as store:
        # on PostgreSQL the worker's end frees them; on SQLite, the next run's refresh lock
        assert sorted(store.orphaned_leases(NOW)) == (NAMES if is_postgres(db) else [])
        assert sorted(store.orphaned_leases(NOW + timedelta(minutes=6))) == NAMES
        with store.refresh_lock(), store.working(2):
            assert claim(store, 2) == NAMES
            assert store.orphaned_leases(NOW) == []


def test_workers_claiming_at_once_never_share_a_feed(db: Location) -> None:
    feeds = [Feed(f"G{n:03d}", f"http://127.0.0.1/g{n}.xml", "en", ()) for n in range(200)]
    names = [feed.name for feed in feeds]
    with Store(db) as store:
        store.sync_feeds(feeds)

    done = threading.Barrier(4)

    def work(run: int) -> list[str]:
        mine: list[str] = []
        with Store(db) as store, store.working(run):  # a connection each, as on other machines
            while batch := store.lease_feeds(
                run, names, now=NOW, until=LATER, limit=7, started=NOW
            ):
                mine += batch
            done.wait()  # still at work on what it claimed while the others claim
        return mine

    with ThreadPoolExecutor(4) as pool:
        taken = list(pool.map(work, [1, 2, 3, 4]))
    everything = [name for mine in taken for name in mine]
    assert sorted(everything) == names  # every feed once, none twice
    if is_postgres(db):
        assert sum(1 for mine in taken if mine) >= 2


def test_one_announcement_per_change_across_workers(db: Location) -> None:
    with Store(db) as store, Store(db) as other:
        store.sync_feeds(FEEDS)
        assert store.announce_health({"F0": "failing", "F1": "ok"}) == {"F0"}
        assert other.announce_health({"F0": "failing"}) == set()
        assert other.announce_health({"F0": "ok"}) == {"F0"}


def test_host_slots_hold_across_workers_and_go_with_a_dead_one(db: Location) -> None:
    if not is_postgres(db):
        pytest.skip(
            "one SQLite file has one refresh at a time; its fetcher's limit is the only one"
        )
    with Store(db) as one, Store(db) as two:
        with one.host_gate(1) as first, two.host_gate(1) as second:
            assert first is not None and second is not None
            entered = threading.Event()
            with first.hold("news.example"):

                def other_worker() -> None:
                    with second.hold("news.example"):
                        entered.set()

                waiter = threading.Thread(target=other_worker)
                waiter.start()
                with second.hold("other.example"):  # another host is not held back
                    pass
                assert not entered.wait(0.5)  # the host's one slot is taken
            waiter.join(10)
            assert entered.is_set()
        # a worker that dies holding a slot gives it back with its connection
        with one.host_gate(1) as first, two.host_gate(1) as second:
            assert first is not None and second is not None
            holder = first.hold("news.example")
            holder.__enter__()
            first.close()  # the connection ends, as a killed worker's does
            started = time.monotonic()
            with second.hold("news.example"):
                assert time.monotonic() - started < 5


def test_one_clustering_at_a_time_and_its_holder_may_take_it_again(db: Location) -> None:
    """Refresh workers and readers' corrections take turns to change stories."""
    with Store(db) as one, Store(db) as two:
        entered = threading.Event()
        with one.derive_lock():

            def other_worker() -> None:
                with two.derive_lock():
                    entered.set()

            waiter = threading.Thread(target=other_worker)
            waiter.start()
            assert not entered.wait(0.5)
            with one.derive_lock():  # a correction inside the holder's own import, say
                pass
            assert not entered.is_set()
        waiter.join(10)
        assert entered.is_set()
