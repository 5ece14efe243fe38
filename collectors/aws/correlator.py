"""Joins `Task timed out` / unhandled-error lines to their REPORT, in bounded memory (AWS ingest).

Older runtimes write the timeout line just after its REPORT, newer ones before it, and a REPORT without a
status says nothing of either: a REPORT is held back until `PENDING` newer ones arrived, and a flag seen
before its REPORT is remembered by request id (at most `EARLY` of them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from opsview.collectors.aws.logs import FailedInit, LogRecord, Report, Timeout
from opsview.logevents import FailedInitEvent, InvocationEvent, LogEvent

PENDING = 64  # REPORTs held back so a `Task timed out` line written just after can still mark them
EARLY = 1024  # timeouts/errors seen before their REPORT, remembered by request id

Item = tuple[str, "datetime | None", LogRecord, "str | None"]
"""A record as a reader found it: (function, time, record, account)."""


@dataclass(slots=True)
class _Pending:
    name: str
    at: datetime | None
    report: Report
    account: str | None
    timeout: bool = False
    error: bool = False


class Correlator:
    """Joins `Task timed out` / unhandled-error lines to their REPORT within a small window (bounded memory)."""

    def __init__(self) -> None:
        self.pending: OrderedDict[tuple[str, str | None], _Pending] = OrderedDict()
        self.early: OrderedDict[tuple[str, str | None], tuple[bool, bool]] = OrderedDict()
        self._anonymous = 0

    def add(self, name: str, at: datetime | None, record: LogRecord, account: str | None) -> Iterator[LogEvent]:
        if isinstance(record, Report):
            rid = record.request_id
            if rid is None or (name, rid) in self.pending:
                self._anonymous += 1  # keep every REPORT, even with a missing or repeated id
                rid = f"#{self._anonymous}"
            item = _Pending(name, at, record, account)
            for key in ((name, rid), (name, None)):
                flags = self.early.pop(key, None)
                if flags:
                    item.timeout |= flags[0]
                    item.error |= flags[1]
            self.pending[(name, rid)] = item
            while len(self.pending) > PENDING:
                yield invocation(self.pending.popitem(last=False)[1])
        elif isinstance(record, FailedInit):
            yield FailedInitEvent(name, at, record.init_ms)
        else:
            self._flag(name, record.request_id, isinstance(record, Timeout))

    def _flag(self, name: str, rid: str | None, timeout: bool) -> None:
        # without a request id the line belongs to the next REPORT: runtimes write it before END/REPORT
        target = self.pending.get((name, rid)) if rid else None
        if target is not None:
            target.timeout |= timeout
            target.error |= not timeout
            return
        old = self.early.get((name, rid), (False, False))
        self.early[(name, rid)] = (old[0] or timeout, old[1] or not timeout)
        while len(self.early) > EARLY:
            self.early.popitem(last=False)

    def take_early(self, name: str, request_ids: Sequence[str]) -> dict[int, tuple[bool, bool]]:
        """(timeout, error) flags remembered for these REPORTs (by index), consumed as `add` would."""
        found: dict[int, tuple[bool, bool]] = {}
        for i, rid in enumerate(request_ids):
            if not self.early:
                break
            timeout = error = False
            for key in ((name, rid), (name, None)):
                flags = self.early.pop(key, None)
                if flags:
                    timeout |= flags[0]
                    error |= flags[1]
            if timeout or error:
                found[i] = (timeout, error)
        return found

    def flush(self) -> Iterator[LogEvent]:
        while self.pending:
            yield invocation(self.pending.popitem(last=False)[1])


def invocation(p: _Pending) -> InvocationEvent:
    r = p.report
    timeout = r.timed_out or p.timeout
    return InvocationEvent(
        function=p.name,
        at=p.at,
        duration_ms=r.duration_ms,
        billed_ms=r.billed_ms,
        memory_size_mb=r.memory_size_mb,
        memory_used_mb=r.max_memory_used_mb,
        init_ms=r.startup_ms,
        cold_start=r.cold_start,
        error=r.failed or p.error or timeout,
        timeout=timeout,
        account=p.account,
    )
