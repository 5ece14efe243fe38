"""Azure error records and app versions: which App Insights rows are errors and what they are called, for the
collector's KQL result and for `opsview ingest`'s exported rows alike (pure: no I/O, no SDK).

The rule (the KQL in `kql` applies it in the query; `exception_error` / `trace_error` apply it to a row):

- `AppExceptions` (classic `exceptions`): every row, of weight `ItemCount` (sampling). Named by its innermost
  exception: the Functions host wraps a function's exception in `FunctionInvocationException: Exception while
  executing function: Functions.X`, so the outer one would make every failure of a function look alike.
  Type `InnermostType`, else `ExceptionType`, else `OuterType`; message `InnermostMessage`, else
  `OuterMessage`, else `ProblemId` (https://learn.microsoft.com/azure/azure-monitor/reference/tables/appexceptions).
- `AppTraces` (classic `traces`) at `SeverityLevel` 3 (Error) or 4 (Critical)
  (https://learn.microsoft.com/azure/azure-monitor/reference/tables/apptraces), except the host's own
  `Executed 'Functions.X' (Failed, ...)`: the failure's exception is its own row.
- A record without a type takes one from its text when the text carries it (`split_error`).
- Function: `AppRoleName/OperationName` as the collector keys it (`Functions.` dropped); a record outside any
  function's execution (host errors: no operation name) belongs to the app, `<app>/*`.
- App versions: `AppVersion` of `AppRequests`; within a window, a version first seen after another was seen
  is a deploy at its first request (`VersionBook`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from opsview.collectors.azure.kql import ERROR_SEVERITY, EXECUTED, KIND_ERRORS, KIND_VERSIONS
from opsview.collectors.azure.rows import APP_TOTAL, _float, _time, function_name
from opsview.error_records import ErrorObservation, EventDetail, EventKind, FunctionEvent
from opsview.schema import FunctionKey, floor_time
from opsview.signatures import signature, split_error

_REMEMBERED_VERSIONS: Final = 20  # per app: enough to tell a new version from a rollback to a recent one


def named(error_type: str | None, message: str | None) -> tuple[str | None, str]:
    """(type, message) of an error record: a record without a type takes one from its text."""
    text = (message or "").strip()
    if error_type:
        return error_type, text
    return split_error(text) if text else (None, "")


def exception_error(row: Mapping[str, Any]) -> tuple[str | None, str]:
    """An `AppExceptions` row's (type, message), by the rule in the module docstring (either naming)."""
    error_type = _first(row, ("InnermostType", "innermostType"), ("ExceptionType", "type"), ("OuterType", "outerType"))
    message = _first(row, ("InnermostMessage", "innermostMessage"), ("OuterMessage", "outerMessage"),
                     ("ProblemId", "problemId"))
    return named(error_type, message)


def exception_sample(row: Mapping[str, Any]) -> str | None:
    """What to keep of an exception: its message and where it was thrown (`OuterAssembly`), as the query keeps."""
    message = _first(row, ("InnermostMessage", "innermostMessage"), ("OuterMessage", "outerMessage"),
                     ("ProblemId", "problemId"))
    where = _first(row, ("OuterAssembly", "outerAssembly"))
    if message is None:
        return where
    return f"{message}\n{where}" if where else message


def trace_is_error(message: str | None, severity: Any) -> bool:
    """Whether a trace is an error record: Error or Critical, and not the host's `Executed '...'` line."""
    level = _float(severity)
    if level is None and isinstance(severity, str):  # some exports spell the level out
        level = {"error": 3.0, "critical": 4.0}.get(severity.strip().lower())
    return level is not None and level >= ERROR_SEVERITY and not (message or "").startswith(EXECUTED)


def error_function(app: str | None, operation: str | None) -> str:
    """The function an error belongs to, named as the collector names it (`app/fn`, `app/*` outside any)."""
    fn = function_name(operation or "") or APP_TOTAL
    return f"{app}/{fn}" if app else fn


def _first(row: Mapping[str, Any], *names: tuple[str, ...]) -> str | None:
    for options in names:
        for name in options:
            value = row.get(name)
            if isinstance(value, str) and value.strip():
                return value
    return None


# --- the collector's result rows ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorBucket:
    """One (app, function, minute, error text) of the query's error half."""

    app: str
    function: str
    start: datetime
    error_type: str | None
    message: str
    count: int
    sample: str | None
    sample_id: str | None
    sample_at: datetime | None


@dataclass(frozen=True, slots=True)
class VersionSpan:
    """One `AppVersion` of an app: its first and last request in the queried range."""

    app: str
    version: str
    first_at: datetime
    last_at: datetime


