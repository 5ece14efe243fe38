"""What `function_detail` adds for "why" (the one read behind the TUI's detail screen and the web's function
page), on a real SQLite file and a real PostgreSQL server: top signatures or "unknown", the deploys inside the
window, and error rate and p95 since the last deploy against the same span before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsview.config import PricingConfig
from opsview.error_records import ErrorCoverage, ErrorObservation, EventDetail, EventKind, FunctionEvent
from opsview.fleet import function_detail
from opsview.schema import FunctionInfo, FunctionKey, Sample
from opsview.store import Store

pytestmark = pytest.mark.integration

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = FunctionKey("aws", "111111111111", "us-east-1", "checkout")
OTHER = FunctionKey("aws", "111111111111", "us-east-1", "cart")
PRICING = PricingConfig()
DEPLOY_AT = END - timedelta(minutes=29, seconds=40)  # 11:30:20: its minute (11:30) is on neither side


def _fill(store: Store) -> None:
    """Two hours of one call a second: before 11:30, an error every fifth minute and p95 200 ms; from 11:31, 6
    errors a minute (10 %) and 400 ms; the deploy's own minute 30 errors and 999 ms (counted on neither side)."""
    store.upsert_functions([FunctionInfo(KEY, "python3.12", 512, 30.0), FunctionInfo(OTHER, "python3.12")])
    samples = []
    for i in range(120):
        start = END - timedelta(minutes=120 - i)  # i = 90 is 11:30, the deploy's minute
        errors, p95 = (30, 999.0) if i == 90 else (6, 400.0) if i > 90 else (int(i % 5 == 0), 200.0)
        samples.append(Sample(key=KEY, start=start, invocations=60, errors=errors, duration_p95_ms=p95))
    store.write_samples(samples)
    store.write_events([
        FunctionEvent(KEY, END - timedelta(hours=5), EventKind.DEPLOY, EventDetail(version="6")),
        FunctionEvent(KEY, DEPLOY_AT, EventKind.DEPLOY, EventDetail(version="7", code_sha="q2Xn0v8Rk3Zsh1==")),
        FunctionEvent(KEY, END - timedelta(minutes=10), EventKind.INSTANCE_START, EventDetail(reason="AUTOSCALING")),
        FunctionEvent(OTHER, END - timedelta(minutes=5), EventKind.DEPLOY, EventDetail(version="99")),
    ])


def test_since_deploy_compares_the_span_after_the_last_deploy_with_the_same_span_before(store: Store) -> None:
    _fill(store)
    detail = function_detail(store, PRICING, KEY, END - timedelta(hours=1), END, 60)
    assert detail is not None
    since = detail.since_deploy
    assert since is not None
    assert since.deploy.detail.version == "7"  # the latest deploy of this function, not its neighbour's
    # 11:31-12:00 (29 minutes) against 11:01-11:30; 11:30, the deploy's minute, on neither side
    assert since.span == timedelta(minutes=29)
    assert (since.after.invocations, since.after.errors) == (29 * 60, 29 * 6)
    assert (since.before.invocations, since.before.errors) == (29 * 60, 5)  # 11:05, 11:10, ... 11:25
    assert since.p95_after == 400.0
    assert since.p95_before == 200.0
    fact = detail.since_deploy_fact()
    assert fact is not None
    assert fact.text == "29m ago: err 10% (was 0.3%), p95 400ms (was 200ms) · version 7 · sha q2Xn0v8R"
    # the markers: this function's deploys inside the window, not its instance starts
    assert [e.at for e in detail.deploys] == [DEPLOY_AT]


def test_a_deploy_in_the_newest_minute_has_nothing_to_compare_yet(store: Store) -> None:
    _fill(store)
    just = END - timedelta(seconds=20)
    store.write_events([FunctionEvent(KEY, just, EventKind.DEPLOY, EventDetail(version="8"))])
    detail = function_detail(store, PRICING, KEY, END - timedelta(hours=1), END, 60)
    assert detail is not None
    assert detail.since_deploy is not None
    assert detail.since_deploy.span == timedelta(0)
    fact = detail.since_deploy_fact()
    assert fact is not None
    assert fact.text == "20s ago: nothing to compare yet · version 8"


def test_no_deploy_known_no_comparison(store: Store) -> None:
    store.upsert_functions([FunctionInfo(KEY)])
    detail = function_detail(store, PRICING, KEY, END - timedelta(hours=1), END, 60)
    assert detail is not None
    assert (detail.since_deploy, detail.since_deploy_fact(), detail.deploys) == (None, None, ())


def test_errors_are_unknown_until_searched_then_none_then_listed(store: Store) -> None:
    store.upsert_functions([FunctionInfo(KEY)])
    start = END - timedelta(hours=1)
    unknown = function_detail(store, PRICING, KEY, start, END, 60)
    assert unknown is not None
    assert unknown.errors is None  # never "no errors": nobody looked
    assert unknown.errors_note() == "errors unknown: no source searched this function's errors in the last 1h"

    # searched, but only for an hour that ended before this window: still unknown here
    store.record_error_coverage([ErrorCoverage((KEY,), start - timedelta(hours=2), start - timedelta(hours=1))])
    assert (d := function_detail(store, PRICING, KEY, start, END, 60)) is not None
    assert d.errors is None

    store.record_error_coverage([ErrorCoverage((KEY,), start - timedelta(hours=1), END)])
    none = function_detail(store, PRICING, KEY, start, END, 60)
    assert none is not None
    assert none.errors == ()
    assert none.errors_note() == "no errors in the last 1h"

    store.write_errors([
        ErrorObservation.of(KEY, END - timedelta(minutes=m), "KeyError", f"'k{m}'", sample_id=f"req-{m}")
        for m in (50, 40, 5)
    ] + [ErrorObservation.of(KEY, END - timedelta(minutes=3), None, "Task timed out after 3.00 seconds")])
    found = function_detail(store, PRICING, KEY, start, END, 60)
    assert found is not None
    assert found.errors is not None
    assert [(s.signature, s.count, s.new) for s in found.errors] == [
        ("KeyError: <str>", 3, True), ("Task timed out after <n> seconds", 1, True)]
    assert found.errors[0].sample == "'k5'"
    assert found.errors[0].sample_id == "req-5"
    assert found.errors_note() == "top 2 error signatures, last 1h"


def test_errors_searched_over_part_of_the_window_say_so(store: Store) -> None:
    store.upsert_functions([FunctionInfo(KEY)])
    store.record_error_coverage([ErrorCoverage((KEY,), END - timedelta(minutes=20), END)])
    detail = function_detail(store, PRICING, KEY, END - timedelta(hours=1), END, 60)
    assert detail is not None
    assert detail.errors == ()
    assert detail.errors_note() == "no errors in the last 1h (errors searched over 20m of 1h)"
