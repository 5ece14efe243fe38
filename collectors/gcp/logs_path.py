"""Reading Cloud Logging `entries.list` for one project: pages of 1000 raw entries -> parsed events.

Used whole by the `logs` mode, and with a narrow filter (gen2 `Starting new instance` lines, and error
records) by the `metrics` mode. Every call goes through the quota project's limiter and the retry/backoff of
`quota`; a page refused with 429 is asked again with the same page token. A malformed entry is skipped and
counted. With `errors`, error records (`entries.parse_error`, `entries.failed_execution`) come as
`ErrorEntry`s beside the events they are read with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from opsview.collectors.gcp.entries import (
    ERROR_SEVERITIES,
    ErrorEntry,
    GcpEvent,
    InstanceStart,
    Invocation,
    MalformedEntryError,
    failed_execution,
    parse_entry,
    parse_error,
)
from opsview.collectors.gcp.filter import NameRules
from opsview.collectors.gcp.google_apis import LoggingPages
from opsview.collectors.gcp.quota import CallLimiter, with_backoff
from opsview.collectors.gcp.stats import ProjectStats

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
"""entries.list returns at most 1000 entries a call (pageSize, entries.list REST reference)."""


def read_events(
    pages: LoggingPages,
    project: str,
    filter_: str,
    *,
    limiter: CallLimiter,
    stats: ProjectStats,
    regions: frozenset[str],
    rules: NameRules,
    retries: int,
    backoff_s: float,
    sleep: Callable[[float], None],
    errors: bool = False,
) -> Iterator[GcpEvent]:
    stats.filters.append(filter_)
    body: dict[str, Any] = {
        "resourceNames": [f"projects/{project}"],
        "filter": filter_,
        "orderBy": "timestamp asc",
        "pageSize": PAGE_SIZE,
    }
    admitted: dict[tuple[str, bool], bool] = {}  # names repeat on every entry: decide each once
    while True:

        def fetch() -> Any:
            stats.calls += 1  # every attempt counts against the quota, refused ones too
            return pages.page(body)

        def count_retry(_exc: BaseException) -> None:
            stats.retries += 1

        page = with_backoff(fetch, limiter=limiter, retries=retries, base_s=backoff_s, sleep=sleep,
                            on_retry=count_retry)
        for entry in page.get("entries") or ():
            stats.entries += 1
            try:
                event: GcpEvent | None = parse_entry(entry)
                error: ErrorEntry | None = None
                if errors:
                    if event is None:
                        if entry.get("severity") in ERROR_SEVERITIES:  # the common case decided by one lookup
                            event = parse_error(entry)
                    elif type(event) is Invocation and event.error:
                        error = failed_execution(event, entry)
            except MalformedEntryError as exc:
                stats.malformed += 1
                log.debug("gcp project %s: skipped entry: %s", project, exc)
                continue
            if event is None or (regions and event.region not in regions):
                continue
            gen2 = type(event) is InstanceStart or event.generation == "gen2"  # type: ignore[union-attr]
            slot = (event.function, gen2)
            ok = admitted.get(slot)
            if ok is None:
                ok = admitted[slot] = rules.admits(event.function, gen2)
            if ok:
                yield event
                if error is not None:
                    yield error
        token = page.get("nextPageToken")
        if not token:
            return
        body["pageToken"] = token
