"""What readers hear about the last refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.freshness import run_notice
from aggregator.store import iso

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def run(status: str, ended: datetime, **report: int) -> dict[str, object]:
    return {"status": status, "started": iso(ended), "finished": iso(ended), "report": report}


def test_a_partial_refresh_is_told_with_its_failing_and_paused_feeds() -> None:
    notice = run_notice(run("partial", NOW, feeds_failing=1, feeds_paused=3), NOW)
    assert notice is not None
    assert "was partial: 1 feed failing, 3 feeds paused" in notice
    assert "2026-05-01T12:00:00Z" in notice


def test_a_refresh_long_past_is_told_in_hours_then_days() -> None:
    assert run_notice(run("ok", NOW - timedelta(hours=23)), NOW) is None
    assert "No refresh for 30 hours" in str(run_notice(run("ok", NOW - timedelta(hours=30)), NOW))
    assert "No refresh for 3 days" in str(run_notice(run("ok", NOW - timedelta(days=3)), NOW))


def test_nothing_to_say_without_a_run_or_after_a_good_recent_one() -> None:
    assert run_notice(None, NOW) is None
    assert run_notice(run("ok", NOW - timedelta(minutes=10)), NOW) is None
