"""Why functions fail and what changed, in SQL both SQLite and PostgreSQL speak: error signatures with
per-minute counts and the latest sample, the span each function's errors were searched over, and function
events (deploys, instance starts, restarts).

One of the faces of the store (`ErrorEventStore`); backends combine it with `samples_sql` and `alerts_sql`
and provide the connections (`SqlBackend`). Counts are kept per (signature, minute) and rolled up into
hours with the samples; a signature row holds first/last seen and the newest sample.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsview.error_records import (
    ErrorCoverage,
    ErrorObservation,
    EventDetail,
    EventKind,
    FunctionEvent,
    SignatureSummary,
)
from opsview.schema import FunctionKey, from_epoch, to_epoch
from opsview.store.base import FleetFilter
from opsview.store.sql import SqlBackend, where_sql

_IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
_KINDS = {kind.value: kind for kind in EventKind}

# A newer sample replaces the stored one (SET expressions read the row as it was before the update).
_NEWER_SAMPLE = (
    "excluded.sample IS NOT NULL AND (error_signatures.sample IS NULL "
    "OR excluded.sample_at >= COALESCE(error_signatures.sample_at, 0))"
)
_UPSERT_SIGNATURE = (
    "INSERT INTO error_signatures (fid, signature, error_type, first_seen, last_seen, sample, sample_id, sample_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fid, signature) DO UPDATE SET "
    "error_type = COALESCE(excluded.error_type, error_signatures.error_type), "
    "first_seen = CASE WHEN excluded.first_seen < error_signatures.first_seen "
    "THEN excluded.first_seen ELSE error_signatures.first_seen END, "
    "last_seen = CASE WHEN excluded.last_seen > error_signatures.last_seen "
    "THEN excluded.last_seen ELSE error_signatures.last_seen END, "
    + ", ".join(
        f"{col} = CASE WHEN {_NEWER_SAMPLE} THEN excluded.{col} ELSE error_signatures.{col} END"
        for col in ("sample", "sample_id", "sample_at")
    )
)
_UPSERT_COUNT = (
    "INSERT INTO error_counts (sid, start, period_s, count) VALUES (?, ?, 60, ?) "
    "ON CONFLICT (sid, start, period_s) DO UPDATE SET count = excluded.count"
)
_SUMMARY_COLS = (
    "f.provider, f.account, f.region, f.name, e.signature, e.error_type, e.first_seen, e.last_seen, "
    "e.sample, e.sample_id, e.sample_at, w.watched_since"
)
_EVENT_COLS = (
    "f.provider, f.account, f.region, f.name, v.at, v.kind, v.version, v.code_sha, v.revision, v.reason, v.instance"
)


@dataclass(slots=True)
class _Signature:
    """One (function, signature) of a batch being written, merged over its observations."""

    error_type: str | None
    first: int
    last: int
    sample: str | None = None
    sample_id: str | None = None
    sample_at: int | None = None


class ErrorEventSql(SqlBackend):
    """`ErrorEventStore` in portable SQL; see SQLiteStore and PostgresStore for the connections."""

    # --- writes ----------------------------------------------------------------------------------------

    def write_errors(self, observations: Iterable[ErrorObservation]) -> int:
        signatures: dict[tuple[FunctionKey, str], _Signature] = {}
        counts: dict[tuple[FunctionKey, str, int], int] = {}
        for obs in observations:
            minute = to_epoch(obs.minute)
            ident = (obs.key, obs.signature)
            at = max(minute, to_epoch(obs.sample_at)) if obs.sample_at is not None else minute
            merged = signatures.get(ident)
            if merged is None:
                merged = signatures[ident] = _Signature(obs.error_type, minute, at)
            else:
                merged.first = min(merged.first, minute)
                merged.last = max(merged.last, at)
                merged.error_type = obs.error_type or merged.error_type
            if obs.sample is not None and (merged.sample_at is None or at >= merged.sample_at):
                merged.sample, merged.sample_id, merged.sample_at = obs.sample, obs.sample_id, at
            slot = (obs.key, obs.signature, minute)
            counts[slot] = counts.get(slot, 0) + obs.count  # repeated within one batch: they add up
        if not counts:
            return 0
        with self._write() as conn:
            fids = self._fid_map({key for key, _ in signatures}, conn)
            conn.executemany(
                _UPSERT_SIGNATURE,
                [
                    (fids[key], sig, s.error_type, s.first, s.last, s.sample, s.sample_id, s.sample_at)
                    for (key, sig), s in sorted(signatures.items(), key=lambda item: (fids[item[0][0]], item[0][1]))
                ],  # in key order, as the counts: two writers never wait on each other's rows in turn
            )
            sids = self._signature_ids(conn, {fids[key] for key, _ in signatures})
            conn.executemany(
                _UPSERT_COUNT,
                sorted((sids[(fids[key], sig)], minute, n) for (key, sig, minute), n in counts.items()),
            )
        return len(counts)

    def _signature_ids(self, conn: Any, fids: Collection[int]) -> dict[tuple[int, str], int]:
        out: dict[tuple[int, str], int] = {}
        ordered = sorted(fids)
        for i in range(0, len(ordered), _IN_CHUNK):
            part = ordered[i: i + _IN_CHUNK]
            rows = conn.execute(
                f"SELECT id, fid, signature FROM error_signatures WHERE fid IN ({', '.join('?' * len(part))})", part
            )
            out.update({(fid, sig): sid for sid, fid, sig in rows})
        return out

    def record_error_coverage(self, coverage: Iterable[ErrorCoverage]) -> None:
        spans: dict[FunctionKey, tuple[int, int]] = {}
        for cov in coverage:
            start, end = to_epoch(cov.start), to_epoch(cov.end)
            for key in cov.keys:
                have = spans.get(key)
                spans[key] = (start, end) if have is None else (min(have[0], start), max(have[1], end))
        if not spans:
            return
        with self._write() as conn:
            fids = self._fid_map(set(spans), conn)
            conn.executemany(
                "INSERT INTO error_watch (fid, watched_since, watched_until) VALUES (?, ?, ?) "
                "ON CONFLICT (fid) DO UPDATE SET "
                "watched_since = CASE WHEN excluded.watched_since < error_watch.watched_since "
                "THEN excluded.watched_since ELSE error_watch.watched_since END, "
                "watched_until = CASE WHEN excluded.watched_until > error_watch.watched_until "
                "THEN excluded.watched_until ELSE error_watch.watched_until END",
                sorted((fids[key], start, end) for key, (start, end) in spans.items()),
            )

    def write_events(self, events: Iterable[FunctionEvent]) -> int:
        batch = list(events)
        if not batch:
            return 0
        with self._write() as conn:
            fids = self._fid_map({e.key for e in batch}, conn)
            rows = sorted({
                (fids[e.key], to_epoch(e.at), str(e.kind), *(_text(v) for v in _detail_values(e.detail)))
                for e in batch
            })
            conn.executemany(
                "INSERT INTO function_events (fid, at, kind, version, code_sha, revision, reason, instance) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (fid, at, kind, version, code_sha, revision, reason, instance) DO NOTHING",
                rows,
            )
        return len(rows)

    def _maintain_errors(self, conn: Any, rollup_cutoff: int, retention_cutoff: int) -> tuple[int, int, int, int]:
        rolled = self._roll_up(conn, "error_counts", "sid", "count", "SUM(count)", rollup_cutoff)
        counts = self._changes(conn, "DELETE FROM error_counts WHERE start < ?", (retention_cutoff,))
        # A signature unseen for the whole retention is forgotten: if it comes back, it is new again.
        signatures = self._changes(conn, "DELETE FROM error_signatures WHERE last_seen < ?", (retention_cutoff,))
        conn.execute("DELETE FROM error_watch WHERE watched_until < ?", (retention_cutoff,))
        conn.execute(
            "UPDATE error_watch SET watched_since = ? WHERE watched_since < ?", (retention_cutoff, retention_cutoff)
        )
        events = self._changes(conn, "DELETE FROM function_events WHERE at < ?", (retention_cutoff,))
        return rolled, counts, signatures, events

    # --- reads -----------------------------------------------------------------------------------------

    def top_errors(self, key: FunctionKey, start: datetime, end: datetime, limit: int = 10) -> list[SignatureSummary]:
        lo, hi = to_epoch(start), to_epoch(end)
        # Per signature of the function, its count from the (sid, start) primary key: no scan of the window.
        rows = self._conn().execute(
            f"SELECT {_SUMMARY_COLS}, (SELECT SUM(c.count) FROM error_counts c "
            "WHERE c.sid = e.id AND c.start >= ? AND c.start < ?) AS n "
            "FROM functions f JOIN error_signatures e ON e.fid = f.id LEFT JOIN error_watch w ON w.fid = f.id "
            "WHERE f.provider = ? AND f.account = ? AND f.region = ? AND f.name = ? AND e.last_seen >= ?",
            (lo, hi, key.provider, key.account, key.region, key.name, lo),
        ).fetchall()
        return _ranked([_summary(r, int(r[12]), lo, hi) for r in rows if r[12]], limit)

    def fleet_errors(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None, *,
        keys: Collection[FunctionKey] | None = None, new_only: bool = False, min_count: int = 1,
        limit: int | None = None,
    ) -> list[SignatureSummary]:
        lo, hi = to_epoch(start), to_epoch(end)
        where, params = where_sql(flt)
        if new_only:  # first seen inside the window, the function watched for a window's length before that
            where += " AND e.first_seen >= ? AND w.watched_since <= e.first_seen - ?"
            params += [lo, hi - lo]
        rows = self._conn().execute(
            f"SELECT {_SUMMARY_COLS}, c.n FROM "
            "(SELECT sid, SUM(count) AS n FROM error_counts WHERE start >= ? AND start < ? GROUP BY sid) c "
            "JOIN error_signatures e ON e.id = c.sid JOIN functions f ON f.id = e.fid "
            f"LEFT JOIN error_watch w ON w.fid = e.fid WHERE c.n >= ? AND {where}",
            [lo, hi, max(1, int(min_count)), *params],
        ).fetchall()
        wanted = None if keys is None else set(keys)
        found = [_summary(r, int(r[12]), lo, hi) for r in rows]
        return _ranked([s for s in found if wanted is None or s.key in wanted], limit)

    def error_counts(
        self, key: FunctionKey, signature: str, start: datetime, end: datetime, step_s: int = 60
    ) -> list[tuple[datetime, int]]:
        step = max(1, int(step_s))
        rows = self._conn().execute(
            f"SELECT c.start - c.start % {step}, SUM(c.count) FROM functions f "
            "JOIN error_signatures e ON e.fid = f.id JOIN error_counts c ON c.sid = e.id "
            "WHERE f.provider = ? AND f.account = ? AND f.region = ? AND f.name = ? AND e.signature = ? "
            f"AND c.start >= ? AND c.start < ? GROUP BY c.start - c.start % {step} ORDER BY 1",
            (key.provider, key.account, key.region, key.name, signature, to_epoch(start), to_epoch(end)),
        )
        return [(from_epoch(at), int(n)) for at, n in rows]

    def error_coverage(
        self, keys: Collection[FunctionKey] | None = None
    ) -> dict[FunctionKey, tuple[datetime, datetime]]:
        rows = self._conn().execute(
            "SELECT f.provider, f.account, f.region, f.name, w.watched_since, w.watched_until "
            "FROM error_watch w JOIN functions f ON f.id = w.fid"
        )
        wanted = None if keys is None else set(keys)
        out = {}
        for provider, account, region, name, since, until in rows:
            key = FunctionKey(provider, account, region, name)
            if wanted is None or key in wanted:
                out[key] = (from_epoch(since), from_epoch(until))
        return out

    def events(
        self, key: FunctionKey, start: datetime, end: datetime, kinds: Collection[EventKind] | None = None
    ) -> list[FunctionEvent]:
        where = "f.provider = ? AND f.account = ? AND f.region = ? AND f.name = ?"
        return self._events(where, [key.provider, key.account, key.region, key.name], start, end, kinds)

    def fleet_events(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None,
        kinds: Collection[EventKind] | None = None,
    ) -> list[FunctionEvent]:
        where, params = where_sql(flt)
        return self._events(where, params, start, end, kinds)

    def _events(
        self, where: str, params: list[Any], start: datetime, end: datetime, kinds: Collection[EventKind] | None
    ) -> list[FunctionEvent]:
        if kinds is not None:
            if not kinds:
                return []
            where += f" AND v.kind IN ({', '.join('?' * len(kinds))})"
            params = [*params, *sorted(str(k) for k in kinds)]
        rows = self._conn().execute(
            f"SELECT {_EVENT_COLS} FROM function_events v JOIN functions f ON f.id = v.fid "
            f"WHERE v.at >= ? AND v.at < ? AND {where} ORDER BY v.at, f.provider, f.account, f.region, f.name, v.id",
            [to_epoch(start), to_epoch(end), *params],
        )
        return [event for r in rows if (event := _event(r)) is not None]

    def last_events(
        self, kind: EventKind, before: datetime, flt: FleetFilter | None = None
    ) -> dict[FunctionKey, FunctionEvent]:
        where, params = where_sql(flt)
        rows = self._conn().execute(
            f"SELECT {_EVENT_COLS} FROM function_events v JOIN functions f ON f.id = v.fid "
            "WHERE v.kind = ? AND v.at <= ? AND v.at = (SELECT MAX(v2.at) FROM function_events v2 "
            f"WHERE v2.fid = v.fid AND v2.kind = v.kind AND v2.at <= ?) AND {where} ORDER BY v.at, v.id",
            [str(kind), to_epoch(before), to_epoch(before), *params],
        )
        out: dict[FunctionKey, FunctionEvent] = {}
        for r in rows:
            event = _event(r)
            if event is not None:
                out[event.key] = event  # several at the same second: the last written
        return out


def _summary(r: Sequence[Any], count: int, start: int, end: int) -> SignatureSummary:
    first_seen, watched_since = int(r[6]), r[11]
    if first_seen < start:
        new: bool | None = False
    else:
        # New if the store had watched the function's errors for a window's length before it first appeared: a
        # signature first seen a minute after a store started watching is not news.
        new = True if watched_since is not None and int(watched_since) <= first_seen - (end - start) else None
    return SignatureSummary(
        key=FunctionKey(r[0], r[1], r[2], r[3]), signature=r[4], error_type=r[5], count=count,
        first_seen=from_epoch(first_seen), last_seen=from_epoch(r[7]), sample=r[8], sample_id=r[9],
        sample_at=None if r[10] is None else from_epoch(r[10]), new=new,
    )


def _ranked(summaries: list[SignatureSummary], limit: int | None) -> list[SignatureSummary]:
    """Most frequent first; ties by the latest seen, then by function and signature (stable across backends)."""
    summaries.sort(key=lambda s: (-s.count, -s.last_seen.timestamp(), str(s.key), s.signature))
    return summaries if limit is None else summaries[: max(0, limit)]


def _detail_values(detail: EventDetail) -> tuple[str | None, ...]:
    return detail.version, detail.code_sha, detail.revision, detail.reason, detail.instance


def _text(value: str | None) -> str:
    """A detail as stored: '' for unknown (the UNIQUE key needs a value), one line of at most 200 characters."""
    return "" if value is None else " ".join(value.replace("\x00", " ").split())[:200]


def _event(r: Sequence[Any]) -> FunctionEvent | None:
    kind = _KINDS.get(r[5])
    if kind is None:  # written by a newer opsview: a kind this one cannot name
        return None
    detail = EventDetail(*(value or None for value in r[6:11]))
    return FunctionEvent(FunctionKey(r[0], r[1], r[2], r[3]), from_epoch(r[4]), kind, detail)
