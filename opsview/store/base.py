"""The store's faces every backend implements, and the records its reads return.

`SampleStore` holds the metrics (functions, samples, collector health); `AlertStore` the alerting
state (records, history, ledger, outbox, silences, locks); `ErrorEventStore` why functions fail and what
changed (error signatures, function events). `Store` is all three, over one database. Callers type
against the face they use.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from opsview.alert_records import AlertChanges, AlertEvent, AlertRecord, AlertState, LedgerEntry, OutboxItem, Silence
from opsview.error_records import ErrorCoverage, ErrorObservation, EventKind, FunctionEvent, SignatureSummary
from opsview.schema import CollectorHealth, Coverage, FunctionInfo, FunctionKey, Measures, Sample, measures_from

Scope = tuple[str, str, str]
"""(provider, account, region): what coverage is kept for, and the head of a `FunctionKey`."""


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One function aggregated over a window; `measures` are all-None when it reported nothing."""

    info: FunctionInfo
    measures: Measures
    buckets: int  # how many buckets contributed; 0 = no data in the window

    @property
    def key(self) -> FunctionKey:
        return self.info.key


@dataclass(frozen=True, slots=True)
class FleetBuckets:
    """The last `count` spans of a step per function, as columns: row j is function `keys[j]`'s span
    `spans[j]` (0 = the newest). Functions without data in the range have no row, nor do empty spans.

    Columns, not `Measures` per span: M-of-N rules read one measure of thousands of functions x N
    datapoints, and building an object per datapoint cost as much as the query.
    """

    count: int
    keys: tuple[FunctionKey, ...]
    spans: tuple[int, ...]
    columns: Mapping[str, tuple[Any, ...]]  # the measures read (in MEASURE_NAMES order); None = not reported

    def measures(self, row: int) -> Measures:
        """Row `row` as `Measures` (those not read are None)."""
        names = tuple(self.columns)
        return measures_from(names)(tuple(self.columns[n][row] for n in names)) if names else Measures()

    def by_function(self) -> dict[FunctionKey, list[Measures | None]]:
        """Per function, its `count` spans newest first, None where a span has no bucket."""
        out: dict[FunctionKey, list[Measures | None]] = {}
        for row, (key, span) in enumerate(zip(self.keys, self.spans, strict=True)):
            out.setdefault(key, [None] * self.count)[span] = self.measures(row)
        return out


@dataclass(frozen=True, slots=True)
class FleetFilter:
    """Narrow fleet reads; every field is optional and glob-free (exact match)."""

    provider: str | None = None
    account: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    rolled_up_buckets: int
    deleted_samples: int
    deleted_health: int
    deleted_alert_history: int = 0
    rolled_up_error_counts: int = 0
    deleted_error_counts: int = 0
    deleted_signatures: int = 0
    deleted_events: int = 0


