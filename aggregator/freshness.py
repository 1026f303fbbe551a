"""What readers should hear about the refreshes behind what they read: that the last one was
partial, or that none has run for long (a cron job that stopped says nothing by itself)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aggregator.store import parse_iso
from aggregator.text import plural

STALE_AFTER = timedelta(hours=24)
"""A last refresh older than this is worth a word to readers: its cron job may have stopped."""


def run_notice(last: Mapping[str, Any] | None, now: datetime) -> str | None:
    """What a reader should know about the last refresh (a ``runs`` row with its report): that
    it was partial, with how many feeds failing or paused, or that it is long past; None when
    neither holds."""
    if last is None:
        return None
    report = last.get("report") or {}
    when = str(last.get("finished") or last.get("started") or "")
    if last.get("status") == "partial":
        trouble = [
            plural(int(report.get(key) or 0), "feed") + f" {word}"
            for key, word in (("feeds_failing", "failing"), ("feeds_paused", "paused"))
            if report.get(key)
        ]
        return (
            f"The last refresh ({when}) was partial: {', '.join(trouble) or 'some feeds failed'}."
            " The Feeds page has each error."
        )
    ended = parse_iso(when)
    if ended is not None and now - ended > STALE_AFTER:
        hours = int((now - ended).total_seconds() // 3600)
        age = plural(hours // 24, "day") if hours >= 48 else plural(hours, "hour")
        return f"No refresh for {age} (the last ended {when}): is its cron job still running?"
    return None
