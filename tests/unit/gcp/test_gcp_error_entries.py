"""Which Cloud Logging entries are error records (`entries.parse_error`, `failed_execution`): the rule the
collector and `opsview ingest` share, on the real exports and on the shapes the docs describe
(https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry, severity levels and `jsonPayload`;
https://cloud.google.com/functions/docs/monitoring/logging#writing_structured_logs)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from opsview.collectors.gcp.entries import parse_entry, parse_error
from opsview.collectors.gcp.ingest import read
from opsview.ingest import Ingest
from opsview.schema import DEFAULT_PRICES

RUN = {"type": "cloud_run_revision", "labels": {"service_name": "api", "location": "us-central1",
                                                "project_id": "p1", "revision_name": "api-00007-abc"}}


def _entry(**fields: Any) -> dict[str, Any]:
    return {"resource": RUN, "timestamp": "2024-03-01T10:00:01Z", **fields}


def test_an_error_entry_is_not_a_request_log_and_takes_its_type_from_its_text() -> None:
    error = parse_error(_entry(severity="ERROR", textPayload="ValueError: bad sku 'x1'",
                               trace="projects/p1/traces/abc"))
    assert error is not None
    assert (error.function, error.error_type, error.message, error.sample_id, error.revision) == (
        "api", "ValueError", "bad sku 'x1'", "projects/p1/traces/abc", "api-00007-abc")
    # a 5xx request log is at ERROR too: it is an invocation (counted by its status), not an error record
    request = _entry(severity="ERROR", httpRequest={"status": 503, "latency": "0.1s"})
    assert parse_error(request) is None
    assert parse_entry(request) is not None
    assert parse_error(_entry(severity="WARNING", textPayload="ValueError: only a warning")) is None
    structured = parse_error(_entry(severity="CRITICAL", jsonPayload={"message": "db down", "component": "x"}))
    assert structured is not None
    assert (structured.error_type, structured.message) == (None, "db down")


def test_real_exports_without_error_entries_have_none(realdata: Path) -> None:
    acc = Ingest("gcp", DEFAULT_PRICES["gcp"], minutes=False)
    with (realdata / "gcp" / "cloudrun_request_log_simonw_til.json").open() as stream:
        acc.add_all(read(stream, "run.json", None, acc.stats))
    (fn,) = acc.result().functions
    assert fn.top_errors == ()  # read, and none: not unknown


def test_gen1_stderr_and_a_crash_through_ingest() -> None:
    gen1 = {"type": "cloud_function", "labels": {"function_name": "mailer", "project_id": "p1", "region": "eu"}}
    entries = [
        {"resource": gen1, "timestamp": "2024-03-01T10:00:01Z", "severity": "DEBUG", "labels": {"execution_id": "e1"},
         "textPayload": "Function execution took 5 ms, finished with status: 'crash'"},
        {"resource": gen1, "timestamp": "2024-03-01T10:00:00.9Z", "severity": "ERROR", "labels": {"execution_id": "e1"},
         "textPayload": "Error: connect ECONNREFUSED 10.0.0.3:5432\n    at TCPConnectWrap.afterConnect"},
    ]
    acc = Ingest("gcp", DEFAULT_PRICES["gcp"], minutes=False)
    acc.add_all(read(io.StringIO(json.dumps(entries)), "x.json", None, acc.stats))
    (fn,) = acc.result().functions
    assert {(e.signature, e.count, e.sample_id) for e in fn.top_errors or ()} == {
        ("finished with status: crash", 1, "e1"),
        ("Error: connect ECONNREFUSED <ip>:<n>", 1, "e1"),
    }
    assert (fn.measures.invocations, fn.measures.errors) == (1, 1)
