"""Alert values on the web's alerts and function pages, called as plain callbacks: in the unit of the
configured rule's measure, or the plain number when the rule is gone from the config."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from dash import Dash
from shown_text import dash_text

from opsview.alert_records import AlertChanges, AlertEvent, AlertRecord, AlertState
from opsview.config import AlertsConfig, Config, RuleConfig
from opsview.schema import FunctionInfo, FunctionKey, utcnow
from opsview.store import SQLiteStore
from opsview.web.app import create_app, shutdown
from opsview.web.view import PageQuery

KEY = FunctionKey("aws", "111", "us-east-1", "slow-api")
SLOW = RuleConfig.model_validate({"name": "slow", "measure": "duration_p99_ms", "threshold": 1000})


@pytest.fixture
def alerting_store(sqlite_store: SQLiteStore) -> SQLiteStore:
    now = utcnow()
    sqlite_store.upsert_functions([FunctionInfo(KEY)])
    sqlite_store.apply_alert_changes(AlertChanges(
        upsert=(AlertRecord("slow", KEY, AlertState.FIRING, "warning", now - timedelta(minutes=3),
                            now - timedelta(minutes=8), 2599.4, 1000.0, ">", summary="slow"),),
        events=(AlertEvent(now - timedelta(minutes=3), "slow", KEY, AlertState.PENDING, AlertState.FIRING, 2599.4,
                           "warning"),),
    ))
    return sqlite_store


def app_with(store: SQLiteStore, rules: list[RuleConfig]) -> Iterator[Dash]:
    app = create_app(store, Config(alerts=AlertsConfig(rules=rules)))
    yield app
    shutdown(app)


@pytest.fixture
def configured(alerting_store: SQLiteStore) -> Iterator[Dash]:
    yield from app_with(alerting_store, [SLOW])


@pytest.fixture
def rule_gone(alerting_store: SQLiteStore) -> Iterator[Dash]:
    yield from app_with(alerting_store, [])


def _pages(app: Dash) -> tuple[str, str, str]:
    alerts = importlib.import_module("opsview.web.pages.alerts")
    function = importlib.import_module("opsview.web.pages.function")
    with app.server.app_context():
        firing, _pending, _silenced, history = alerts.update_alerts(PageQuery().to_data(), 0, 0)
        *_, function_history = function.update_function(PageQuery().to_data(), 0, str(KEY))
    return dash_text(firing), dash_text(history), dash_text(function_history)


def test_values_read_in_the_unit_of_the_rules_measure(configured: Dash) -> None:
    firing, history, function_history = _pages(configured)
    assert "2.60 s > 1.00 s" in firing
    assert "2.60 s" in history
    assert "firing 2.60 s" in function_history
    assert "2599" not in firing + history + function_history


def test_a_rule_gone_from_the_config_shows_the_plain_number(rule_gone: Dash) -> None:
    firing, history, function_history = _pages(rule_gone)
    assert "2599 > 1000" in firing
    assert "2599" in function_history
