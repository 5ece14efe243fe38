"""`opsview check`, `rules` and `silence` as real processes against a real store and a real HTTP receiver."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

API = FunctionKey("aws", "111", "us-east-1", "api")
QUIET = FunctionKey("gcp", "proj", "europe-west1", "quiet")


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # served in order, then 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with lock:
                state.attempts += 1
                status = state.statuses.pop(0) if state.statuses else 200
                if status == 200:
                    state.bodies.append(body)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def write_config(tmp_path: Path, url: str, rules: str = "", extra: str = "") -> Path:
    path = tmp_path / "opsview.toml"
    path.write_text(
        f'[store]\nurl = "{tmp_path / "store.db"}"\n\n'
        f'[notifiers.oncall]\ntype = "webhook"\nurl = "{url}"\nretries = 0\n\n'
        + extra
        + (rules or '[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\nwindow = "5m"\nthreshold = 0.05\n'
           'severity = "critical"\nnotify = ["oncall"]\n'
           'annotations = { summary = "{function} failing: {value:.0%}" }\n'),
        encoding="utf-8",
    )
    return path


def fill_store(tmp_path: Path, errors: int) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    now = floor_time(utcnow(), 60)
    store.upsert_functions([FunctionInfo(API, timeout_s=3), FunctionInfo(QUIET)])
    store.write_samples(
        Sample(key=key, start=now - timedelta(minutes=m), invocations=100, errors=errors if key == API else 0)
        for m in range(1, 10) for key in (API, QUIET)
    )
    store.close()


def opsview(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_failed_delivery_is_retried_by_the_next_check_and_never_sent_twice(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = write_config(tmp_path, receiver.url)
    fill_store(tmp_path, errors=30)
    receiver.statuses = [503]

    first = opsview("check", "--config", config, "--no-collect")
    assert first.returncode == 2, first.stdout + first.stderr
    assert first.stdout.startswith("CRITICAL: 1 firing")
    assert "1 undelivered (retried by the next check)" in first.stdout
    assert "HTTP 503" in first.stdout
    assert receiver.bodies == []

    second = opsview("check", "--config", config, "--no-collect")
    assert second.returncode == 2
    assert "1 sent" in second.stdout
    (body,) = receiver.bodies
    assert body["status"] == "firing"
    assert body["rule"] == "errors"
    assert body["severity"] == "critical"
    (alert,) = body["alerts"]
    assert alert["function"] == str(API)
    assert alert["value"] == pytest.approx(0.3)
    assert alert["threshold"] == 0.05
    assert alert["summary"] == f"{API} failing: 30%"
    assert alert["since"]

    third = opsview("check", "--config", config, "--no-collect")
    assert third.returncode == 2
    assert len(receiver.bodies) == 1  # delivered once, never again within repeat_interval
    assert receiver.attempts == 2


def test_two_overlapping_checks_notify_once(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, receiver.url)
    fill_store(tmp_path, errors=30)
    cmd = [sys.executable, "-m", "opsview", "check", "--config", str(config), "--no-collect"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [2, 2], outputs
    assert len(receiver.bodies) == 1
    assert receiver.attempts == 1


def test_resolve_is_notified_after_the_firing(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, receiver.url)
    fill_store(tmp_path, errors=30)
    assert opsview("check", "--config", config, "--no-collect").returncode == 2
    fill_store(tmp_path, errors=0)  # the same buckets, re-collected clean
    ok = opsview("check", "--config", config, "--no-collect", "--format", "json")
    assert ok.returncode == 0
    summary = json.loads(ok.stdout)
    assert summary["status"] == "OK"
    assert [(a["function"], a["state"]) for a in summary["alerts"]] == [(str(API), "resolved")]
    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]


def test_exit_codes_ok_warning_critical_unknown(tmp_path: Path, receiver: Receiver) -> None:
    warning_rule = '[[alerts.rules]]\nname = "w"\nmeasure = "error_rate"\nthreshold = 0.05\n'
    config = write_config(tmp_path, receiver.url, rules=warning_rule)
    fill_store(tmp_path, errors=0)
    assert opsview("check", "--config", config, "--no-collect").returncode == 0
    fill_store(tmp_path, errors=30)
    warning = opsview("check", "--config", config, "--no-collect")
    assert warning.returncode == 1
    assert warning.stdout.startswith("WARNING: 1 firing (0 critical, 1 warning)")

    bad = tmp_path / "bad.toml"
    bad.write_text('[[alerts.rules]]\nname = "x"\nmeasure = "errors"\nthreshold = 1\nfor = "5x"\n', encoding="utf-8")
    unknown = opsview("check", "--config", bad, "--no-collect")
    assert unknown.returncode == 3
    assert unknown.stdout == f'UNKNOWN: {bad}:5: alerts.rules[0].for: invalid duration "5x" (expected e.g. 30s, 5m, ' \
                             '1h30m, 7d)\n'
    assert "Traceback" not in unknown.stderr

    not_a_store = tmp_path / "junk.db"
    not_a_store.write_bytes(b"this is not sqlite" * 100)
    broken = opsview("check", "--config", config, "--store", not_a_store, "--no-collect")
    assert broken.returncode == 3
    assert broken.stdout.startswith("UNKNOWN: ")
    assert "not a usable SQLite store" in broken.stdout


def test_every_source_failing_is_unknown(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, receiver.url,
                          extra='[[sources.aws]]\nname = "dead"\nendpoint_url = "http://127.0.0.1:9"\n'
                                'regions = ["us-east-1"]\n\n')
    fill_store(tmp_path, errors=0)
    env_result = subprocess.run(
        [sys.executable, "-m", "opsview", "check", "--config", str(config), "--collect"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
             "AWS_MAX_ATTEMPTS": "1", "HOME": str(tmp_path)},
    )
    assert env_result.returncode == 3, env_result.stdout + env_result.stderr
    assert "sources: 0 of 1 collected" in env_result.stdout


def test_silence_add_list_remove_mutes_notifications(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, receiver.url)
    fill_store(tmp_path, errors=30)
    added = opsview("silence", "add", "--config", config, "--rule", "errors", "--function", "ap*", "--for", "2h",
                    "--comment", "deploying a fix")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("silence 1: rule errors, function ap*")
    listed = opsview("silence", "list", "--config", config)
    assert "deploying a fix" in listed.stdout

    muted = opsview("check", "--config", config, "--no-collect")
    assert muted.returncode == 2  # silences mute notifications, not the truth
    assert "[silenced]" in muted.stdout
    assert receiver.bodies == []

    assert opsview("silence", "remove", "--config", config, "1").returncode == 0
    assert opsview("silence", "remove", "--config", config, "1").returncode == 2
    assert opsview("check", "--config", config, "--no-collect").returncode == 2
    assert len(receiver.bodies) == 1


def test_silence_add_says_alertmanager_still_receives_the_alerts(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(
        tmp_path, receiver.url,
        rules='[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\nthreshold = 0.05\n'
              'notify = ["oncall", "am"]\n',
        extra='[notifiers.am]\ntype = "alertmanager"\nurl = ["http://127.0.0.1:9", "http://127.0.0.1:10"]\n\n',
    )
    added = opsview("silence", "add", "--config", config, "--rule", "err*", "--for", "1h")
    assert added.returncode == 0, added.stderr
    assert "Alertmanager notifier(s) am still receive these alerts" in added.stderr
    quiet = opsview("silence", "add", "--config", write_config(tmp_path, receiver.url), "--rule", "errors",
                    "--for", "1h")
    assert "Alertmanager" not in quiet.stderr


def test_rules_validate_and_test_commands(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rules]]\nname = "a"\nmeasure = "p99"\nthreshold = 1\n', encoding="utf-8")
    result = opsview("rules", "validate", bad)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith(f"{bad}:3: rules[0].measure: unknown measure 'p99'")

    good = tmp_path / "good.toml"
    good.write_text(
        '[[rules]]\nname = "a"\nmeasure = "errors"\nthreshold = 0\n\n'
        '[[tests]]\nname = "errors fire"\n[[tests.series]]\nfunction = "aws/1/r/f"\nerrors = "0 0 3"\n'
        '[[tests.alerts]]\nat = "3m"\nrule = "a"\nfiring = ["aws/1/r/f"]\n',
        encoding="utf-8",
    )
    assert opsview("rules", "validate", good).returncode == 0
    tested = opsview("rules", "test", good)
    assert tested.returncode == 0, tested.stdout
    assert "PASS" in tested.stdout
    assert "1 passed, 0 failed" in tested.stdout


def test_apprise_notifier_delivers_through_a_real_apprise_plugin(tmp_path: Path, receiver: Receiver) -> None:
    # Apprise's json:// plugin POSTs {title, message, ...}: the same path a Slack or Teams URL takes.
    target = receiver.url.replace("http://", "json://")
    config = write_config(tmp_path, receiver.url, extra=f'[notifiers.chat]\ntype = "apprise"\nurl = "{target}"\n\n',
                          rules='[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\nwindow = "5m"\n'
                                'threshold = 0.05\nseverity = "critical"\nnotify = ["chat"]\n')
    fill_store(tmp_path, errors=30)

    result = opsview("check", "--config", config, "--no-collect")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "1 sent" in result.stdout
    (body,) = receiver.bodies
    assert body["title"] == "[FIRING:1] errors (critical)"
    assert str(API) in body["message"]


def test_apprise_bad_url_is_one_line_that_never_echoes_the_secret(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, receiver.url,
                          extra='[notifiers.chat]\ntype = "apprise"\nurl = "nosuchscheme://s3cr3t-token@host"\n\n',
                          rules='[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\nwindow = "5m"\n'
                                'threshold = 0.05\nseverity = "critical"\nnotify = ["chat"]\n')
    fill_store(tmp_path, errors=30)

    result = opsview("check", "--config", config, "--no-collect")
    assert "apprise: unsupported or malformed URL" in result.stdout
    assert "s3cr3t-token" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
