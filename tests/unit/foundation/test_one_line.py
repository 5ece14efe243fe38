"""One rule for an error shown as one line: the same text in a collector's health, a notifier's
delivery error, the check summary and the UIs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError

from opsview.alert_records import AlertChanges, OutboxItem
from opsview.collectors.azure.metrics import query_region
from opsview.config.alerts import NotifierConfig
from opsview.formatting import ONE_LINE_MAX, one_line
from opsview.notify.delivery import deliver_pending
from opsview.store import SQLiteStore

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


class _GatewayPage:
    """What azure-core reads from a response: a 502 from a proxy with an HTML body (not OData JSON)."""

    status_code = 502
    reason = "Bad Gateway"
    headers: dict[str, str] = {}  # noqa: RUF012 - azure-core only reads it
    request = None

    def text(self, encoding: str | None = None) -> str:
        return "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + "x" * 1500 + "</body></html>"


def test_whitespace_folds_and_an_empty_message_names_the_type() -> None:
    assert one_line(ValueError("token expired\n  while listing\tfunctions ")) == "token expired while listing functions"
    assert one_line(TimeoutError()) == "TimeoutError"
    assert one_line("  already   built\n") == "already built"


def test_a_long_message_is_cut_with_a_visible_mark() -> None:
    text = one_line(RuntimeError("word " * 200))
    assert len(text) == ONE_LINE_MAX
    assert text.endswith("..."), "a cut line says it was cut"
    assert one_line(RuntimeError("y" * ONE_LINE_MAX)) == "y" * ONE_LINE_MAX, "a line that fits is whole"


def test_the_response_body_azure_core_appends_is_dropped() -> None:
    # azure-core's HttpResponseError.__str__ appends "\nContent: <body>" when the body is not OData JSON
    exc = HttpResponseError(response=_GatewayPage())
    assert "<html>" in str(exc)
    assert one_line(exc) == "Operation returned an invalid status 'Bad Gateway'"


class _FailingMetricsClient:
    """Stands in for Azure Monitor answering every metrics batch with one long error."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def query_resources(self, **_: Any) -> Any:
        raise self.exc


def test_an_azure_metrics_error_reads_like_every_other_source_error() -> None:
    # 250 characters: cut at 200 by the metrics module's own copy before, whole everywhere else
    exc = RuntimeError("AuthorizationFailed: the client does not have authorization to perform action "
                       "'microsoft.insights/metrics/read' over scope '/subscriptions/1111/resourceGroups/rg-apps/"
                       "providers/Microsoft.Web/sites/orders-func' or the scope is invalid; refresh the credentials")
    assert 200 < len(str(exc)) <= ONE_LINE_MAX
    result = query_region(_FailingMetricsClient(exc), "westeurope", ["/subscriptions/1111/x/sites/orders-func"],
                          NOW, NOW)
    assert result.error == f"metrics batch (1 apps): {one_line(exc)}"
    assert one_line(exc) == str(exc)


def test_a_failed_delivery_is_cut_with_a_mark_like_other_errors(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        store.apply_alert_changes(AlertChanges(outbox=(OutboxItem(0, "pipe", "firing", "g", {"rule": "r"}, NOW),)))
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        # a jsonl path under a regular file cannot be created; the path alone is longer than a line
        config = NotifierConfig(type="jsonl", path=str(blocker / ("deep-" * 80) / "alerts.jsonl"), retries=0)
        report = deliver_pending(store, {"pipe": config}, now=lambda: NOW, sleep=lambda _: None)
        (error,) = report.errors
        assert error.startswith("pipe: jsonl ")
        assert error.endswith("..."), "cut with a mark, not mid-word without one"
        assert len(error) == len("pipe: ") + ONE_LINE_MAX
        assert store.outbox()[0].last_error == error
    finally:
        store.close()

