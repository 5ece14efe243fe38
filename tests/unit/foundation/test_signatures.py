"""The one signature rule: on real exports (../shared/realdata), on the failures the issue names, and as
properties (idempotent, never raises, bounded, ids merge, words stay apart)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsview.error_records import ErrorObservation
from opsview.schema import FunctionKey
from opsview.signatures import (
    MAX_MESSAGE_CHARS,
    MAX_SAMPLE_BYTES,
    MAX_SIGNATURE_CHARS,
    NO_MESSAGE,
    _normalize,
    cap_sample,
    normalize_message,
    signature,
    split_error,
)

# --- real exports --------------------------------------------------------------------------------


def _aws_messages(realdata: Path) -> list[str]:
    """Every log line of the AWS exports: the docs' console copies and the CloudWatch Logs payloads."""
    lines = [line for path in sorted((realdata / "aws" / "awsdocs_devguide").glob("*.log"))
             for line in path.read_text().splitlines()]
    for name in ("datadog_forwarder_cwlogs_timeout.json", "datadog_forwarder_cwlogs_coldstart.json",
                 "awsdocs_cwlogs_subscription_decoded.json"):
        lines += [e["message"] for e in json.loads((realdata / "aws" / name).read_text())["logEvents"]]
    lines += [e["message"] for e in json.loads((realdata / "aws" / "awsdocs_get_log_events_output.json")
                                                .read_text())["events"]]
    return lines


def test_the_same_runtime_line_merges_across_real_request_ids_and_times(realdata: Path) -> None:
    messages = _aws_messages(realdata)
    starts = {signature(None, m) for m in messages if m.startswith("START RequestId:")}
    ends = {signature(None, m) for m in messages if m.startswith("END RequestId:")}
    assert len([m for m in messages if m.startswith("START RequestId:")]) >= 10
    # real UUIDs, the docs' `8f507cfc-xmpl-...` and csharp-package-cli's literal `id`, and the forwarder's
    # literal "\n" quirk: `START RequestId: <id> Version: $LATEST` with or without that trailing text
    assert {s.removesuffix("\\n") for s in starts} == {"START RequestId: <id> Version: $LATEST"}
    assert {s.removesuffix("\\n") for s in ends} == {"END RequestId: <id>"}


def test_the_real_timeout_line_is_the_issue_signature_and_merges_with_other_runs(realdata: Path) -> None:
    events = json.loads((realdata / "aws" / "datadog_forwarder_cwlogs_timeout.json").read_text())["logEvents"]
    [line] = [e["message"] for e in events if "Task timed out" in e["message"]]
    real = signature(None, line.replace("\\n", "\n"))
    assert real == "<ts> <uuid> Task timed out after <n> seconds"
    another_run = "2024-10-18T19:38:39.661Z b441820a-ebe5-4d5f-93bc-f945707b0225 Task timed out after 30.00 seconds"
    assert signature(None, another_run) == real
    # as a reader hands it over, without the line's time and request id: the issue's example
    assert signature(None, line.split(" ", 2)[2].replace("\\n", "\n")) == "Task timed out after <n> seconds"


def test_azure_exception_messages_keep_their_type_once_and_merge_outer_with_innermost(realdata: Path) -> None:
    doc = realdata / "azure" / "newrelic_appinsights_export" / "appInsightsAppException.json"
    [record] = json.loads(doc.read_text())["records"]
    outer = signature(record["ExceptionType"], record["OuterMessage"])
    assert outer == "Error: Throwing an uncaught error on purpose."  # not "Error: Error: ..."
    assert signature(record["InnermostType"], record["InnermostMessage"]) == outer
    assert signature(record["Details"][0]["type"], record["Details"][0]["message"]) == outer


