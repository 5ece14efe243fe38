"""`opsview ingest --provider gcp`: gcloud's JSON list, one LogEntry, JSON Lines; garbage counted, never fatal."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsview.cli import main
from opsview.collectors.gcp.ingest import read
from opsview.ingest import Ingest, IngestStats
from opsview.logevents import ColdStartEvent, ErrorEvent, InvocationEvent

RES1 = {"type": "cloud_function", "labels": {"function_name": "mailer", "project_id": "p1", "region": "europe-west1"}}
RES2 = {"type": "cloud_run_revision",
        "labels": {"service_name": "api", "location": "us-central1", "project_id": "p1"}}


def gen1(ts: str, text: str) -> dict[str, Any]:
    return {"resource": RES1, "textPayload": text, "timestamp": ts, "severity": "DEBUG"}


def gen2(ts: str, status: int, latency: str | None) -> dict[str, Any]:
    http: dict[str, Any] = {"status": status, "requestMethod": "GET"}
    if latency is not None:
        http["latency"] = latency
    return {"resource": RES2, "httpRequest": http, "timestamp": ts, "labels": {"goog-managed-by": "cloudfunctions"}}


def start(ts: str, reason: str) -> dict[str, Any]:
    return {"resource": RES2, "timestamp": ts, "textPayload": f"Starting new instance. Reason: {reason} - ..."}


MIXED = [
    gen1("2024-03-01T10:00:01.5Z", "Function execution started"),
    gen1("2024-03-01T10:00:02.5Z", "Function execution took 120 ms, finished with status code: 200"),
    gen1("2024-03-01T10:00:03Z", "Function execution took 60000 ms, finished with status: 'timeout'"),
    gen1("2024-03-01T10:01:03Z", "Function execution took 40 ms. Finished with status: timeout"),
    {"resource": RES1, "receiveTimestamp": "2024-03-01T10:02:00.000000001Z",
     "textPayload": "Function execution took 10 ms, finished with status: 'ok'"},
    start("2024-03-01T10:00:00Z", "AUTOSCALING"),
    start("2024-03-01T10:00:00Z", "DEPLOYMENT_ROLLOUT"),
    gen2("2024-03-01T10:00:01Z", 200, "0.012s"),
    gen2("2024-03-01T10:00:02Z", 200, "0s"),
    gen2("2024-03-01T10:00:03Z", 502, "3.000s"),
    gen2("2024-03-01T10:00:04Z", 429, None),
]


def run(text: str, function: str | None = None) -> tuple[list[Any], IngestStats]:
    stats = IngestStats()
    events = list(read(io.StringIO(text), "export.json", function, stats))
    return events, stats


def test_gcloud_pretty_json_list_mixing_both_generations() -> None:
    events, stats = run(json.dumps(MIXED, indent=2))
    assert (stats.lines_read, stats.lines_skipped) == (len(MIXED), 0)
    invocations = [e for e in events if isinstance(e, InvocationEvent)]
    assert [e.function for e in invocations].count("mailer") == 4
    assert [e.timeout for e in invocations if e.function == "mailer"] == [False, True, True, False]
    colds = [e for e in events if isinstance(e, ColdStartEvent)]
    assert [(c.function, c.account, c.region) for c in colds] == [("api", "p1", "us-central1")]


def test_single_entry_and_json_lines_and_entries_list_response() -> None:
    events, stats = run(json.dumps(MIXED[1]))
    assert len(events) == 1
    assert stats.lines_read == 1
    lines = "\n".join(json.dumps(e) for e in MIXED) + "\n"
    events, stats = run(lines)
    # 9 invocations and cold starts; the two gen1 timeouts are also error records
    assert (stats.lines_read, len(events)) == (len(MIXED), 9 + 2)
    assert sum(isinstance(e, ErrorEvent) for e in events) == 2
    events, stats = run(json.dumps({"entries": MIXED, "nextPageToken": "abc"}))
    assert (stats.lines_read, len(events)) == (len(MIXED), 9 + 2)


def test_garbage_and_broken_entries_are_counted_not_fatal() -> None:
    lines = [json.dumps(MIXED[1]), '{"resource": {"type": "cloud_function", "labels": {', "42",
             json.dumps(gen2("2024-03-01T10:00:05Z", 200, "soon")), json.dumps(MIXED[7]), '{"truncated": ']
    events, stats = run("\n".join(lines))
    assert len(events) == 2
    assert stats.lines_skipped == 4  # broken JSON twice, a bare number, an unreadable latency
    assert stats.lines_read == 6


def test_chunk_boundaries_do_not_lose_entries() -> None:
    many = [gen2(f"2024-03-01T10:{i // 600 % 60:02d}:{i % 60:02d}Z", 200, "0.020s") for i in range(6000)]
    events, stats = run(json.dumps(many, indent=2))  # ~1.8 MB: crosses the 1 MiB read chunk
    assert (len(events), stats.lines_read, stats.lines_skipped) == (6000, 6000, 0)


def test_accumulated_result_keeps_gen1_cold_starts_unknown() -> None:
    acc = Ingest("gcp", None)
    acc.add_all(read(io.StringIO(json.dumps(MIXED)), "x", None, acc.stats))
    by_name = {f.function: f for f in acc.result().functions}
    mailer, api = by_name["mailer"], by_name["api"]
    assert (mailer.measures.invocations, mailer.measures.errors, mailer.timeouts) == (4, 2, 2)
    assert mailer.measures.cold_starts is None  # gen1 has no marker: unknown, not 0
    assert (api.measures.invocations, api.measures.errors, api.measures.throttles) == (3, 1, 1)
    assert api.measures.cold_starts == 1  # AUTOSCALING only; the rollout start is not traffic
    assert api.timeouts is None
    assert api.measures.duration_max_ms == pytest.approx(3000.0)
    assert {s.key.account for s in acc.result().samples} == {"p1"}


def test_cli_json_output_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("OPSVIEW_CONFIG", raising=False)
    export = tmp_path / "gcf.json"
    export.write_text(json.dumps(MIXED, indent=2))
    result = CliRunner().invoke(main, ["ingest", "--provider", "gcp", str(export), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["lines_read"], out["lines_skipped"]) == (len(MIXED), 0)
    api = next(f for f in out["functions"] if f["function"] == "api")
    assert api["invocations"] == 3
    assert api["cold_starts"] == 1
    store = tmp_path / "postmortem.db"
    result = CliRunner().invoke(main, ["ingest", "--provider", "gcp", str(export), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "mailer" in result.output
    assert store.exists()


def test_real_gcloud_exports(realdata: Path) -> None:
    events, stats = run((realdata / "gcp" / "cloudrun_request_log_simonw_til.json").read_text())
    assert stats.lines_read == 1
    assert stats.lines_skipped == 0
    [event] = events
    assert isinstance(event, InvocationEvent)
    assert (event.function, event.account, event.region) == ("datasette-io", "datasette-222320", "us-central1")
    assert event.duration_ms == pytest.approx(112.114537)
    events, stats = run((realdata / "gcp" / "gen1_logentry_started_dynatrace.json").read_text())
    assert (events, stats.lines_read, stats.lines_skipped) == ([], 1, 0)
