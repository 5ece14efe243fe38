"""The rule engine against a real SQLite store, with the time injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsview.alert_records import AlertState
from opsview.alerts.engine import evaluate
from opsview.config import NotifierConfig, RuleConfig
from opsview.schema import FunctionInfo, FunctionKey, Sample
from opsview.store import SQLiteStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
API = FunctionKey("aws", "111", "us-east-1", "api")
WORKER = FunctionKey("aws", "111", "us-east-1", "worker")


def rule(**kw: Any) -> RuleConfig:
    base: dict[str, Any] = {"name": "errors", "measure": "error_rate", "window": "5m", "op": ">", "threshold": 0.05}
    base.update(kw)
    return RuleConfig.model_validate(base)


def write(store: SQLiteStore, key: FunctionKey, start: datetime, minutes: int, **measures: Any) -> None:
    store.upsert_functions([FunctionInfo(key, timeout_s=10.0, memory_mb=128)])
    store.write_samples(
        Sample(key=key, start=start + timedelta(minutes=i), **measures) for i in range(minutes)
    )


def state(store: SQLiteStore, name: str, key: FunctionKey) -> AlertState:
    found = [r for r in store.alert_records() if r.rule == name and r.key == key]
    return found[0].state if found else AlertState.INACTIVE


def test_pending_becomes_firing_after_for_then_resolves_and_returns_to_inactive(sqlite_store: SQLiteStore) -> None:
    r = rule(**{"for": "3m"})
    write(sqlite_store, API, T0, 10, invocations=100, errors=20)
    write(sqlite_store, WORKER, T0, 10, invocations=100, errors=0)

    evaluate([r], sqlite_store, T0 + timedelta(minutes=5))
    assert state(sqlite_store, "errors", API) is AlertState.PENDING
    assert state(sqlite_store, "errors", WORKER) is AlertState.INACTIVE
    evaluate([r], sqlite_store, T0 + timedelta(minutes=7))
    assert state(sqlite_store, "errors", API) is AlertState.PENDING  # held 2m of the 3m
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=8))
    assert [x.key for x in ev.firing()] == [API]
    firing = ev.firing()[0]
    assert firing.active_since == T0 + timedelta(minutes=5)
    assert firing.value == pytest.approx(0.2)
    assert firing.summary == "aws/111/us-east-1/api: error_rate 20.0 % > 5.0 % over 5m"

    # Errors stop: the next windows are clean.
    write(sqlite_store, API, T0 + timedelta(minutes=10), 10, invocations=100, errors=0)
    (resolved,) = evaluate([r], sqlite_store, T0 + timedelta(minutes=16)).records
    assert resolved.state is AlertState.RESOLVED
    # the resolved summary states what holds now, not the rule's "> 5.0 %"
    assert resolved.summary == "aws/111/us-east-1/api: error_rate 0.0 % ≤ 5.0 % over 5m"
    evaluate([r], sqlite_store, T0 + timedelta(minutes=40))
    assert state(sqlite_store, "errors", API) is AlertState.INACTIVE

    history = [(e.from_state, e.to_state) for e in reversed(sqlite_store.alert_events(key=API))]
    assert history == [
        (AlertState.INACTIVE, AlertState.PENDING),
        (AlertState.PENDING, AlertState.FIRING),
        (AlertState.FIRING, AlertState.RESOLVED),
    ]


def test_pending_that_clears_before_for_never_fires(sqlite_store: SQLiteStore) -> None:
    r = rule(**{"for": "10m"})
    write(sqlite_store, API, T0, 5, invocations=100, errors=50)
    write(sqlite_store, API, T0 + timedelta(minutes=5), 10, invocations=100, errors=0)
    evaluate([r], sqlite_store, T0 + timedelta(minutes=5))
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=11))
    assert ev.firing() == []
    assert state(sqlite_store, "errors", API) is AlertState.INACTIVE


@pytest.mark.parametrize(
    ("missing", "expected"),
    [("ignore", AlertState.FIRING), ("breaching", AlertState.FIRING), ("ok", AlertState.RESOLVED)],
)
def test_missing_data_choices_when_a_firing_function_stops_reporting(
    sqlite_store: SQLiteStore, missing: str, expected: AlertState
) -> None:
    r = rule(missing=missing)
    write(sqlite_store, API, T0, 5, invocations=100, errors=30)
    evaluate([r], sqlite_store, T0 + timedelta(minutes=5))
    assert state(sqlite_store, "errors", API) is AlertState.FIRING
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=30))  # nothing reported since
    assert state(sqlite_store, "errors", API) is expected
    record = next(x for x in ev.records if x.key == API)
    assert record.value is None  # missing stays missing, never a made-up 0


def test_missing_breaching_fires_on_a_function_that_never_reported(sqlite_store: SQLiteStore) -> None:
    sqlite_store.upsert_functions([FunctionInfo(WORKER)])
    assert evaluate([rule(missing="ignore")], sqlite_store, T0).firing() == []
    assert [x.key for x in evaluate([rule(missing="breaching")], sqlite_store, T0).firing()] == [WORKER]


def test_m_of_n_datapoints(sqlite_store: SQLiteStore) -> None:
    r = rule(window="1m", datapoints="3/5")
    # Minutes 0..4: bad, good, bad, good, good -> 2 of 5 breaching.
    for minute, errors in enumerate([20, 0, 20, 0, 0]):
        write(sqlite_store, API, T0 + timedelta(minutes=minute), 1, invocations=100, errors=errors)
    assert evaluate([r], sqlite_store, T0 + timedelta(minutes=5)).firing() == []
    # Minute 5 bad -> window 1..5 holds bad at 2 and 5 only; minute 6 bad -> 2, 5, 6 = 3 of 5.
    write(sqlite_store, API, T0 + timedelta(minutes=5), 1, invocations=100, errors=20)
    assert evaluate([r], sqlite_store, T0 + timedelta(minutes=6)).firing() == []
    write(sqlite_store, API, T0 + timedelta(minutes=6), 1, invocations=100, errors=20)
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=7))
    assert [x.key for x in ev.firing()] == [API]
    assert ev.firing()[0].value == pytest.approx(0.2)


def test_m_of_n_counts_gaps_as_breaching_only_when_asked(sqlite_store: SQLiteStore) -> None:
    write(sqlite_store, API, T0, 1, invocations=100, errors=20)  # one bad minute, then four silent ones
    now = T0 + timedelta(minutes=5)
    assert evaluate([rule(window="1m", datapoints="3/5")], sqlite_store, now).firing() == []
    hits = evaluate([rule(window="1m", datapoints="3/5", missing="breaching")], sqlite_store, now).firing()
    assert [x.key for x in hits] == [API]


def test_dropped_to_zero_only_where_there_was_traffic_the_hour_before(sqlite_store: SQLiteStore) -> None:
    r = rule(name="dropped", measure="invocations", window="15m", op="==", threshold=0, missing="breaching",
             previous={"window": "1h", "op": ">", "threshold": 0})
    write(sqlite_store, API, T0, 60, invocations=50)  # busy for an hour, then silent
    sqlite_store.upsert_functions([FunctionInfo(WORKER)])  # never had traffic
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=75))
    assert [x.key for x in ev.firing()] == [API]
    # While traffic flows, nothing fires.
    assert evaluate([r], sqlite_store, T0 + timedelta(minutes=59)).firing() == []


def test_timeout_ratio_uses_the_functions_timeout(sqlite_store: SQLiteStore) -> None:
    write(sqlite_store, API, T0, 10, invocations=10, duration_p99_ms=9000.0)  # timeout 10 s
    r = rule(name="slow", measure="timeout_ratio", window="10m", threshold=0.8)
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=10))
    assert ev.firing()[0].value == pytest.approx(0.9)


def test_match_labels_and_globs(sqlite_store: SQLiteStore) -> None:
    sqlite_store.upsert_functions([FunctionInfo(API, labels={"team": "pay"}), FunctionInfo(WORKER)])
    for key in (API, WORKER):
        sqlite_store.write_samples([Sample(key=key, start=T0, invocations=10, errors=10)])
    now = T0 + timedelta(minutes=1)
    assert [x.key for x in evaluate([rule(match={"labels": {"team": "pay"}})], sqlite_store, now).firing()] == [API]
    assert [x.key for x in evaluate([rule(match={"function": "work*"})], sqlite_store, now).firing()] == [WORKER]
    assert evaluate([rule(match={"provider": "gcp"})], sqlite_store, now).firing() == []


def hook(**kw: Any) -> NotifierConfig:
    return NotifierConfig.model_validate({"type": "webhook", "url": "http://127.0.0.1:1/x", **kw})


def test_notifications_once_per_episode_repeat_interval_and_resolve(sqlite_store: SQLiteStore) -> None:
    r = rule(notify=["hook"])
    notifiers = {"hook": hook(repeat_interval="1h")}
    write(sqlite_store, API, T0, 120, invocations=100, errors=30)
    write(sqlite_store, WORKER, T0, 120, invocations=100, errors=30)
    first = evaluate([r], sqlite_store, T0 + timedelta(minutes=5), notifiers=notifiers)
    assert len(first.queued) == 1  # grouped by rule: one message for both functions
    payload = first.queued[0].payload
    assert payload["status"] == "firing"
    assert payload["rule"] == "errors"
    assert {a["function"] for a in payload["alerts"]} == {str(API), str(WORKER)}
    assert set(payload["alerts"][0]) >= {"function", "value", "threshold", "since", "summary"}
    assert evaluate([r], sqlite_store, T0 + timedelta(minutes=6), notifiers=notifiers).queued == ()
    assert len(evaluate([r], sqlite_store, T0 + timedelta(minutes=66), notifiers=notifiers).queued) == 1
    write(sqlite_store, API, T0 + timedelta(minutes=120), 10, invocations=100, errors=0)
    write(sqlite_store, WORKER, T0 + timedelta(minutes=120), 10, invocations=100, errors=30)
    resolved = evaluate([r], sqlite_store, T0 + timedelta(minutes=125), notifiers=notifiers).queued
    assert [(q.status, [a["function"] for a in q.payload["alerts"]]) for q in resolved] == [("resolved", [str(API)])]
    assert len(sqlite_store.outbox()) == 3  # nothing delivered here, nothing lost


def test_group_by_function_sends_one_message_each(sqlite_store: SQLiteStore) -> None:
    write(sqlite_store, API, T0, 5, invocations=100, errors=30)
    write(sqlite_store, WORKER, T0, 5, invocations=100, errors=30)
    ev = evaluate([rule(notify=["hook"])], sqlite_store, T0 + timedelta(minutes=5),
                  notifiers={"hook": hook(group_by=["function"])})
    assert len(ev.queued) == 2


def test_silence_mutes_notifications_until_removed(sqlite_store: SQLiteStore) -> None:
    r = rule(notify=["hook"])
    write(sqlite_store, API, T0, 30, invocations=100, errors=30)
    silence = sqlite_store.add_silence("errors", "ap*", T0, T0 + timedelta(hours=2), "deploy")
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=5), notifiers={"hook": hook()})
    assert ev.queued == ()
    assert ev.firing()[0].silenced  # still firing, visibly muted
    assert sqlite_store.remove_silence(silence.id)
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=6), notifiers={"hook": hook()})
    assert len(ev.queued) == 1


def test_state_of_a_removed_rule_is_forgotten(sqlite_store: SQLiteStore) -> None:
    write(sqlite_store, API, T0, 5, invocations=100, errors=30)
    evaluate([rule()], sqlite_store, T0 + timedelta(minutes=5))
    assert sqlite_store.alert_records()
    evaluate([], sqlite_store, T0 + timedelta(minutes=6))
    assert sqlite_store.alert_records() == []


def test_check_lock_is_exclusive_until_its_holder_releases_it_or_goes_away(sqlite_store: SQLiteStore) -> None:
    """The lock belongs to the holder's open store (a file lock), not to a row with an expiry: a live holder
    keeps it however long it runs, and it is free the moment the holder lets go or its process ends
    (tests/integration/alerts/test_check_lock_liveness.py kills real processes)."""
    ttl = timedelta(minutes=15)
    other = SQLiteStore(sqlite_store.path)
    try:
        assert sqlite_store.acquire_lock("check", "a", T0, ttl)
        assert not other.acquire_lock("check", "b", T0 + timedelta(minutes=1), ttl)
        assert not other.acquire_lock("check", "b", T0 + timedelta(minutes=16), ttl)  # past its ttl, still held
        assert other.lock_owner("check") == "a"
        sqlite_store.release_lock("check", "a")
        assert other.lock_owner("check") is None
        assert other.acquire_lock("check", "b", T0 + timedelta(minutes=17), ttl)
        assert not sqlite_store.acquire_lock("check", "a", T0 + timedelta(minutes=17), ttl)
    finally:
        other.close()  # as its process ending would: the operating system drops the lock
    assert sqlite_store.lock_owner("check") is None
    assert sqlite_store.acquire_lock("check", "a", T0 + timedelta(minutes=18), ttl)


def test_a_failing_read_fails_only_the_rules_that_need_it(
    sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads run ahead on reader threads; one that fails there is read again by its rule and reported."""
    write(sqlite_store, API, T0, 10, invocations=100, errors=20)
    calls = []

    def locked(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise RuntimeError("database is locked")

    monkeypatch.setattr(sqlite_store, "fleet_buckets", locked)
    ev = evaluate([rule(name="m-of-n", window="1m", datapoints="3/5", **{"for": "0s"}), rule(**{"for": "0s"})],
                  sqlite_store, T0 + timedelta(minutes=10))
    assert [(r.rule, r.key) for r in ev.firing()] == [("errors", API)]
    assert ev.errors == ("rule 'm-of-n': database is locked",)
    assert len(calls) == 2  # the prefetch, then the rule's own read


def test_windows_composed_from_shared_segments_give_what_whole_window_reads_give(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sum and max measures over nested windows are read once per segment and combined; every value,
    state and gap (no data = None, not 0) matches reading each window whole."""
    from opsview.alerts import windows
    from opsview.collectors.demo import build_fleet, window_samples

    now = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
    rules = [
        rule(name="calls-15m", measure="invocations", window="15m", op=">=", threshold=0),
        rule(name="cold-1h", measure="cold_start_rate", window="1h", op=">=", threshold=0),
        rule(name="errors-5m", measure="error_rate", window="5m", op=">=", threshold=0),
        rule(name="cost-30m", measure="cost_usd", window="30m", op=">=", threshold=0),
        rule(name="conc-1h", measure="concurrency_max", window="1h", op=">=", threshold=0),
        rule(name="conc-10m", measure="concurrency_max", window="10m", op=">=", threshold=0),
        rule(name="p99-10m", measure="duration_p99_ms", window="10m", op=">=", threshold=0),
        rule(name="dropped", measure="invocations", window="15m", op="==", threshold=0, missing="breaching",
             previous={"window": "1h", "op": ">", "threshold": 0}),
    ]
    needs, _ = windows.read_needs(rules, now)
    reads, composed = windows.segment_plan(needs)
    assert composed, "these rules share segments"
    assert sum((b - a).total_seconds() for a, b in reads) < sum((b - a).total_seconds() for a, b in needs)

    results = {}
    for mode in ("segments", "whole"):
        if mode == "whole":
            monkeypatch.setattr(windows, "segment_plan", lambda needs: (dict(needs), {}))
        store = SQLiteStore(tmp_path / f"{mode}.db")
        store.upsert_functions(f.info for f in build_fleet(3, 1))
        store.write_samples(window_samples(3, 1, now - timedelta(hours=2, minutes=30), now))
        write(store, API, now - timedelta(hours=2), 100, invocations=5, concurrency_max=2.0)  # quiet for 20 min
        result = evaluate(rules, store, now)
        results[mode] = {(r.rule, r.key): (r.state, r.value) for r in result.records}
        store.close()

    assert results["segments"].keys() == results["whole"].keys()
    assert len({rule for rule, _ in results["whole"]}) == len(rules)  # every rule found something
    for pair, (state, value) in results["whole"].items():
        got_state, got_value = results["segments"][pair]
        assert got_state == state, pair
        assert got_value == (None if value is None else pytest.approx(value, rel=1e-9)), pair