def test_real_failures_of_different_kinds_stay_apart(realdata: Path) -> None:
    azure = realdata / "azure" / "newrelic_appinsights_export"
    [exception] = json.loads((azure / "appInsightsAppException.json").read_text())["records"]
    traces = [r["Message"] for r in json.loads((azure / "appInsightsAppTraces.json").read_text())["records"]]
    events = json.loads((realdata / "aws" / "datadog_forwarder_cwlogs_timeout.json").read_text())["logEvents"]
    [timeout] = [e["message"].split(" ", 2)[2] for e in events if "Task timed out" in e["message"]]
    messages = [
        signature(None, timeout),
        signature(exception["ExceptionType"], exception["OuterMessage"]),
        signature(None, exception["ProblemId"]),
        *(signature(None, t) for t in traces),  # "... for language:java" vs "... for language:powershell"
    ]
    assert len(set(messages)) == len(messages) == 5


def test_gcp_ids_in_a_message_merge_across_real_entries(realdata: Path) -> None:
    gen1 = json.loads((realdata / "gcp" / "gen1_logentry_started_dynatrace.json").read_text())
    [run] = json.loads((realdata / "gcp" / "cloudrun_request_log_simonw_til.json").read_text())
    traces = [entry["trace"].rsplit("/", 1)[1] for entry in (gen1, run)]
    assert traces[0] != traces[1]
    assert {signature(None, f"upstream call failed, trace {t}") for t in traces} == {
        "upstream call failed, trace <hex>"}
    execution = signature(None, f"Function execution took 60003 ms, finished with status: 'timeout' "
                                f"(execution {gen1['labels']['execution_id']})")
    assert execution == "Function execution took <n> ms, finished with status: <str> (execution <id>)"
    assert signature(None, f"instance {run['labels']['instanceId']} exited") == "instance <hex> exited"


# --- the failures the issue names ----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "a", "b"), [
    ("Runtime.ExitError", "Runtime exited with error: exit status 1", "Runtime exited with error: exit status 137"),
    ("KeyError", "'user_42'", "'cart_7'"),
    (None, "connect ECONNREFUSED 10.0.3.17:5432", "connect ECONNREFUSED 10.0.9.2:5432"),
    (None, "Memory limit of 1024 MiB exceeded with 1053 MiB used.",
     "Memory limit of 2048 MiB exceeded with 2101 MiB used."),
    ("System.TimeoutException", "The operation has timed out after 00:01:40.",
     "The operation has timed out after 00:00:30."),
    (None, "upstream 0x7f3a2c returned at 2026-03-01 12:00:01,123",
     "upstream 0xdeadbeef returned at 2026-03-02 08:11:59,9"),
])
def test_one_failure_with_different_values_is_one_signature(kind: str | None, a: str, b: str) -> None:
    assert signature(kind, a) == signature(kind, b)


def test_distinct_failures_stay_distinct() -> None:
    exit_status = signature("Runtime.ExitError", "Runtime exited with error: exit status 1")
    segfault = signature("Runtime.ExitError", "Runtime exited with error: signal: segmentation fault")
    assert exit_status == "Runtime.ExitError: Runtime exited with error: exit status <n>"
    assert segfault == "Runtime.ExitError: Runtime exited with error: signal: segmentation fault"
    assert signature("KeyError", "'x'") != signature("ValueError", "'x'")  # the type is part of it
    assert signature(None, "can't reach db") != signature(None, "can't reach cache")


def test_missing_parts() -> None:
    assert signature(None, None) == NO_MESSAGE
    assert signature("MemoryError", "") == "MemoryError"
    assert signature(None, "   ") == NO_MESSAGE
    assert signature("Error", "Error:") == "Error"


def test_split_error_reads_the_type_as_runtimes_print_it() -> None:
    python = ('Traceback (most recent call last):\n  File "/var/task/app.py", line 9, in handler\n'
              '    x = d["k"]\nKeyError: \'k\'')
    assert split_error(python) == ("KeyError", "'k'")
    node = "TypeError: Cannot read properties of undefined (reading 'total')\n    at handler (/var/task/index.js:5:3)"
    assert split_error(node) == ("TypeError", "Cannot read properties of undefined (reading 'total')")
    java = "java.lang.IllegalStateException: pool exhausted\n\tat com.x.Pool.get(Pool.java:42)"
    assert split_error(java) == ("java.lang.IllegalStateException", "pool exhausted")
    assert split_error("panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:") == (
        "panic", "runtime error: index out of range [5] with length 3")
    assert split_error("Task timed out after 3.00 seconds") == (None, "Task timed out after 3.00 seconds")
    assert split_error("") == (None, "")