def parse_error_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]
                     ) -> tuple[list[ErrorBucket], list[VersionSpan], int]:
    """The error and version rows of a result (other kinds are `rows.parse_rows`'), and how many were unreadable."""
    index = {name: i for i, name in enumerate(columns)}

    def get(row: Sequence[Any], name: str) -> Any:
        i = index.get(name)
        return None if i is None or i >= len(row) else row[i]

    errors: list[ErrorBucket] = []
    versions: list[VersionSpan] = []
    bad = 0
    for row in rows:
        kind = get(row, "Kind")
        if kind not in (KIND_ERRORS, KIND_VERSIONS):
            continue
        try:
            app = str(get(row, "AppRoleName") or "")
            if kind == KIND_VERSIONS:
                version = str(get(row, "AppVersion") or "")
                first, last = _time(get(row, "FirstAt")), _time(get(row, "LastAt"))
                if not app or not version or first is None or last is None:
                    bad += 1
                    continue
                versions.append(VersionSpan(app, version, first, last))
                continue
            bucket = _time(get(row, "Bucket"))
            count = _float(get(row, "ErrorCount"))
            if not app or bucket is None or count is None or count < 1:
                bad += 1
                continue
            error_type, message = named(str(get(row, "ErrorType") or "") or None, str(get(row, "ErrorMessage") or ""))
            sample, sample_id = get(row, "Sample"), get(row, "SampleId")
            errors.append(ErrorBucket(
                app=app, function=function_name(str(get(row, "OperationName") or "")) or APP_TOTAL,
                start=floor_time(bucket, 60), error_type=error_type, message=message, count=int(round(count)),
                sample=str(sample) if sample else None, sample_id=str(sample_id) if sample_id else None,
                sample_at=_time(get(row, "SampleAt")),
            ))
        except (TypeError, ValueError):
            bad += 1
    return errors, versions, bad


def observations(buckets: Iterable[ErrorBucket], key_of: Mapping[str, FunctionKey]) -> list[ErrorObservation]:
    """One observation per (function, signature, minute): rows whose texts differ only where the signature
    rule replaces (a number, an id) add up, the latest sample kept."""
    merged: dict[tuple[FunctionKey, str, datetime], ErrorObservation] = {}
    for b in buckets:
        key = key_of.get(f"{b.app}/{b.function}")
        if key is None:
            continue
        sig = signature(b.error_type, b.message)
        at = b.sample_at if b.sample_at is not None and b.sample_at >= b.start else None
        obs = ErrorObservation(key=key, minute=b.start, signature=sig, error_type=b.error_type, count=b.count,
                               sample=b.sample or b.message, sample_id=b.sample_id, sample_at=at)
        slot = (key, sig, b.start)
        have = merged.get(slot)
        if have is not None:
            newer = (obs.sample_at or b.start) >= (have.sample_at or b.start)
            keep = obs if newer else have
            obs = ErrorObservation(key=key, minute=b.start, signature=sig, error_type=keep.error_type,
                                   count=have.count + obs.count, sample=keep.sample, sample_id=keep.sample_id,
                                   sample_at=keep.sample_at)
        merged[slot] = obs
    return list(merged.values())


@dataclass(slots=True)
class VersionBook:
    """The app versions seen so far, per app (kept across refreshes), to tell a deploy from a version already known.

    A version new to the book is a deploy at its first request when another version of the app was known before
    it (from an earlier refresh, or earlier in this range); the first version ever seen of an app is where the
    book starts, not a deploy (when it went live is not in the logs read)."""

    seen: dict[str, dict[str, datetime]] = field(default_factory=dict)

    def deploys(self, spans: Iterable[VersionSpan]) -> list[tuple[str, str, datetime]]:
        """(app, version, at) of each deploy the spans show, the book updated."""
        out = []
        for span in sorted(spans, key=lambda s: (s.first_at, s.version)):
            known = self.seen.setdefault(span.app, {})
            if span.version in known:
                known[span.version] = min(known[span.version], span.first_at)
                continue
            if known and any(at < span.first_at for at in known.values()):
                out.append((span.app, span.version, span.first_at))
            known[span.version] = span.first_at
            if len(known) > _REMEMBERED_VERSIONS:
                del known[min(known, key=lambda v: known[v])]
        return out


def deploy_events(deploys: Iterable[tuple[str, str, datetime]], keys: Iterable[FunctionKey]) -> list[FunctionEvent]:
    """A deploy of an app is a deploy of each of its functions (each draws its marker)."""
    by_app: dict[str, list[FunctionKey]] = {}
    for key in keys:
        by_app.setdefault(key.name.split("/", 1)[0], []).append(key)
    return [FunctionEvent(key, at, EventKind.DEPLOY, EventDetail(version=version))
            for app, version, at in deploys for key in sorted(by_app.get(app, []))]
