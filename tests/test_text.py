"""Small text helpers shared by the CLI and the dashboard."""

from __future__ import annotations

from aggregator.text import plural


def test_plural_agrees_with_the_count() -> None:
    assert plural(1, "article") == "1 article"
    assert plural(0, "source") == "0 sources"
    assert plural(3, "story") == "3 stories"
    assert plural(1, "story") == "1 story"
