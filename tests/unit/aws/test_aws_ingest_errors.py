"""`opsview ingest --provider aws` reads error records (the collector's rule, `error_lines`) into `top_errors`:
on the real exports in ../shared/realdata, on raw text through every bulk path, and per minute for --store."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from opsview.cli import main
from opsview.collectors.aws import error_lines
from opsview.collectors.aws.ingest import read
from opsview.ingest import Ingest
from opsview.schema import DEFAULT_PRICES

RID = "8f507cfc-{n:04x}-4697-b07a-ac58fc914c95"


def _json(path: Path, *args: str) -> dict[str, object]:
    out = CliRunner().invoke(main, ["ingest", "--provider", "aws", "--format", "json", *args, str(path)])
    assert out.exit_code == 0, out.output
    data: dict[str, object] = json.loads(out.output)
    return data


def test_the_forwarder_timeout_export_names_its_timeout(realdata: Path) -> None:
    data = _json(realdata / "aws" / "datadog_forwarder_cwlogs_timeout.json")
    (fn,) = data["functions"]  # type: ignore[attr-defined]
    assert (fn["function"], fn["errors"], fn["timeouts"]) == ("storms-cloudwatch-event", 1, 1)
    (top,) = fn["top_errors"]
    assert top["signature"] == "Task timed out after <n> seconds"
    assert top["count"] == 1
    assert top["sample_id"] == "7c9567b5-107b-4a6c-8798-0157ac21db52"
    assert top["first_seen"].startswith("2020-06-09T15:02:26")


def test_exports_without_error_records_have_none_not_unknown(realdata: Path) -> None:
    for name in ("datadog_forwarder_cwlogs_coldstart.json", "awsdocs_get_log_events_output.json",
                 "datadog_forwarder_cwlogs_invocation_xray.json"):
        data = _json(realdata / "aws" / name)
        assert all(fn["top_errors"] == [] for fn in data["functions"]), name  # type: ignore[attr-defined]


def _log(invocations: int) -> str:
    """A raw log with a REPORT per invocation and an error line for every 10th: the bulk path's input."""
    lines = []
    for i in range(invocations):
        rid = RID.format(n=i)
        ts = f"2026-03-01T12:{i // 60 % 60:02d}:{i % 60:02d}.000Z"
        lines.append(f"{ts} START RequestId: {rid} Version: $LATEST")
        if i % 10 == 0:
            lines.append(f"{ts}\t{rid}\tERROR\tInvoke Error \t" + json.dumps(
                {"errorType": "Error", "errorMessage": f"connect ECONNREFUSED 10.0.0.{i % 7}:6379"}))
        if i % 25 == 0:
            lines.append(f"[ERROR] KeyError: 'user_{i}'")
        lines.append(f"{ts} END RequestId: {rid}")
        lines.append(f"{ts} REPORT RequestId: {rid}\tDuration: {10 + i % 90}.00 ms\tBilled Duration: 11 ms\t"
                     "Memory Size: 512 MB\tMax Memory Used: 60 MB")
    return "\n".join(lines) + "\n"


def test_every_path_of_the_text_reader_finds_the_same_errors() -> None:
    text = _log(3000)
    results = []
    for minutes in (True, False):  # per-line with times (--store), bulk without
        acc = Ingest("aws", DEFAULT_PRICES["aws"], minutes=minutes)
        acc.add_all(read(io.StringIO(text), "fn.log", "fn", acc.stats))
        (summary,) = acc.result().functions
        assert summary.measures.invocations == 3000
        assert summary.top_errors is not None
        results.append({e.signature: e.count for e in summary.top_errors})
        if minutes:
            stored = acc.result()
            # Python prints an unhandled exception without a time: counted in top_errors, not in any minute
            assert sum(o.count for o in stored.errors) == 300
            assert [c.keys[0].name for c in stored.error_coverage] == ["fn"]
    assert results[0] == results[1] == {"Error: connect ECONNREFUSED <ip>:<n>": 300, "KeyError: <str>": 120}


_FRAGMENTS = [
    "START RequestId: 1 Version: $LATEST", "INFO\tprocessed order 7", "[ERROR] KeyError: 'sku'", "\tERROR\tboom",
    "Task timed out after 3.00 seconds", "Runtime exited with error: exit status 1",
    "Runtime exited with error: signal: killed", "FATAL disk full", "CRITICAL", '{"status": "ok"}',
    '{"status" : "error"}', '{"errorType": "E", "errorMessage": "m"}', '{"error": null}',
    '{"level": "FATAL", "message": "x"}', '{"log_level":"CRITICAL","message":"y"}', "Status: error",
    "REPORT RequestId: 1\tDuration: 1.00 ms\tStatus: error", "status: error", "error", "ERRO", "R", "tatus",
    '"error', "\t", " ", "2026-03-01T12:00:01.000Z",
]


@given(st.lists(st.lists(st.sampled_from(_FRAGMENTS), max_size=4).map("".join), max_size=12))
def test_finding_error_lines_by_their_words_finds_what_the_marker_regex_finds(lines: list[str]) -> None:
    """`text_errors` looks for lines by literal words; a search with the `MARKERS` regex itself (the rule the
    Insights query and FilterLogEvents path share) must find the same lines, markers and errors."""
    text = "\n".join(lines) + "\n"
    expected = []
    for line in lines:
        marker = error_lines.MARKER.search(line)
        found = error_lines.extract(line) if marker else None
        if marker and found:
            expected.append((line, marker.start(), found))
    assert list(error_lines.text_errors(text)) == expected
