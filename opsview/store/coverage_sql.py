"""Coverage in SQL both SQLite and PostgreSQL speak: which spans collections read completely, per scope.

Part of the sample store's face (`SampleStore.record_coverage`, `SampleStore.coverage`). Intervals of one
scope are merged as they are written (an interval touching or overlapping stored ones replaces them), so a
collector refreshing every minute keeps one row per scope and outage; retention trims them with the samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from opsview.schema import EVERY_REGION, Coverage, to_epoch
from opsview.store.base import FleetFilter, Scope
from opsview.store.sql import SqlBackend

_MINUTE = 60


def merged(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint intervals covering the same time; touching ones join (empty ones drop)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(i for i in intervals if i[1] > i[0]):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _ceil_minute(epoch: int) -> int:
    return -(-epoch // _MINUTE) * _MINUTE


class CoverageSql(SqlBackend):
    """`record_coverage` and `coverage` in portable SQL."""

    def _lock_coverage(self, conn: Any) -> None:
        """Keep concurrent writers of coverage apart for the write transaction (merging reads, then rewrites).

        SQLite's write transactions are exclusive already; PostgreSQL locks the table (see PostgresStore)."""

    def record_coverage(self, spans: Iterable[Coverage]) -> None:
        pending = _pending(spans)
        if not pending:
            return
        with self._write() as conn:
            self._merge_coverage(conn, pending)

    def _insert_coverage(self, conn: Any, spans: Iterable[Coverage]) -> None:
        """`record_coverage` inside a write transaction the caller holds (`write_batch`)."""
        pending = _pending(spans)
        if pending:
            self._merge_coverage(conn, pending)

    def _merge_coverage(self, conn: Any, pending: dict[Scope, list[tuple[int, int]]]) -> None:
        self._lock_coverage(conn)
        for (provider, account, region), intervals in sorted(pending.items()):
            for lo, hi in intervals:
                where = "provider = ? AND account = ? AND region = ? AND stop >= ? AND start <= ?"
                params = (provider, account, region, lo, hi)
                # touching counts (>=, <=): a refresh that starts where the last one ended extends its row
                stored = conn.execute(f"SELECT start, stop FROM coverage WHERE {where}", params).fetchall()
                if stored:
                    lo = min(lo, *(int(r[0]) for r in stored))
                    hi = max(hi, *(int(r[1]) for r in stored))
                    conn.execute(f"DELETE FROM coverage WHERE {where}", params)
                conn.execute(
                    "INSERT INTO coverage (provider, account, region, start, stop) VALUES (?, ?, ?, ?, ?)",
                    (provider, account, region, lo, hi),
                )

    def _prune_coverage(self, conn: Any, cutoff: int) -> None:
        """Forget coverage older than `cutoff` (epoch s), as retention forgets the samples."""
        conn.execute("DELETE FROM coverage WHERE stop <= ?", (cutoff,))
        conn.execute("UPDATE coverage SET start = ? WHERE start < ?", (cutoff, cutoff))

    def coverage(self, start: datetime, end: datetime, flt: FleetFilter | None = None) -> dict[Scope, float]:
        """Seconds of [start, end) that collections covered, per scope with any; a scope absent covered none.

        Counted as sample reads count buckets: a bucket belongs to a window when it starts inside it, so the
        time a read over [start, end) stands for is [start, end) with both ends moved up to whole minutes.
        (An hourly bucket rolled up from minutes is counted whole or not at all by sample reads: at a
        window's edge older than `rollup_after` the two may differ by less than an hour.)
        A span recorded for every region of an account counts for each region the account's functions are in.
        """
        lo, hi = _ceil_minute(to_epoch(start)), _ceil_minute(to_epoch(end))
        if hi <= lo:
            return {}
        clauses: list[str] = ["stop > ?", "start < ?"]
        params: list[Any] = [lo, hi]
        if flt is not None:
            for column in ("provider", "account"):
                value = getattr(flt, column)
                if value is not None:
                    clauses.append(f"{column} = ?")
                    params.append(value)
            if flt.region is not None:
                clauses.append("region IN (?, ?)")
                params += [flt.region, EVERY_REGION]
        rows: Sequence[Sequence[Any]] = self._conn().execute(
            f"SELECT provider, account, region, start, stop FROM coverage WHERE {' AND '.join(clauses)}", params
        ).fetchall()
        spans: dict[Scope, list[tuple[int, int]]] = {}
        every: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for provider, account, region, first, stop in rows:
            clipped = (max(int(first), lo), min(int(stop), hi))
            if region == EVERY_REGION:
                every.setdefault((provider, account), []).append(clipped)
            else:
                spans.setdefault((provider, account, region), []).append(clipped)
        if every:
            for scope in self._function_scopes(flt):
                if scope[:2] in every:
                    spans.setdefault(scope, []).extend(every[scope[:2]])
        return {scope: float(sum(b - a for a, b in merged(found))) for scope, found in spans.items()}

    def _function_scopes(self, flt: FleetFilter | None) -> list[Scope]:
        """The (provider, account, region) of every stored function the filter admits."""
        clauses: list[str] = ["1=1"]
        params: list[Any] = []
        for column in ("provider", "account", "region"):
            value = None if flt is None else getattr(flt, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = self._conn().execute(
            f"SELECT DISTINCT provider, account, region FROM functions WHERE {' AND '.join(clauses)}", params
        ).fetchall()
        return [(str(p), str(a), str(r)) for p, a, r in rows]


def _pending(spans: Iterable[Coverage]) -> dict[Scope, list[tuple[int, int]]]:
    """Spans as merged epoch intervals per scope, empty scopes left out."""
    by_scope: dict[Scope, list[tuple[int, int]]] = {}
    for span in spans:
        by_scope.setdefault((span.provider, span.account, span.region), []).append(
            (to_epoch(span.start), to_epoch(span.end)))
    pending = {scope: merged(intervals) for scope, intervals in by_scope.items()}
    return {scope: intervals for scope, intervals in pending.items() if intervals}
