"""GCP error signatures and deploys through the local Cloud Logging REST server (fake_logging_api.py, which
evaluates the filter opsview sends, `severity>=ERROR` by level as the query language documents).

- logs mode: the error records ride in the one wide filter; metrics mode: in the narrow cold-start read.
- What an error record is: an entry of a function at ERROR or above that is not a request log (a 5xx request
  log is an invocation, at ERROR too), and a gen1 execution that crashed or timed out.
- Deploys: a gen2 revision new after another, or one Cloud Run logged a DEPLOYMENT_ROLLOUT start for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from google.auth.credentials import AnonymousCredentials

from opsview.cli import main
from opsview.collectors.base import CollectRequest, CollectResult
from opsview.collectors.gcp.collector import GcpCollector
from opsview.config.sources import GcpSource
from opsview.error_records import EventKind

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
P = "shop-prod"
EU, US = "europe-west1", "us-central1"


def ts(minute: int, second: float) -> str:
    return (T0 + timedelta(minutes=minute, seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _entries(fake: ModuleType) -> list[dict[str, Any]]:
    v1, v2 = "checkout-00001-abc", "checkout-00002-xyz"
    return [
        # gen2 checkout: two requests on revision 1, a rollout of revision 2, a 500 request log (an invocation)
        fake.gen2_request(P, EU, "checkout", ts(1, 1), 200, "0.010s", revision=v1),
        fake.gen2_request(P, EU, "checkout", ts(1, 2), 500, "0.020s", revision=v1),
        fake.gen2_log(P, EU, "checkout", ts(1, 2.1), "Traceback (most recent call last):\n  File \"main.py\", "
                      "line 9, in handler\nKeyError: 'sku_17'", revision=v1),
        fake.gen2_log(P, EU, "checkout", ts(1, 3), "KeyError: 'sku_99'", severity="CRITICAL", revision=v1),
        fake.gen2_log(P, EU, "checkout", ts(1, 4), "cart 17 is empty", severity="WARNING", revision=v1),
        fake.gen2_start(P, EU, "checkout", ts(3, 0), "DEPLOYMENT_ROLLOUT", revision=v2),
        fake.gen2_request(P, EU, "checkout", ts(3, 5), 200, "0.010s", revision=v2),
        fake.gen2_log(P, EU, "checkout", ts(3, 6), "Memory limit of 512 MiB exceeded with 530 MiB used. Consider "
                      "increasing the memory limit", stream="varlog%2Fsystem", revision=v2),
        # gen1 contact: a crash, a timeout (distinct), its stderr error line, a success
        fake.gen1_line(P, US, "contact", ts(2, 1), "Function execution took 1.15 ms, finished with status code: 200"),
        fake.gen1_line(P, US, "contact", ts(2, 2), "Function execution took 12 ms, finished with status: 'crash'"),
        fake.gen1_line(P, US, "contact", ts(2, 3), "Function execution took 60003 ms, finished with status: 'timeout'"),
        fake.gen1_log(P, US, "contact", ts(2, 2.5), "TypeError: Cannot read properties of undefined (reading 'id')\n"
                      "    at exports.contact (/workspace/index.js:3:20)", execution_id="exec-1"),
    ]


EXPECTED = {
    "checkout": {
        "KeyError: <str>": 2,  # traceback and bare line, ERROR and CRITICAL: one failure
        "Memory limit of <n> MiB exceeded with <n> MiB used. Consider increasing the memory limit": 1,
    },
    "contact": {
        "finished with status: crash": 1,
        "finished with status: timeout": 1,
        "TypeError: Cannot read properties of undefined (reading <str>)": 1,
    },
}


def _counts(result: CollectResult) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for obs in result.errors:
        per = out.setdefault(obs.key.name, {})
        per[obs.signature] = per.get(obs.signature, 0) + obs.count
    return out


def _collector(url: str, **extra: Any) -> GcpCollector:
    return GcpCollector(GcpSource(name="g", project_id=[P], mode="logs", api_endpoint=url, **extra),
                        credentials=AnonymousCredentials(), backoff_s=0.01)


def _request() -> CollectRequest:
    return CollectRequest(start=T0, end=T0 + timedelta(minutes=10))


def test_logs_mode_reads_errors_and_deploys_in_the_one_filter(logging_api: Callable[..., Any],
                                                               entry_builders: ModuleType) -> None:
    api = logging_api({P: _entries(entry_builders)})
    collector = _collector(api.url)

    result = collector.collect(_request())

    assert len(api.requests) == 1, "errors ride in the wide filter: no extra call"
    assert _counts(result) == EXPECTED
    by = {(o.key.name, o.signature): o for o in result.errors}
    assert by[("contact", "TypeError: Cannot read properties of undefined (reading <str>)")].sample_id == "exec-1"
    assert by[("checkout", "KeyError: <str>")].sample == "KeyError: 'sku_99'"  # the latest
    checkout = [s for s in result.samples if s.key.name == "checkout"]
    assert (sum(s.invocations or 0 for s in checkout), sum(s.errors or 0 for s in checkout)) == (3, 1)  # the
    # error lines counted no invocation
    (cov,) = result.error_coverage
    assert {k.name for k in cov.keys} == {"checkout", "contact"}
    assert (cov.start, cov.end) == (T0, T0 + timedelta(minutes=10))
    events = {(e.key.name, e.kind, e.at, e.detail.revision, e.detail.reason) for e in result.events}
    rollout_at = T0 + timedelta(minutes=3)
    assert events == {
        ("checkout", EventKind.INSTANCE_START, rollout_at, "checkout-00002-xyz", "DEPLOYMENT_ROLLOUT"),
        ("checkout", EventKind.DEPLOY, rollout_at, "checkout-00002-xyz", None),
    }
    assert all(h.ok for h in result.health), result.health


def test_errors_off_keeps_the_old_filter(logging_api: Callable[..., Any], entry_builders: ModuleType) -> None:
    api = logging_api({P: _entries(entry_builders)})
    result = _collector(api.url, errors=False).collect(_request())
    assert "severity" not in api.requests[0]["filter"]
    assert result.errors == []
    assert result.error_coverage == []


def test_a_failed_project_gives_no_error_coverage(logging_api: Callable[..., Any],
                                                   entry_builders: ModuleType) -> None:
    api = logging_api({P: _entries(entry_builders)})
    api.fail_next(P, 403)
    result = _collector(api.url).collect(_request())
    assert result.errors == []
    assert result.error_coverage == []
    (health,) = result.health
    assert not health.ok


def test_metrics_mode_reads_errors_beside_the_cold_starts(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
) -> None:
    api = logging_api({P: _entries(entry_builders)})
    metrics = monitoring_api({P: []})
    collector = GcpCollector(GcpSource(name="g", project_id=[P], mode="metrics", api_endpoint=api.url,
                                       monitoring_endpoint=metrics.url), credentials=AnonymousCredentials(),
                             backoff_s=0.01)

    result = collector.collect(_request())

    assert len(api.requests) == 1, "one narrow read: instance starts and error records"
    assert _counts(result) == EXPECTED
    assert {e.kind for e in result.events} == {EventKind.INSTANCE_START, EventKind.DEPLOY}
    (cov,) = result.error_coverage
    assert {k.name for k in cov.keys} >= {"checkout", "contact"}


def test_ingest_names_the_same_errors(tmp_path: Any, entry_builders: ModuleType) -> None:
    import json

    path = tmp_path / "entries.json"
    path.write_text(json.dumps(_entries(entry_builders)))
    out = CliRunner().invoke(main, ["ingest", "--provider", "gcp", "--format", "json", str(path)])
    assert out.exit_code == 0, out.output
    got = {f["function"]: {e["signature"]: e["count"] for e in f["top_errors"]} for f in json.loads(out.output)[
        "functions"]}
    assert got == EXPECTED
