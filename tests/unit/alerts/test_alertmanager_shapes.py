"""Alertmanager notifiers without Alertmanager: config, labels, fingerprints, grouping, silences, staleness.

The end-to-end behaviour against a real Alertmanager is in tests/integration/alerts/test_alertmanager.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from amserver import webhook_receiver

from opsview.alerts.engine import evaluate
from opsview.config import ConfigError, NotifierConfig, RuleConfig, parse_config
from opsview.notify.alertmanager import AlertmanagerNotifier
from opsview.notify.alertmanager_shapes import alerts_of, fingerprint, label_name, webhook_message
from opsview.schema import FunctionInfo, FunctionKey, Sample
from opsview.store import SQLiteStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
API = FunctionKey("aws", "111", "us-east-1", "api")
WORKER = FunctionKey("aws", "111", "us-east-1", "worker")


def write(store: SQLiteStore, key: FunctionKey, start: datetime, minutes: int, errors: int) -> None:
    store.upsert_functions([FunctionInfo(key)])
    store.write_samples(Sample(key=key, start=start + timedelta(minutes=i), invocations=100, errors=errors)
                        for i in range(minutes))


def rule(*notify: str) -> RuleConfig:
    return RuleConfig.model_validate({"name": "errors", "measure": "error_rate", "threshold": 0.05,
                                      "notify": list(notify)})


def notifier(**kw: Any) -> NotifierConfig:
    return NotifierConfig.model_validate(kw)


def test_fingerprint_is_alertmanagers() -> None:
    # Alertmanager 0.25 (Debian) listed {alertname="x", function="f"} with this fingerprint in /api/v2/alerts.
    assert fingerprint({"function": "f", "alertname": "x"}) == "3068e124e6d3634c"
    assert fingerprint({"alertname": "x", "function": "g"}) != "3068e124e6d3634c"


def test_label_names_alertmanager_would_reject_are_rewritten() -> None:
    # Alertmanager 0.25 answers 400 "invalid label set: invalid name" to anything else, failing the whole batch.
    assert label_name("cost-center") == "cost_center"
    assert label_name("team.name") == "team_name"
    assert label_name("1st") == "_1st"
    assert label_name("ok_label") == "ok_label"


def test_alertmanager_config_takes_every_replica_and_forbids_what_alertmanager_does_itself(tmp_path: Path) -> None:
    am = notifier(type="alertmanager", url=["http://am-1:9093", "http://am-2:9093"])
    assert am.urls == ["http://am-1:9093", "http://am-2:9093"]
    # re-sent at every evaluation whatever repeat_interval says: tests/integration/alerts/test_alertmanager.py
    assert AlertmanagerNotifier(am).endpoints == ["http://am-1:9093/api/v2/alerts", "http://am-2:9093/api/v2/alerts"]
    path = tmp_path / "opsview.toml"
    bad = {
        'repeat_interval = "1h"': "set repeat_interval on the Alertmanager route instead",
        "send_resolved = false": "set send_resolved on the Alertmanager receiver instead",
        'format = "alertmanager"': "format applies to \"webhook\" notifiers only",
    }
    for line, message in bad.items():
        text = f'[notifiers.am]\ntype = "alertmanager"\nurl = "http://am:9093"\n{line}\n'
        with pytest.raises(ConfigError) as err:
            parse_config(text, path)
        assert str(err.value).startswith(f"{path}:")
        assert message in str(err.value)
    with pytest.raises(ConfigError, match="needs url"):
        parse_config('[notifiers.am]\ntype = "alertmanager"\n', path)
    with pytest.raises(ConfigError, match="public_url must start with http"):
        parse_config('[web]\npublic_url = "opsview.example.com"\n', path)


def test_opsview_silences_mute_its_notifiers_but_not_alertmanager(sqlite_store: SQLiteStore) -> None:
    write(sqlite_store, API, T0, 10, errors=30)
    sqlite_store.add_silence("errors", "*", T0, T0 + timedelta(hours=1))
    notifiers = {"am": notifier(type="alertmanager", url="http://am:9093"),
                 "hook": notifier(type="webhook", url="http://hook/x")}
    ev = evaluate([rule("am", "hook")], sqlite_store, T0 + timedelta(minutes=5), notifiers=notifiers)
    # Withheld, the alert would look resolved to Alertmanager once its endsAt passed.
    assert [q.notifier for q in ev.queued] == ["am"]


def test_whole_groups_keep_firing_alerts_beside_a_resolve(sqlite_store: SQLiteStore) -> None:
    """A receiver that reads status "resolved" for a group closes it: it must not while a member still fires."""
    hook = notifier(type="webhook", url="http://hook/x", format="alertmanager", repeat_interval="4h")
    plain = notifier(type="webhook", url="http://hook/y")
    r = rule("hook", "plain")
    write(sqlite_store, API, T0, 10, errors=30)
    write(sqlite_store, WORKER, T0, 20, errors=30)
    evaluate([r], sqlite_store, T0 + timedelta(minutes=5), notifiers={"hook": hook, "plain": plain})
    write(sqlite_store, API, T0 + timedelta(minutes=10), 10, errors=0)
    ev = evaluate([r], sqlite_store, T0 + timedelta(minutes=16), notifiers={"hook": hook, "plain": plain},
                  public_url="https://ops.example.com/")
    queued = {q.notifier: q for q in ev.queued}
    assert queued["plain"].status == "resolved"
    assert [a["function"] for a in queued["plain"].payload["alerts"]] == [str(API)]
    shaped = queued["hook"]
    assert shaped.status == "firing"
    assert {a["function"]: a["state"] for a in shaped.payload["alerts"]} == {str(API): "resolved",
                                                                             str(WORKER): "firing"}
    message = webhook_message(shaped.payload)
    assert message["status"] == "firing"
    assert message["groupLabels"] == {"alertname": "errors"}
    assert message["groupKey"] == '{}:{alertname="errors"}'
    assert message["externalURL"] == "https://ops.example.com/"
    statuses = {a["labels"]["function"]: (a["status"], a["endsAt"]) for a in message["alerts"]}
    assert statuses == {"api": ("resolved", "2024-05-01T12:16:00Z"), "worker": ("firing", "0001-01-01T00:00:00Z")}
    assert message["commonLabels"] == {"alertname": "errors", "severity": "warning", "provider": "aws",
                                       "account": "111", "region": "us-east-1"}
    assert message["alerts"][0]["generatorURL"] == "https://ops.example.com/function/aws%2F111%2Fus-east-1%2Fapi"


def test_the_web_links_functions_where_notifications_point() -> None:
    from opsview.alerts.notifications import function_url
    from opsview.web.data import function_href

    key = FunctionKey("azure", "sub", "westeurope", "app/fn")
    assert function_url("https://ops.example.com/", key) == "https://ops.example.com" + function_href(key)


def test_stale_firing_states_are_not_sent_resolves_always_are() -> None:
    payload = {
        "status": "firing", "at": T0.isoformat(), "notifier": "am",
        "alerts": [
            {"function": str(API), "rule": "errors", "severity": "critical", "since": T0.isoformat(),
             "summary": "api", "description": "", "labels": {}, "state": "firing"},
        ],
    }
    with webhook_receiver() as am:
        config = notifier(type="alertmanager", url=f"{am.url}/am", valid_for="15m")
        AlertmanagerNotifier(config, clock=lambda: T0 + timedelta(minutes=20)).send(payload)
        assert am.posted("/am/api/v2/alerts") == []  # would have resolved the alert at a past endsAt
        AlertmanagerNotifier(config, clock=lambda: T0 + timedelta(minutes=1)).send(payload)
        [sent] = am.posted("/am/api/v2/alerts")
        assert sent[0]["endsAt"] == "2024-05-01T12:15:00Z"
        resolved = {**payload, "status": "resolved",
                    "alerts": [{**payload["alerts"][0], "state": "resolved"}]}
        AlertmanagerNotifier(config, clock=lambda: T0 + timedelta(hours=5)).send(resolved)
        assert am.posted("/am/api/v2/alerts")[-1][0]["endsAt"] == "2024-05-01T12:00:00Z"


def test_payloads_queued_before_alerts_carried_their_state_still_convert() -> None:
    old = {"status": "resolved", "at": T0.isoformat(), "alerts": [
        {"function": str(API), "rule": "errors", "severity": "warning", "since": None, "summary": "s",
         "labels": {"team": "a"}}]}
    [alert] = alerts_of(old, timedelta(minutes=15))
    assert alert.status == "resolved"
    assert alert.ends_at == T0
    assert alert.labels["team"] == "a"


def _commented_block(header: str) -> str:
    text = (Path(__file__).resolve().parents[3] / "config.example.toml").read_text(encoding="utf-8")
    block = []
    for line in text[text.index(f"# {header}"):].splitlines():
        if not line.startswith("#") or line.startswith("# ---"):
            break
        body = line[2:] if line.startswith("# ") else line[1:]
        if body.startswith(" ") or body.startswith("#"):
            continue  # a continuation comment
        block.append(body.split("  #")[0].rstrip())
    return "\n".join(block)


def test_config_example_documents_the_alertmanager_and_otlp_keys_and_they_parse() -> None:
    am = _commented_block("[notifiers.alertmanager]")
    otlp = _commented_block("[export.otlp]")
    config = parse_config(am + "\n" + otlp, Path("config.example.toml"))
    notifier = config.notifiers["alertmanager"]
    assert notifier.urls == ["http://am-1:9093", "http://am-2:9093"]
    assert notifier.valid_for == timedelta(minutes=15)
    assert config.export.otlp.endpoint == "http://collector:4318"
    assert config.export.otlp.headers_env == {"Authorization": "OTLP_AUTH"}
    documented = set(re.findall(r"^(\w+) =", otlp, re.MULTILINE))
    assert documented == set(type(config.export.otlp).model_fields)
