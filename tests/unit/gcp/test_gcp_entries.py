"""Reading Cloud Functions gen1 / gen2 LogEntry records, including real ones from public repositories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsview.collectors.gcp.entries import (
    Generation,
    InstanceStart,
    Invocation,
    MalformedEntryError,
    parse_entry,
    parse_latency_ms,
    parse_timestamp,
)


def gen1(text: str, **extra: Any) -> dict[str, Any]:
    entry = {
        "resource": {"type": "cloud_function",
                     "labels": {"function_name": "mailer", "project_id": "p1", "region": "europe-west1"}},
        "textPayload": text,
        "timestamp": "2024-03-01T10:15:42.123456789Z",
    }
    entry.update(extra)
    return entry


def gen2(http: dict[str, Any] | None = None, text: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": {"type": "cloud_run_revision",
                     "labels": {"service_name": "api", "location": "us-central1", "project_id": "p2"}},
        "labels": {"goog-managed-by": "cloudfunctions"},
        "timestamp": "2024-03-01T10:15:42Z",
    }
    if http is not None:
        entry["httpRequest"] = http
    if text is not None:
        entry["textPayload"] = text
    return entry


@pytest.mark.parametrize(
    ("text", "duration", "status", "error", "timeout"),
    [
        ("Function execution took 12 ms, finished with status code: 200", 12.0, "200", False, False),
        ("Function execution took 80 ms, finished with status code: 503", 80.0, "503", True, False),
        ("Function execution took 60003 ms, finished with status: 'timeout'", 60003.0, "timeout", True, True),
        ("Function execution took 54 ms. Finished with status: timeout", 54.0, "timeout", True, True),
        ("Function execution took 7 ms, finished with status: 'ok'", 7.0, "ok", False, False),
        ("Function execution took 3 ms, finished with status: 'crash'", 3.0, "crash", True, False),
        ("Function execution took 9 ms, finished with status: 'connection error'", 9.0, "connection error", True,
         False),
        ("Function execution took 900 ms, finished with status: 'out of memory'", 900.0, "out of memory", True, False),
        ("Finished with status: error", None, "error", True, False),
    ],
)
def test_gen1_execution_lines_in_both_wordings(
    text: str, duration: float | None, status: str, error: bool, timeout: bool
) -> None:
    event = parse_entry(gen1(text))
    assert isinstance(event, Invocation)
    assert (event.duration_ms, event.status, event.error, event.timeout) == (duration, status, error, timeout)
    assert (event.project, event.region, event.function, event.generation) == ("p1", "europe-west1", "mailer",
                                                                                Generation.GEN1)
    assert event.at == datetime(2024, 3, 1, 10, 15, 42, tzinfo=UTC)
    assert not event.throttled  # gen1 never logs the platform's rejections


def test_other_gen1_lines_are_not_invocations() -> None:
    assert parse_entry(gen1("Function execution started")) is None
    assert parse_entry(gen1("hello from my code")) is None
    assert parse_entry({"resource": {"type": "gce_instance"}, "textPayload": "x"}) is None


def test_gen2_requests_statuses_and_latencies() -> None:
    ok = parse_entry(gen2({"status": 200, "latency": "0.012s"}))
    assert isinstance(ok, Invocation)
    assert ok.duration_ms == pytest.approx(12.0)
    assert (ok.error, ok.throttled, ok.timeout, ok.generation) == (False, False, None, Generation.GEN2)
    zero = parse_entry(gen2({"status": 200, "latency": "0s"}))
    assert isinstance(zero, Invocation)
    assert zero.duration_ms == 0.0
    failed = parse_entry(gen2({"status": 500, "latency": "2.5s"}))
    assert isinstance(failed, Invocation)
    assert failed.error
    assert failed.duration_ms == 2500.0
    throttled = parse_entry(gen2({"status": 429}))
    assert isinstance(throttled, Invocation)
    assert throttled.throttled
    assert not throttled.error
    assert throttled.duration_ms is None  # no latency logged: unknown, not zero
    no_instance = parse_entry(
        gen2({"status": 500, "latency": "10s"}, "The request was aborted because there was no available instance.")
    )
    assert isinstance(no_instance, Invocation)
    assert no_instance.throttled
    assert not no_instance.error


@pytest.mark.parametrize(
    ("reason", "cold"),
    [("AUTOSCALING", True), ("DEPLOYMENT_ROLLOUT", False), ("MIN_INSTANCE", False)],
)
def test_gen2_instance_starts_only_autoscaling_is_a_cold_start(reason: str, cold: bool) -> None:
    event = parse_entry(gen2(text=f"Starting new instance. Reason: {reason} - Instance started due to ..."))
    assert isinstance(event, InstanceStart)
    assert (event.reason, event.cold_start, event.function) == (reason, cold, "api")


def test_receive_timestamp_stands_in_for_a_missing_timestamp() -> None:
    entry = gen1("Function execution took 5 ms, finished with status code: 200")
    del entry["timestamp"]
    entry["receiveTimestamp"] = "2024-03-01T10:16:01.000000001Z"
    event = parse_entry(entry)
    assert event is not None
    assert event.at == datetime(2024, 3, 1, 10, 16, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "entry",
    [
        gen2({"status": 200, "latency": "fast"}),
        gen2({"latency": "0.1s"}),
        gen2({"status": "OK"}),
        gen2(text="Starting new instance. Reason unknown"),
        gen1("Function execution took 5 ms, finished with status code: abc"),
        gen1("Function execution took 5 ms, finished with status code: 200", timestamp="not a time"),
        {"resource": {"type": "cloud_function", "labels": {"region": "r"}},
         "textPayload": "Function execution took 5 ms, finished with status code: 200",
         "timestamp": "2024-01-01T00:00:00Z"},
        ["not", "an", "object"],
    ],
)
def test_relevant_but_broken_entries_are_malformed(entry: Any) -> None:
    with pytest.raises(MalformedEntryError):
        parse_entry(entry)


def test_timestamps_with_offsets_and_nanoseconds() -> None:
    assert parse_timestamp("2024-03-01T12:15:42.999999999+02:00") == datetime(2024, 3, 1, 10, 15, 42, tzinfo=UTC)
    assert parse_timestamp("2024-03-01T10:15:42Z") == datetime(2024, 3, 1, 10, 15, 42, tzinfo=UTC)
    with pytest.raises(MalformedEntryError):
        parse_timestamp("2024-03-01T10:15:42")  # no zone: refuse to guess


def test_latency_forms() -> None:
    assert parse_latency_ms({"seconds": 1, "nanos": 500_000_000}) == 1500.0
    assert parse_latency_ms(None) is None


def test_real_gen1_started_line_is_read_but_not_counted(realdata: Path) -> None:
    entry = json.loads((realdata / "gcp" / "gen1_logentry_started_dynatrace.json").read_text())
    # "Function execution started" with no `timestamp` at all: not an invocation, and not an error
    assert parse_entry(entry) is None
    entry["textPayload"] = "Function execution took 1234 ms, finished with status: 'ok'"
    event = parse_entry(entry)
    assert isinstance(event, Invocation)
    assert (event.project, event.region, event.function) == ("dynatrace-gcp-extension", "us-central1",
                                                              "dynatrace-gcp-monitor")
    assert event.at == datetime(2021, 4, 13, 10, 27, 11, tzinfo=UTC)  # from receiveTimestamp


def test_real_cloud_run_request_log(realdata: Path) -> None:
    [entry] = json.loads((realdata / "gcp" / "cloudrun_request_log_simonw_til.json").read_text())
    event = parse_entry(entry)
    assert isinstance(event, Invocation)
    assert (event.project, event.region, event.function) == ("datasette-222320", "us-central1", "datasette-io")
    assert event.duration_ms == pytest.approx(112.114537)
    assert (event.status, event.error, event.throttled) == ("200", False, False)
    assert event.at == datetime(2021, 8, 9, 18, 21, 35, tzinfo=UTC)
