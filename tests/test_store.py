"""The store's transaction boundary on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.store import Store


def test_a_failed_write_reports_its_own_error_even_when_rollback_fails(tmp_path: Path) -> None:
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
