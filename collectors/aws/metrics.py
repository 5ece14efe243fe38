"""CloudWatch `GetMetricData` for a whole region at once: time segments, query building, result folding.

Pure (no I/O): `opsview.collectors.aws.collector` sends the batches this module builds and hands the pages back.

The CloudWatch rules this module is built on:

- Datapoints are stamped `StartTime + k * Period`, not on epoch multiples of the period, and CloudWatch first
  rounds `StartTime` down to the minute (younger than 15 days), the 5 minutes (15-63 days) or the hour (older)
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html, `StartTime`;
  the stamping at StartTime is shown in https://github.com/boto/boto3/issues/3457).
  Every segment below starts on a multiple of its period, so its buckets are where CloudWatch puts them.
- When `StartTime` is more than 3 hours old the period must be a multiple of 60 s (up to 15 days old), 300 s
  (15-63 days) or 3600 s (older), "or no data points in that time range is returned"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html, `Period`); 1-minute
  data is kept 15 days, 5-minute data 63 days, 1-hour data 455 days (GetMetricData, "retains metric data").
  So a window is split into one segment per age band, each at the smallest period its band allows.
- One call returns at most `MaxDatapoints` values (default and maximum 100,800) and a `NextToken` for the
  rest; each result says `Complete`, `PartialData`, `Forbidden` or `InternalError`
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataResult.html). The period is
  never widened to fit one call: the collector pages instead, so a long first run keeps 1-minute buckets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from opsview.schema import COUNT_MEASURES, FunctionKey, Sample, finite_or_none, from_epoch, to_epoch

MAX_QUERIES: Final = 500  # per GetMetricData call
MAX_DATAPOINTS: Final = 100_800  # per GetMetricData page (MaxDatapoints)
NAMESPACE: Final = "AWS/Lambda"

RETENTION: Final[tuple[tuple[timedelta, int], ...]] = (
    (timedelta(days=15), 60),
    (timedelta(days=63), 300),
    (timedelta(days=455), 3600),
)
"""(age limit, the period a StartTime younger than that needs): CloudWatch's retention schedule."""
AGE_MARGIN: Final = timedelta(minutes=10)
"""CloudWatch judges a StartTime's age when the request arrives, not when we planned it: band edges keep
this much room (and sit on whole hours, so every segment of a window aligns with the others)."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    suffix: str
    metric: str
    stat: str
    measure: str


METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec("inv", "Invocations", "Sum", "invocations"),
    MetricSpec("err", "Errors", "Sum", "errors"),
    MetricSpec("thr", "Throttles", "Sum", "throttles"),
    MetricSpec("avg", "Duration", "Average", "duration_avg_ms"),
    MetricSpec("p50", "Duration", "p50", "duration_p50_ms"),
    MetricSpec("p95", "Duration", "p95", "duration_p95_ms"),
    MetricSpec("p99", "Duration", "p99", "duration_p99_ms"),
    MetricSpec("max", "Duration", "Maximum", "duration_max_ms"),
    MetricSpec("conc", "ConcurrentExecutions", "Maximum", "concurrency_max"),
)
FUNCTIONS_PER_CALL: Final = MAX_QUERIES // len(METRICS)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the window read at one period: `[start, end)` in epoch seconds, both multiples of `period`."""

    start: int
    end: int
    period: int

    @property
    def start_time(self) -> datetime:
        return from_epoch(self.start)

    @property
    def end_time(self) -> datetime:
        return from_epoch(self.end)

    def contains(self, epoch: int) -> bool:
        return self.start <= epoch < self.end

    def bucket(self, epoch: int) -> int:
        """Start of the bucket that covers `epoch`: CloudWatch counts buckets from StartTime."""
        return self.start + (epoch - self.start) // self.period * self.period


def _floor(epoch: int, step: int) -> int:
    return epoch - epoch % step


