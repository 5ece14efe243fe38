"""REPORT chunks of raw Lambda log text summed at once into `InvocationBatch`es (AWS ingest's bulk path).

A chunk of only REPORT records is read as numpy columns (`opsview.collectors.aws.columns`) or as the rows of
one regex `findall`, and summed without a Python step per line; REPORTs that need the general parser
(restore, status, a timeout/error line seen earlier) are read one by one and replace their row. Every number
is read before any state changes: a chunk with one the guards refuse (`opsview.untrusted`) is left to the
line-by-line path, which skips and counts exactly that record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opsview.collectors.aws.correlator import Correlator
from opsview.collectors.aws.logs import INIT_REPORT_MARK, REPORT_MARK, TIMEOUT_MARK, Report, parse_report_text
from opsview.logevents import InvocationBatch, LogEvent
from opsview.untrusted import MAX_DURATION_MS, MAX_MEMORY_MB, BadValue, decimal, whole

if TYPE_CHECKING:  # numpy is imported only when a large input takes the columns path (`text_reader.use_columns`)
    from opsview.collectors.aws.columns import ReportColumns

# Records the bulk path cannot take: they correlate with REPORTs or are not REPORTs at all.
OTHER_MARKS = (INIT_REPORT_MARK, TIMEOUT_MARK, "Invoke Error", "Unhandled exception", "platform.")
# A REPORT line in the layout Lambda writes, with an optional `Init Duration`; `tail` is what follows
# (empty, an X-Ray suffix, or fields for the general parser). `findall` over a chunk skips the application
# output between REPORTs inside the regex engine. Every marker gives a row: one in another layout gives a
# row of empty strings, and the chunk is then read line by line.
# Possessive repeats (`++`): no field can give characters back to the next one, so the engine keeps no
# backtracking state (~15% faster than plain `+`, same matches).
REPORT_LINE = re.compile(
    REPORT_MARK + r"(?: ?([^\s\\]++)\s++Duration: ([0-9.]++) ms\s++Billed Duration: ([0-9.]++) ms\s++"
    r"Memory Size: ([0-9]++) MB\s++Max Memory Used: ([0-9]++) MB(?:\s++Init Duration: ([0-9.]++) ms)?([^\n]*+)\n)?"
)


def _needs_parser(tail: str) -> bool:
    return "Duration" in tail or "Status" in tail  # restore, status, repeated fields: the general parser


def bulk_reports(rows: list[tuple[str, ...]], name: str, correlate: Correlator, hold: int
                  ) -> list[LogEvent] | None:
    """A clean chunk's REPORTs, summed at once.

    `None` when some REPORT is not in the usual layout (the caller then reads the chunk line by line). The
    last `hold` REPORTs go through the correlator, so a `Task timed out` line in the next chunk still marks
    them, exactly as on the line-by-line path.
    """
    count = len(rows) - hold
    rids, durations, billed, sizes, used, inits, tails = zip(*rows, strict=True)
    if "" in durations:
        return None  # a REPORT in another layout

    def report(i: int) -> Report:
        rid, duration, bill, size, mem, init, tail = rows[i]
        if _needs_parser(tail):
            init_field = f"\tInit Duration: {init} ms" if init else ""
            return parse_report_text(f"{REPORT_MARK} {rid}\tDuration: {duration} ms\tBilled Duration: {bill} ms\t"
                                     f"Memory Size: {size} MB\tMax Memory Used: {mem} MB{init_field}{tail}")
        return Report(rid, decimal(duration, "Duration"), decimal(bill, "Billed Duration"), whole(size, "Memory Size"),
                      whole(mem, "Max Memory Used"), init_ms=decimal(init, "Init Duration") if init else None)

    special = []
    if any(map(_needs_parser, set(tails[:count]))):
        special = [i for i, tail in enumerate(tails[:count]) if tail and _needs_parser(tail)]
    try:  # every number is read before any state changes, so a bad one leaves the chunk to the slow path
        columns = _Columns(durations, billed, sizes, used, inits, count)
        reports = {i: report(i) for i in special}
        held = [report(i) for i in range(count, len(rows))]
        last = reports[count - 1].memory_size_mb if count - 1 in reports else int(sizes[count - 1])
    except ValueError:
        return None
    events: list[LogEvent] = list(correlate.flush())  # nothing in this chunk can mark them any more
    flags = correlate.take_early(name, rids[:count]) if correlate.early else {}
    for i in flags.keys() - reports.keys():
        reports[i] = report(i)
    for i in special:
        flags.setdefault(i, (False, False))
    events.append(columns.batch(name, {i: (reports[i], *flags[i]) for i in sorted(reports)}, last))
    for record in held:
        events.extend(correlate.add(name, None, record, None))
    return events


def bulk_columns(columns: ReportColumns, name: str, correlate: Correlator, hold: int) -> list[LogEvent]:
    """`bulk_reports` for a chunk whose REPORTs are all in the exact layout (no status or restore; a suffix
    only if the parser ignores it too)."""
    count = len(columns) - hold
    inits = columns.inits(count)

    def report(i: int) -> Report:
        init_ms = float(columns.init_ms[i])
        return Report(columns.request_id(i), float(columns.durations_ms[i]), float(columns.billed_ms[i]),
                      int(columns.memory_size_mb[i]), int(columns.max_memory_used_mb[i]),
                      init_ms=None if math.isnan(init_ms) else init_ms)

    held = [report(i) for i in range(count, len(columns))]
    events: list[LogEvent] = list(correlate.flush())  # nothing in this chunk can mark them any more
    errors = timeouts = 0
    if correlate.early:
        # these REPORTs carry no status, so an earlier line's flags are all that can mark them
        flags = correlate.take_early(name, [columns.request_id(i) for i in range(count)])
        for timed_out, failed in flags.values():
            timeouts += timed_out
            errors += failed or timed_out
    events.append(InvocationBatch(
        function=name, invocations=count, durations_ms=columns.durations_ms[:count], errors=errors, timeouts=timeouts,
        cold_starts=len(inits), init_ms=inits, billed_ms=math.fsum(columns.billed_ms[:count].tolist()),
        memory_size_mb=int(columns.memory_size_mb[count - 1]),
        memory_used_max_mb=int(columns.max_memory_used_mb[:count].max()),
    ))
    for record in held:
        events.extend(correlate.add(name, None, record, None))
    return events


class _Columns:
    """The numbers of a chunk's first `count` REPORTs, converted in C (`map`), not one by one."""

    def __init__(self, durations: Sequence[str], billed: Sequence[str], sizes: Sequence[str], used: Sequence[str],
                 inits: Sequence[str], count: int) -> None:
        """Raises `ValueError` for a number the line parser would refuse (`opsview.untrusted`'s limits)."""
        self.durations = list(map(float, durations[:count]))
        self.billed_column = billed[:count]
        bills = list(map(float, self.billed_column))
        self.billed = math.fsum(bills)
        self.used = list(map(int, set(used[:count])))
        self.used_column = used[:count]
        self.inits = list(map(float, filter(None, inits[:count])))
        self.init_column = inits[:count]
        # the digits-and-dots of the regex are never negative or NaN; 400 of them are inf
        if max(self.durations + bills + self.inits, default=0.0) > MAX_DURATION_MS or max(
                map(int, {*sizes[:count], *used[:count]}), default=0) > MAX_MEMORY_MB:
            raise BadValue("a number past its limit: left to the line-by-line path, which skips that record")

    def batch(self, name: str, special: dict[int, tuple[Report, bool, bool]], memory_size_mb: int | None
              ) -> InvocationBatch:
        """`special`: REPORTs read one by one (restore, status, or marked by an earlier timeout/error line),
        with their (timeout, error) flags; they replace their row in the columns."""
        durations, billed_sum, used, inits = self.durations, self.billed, self.used, self.inits
        if special:
            keep = [i for i in range(len(durations)) if i not in special]
            durations = [durations[i] for i in keep]
            billed_sum = math.fsum(float(self.billed_column[i]) for i in keep)
            # the max may come from a special row: it is added back below from its report
            used = list(map(int, {self.used_column[i] for i in keep}))
            inits = [float(self.init_column[i]) for i in keep if self.init_column[i]]
        cold = len(inits)
        errors = timeouts = 0
        has_billed = len(self.durations) > len(special)
        used_max = max(used, default=None)
        for report, timed_out, failed in special.values():
            if report.duration_ms is not None:
                durations.append(report.duration_ms)
            timeout = report.timed_out or timed_out
            timeouts += timeout
            errors += report.failed or failed or timeout
            if report.cold_start:
                cold += 1
                if report.startup_ms is not None:
                    inits.append(report.startup_ms)
            if report.billed_ms is not None:
                billed_sum += report.billed_ms
                has_billed = True
            if report.max_memory_used_mb is not None:
                used_max = max(used_max or 0, report.max_memory_used_mb)
        return InvocationBatch(
            function=name, invocations=len(self.durations), durations_ms=durations, errors=errors,
            timeouts=timeouts, cold_starts=cold, init_ms=inits, billed_ms=billed_sum if has_billed else None,
            memory_size_mb=memory_size_mb, memory_used_max_mb=used_max,
        )

