"""Auth, /healthz and error handling through Flask's test client, plus `opsview web`'s safety checks."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from opsview.cli.web_cmd import exposure_problem, web
from opsview.config import Config
from opsview.config.views import WebAuthConfig, WebConfig
from opsview.schema import CollectorHealth
from opsview.store import SQLiteStore
from opsview.web import status
from opsview.web.app import create_app, shutdown
from opsview.web.server import AuthSetupError, resolve_credentials

BASIC = {"web": {"auth": {"type": "basic", "username": "ops", "password_env": "OPSVIEW_WEB_PASSWORD"}}}
ENV = {"OPSVIEW_WEB_PASSWORD": "correct horse"}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def basic_client(filled_store: SQLiteStore) -> Iterator[Any]:
    app = create_app(filled_store, Config.model_validate(BASIC), environ=ENV)
    yield app.server.test_client()
    shutdown(app)  # GET / starts the overview's reads in the background: let them end before the store closes


def test_basic_auth_refuses_missing_and_wrong_credentials(basic_client: Any) -> None:
    refused = basic_client.get("/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert basic_client.get("/_dash-layout", headers=_basic("ops", "wrong")).status_code == 401
    assert basic_client.get("/", headers=_basic("root", "correct horse")).status_code == 401
    assert basic_client.post("/_dash-update-component", json={}).status_code == 401
    assert basic_client.get("/", headers=_basic("ops", "correct horse")).status_code == 200


def test_bearer_auth(filled_store: SQLiteStore) -> None:
    config = Config.model_validate({"web": {"auth": {"type": "bearer", "token_env": "TOKEN"}}})
    client = create_app(filled_store, config, environ={"TOKEN": "t0ken"}).server.test_client()
    assert client.get("/functions").status_code == 401
    assert client.get("/functions", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/functions", headers={"Authorization": "Bearer t0ken"}).status_code == 200


def test_healthz_answers_without_auth_and_reports_the_store(basic_client: Any, filled_store: SQLiteStore) -> None:
    ok = basic_client.get("/healthz")
    assert ok.status_code == 200
    assert (ok.json["status"], ok.json["store"], ok.json["stale"], ok.json["failing_sources"]) == (
        "ok", "ok", False, [])
    filled_store._conn().execute("DROP TABLE health")  # the store breaks under the running app
    broken = basic_client.get("/healthz")
    assert (broken.status_code, broken.json["status"]) == (503, "error")
    assert "Traceback" not in broken.get_data(as_text=True)


def test_healthz_says_stale_after_three_collect_intervals_and_stays_200(filled_store: SQLiteStore) -> None:
    """The TUI's rule (opsview.freshness): no successful collection for more than 3 intervals is stale. A load
    balancer keeps the page (200), which then tells its users; a monitor reads `stale`."""
    collected = filled_store.latest_health()[0].at
    filled_store.record_health([CollectorHealth("aws-prod", "aws", collected, False, "AccessDenied: lambda:List",
                                                scope="eu-west-1")])
    config = Config.model_validate({"collect": {"interval": "60s"}})
    for minutes, stale in ((2.9, False), (3.1, True), (60, True)):
        app = create_app(filled_store, config, clock=lambda m=minutes: collected + timedelta(minutes=m))
        answer = app.server.test_client().get("/healthz")
        shutdown(app)
        assert answer.status_code == 200, minutes
        assert answer.json["stale"] is stale, minutes
        assert answer.json["last_success"] == collected.isoformat().replace("+00:00", "Z")
        assert answer.json["failing_sources"] == ["aws-prod/eu-west-1"]


def test_healthz_is_stale_when_nothing_was_ever_collected(sqlite_store: SQLiteStore) -> None:
    app = create_app(sqlite_store, Config())
    answer = app.server.test_client().get("/healthz")
    shutdown(app)
    assert (answer.status_code, answer.json["stale"], answer.json["last_success"]) == (200, True, None)


def test_callback_failure_shows_no_stack_trace(filled_store: SQLiteStore) -> None:
    client = create_app(filled_store, Config()).server.test_client()
    filled_store._conn().execute("DROP TABLE health")
    response = client.post("/_dash-update-component", json={
        "output": "..overview-kpis.children...overview-tops.children...overview-invocations.figure..."
                  "overview-errors.figure...overview-durations.figure...overview-health.children..",
        "outputs": [{"id": i, "property": p} for i, p in (
            ("overview-kpis", "children"), ("overview-tops", "children"), ("overview-invocations", "figure"),
            ("overview-errors", "figure"), ("overview-durations", "figure"), ("overview-health", "children"))],
        "inputs": [{"id": "app-view", "property": "data", "value": {"range": "1h"}},
                   {"id": "app-interval", "property": "n_intervals", "value": 0}],
        "changedPropIds": ["app-view.data"], "state": [],
    })
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body
    assert "sqlite" not in body.lower()


def test_secret_must_come_from_the_environment() -> None:
    auth = WebAuthConfig(type="basic", username="ops", password_env="OPSVIEW_WEB_PASSWORD")
    with pytest.raises(AuthSetupError, match="environment variable OPSVIEW_WEB_PASSWORD is not set"):
        resolve_credentials(auth, {})
    creds = resolve_credentials(auth, ENV)
    assert creds is not None
    assert "correct horse" not in repr(creds)


def test_auth_config_names_the_missing_key() -> None:
    with pytest.raises(ValidationError, match="token_env"):
        WebAuthConfig(type="bearer")
    with pytest.raises(ValidationError, match="username"):
        WebAuthConfig(type="basic", password_env="X")


@pytest.mark.parametrize(("host", "auth", "insecure", "refused"), [
    ("127.0.0.1", None, False, False),
    ("localhost", None, False, False),
    ("::1", None, False, False),
    ("0.0.0.0", None, False, True),
    ("0.0.0.0", None, True, False),
    ("10.0.0.5", WebAuthConfig(type="bearer", token_env="T"), False, False),
])
def test_binding_beyond_loopback_needs_auth_or_insecure(host: str, auth: WebAuthConfig | None, insecure: bool,
                                                        refused: bool) -> None:
    assert (exposure_problem(host, WebConfig(auth=auth), insecure) is not None) is refused


def _config_file(tmp_path: Any) -> str:
    path = tmp_path / "opsview.toml"
    path.write_text("[web]\nport = 8050\n")
    return str(path)


def test_web_command_refuses_to_expose_without_auth(tmp_path: Any) -> None:
    result = CliRunner().invoke(web, ["--host", "0.0.0.0", "--store", str(tmp_path / "x.db"),
                                      "--config", _config_file(tmp_path)])
    assert result.exit_code == 2
    assert "configure [web.auth]" in result.output
    assert "Traceback" not in result.output


def test_web_command_names_a_missing_store(tmp_path: Any) -> None:
    result = CliRunner().invoke(web, ["--store", str(tmp_path / "absent.db"), "--config", _config_file(tmp_path)])
    assert result.exit_code == 2
    assert "store not found" in result.output


def test_status_poll_says_the_store_cannot_be_read(filled_store: SQLiteStore) -> None:
    """The strip's poll runs on every page every 30 s: a store that stops answering is said there, as the TUI's
    header says it, instead of the strip keeping the last good "data as of"."""
    app = create_app(filled_store, Config())
    filled_store._conn().execute("DROP TABLE health")
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        children, badge, hidden = status.update_status(1, None)
    shutdown(app)
    assert "store read failed" in children[0].children
    assert (badge, hidden) == ("", True)