@runtime_checkable
class SampleStore(Protocol):
    """The metrics face: what collectors write and viewers read (functions, samples, collector health).

    Times are tz-aware UTC.
    """

    url: str

    # writes
    def upsert_functions(self, infos: Iterable[FunctionInfo]) -> int: ...
    def write_samples(self, samples: Iterable[Sample]) -> int: ...
    def record_health(self, entries: Iterable[CollectorHealth]) -> None: ...
    def write_batch(
        self, infos: Iterable[FunctionInfo], samples: Iterable[Sample], health: Iterable[CollectorHealth] = (),
        coverage: Iterable[Coverage] = (),
    ) -> int: ...
    """Functions, samples, health and coverage in one transaction: all of them or none (`opsview ingest --store`)."""
    def record_coverage(self, spans: Iterable[Coverage]) -> None: ...
    """Add spans collections read completely; they merge with what each scope had."""
    def maintain(self, now: datetime, retention: timedelta, rollup_after: timedelta) -> MaintenanceResult: ...
    """Roll minute buckets up into hours and drop what is older than `retention` (alert history, coverage,
    error signatures and counts, and function events included)."""

    # reads
    def functions(self, flt: FleetFilter | None = None) -> list[FunctionInfo]: ...
    def function(self, key: FunctionKey) -> FunctionInfo | None: ...
    def fleet(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None, measures: Collection[str] | None = None
    ) -> list[FleetRow]: ...
    def fleet_measures(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None, measures: Collection[str] | None = None
    ) -> dict[FunctionKey, Measures]: ...
    """`fleet` without the function records: only functions with data in the window, keyed."""
    def series(
        self, key: FunctionKey, start: datetime, end: datetime, step_s: int | None = None
    ) -> list[Sample]: ...
    def totals(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None
    ) -> dict[str, Measures]: ...
    def provider_series(
        self, start: datetime, end: datetime, step_s: int, flt: FleetFilter | None = None,
        measures: Collection[str] | None = None,
    ) -> dict[str, list[tuple[datetime, Measures]]]: ...
    """Per-provider buckets of `step_s`; `measures` limits the aggregation (the others stay None)."""
    def fleet_series(
        self, start: datetime, end: datetime, step_s: int, flt: FleetFilter | None = None,
        measures: Sequence[str] | None = None,
    ) -> dict[FunctionKey, list[tuple[datetime, Measures]]]: ...
    """Every function's buckets regrouped by `step_s` in one query (sparklines); absent buckets are absent.

    `measures` limits the aggregation to those names (the rest stay None), which keeps it cheap."""
    def fleet_buckets(
        self, end: datetime, step_s: int, count: int, flt: FleetFilter | None = None,
        measures: Collection[str] | None = None,
    ) -> FleetBuckets: ...
    def last_bucket(
        self, provider: str, account: str | None = None, region: str | None = None
    ) -> datetime | None: ...
    def coverage(self, start: datetime, end: datetime, flt: FleetFilter | None = None) -> dict[Scope, float]: ...
    """Seconds of [start, end) collections covered, per (provider, account, region); absent = none."""
    def latest_health(self) -> list[CollectorHealth]: ...
    def health_history(
        self, source: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[CollectorHealth]: ...

    def probe(self, *, thorough: bool = False) -> None: ...
    """Raise StoreError unless the store is usable now (health endpoints); `thorough` reads every page."""

    # small key/value state (when maintenance last ran, ...)
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AlertStore(Protocol):
    """The alerting face: alert state, history, notification ledger and outbox, silences, the check lock.

    Written by opsview.alerts and opsview.notify, read by the TUI and the web. Times are tz-aware UTC.
    """

    url: str

    def alert_records(self, states: set[AlertState] | None = None) -> list[AlertRecord]: ...
    def alert_events(
        self, key: FunctionKey | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[AlertEvent]: ...
    def apply_alert_changes(self, changes: AlertChanges) -> None: ...
    def alert_ledger(self) -> list[LedgerEntry]: ...
    def outbox(self, *, undelivered: bool = True, limit: int = 1000) -> list[OutboxItem]: ...
    def mark_outbox(self, item_id: int, now: datetime, error: str | None = None) -> None: ...
    def add_silence(
        self, rule: str, function: str, starts: datetime, ends: datetime, comment: str = "", created_by: str = ""
    ) -> Silence: ...
    def silences(self, active_at: datetime | None = None) -> list[Silence]: ...
    def remove_silence(self, silence_id: int) -> bool: ...
    def acquire_lock(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool: ...
    def lock_owner(self, name: str) -> str | None: ...
    def release_lock(self, name: str, owner: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class ErrorEventStore(Protocol):
    """The "why" face: error signatures per function (first/last seen, per-minute counts, the latest sample
    and its request id), where errors were searched (coverage), and function events (deploys, instance
    starts, restarts).

    Collectors and `opsview ingest` write it (`CollectResult.errors / error_coverage / events`); `opsview
    errors`, the alert engine (new error types) and the TUI and web read it. Retention and hourly rollups
    follow the samples' (`SampleStore.maintain`). Times are tz-aware UTC; windows are [start, end).
    """

    url: str

    # writes
    def write_errors(self, observations: Iterable[ErrorObservation]) -> int: ...
    """Store observations: each replaces the count of its (function, signature, minute); observations
    repeated within the batch add up. First/last seen only widen; the newest sample wins. Returns how many
    (function, signature, minute) counts were written."""
    def record_error_coverage(self, coverage: Iterable[ErrorCoverage]) -> None: ...
    """Widen each function's watched span (from its first to its last searched time)."""
    def write_events(self, events: Iterable[FunctionEvent]) -> int: ...
    """Store events; an event already stored (same function, time, kind and detail) is kept once. Returns
    how many distinct events the batch held."""

    # reads
    def top_errors(
        self, key: FunctionKey, start: datetime, end: datetime, limit: int = 10
    ) -> list[SignatureSummary]: ...
    """One function's signatures that occurred in the window, most frequent first."""
    def fleet_errors(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None, *,
        keys: Collection[FunctionKey] | None = None, new_only: bool = False, min_count: int = 1,
        limit: int | None = None,
    ) -> list[SignatureSummary]: ...
    """Signatures of every (filtered) function that occurred at least `min_count` times in the window, most
    frequent first; `new_only` keeps those whose `new` is True (first seen inside the window, the function's
    errors watched for at least one window's length before it first appeared)."""
    def error_counts(
        self, key: FunctionKey, signature: str, start: datetime, end: datetime, step_s: int = 60
    ) -> list[tuple[datetime, int]]: ...
    """One signature's occurrences per `step_s` bucket (absent buckets are absent, not 0)."""
    def error_coverage(
        self, keys: Collection[FunctionKey] | None = None
    ) -> dict[FunctionKey, tuple[datetime, datetime]]: ...
    """Per function, the span its errors were searched over (functions never searched are absent: their
    errors are unknown, not none)."""
    def events(
        self, key: FunctionKey, start: datetime, end: datetime, kinds: Collection[EventKind] | None = None
    ) -> list[FunctionEvent]: ...
    """One function's events in the window, oldest first."""
    def fleet_events(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None,
        kinds: Collection[EventKind] | None = None,
    ) -> list[FunctionEvent]: ...
    """Every (filtered) function's events in the window, oldest first."""
    def last_events(
        self, kind: EventKind, before: datetime, flt: FleetFilter | None = None
    ) -> dict[FunctionKey, FunctionEvent]: ...
    """Per function, its latest event of `kind` at or before `before` ("since the last deploy")."""

    def close(self) -> None: ...


@runtime_checkable
class CollectStore(SampleStore, ErrorEventStore, Protocol):
    """What a collection writes into: samples and health, and error signatures, coverage and events."""


@runtime_checkable
class Store(SampleStore, AlertStore, ErrorEventStore, Protocol):
    """Every face over one database: what `open_store` returns, for callers that need more than one."""


def top_n(
    rows: Sequence[FleetRow],
    value: Callable[[FleetRow], float | int | None],
    n: int = 10,
) -> list[tuple[FleetRow, float | int]]:
    """Top-N by any measure (stored or derived); functions without a value are left out."""
    scored = [(row, v) for row in rows if (v := value(row)) is not None]
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return scored[:n]