def test_an_observation_gets_its_minute_and_signature_from_the_rule() -> None:
    from datetime import UTC, datetime

    key = FunctionKey("aws", "1", "us-east-1", "f")
    obs = ErrorObservation.of(key, datetime(2026, 3, 1, 12, 7, 31, tzinfo=UTC), "KeyError", "'user_9'", sample_id="r1")
    assert obs.minute == datetime(2026, 3, 1, 12, 7, tzinfo=UTC)
    assert obs.signature == "KeyError: <str>"
    assert (obs.sample, obs.count) == ("'user_9'", 1)


# --- properties ----------------------------------------------------------------------------------

PIECES = st.sampled_from([
    "a", "Z", " ", "'", '"', "-", ".", ":", "_", "0", "1", "9", "<", ">", "\n", "\t", "é", "\x00", "\ud800", "x1",
    "2024-01-01T00:00:00Z", "0x1f", "deadbeef12", "7c9567b5-107b-4a6c-8798-0157ac21db52", "10.0.0.1", "can't",
    "Id:", "_id=", "ID ", "=", ",", "(", "[",
])
MESSAGES = st.one_of(st.lists(PIECES, max_size=300).map("".join), st.text(max_size=1500))
KINDS_OF_VALUE = [  # each a kind of value that varies between occurrences of one failure
    st.uuids().map(str),
    st.integers(0, 10**12).map(str),
    st.floats(0, 1e6, allow_nan=False).map(lambda f: f"{f:.2f}"),
    st.integers(0, 2**64).map(lambda i: f"0x{i:x}"),
    st.text(alphabet=string.ascii_letters + string.digits + "_ -", max_size=20).map(lambda s: f"'{s}'"),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.ip_addresses(v=4).map(str),
]
VARYING = st.sampled_from(KINDS_OF_VALUE).flatmap(lambda kind: st.tuples(kind, kind))
WORD = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)


@settings(max_examples=1500, deadline=None)
@given(MESSAGES, st.one_of(st.none(), st.text(max_size=300)))
def test_never_raises_is_bounded_and_idempotent(message: str, kind: str | None) -> None:
    once = normalize_message(message)
    assert len(once) <= MAX_MESSAGE_CHARS
    assert normalize_message(once) == once
    sig = signature(kind, message)
    assert 0 < len(sig) <= MAX_SIGNATURE_CHARS
    assert signature(kind, once) == sig
    sig.encode("utf-8")  # storable: no lone surrogates, no NUL
    assert "\x00" not in sig
    sample = cap_sample(message)
    assert sample is not None
    assert len(sample.encode("utf-8")) <= MAX_SAMPLE_BYTES
    kind_found, rest = split_error(message)
    assert signature(kind_found, rest)  # whatever the text, a reader gets a signature


@settings(max_examples=400, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=8), st.lists(st.tuples(VARYING, VARYING), min_size=1, max_size=4))
def test_messages_that_differ_only_in_ids_and_values_merge(words: list[str], values: list[tuple[str, str]]) -> None:
    def fill(side: int) -> str:
        return " ".join(f"{w} {v[side]}" for w, v in zip(words * len(values), values, strict=False))

    assert signature("E", fill(0)) == signature("E", fill(1))


@settings(max_examples=400, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=20), st.integers(0, 19), WORD)
def test_messages_that_differ_in_a_word_stay_apart(words: list[str], where: int, other: str) -> None:
    changed = list(words)
    changed[where % len(words)] = other
    if changed != words:
        assert signature("E", " ".join(words)) != signature("E", " ".join(changed))


def test_the_cache_is_bounded() -> None:
    for i in range(20_000):
        normalize_message(f"KeyError on item {i:x}z{i}")
    info = _normalize.cache_info()
    assert info.maxsize is not None
    assert info.currsize <= info.maxsize
