from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from httpserver import LocalServer

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


@dataclass(frozen=True)
class DemoRun:
    """A demo refresh done once per test run: its database and what it printed."""

    db: Path
    output: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    from readme_sample import run_demo

    db = tmp_path_factory.mktemp("demo") / "demo.db"
    return DemoRun(db, run_demo(db))