def _ceil(epoch: int, step: int) -> int:
    return -(-epoch // step) * step


def plan_segments(start: datetime, end: datetime, now: datetime) -> list[Segment]:
    """Split `[start, end)` by CloudWatch's age bands, oldest first; time older than 455 days is dropped."""
    lo, hi, now_s = to_epoch(start), to_epoch(end), to_epoch(now)
    # the earliest StartTime each period is served for, oldest band first (3600 s, 300 s, 60 s)
    edges = [(_ceil(now_s - int((limit - AGE_MARGIN).total_seconds()), 3600), period)
             for limit, period in reversed(RETENTION)]
    segments: list[Segment] = []
    for index, (band_lo, period) in enumerate(edges):
        band_hi = edges[index + 1][0] if index + 1 < len(edges) else hi
        seg_lo, seg_hi = max(lo, band_lo), min(hi, band_hi)
        if seg_lo < seg_hi:
            # band edges are whole hours, so rounding out to the period stays inside the band
            segments.append(Segment(_floor(seg_lo, period), _ceil(seg_hi, period), period))
    return segments


@dataclass(frozen=True, slots=True)
class MetricBatch:
    """One GetMetricData call's queries and how to read its answer back."""

    queries: list[dict[str, Any]]
    ids: Mapping[str, tuple[str, MetricSpec]]  # query id -> (function name, metric)


def build_batches(functions: Sequence[str], period: int) -> list[MetricBatch]:
    batches = []
    for offset in range(0, len(functions), FUNCTIONS_PER_CALL):
        queries: list[dict[str, Any]] = []
        ids: dict[str, tuple[str, MetricSpec]] = {}
        for index, name in enumerate(functions[offset : offset + FUNCTIONS_PER_CALL], start=offset):
            for spec in METRICS:
                query_id = f"f{index}_{spec.suffix}"  # ids must match ^[a-z][a-zA-Z0-9_]*$
                ids[query_id] = (name, spec)
                queries.append({
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE, "MetricName": spec.metric,
                            "Dimensions": [{"Name": "FunctionName", "Value": name}],
                        },
                        "Period": period,
                        "Stat": spec.stat,
                    },
                    "ReturnData": True,
                })
        batches.append(MetricBatch(queries, ids))
    return batches


Buckets = dict[tuple[str, int], dict[str, float]]
"""(function name, bucket start epoch) -> measure -> value."""


@dataclass(slots=True)
class ResultStatus:
    """What GetMetricData said about each query of one batch, page after page."""

    final: dict[str, str] = field(default_factory=dict)
    """Query id -> the StatusCode of the last page that carried it."""
    messages: dict[str, list[str]] = field(default_factory=dict)
    call_messages: list[str] = field(default_factory=list)
    """The response's own `Messages` (e.g. "Maximum number of allowed metrics exceeded")."""


def _message_text(message: Mapping[str, Any]) -> str:
    code, value = message.get("Code"), message.get("Value")
    return ": ".join(str(part) for part in (code, value) if part)


def fold_results(batch: MetricBatch, segment: Segment, page: Mapping[str, Any], into: Buckets,
                 status: ResultStatus) -> None:
    """Add one page's `MetricDataResults` to `into`; a missing datapoint stays absent (never 0)."""
    status.call_messages.extend(_message_text(m) for m in page.get("Messages", []) or [])
    results: Iterable[Mapping[str, Any]] = page.get("MetricDataResults", []) or []
    for result in results:
        query_id = str(result.get("Id"))
        target = batch.ids.get(query_id)
        if target is None:
            continue
        status.final[query_id] = str(result.get("StatusCode") or "Complete")
        texts = [_message_text(m) for m in result.get("Messages", []) or []]
        if texts:
            status.messages.setdefault(query_id, []).extend(t for t in texts if t)
        name, spec = target
        for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
            checked = finite_or_none(float(value))
            if checked is None:
                continue
            into.setdefault((name, segment.bucket(to_epoch(ts))), {})[spec.measure] = checked


def describe_gaps(batch: MetricBatch, status: ResultStatus) -> str | None:
    """One line naming the results that did not end `Complete` (or the call's messages), else `None`."""
    by_code: dict[str, list[str]] = {}
    for query_id, code in status.final.items():
        if code != "Complete":
            by_code.setdefault(code, []).append(query_id)
    if not by_code and not status.call_messages:
        return None
    parts = []
    for code, ids in sorted(by_code.items()):
        names = []
        for query_id in ids[:2]:
            name, spec = batch.ids[query_id]
            names.append(f"{name} {spec.metric} {spec.stat}")
        more = f" and {len(ids) - len(names)} more" if len(ids) > len(names) else ""
        said = sorted({m for q in ids for m in status.messages.get(q, [])})
        parts.append(f"{len(ids)} results {code} ({', '.join(names)}{more})" + (f": {said[0]}" if said else ""))
    parts.extend(sorted(set(status.call_messages)))
    return "GetMetricData " + "; ".join(parts)


def counts_complete(batch: MetricBatch, status: ResultStatus) -> bool:
    """Whether every function's `Invocations` came back `Complete` (and the call raised no message of its own):
    then a bucket without a datapoint had no invocations, and the span counts as covered. Gaps in the other
    metrics leave those measures unknown (`None`) but do not make the traffic unknown."""
    if status.call_messages:
        return False
    return all(status.final.get(query_id) == "Complete" for query_id, (_, spec) in batch.ids.items()
               if spec.measure == "invocations")


def to_samples(buckets: Buckets, keys: Mapping[str, FunctionKey], period: int) -> list[Sample]:
    samples = []
    for (name, start), values in sorted(buckets.items()):
        key = keys.get(name)
        if key is None:
            continue
        fields: dict[str, Any] = {
            m: (int(round(v)) if m in COUNT_MEASURES else v) for m, v in values.items()
        }
        samples.append(Sample(key=key, start=from_epoch(start), period_s=period, **fields))
    return samples
