"""One STALE rule for the TUI's header, the web's status strip and /healthz."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsview import freshness
from opsview.freshness import Freshness
from opsview.schema import CollectorHealth
from opsview.tui import model

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_the_tui_uses_the_shared_rule() -> None:
    assert model.is_stale is freshness.is_stale
    assert model.last_success is freshness.last_success
    assert model.STALE_AFTER_INTERVALS == freshness.STALE_AFTER_INTERVALS == 3


def test_stale_after_three_intervals_since_the_newest_success_of_any_source() -> None:
    health = [
        CollectorHealth("aws-prod", "aws", NOW - timedelta(minutes=2), False, "AccessDenied", scope="eu-west-1"),
        CollectorHealth("demo", "demo", NOW - timedelta(minutes=3), True),
        CollectorHealth("gcp", "gcp", NOW - timedelta(minutes=30), True),
    ]
    fresh = Freshness.of(health, NOW, timedelta(minutes=1))
    assert (fresh.stale, fresh.last_success) == (False, NOW - timedelta(minutes=3))
    assert fresh.text() == "data as of 11:57:00 UTC (3m00s ago)"
    assert [p.label for p in fresh.problems] == ["aws-prod/eu-west-1"]
    later = Freshness.of(health, NOW + timedelta(seconds=1), timedelta(minutes=1))
    assert later.stale
    assert later.text() == "STALE data as of 11:57:00 UTC (3m01s ago)"


def test_never_collected_is_stale() -> None:
    failed = [CollectorHealth("aws-prod", "aws", NOW, False, None)]
    fresh = Freshness.of(failed, NOW, timedelta(minutes=1))
    assert fresh.stale
    assert fresh.text() == "STALE no successful collection yet"
    assert fresh.problems[0].error == "failed without a message"
