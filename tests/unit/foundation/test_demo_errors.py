"""The demo fleet's errors and deploys: realistic, varied, consistent with its samples, the same every time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsview.alerts.defaults import default_rules
from opsview.alerts.engine import evaluate
from opsview.collect import CollectionRunner
from opsview.collectors.demo import DemoCollector, window_errors, window_samples
from opsview.config import Config, DemoSource, SourcesConfig
from opsview.error_records import EventKind
from opsview.schema import FunctionKey
from opsview.store import SQLiteStore

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday morning
END = T0 + timedelta(hours=12)
PAY = FunctionKey("aws", "111111111111", "us-east-1", "payments-webhook")


def test_each_minutes_signature_counts_add_up_to_its_errors() -> None:
    samples = list(window_samples(42, 1, T0, END))
    errors, _ = window_errors(42, 1, T0, END)
    per_minute = Counter[tuple[FunctionKey, datetime]]()
    for obs in errors:
        per_minute[(obs.key, obs.minute)] += obs.count
    expected = {(s.key, s.start): s.errors for s in samples if s.errors}
    assert dict(per_minute) == expected
    assert sum(expected.values()) > 10_000


def test_the_troubled_functions_fail_in_the_ways_on_call_would_recognise() -> None:
    errors, _ = window_errors(42, 1, T0, END)
    by_name: dict[str, set[str]] = {}
    samples_of: dict[tuple[str, str], set[str]] = {}
    for obs in errors:
        by_name.setdefault(obs.key.name, set()).add(obs.signature)
        samples_of.setdefault((obs.key.name, obs.signature), set()).add(obs.sample or "")
    assert "Task timed out after <n> seconds" in by_name["report-generator"]
    assert "Runtime.OutOfMemory: RequestId: <id> Error: Runtime exited with error: signal: killed" in by_name[
        "report-generator"]
    assert any(s.startswith("Memory limit of <n> MiB exceeded") for s in by_name["search-indexer"])
    assert "Error: connect ECONNREFUSED <ip>:<n>" in by_name["checkout-api"]
    # KeyErrors on varying keys: one signature, many different samples
    assert len(samples_of[("payments-webhook", "KeyError: <str>")]) >= 5
    assert len({s for sigs in by_name.values() for s in sigs}) >= 25


def test_the_same_window_gives_the_same_errors_and_deploys_and_another_seed_others() -> None:
    first = window_errors(42, 1, T0, T0 + timedelta(hours=2))
    assert window_errors(42, 1, T0, T0 + timedelta(hours=2)) == first
    assert window_errors(7, 1, T0, T0 + timedelta(hours=2)) != first


def test_releases_bring_new_error_types_an_hour_after_their_deploy(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "demo.db")
    config = Config(sources=SourcesConfig(demo=[DemoSource(name="demo", seed=42)]))
    try:
        with CollectionRunner(config, store) as runner:
            for hour in range(1, 13):  # as `opsview demo` fills its history: hour by hour
                runner.run(now=T0 + timedelta(hours=hour), since=timedelta(hours=hour))
        deploys = store.events(PAY, T0, END, kinds=[EventKind.DEPLOY])
        assert len(deploys) == 6  # every two hours
        assert len({d.detail.version for d in deploys}) == 6
        assert all(d.detail.code_sha for d in deploys)
        fresh = [
            store.fleet_errors(d.at, d.at + timedelta(hours=1), keys=[PAY], new_only=True)
            for d in deploys if d.at - T0 >= timedelta(hours=1)  # the store watched an hour before it
        ]
        brought = [f[0].signature for f in fresh if f]
        assert len(brought) >= 3
        assert all(s.startswith("TypeError: ") for s in brought)
        assert len(set(brought)) == len(brought)
        assert store.error_coverage()[PAY] == (T0, END)
        # what `opsview demo` watches: the default pack's "new-error-type" fires for the release's bug
        release = next(f[0] for f in fresh if f)
        evaluation = evaluate(default_rules(), store, release.first_seen + timedelta(minutes=30))
        [alert] = [a for a in evaluation.firing() if a.rule == "new-error-type" and a.key == PAY]
        assert release.signature in alert.summary
        assert alert.description.startswith("latest: TypeError: ")
    finally:
        store.close()


def test_a_collection_returns_errors_coverage_and_events() -> None:
    collector = DemoCollector("demo", seed=42)
    from opsview.collectors.base import CollectRequest

    result = collector.collect(CollectRequest(start=T0, end=T0 + timedelta(hours=4)))
    assert result.errors
    assert {k for c in result.error_coverage for k in c.keys} == {f.info.key for f in collector.fleet}
    assert {e.key.name for e in result.events} >= {"payments-webhook", "checkout-api"}
