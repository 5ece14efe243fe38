"""Alerts into a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`), through `opsview check`'s
evaluate-and-deliver path against a real SQLite store.

Alertmanager compares endsAt with its own clock, so the evaluations run at real (recent) times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from amserver import Alertmanager, Receiver, dead_url, find_alertmanager, start_alertmanager, wait_for, webhook_receiver

from opsview.alerts.check import run_check
from opsview.alerts.notifications import function_url
from opsview.config import Config, RuleConfig
from opsview.notify.alertmanager_shapes import fingerprint
from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

API = FunctionKey("aws", "111111111111", "us-east-1", "api")
WORKER = FunctionKey("aws", "111111111111", "us-east-1", "worker")
PUBLIC = "https://opsview.example.com/"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


@pytest.fixture
def replicas(tmp_path: Path, receiver: Receiver) -> Iterator[list[Alertmanager]]:
    """Two real Alertmanagers (an HA pair as a team runs it), each sending its webhooks to the receiver."""
    if find_alertmanager() is None:
        pytest.skip("Alertmanager is not installed (Debian package prometheus-alertmanager)")
    started: list[Alertmanager] = []
    try:
        for i in (1, 2):
            started.append(start_alertmanager(tmp_path / f"am{i}", f"{receiver.url}/am{i}"))
        yield started
    finally:
        for am in started:
            am.stop()


def write(store: SQLiteStore, key: FunctionKey, start: datetime, minutes: int, errors: int) -> None:
    store.upsert_functions([FunctionInfo(key, memory_mb=256, timeout_s=30)])
    store.write_samples(Sample(key=key, start=start + timedelta(minutes=i), invocations=100, errors=errors,
                               duration_p99_ms=120.0) for i in range(minutes))


def config(urls: list[str], hook: str) -> Config:
    return Config.model_validate({
        "web": {"public_url": PUBLIC},
        "notifiers": {
            "am": {"type": "alertmanager", "url": urls, "retries": 0, "timeout": "3s", "valid_for": "30m"},
            "hook": {"type": "webhook", "format": "alertmanager", "url": hook, "retries": 0},
        },
    })


RULE = RuleConfig.model_validate({
    "name": "high-error-rate", "measure": "error_rate", "window": "5m", "threshold": 0.05, "severity": "critical",
    "labels": {"team": "payments", "cost-center": "42"},
    "annotations": {"summary": "{function}: {value:.0%} errors", "description": "threshold {threshold:.0%}"},
    "notify": ["am", "hook"],
})


def by_function(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["labels"]["function"]: a for a in alerts}


def when(text: str) -> datetime | None:
    return None if text.startswith("0001-") else datetime.fromisoformat(text.replace("Z", "+00:00"))


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    """A webhook body without what legitimately differs (externalURL: Alertmanager's own address vs opsview's)."""
    out = {k: v for k, v in message.items() if k not in ("externalURL", "alerts")}
    out["alerts"] = sorted(
        (a["fingerprint"], a["status"], a["labels"], a["annotations"], when(a["startsAt"]), when(a["endsAt"]),
         a["generatorURL"])
        for a in message["alerts"]
    )
    return out


def test_alerts_reach_every_replica_are_resent_while_firing_and_resolve(
    tmp_path: Path, replicas: list[Alertmanager], receiver: Receiver
) -> None:
    am1, am2 = replicas
    down = dead_url()
    t0 = floor_time(utcnow(), 60) - timedelta(minutes=15)
    store = SQLiteStore(tmp_path / "store.db")
    write(store, API, t0 - timedelta(minutes=10), 10, errors=30)
    write(store, WORKER, t0 - timedelta(minutes=10), 10, errors=30)
    cfg = config([am1.url, am2.url, down], f"{receiver.url}/opsview")

    first = run_check(cfg, [RULE], store, collect=False, now=t0)
    assert first.delivery.sent == 2  # a replica down does not sink the others
    assert first.delivery.failed == 0
    [note] = first.delivery.errors
    assert note.startswith(f"am: alertmanager {down}/api/v2/alerts: ")
    assert note.endswith("(2 of 3 replicas accepted)")

    for am in (am1, am2):
        held = by_function(wait_for(am.alerts, what=f"alerts in {am.url}"))
        assert set(held) == {"api", "worker"}
        api = held["api"]
        assert api["labels"] == {
            "alertname": "high-error-rate", "severity": "critical", "provider": "aws", "account": "111111111111",
            "region": "us-east-1", "function": "api", "team": "payments", "cost_center": "42",
        }
        assert api["annotations"] == {"summary": "aws/111111111111/us-east-1/api: 30% errors",
                                      "description": "threshold 5%"}
        assert api["generatorURL"] == function_url(PUBLIC, API)
        assert api["fingerprint"] == fingerprint(api["labels"])  # the same identity Alertmanager computes
        assert api["status"]["state"] == "active"
        assert when(api["startsAt"]) == t0
        assert when(api["endsAt"]) == t0 + timedelta(minutes=30)

    # Re-sent at every evaluation while firing (Alertmanager's client contract), not only on change.
    second = run_check(cfg, [RULE], store, collect=False, now=t0 + timedelta(minutes=1))
    assert second.delivery.sent == 1  # the Alertmanager notifier; the webhook waits for its repeat_interval
    for am in (am1, am2):
        held = by_function(am.alerts())
        assert when(held["api"]["endsAt"]) == t0 + timedelta(minutes=31)
        assert when(held["api"]["startsAt"]) == t0

    # Alertmanager's own webhook and opsview's `format = "alertmanager"` webhook say the same thing.
    am_firing = wait_for(lambda: [p for p in receiver.posted("/am1") if len(p["alerts"]) == 2],
                         what="Alertmanager's webhook with both alerts")[-1]
    [ours_firing] = receiver.posted("/opsview")
    assert set(ours_firing) == set(am_firing)
    assert comparable(ours_firing) == comparable(am_firing)
    assert ours_firing["externalURL"] == PUBLIC

    # api recovers: resolved (endsAt = when it resolved), gone from Alertmanager's active alerts; worker still fires.
    write(store, API, t0, 14, errors=0)
    write(store, WORKER, t0, 7, errors=30)
    write(store, WORKER, t0 + timedelta(minutes=7), 7, errors=0)
    third = run_check(cfg, [RULE], store, collect=False, now=t0 + timedelta(minutes=7))
    assert third.delivery.sent == 2
    for am in (am1, am2):
        assert set(by_function(am.alerts())) == {"worker"}

    def am_mixed() -> dict[str, Any] | None:
        posts = [p for p in receiver.posted("/am1") if any(a["status"] == "resolved" for a in p["alerts"])]
        return posts[-1] if posts else None

    am_resolve = wait_for(am_mixed, what="Alertmanager's webhook with the resolved alert")
    ours_resolve = receiver.posted("/opsview")[-1]
    assert am_resolve["status"] == ours_resolve["status"] == "firing"  # the group still fires: worker
    assert {a["labels"]["function"]: a["status"] for a in ours_resolve["alerts"]} == {
        "api": "resolved", "worker": "firing"}
    assert comparable(ours_resolve) == comparable(am_resolve)
    assert when(by_function(ours_resolve["alerts"])["api"]["endsAt"]) == t0 + timedelta(minutes=7)

    # worker recovers too: the group resolves everywhere.
    run_check(cfg, [RULE], store, collect=False, now=t0 + timedelta(minutes=13))
    for am in (am1, am2):
        assert am.alerts() == []
    am_done = wait_for(lambda: [p for p in receiver.posted("/am1") if p["status"] == "resolved"],
                       what="Alertmanager's resolved webhook")[-1]
    ours_done = receiver.posted("/opsview")[-1]
    assert ours_done["status"] == "resolved"
    assert comparable(ours_done) == comparable(am_done)
    store.close()


def test_every_replica_down_keeps_the_notification_for_the_next_check(
    tmp_path: Path, replicas: list[Alertmanager], receiver: Receiver
) -> None:
    am1, _ = replicas
    t0 = floor_time(utcnow(), 60) - timedelta(minutes=5)
    store = SQLiteStore(tmp_path / "store.db")
    write(store, API, t0 - timedelta(minutes=10), 10, errors=30)
    down = [dead_url(), dead_url()]
    result = run_check(config(down, f"{receiver.url}/opsview"), [RULE], store, collect=False, now=t0)
    assert result.delivery.failed == 1
    assert any("connection refused" in e.lower() and down[0] in e for e in result.delivery.errors)
    assert [item.notifier for item in store.outbox(undelivered=True)] == ["am"]
    # The replicas come back (here: the config points at a live one): the next check delivers what waited.
    later = run_check(config([am1.url], f"{receiver.url}/opsview"), [RULE], store, collect=False,
                      now=t0 + timedelta(minutes=1))
    assert later.delivery.sent == 2
    assert later.delivery.failed == 0
    assert store.outbox(undelivered=True) == []
    assert set(by_function(am1.alerts())) == {"api"}
    store.close()
