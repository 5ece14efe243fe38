"""Where each Lambda function's REPORT records land, or why none can be expected (pure: no I/O).

Read from `ListFunctions`' `LoggingConfig` (https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html):

- `LogGroup`: by default `/aws/lambda/<function name>`; a function may log to any other group, and several
  functions may share one. In a custom group Lambda names each log stream
  `YYYY/MM/DD/<function_name>[<function_version>]<execution_environment_GUID>`, "so the mapping between log
  messages and functions is preserved" (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html):
  records of a shared group are attributed by that stream name, never to every function in the group.
- `SystemLogLevel` (JSON log format only): at `WARN` Lambda drops the INFO-level system records, REPORT /
  `platform.report` among them (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
  Such a function's cold starts cannot be counted from its logs: they are unknown, never 0. Its errors are
  unknown too (read, but not called complete): a failed `platform.report` (`Runtime.OutOfMemory`...) is a
  system record like any other, so at WARN some failures may never be logged.
- `ApplicationLogLevel` (JSON log format only): at `FATAL` Lambda drops the function's `ERROR` records, so its
  errors cannot all be seen: unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_PREFIX: Final = "/aws/lambda/"
# "2024/05/01/checkout[$LATEST]0a1b2c..." in a custom group; default groups' streams carry no name
_STREAM_FUNCTION = re.compile(r"^\d{4}/\d{2}/\d{2}/([^\[\]/]+)\[")


@dataclass(frozen=True, slots=True)
class LogSource:
    """One function's REPORT records: the group they go to, or why there are none to read."""

    function: str
    group: str
    custom: bool = False
    """The group is not the function's own `/aws/lambda/<name>`: attribute its records by log stream."""
    no_reports: str | None = None
    """Why REPORT records cannot be expected (cold starts unknown), or `None`."""
    no_errors: str | None = None
    """Why some error records cannot be expected (errors unknown), or `None`."""

    @property
    def readable(self) -> bool:
        return self.no_reports is None


def log_source(function: str, logging_config: Mapping[str, Any] | None) -> LogSource:
    config = logging_config or {}
    default = f"{DEFAULT_PREFIX}{function}"
    group = str(config.get("LogGroup") or default)
    no_reports = no_errors = None
    # log-level filtering applies to the JSON log format only; WARN is its least detailed system level
    log_format, system_level = str(config.get("LogFormat") or "Text"), str(config.get("SystemLogLevel") or "")
    application_level = str(config.get("ApplicationLogLevel") or "")
    if log_format.upper() == "JSON" and system_level.upper() == "WARN":
        no_reports = no_errors = "SystemLogLevel WARN drops REPORT records"
    if log_format.upper() == "JSON" and application_level.upper() == "FATAL":
        no_errors = "ApplicationLogLevel FATAL drops ERROR records"
    return LogSource(function, group, custom=group != default, no_reports=no_reports, no_errors=no_errors)


def function_from_stream(stream: str) -> str | None:
    """The function named by a custom log group's stream (`None` for a default group's streams)."""
    match = _STREAM_FUNCTION.match(stream)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class GroupReaders:
    """Which of our functions write to one log group, and how a record of the group finds its function."""

    group: str
    functions: frozenset[str]
    by_stream: bool
    """Attribute each record by its stream's function name (a custom or shared group)."""
    owner: str | None
    """The function whose default group this is, if it is one of ours."""

    def attribute(self, stream: str | None, named: str | None = None) -> str | None:
        """The function one record (or one Insights row) belongs to, if it is one of ours."""
        if not self.by_stream:
            return self.owner
        name = named or (function_from_stream(stream) if stream else None)
        if name is None:
            return self.owner  # a default stream in a group some custom config points at too
        return name if name in self.functions else None


def group_readers(sources: Iterable[LogSource], *, every: bool = False) -> dict[str, GroupReaders]:
    """Log group -> its readers, for the sources whose REPORT records can be expected (`every`: all sources,
    for the error read: what can be seen of their errors is read, and only called complete where it is)."""
    members: dict[str, set[str]] = {}
    custom: set[str] = set()
    for source in sources:
        if not (source.readable or every):
            continue
        members.setdefault(source.group, set()).add(source.function)
        if source.custom:
            custom.add(source.group)
    out = {}
    for group, names in members.items():
        owner = group[len(DEFAULT_PREFIX):] if group.startswith(DEFAULT_PREFIX) else None
        out[group] = GroupReaders(group, frozenset(names), group in custom,
                                  owner if owner in names else None)
    return out


def filtered_events(logs: Any, readers: Mapping[str, GroupReaders], start_s: int, end_s: int,
                    pattern: str) -> Iterator[tuple[str, int, str]]:
    """(function, epoch ms, message) of every event FilterLogEvents finds for `pattern` in each group over
    [start_s, end_s), one group at a time, named by the group's reader (others' events in a shared group are
    left out). The FilterLogEvents fallback of the cold-start and error reads."""
    paginator = logs.get_paginator("filter_log_events")
    for group, owner in sorted(readers.items()):
        pages = paginator.paginate(logGroupName=group, startTime=start_s * 1000, endTime=end_s * 1000 - 1,
                                   filterPattern=pattern)
        for page in pages:
            for event in page.get("events", []):
                name = owner.attribute(str(event.get("logStreamName") or ""))
                if name is not None:
                    yield name, int(event["timestamp"]), str(event.get("message", ""))
