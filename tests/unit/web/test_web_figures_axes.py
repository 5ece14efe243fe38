"""Chart axes read right: every measure the web charts is a count, a duration or money, never below zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsview.schema import FunctionKey, Sample
from opsview.web import figures

KEY = FunctionKey("aws", "111111111111", "us-east-1", "payments-webhook")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_function_with_no_cold_starts_keeps_its_axes_at_zero() -> None:
    """An all-zero series left to plotly.js's defaults spans -1..1: a chart of cold starts that reads "-1"."""
    samples = [Sample(key=KEY, start=T0 + timedelta(minutes=i), invocations=10, cold_starts=0) for i in range(5)]

    fig = figures.function_cold_starts(samples, 60)

    assert fig["layout"]["yaxis"]["rangemode"] == "nonnegative"
    assert fig["layout"]["yaxis2"]["rangemode"] == "nonnegative"
