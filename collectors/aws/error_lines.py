"""Which Lambda log records are errors, and their type and message: one rule for Logs Insights, FilterLogEvents
and `opsview ingest` (pure: no I/O, no SDK).

Error records, as Lambda and its runtimes write them
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html,
https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html,
https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html):

- platform records that failed: `REPORT` / `INIT_REPORT` / `RESTORE_REPORT ... Status: error ... Error Type:
  Runtime.ExitError` (text), `platform.report` / `platform.initReport` / `platform.restoreReport` with
  `"status": "error"` and an `errorType` (JSON log format);
- `Task timed out after 3.00 seconds` and `Runtime exited with error: signal: killed`;
- JSON records (the JSON log format, or a Node `Invoke Error` payload) with `errorType` / `errorMessage`, or
  with `"level": "ERROR"` (also `FATAL`, `CRITICAL`, or Python's `log_level`) and a `message`;
- text `ERROR` lines: Node's `<time>\\t<request id>\\tERROR\\t<message>`, Python's `[ERROR]\\t<time>\\t<request
  id>\\t<message>` and its unhandled exception `[ERROR] KeyError: 'x'` (+ traceback).

How it is shared: each part of a record that decides its type and message is captured by one regular
expression (`PARTS`), written in the Logs Insights `parse` syntax. The Insights query (`errors.query`) parses
the same parts and groups its counts by them, so two records with the same parts are counted in one row,
and `decide` turns a row's parts into (type, message) exactly as it does for a record read here (`scan`):
the query groups, this module names, and both agree by construction. `split_error` (the one signature rule's
module) takes a type out of text that carries one.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NamedTuple

from opsview.logevents import ErrorEvent
from opsview.signatures import split_error

BODY_CHARS: Final = 1024
"""Of a text `ERROR` line, the message read (and grouped on): as much as the signature rule reads."""

# (field, Logs Insights regex). Insights names a group `(?<name>...)`; Python's `(?P<name>...)` is made from it.
PARTS: Final[tuple[tuple[str, str], ...]] = (
    ("rkind", r"(?<rkind>INIT_REPORT|RESTORE_REPORT|REPORT)\b[^\n]*?Status: error"
              r"(?:[^\n]*?Error Type: (?<rtype>[A-Za-z0-9_.:-]+))?"),
    ("pkind", r'"type"\s*:\s*"platform\.(?<pkind>report|initReport|restoreReport)"[\s\S]*?"status"\s*:\s*"error"'),
    ("etext", r"(?<etext>Task timed out after [0-9.]+ seconds|Runtime exited with error: [^\n\\\"]*)"),
    ("jtype", r'"errorType"\s*:\s*"(?<jtype>(?:[^"\\]|\\.){0,200})"'),
    ("jmsg", r'"errorMessage"\s*:\s*"(?<jmsg>(?:[^"\\]|\\.){0,1024})'),
    ("jlevel", r'"(?:level|log_level)"\s*:\s*"(?<jlevel>ERROR|FATAL|CRITICAL)"'),
    ("jtext", r'"message"\s*:\s*"(?<jtext>(?:[^"\\]|\\.){0,1024})'),
    ("ebody", r"(?:\[ERROR\](?:\t[^\t\n]*\t[^\t\n]*\t| )|\tERROR\t)(?<ebody>[^\n]{0,1024})"),
)
FIELDS: Final = ("rkind", "rtype", "pkind", "etext", "jtype", "jmsg", "jlevel", "jtext", "ebody")
"""Every captured part, in `ErrorParts` order: the error query groups by all of them."""
ERROR_FIELDS: Final = ("rkind", "pkind", "etext", "jtype", "jmsg", "jlevel", "ebody")
"""A record is an error when one of these is present (`jtext` and `rtype` only qualify one)."""

# Words every record of `PARTS` holds (a record without any is no error): Insights' first `filter`, and the
# text reader's scan for candidate lines.
MARKERS: Final = (r'ERROR|FATAL|CRITICAL|Task timed out after|Runtime exited with error|Status: error'
                  r'|"status"\s*:\s*"error"|"errorType"|"errorMessage"')
MARKER: Final = re.compile(MARKERS)
_MARKER_WORDS: Final = ("ERROR", "FATAL", "CRITICAL", "Task timed out", "Runtime exited", "tatus", '"error')
"""A literal inside each `MARKERS` alternative's start (`tatus`: `Status: error` and `"status"`; `"error`:
`"errorType"` and `"errorMessage"`): fewer words, fewer scans of the text."""
FILTER_PATTERN: Final = ('?ERROR ?FATAL ?CRITICAL ?"Task timed out after" ?"Runtime exited with error" '
                         '?"Status: error" ?errorType ?errorMessage')
"""FilterLogEvents' pattern for the same records (terms OR-ed: `?term`,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html); a platform.report with
`"status":"error"` holds `errorType`."""

# A part's regex is searched only when its line holds these words (each regex needs them): same result, less work.
_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "rkind": ("REPORT", "Status: error"), "pkind": ("platform.",), "etext": (),
    "jtype": ('"errorType"',), "jmsg": ('"errorMessage"',), "jlevel": ('level"',), "jtext": ('"message"',),
    "ebody": ("ERROR",),
}
_TEXT_RECORD: Final = {"report": "REPORT", "initReport": "INIT_REPORT", "restoreReport": "RESTORE_REPORT"}
_TEXTS: Final = ("Task timed out after", "Runtime exited with error")
_COMPILED: Final = tuple((name, re.compile(regex.replace("(?<", "(?P<"))) for name, regex in PARTS)
# Lambda's request ids are UUID-shaped (the docs print some with letters past f: `8f507cfc-xmpl-...`); runtimes
# write the id before the message, so the first one in a record is its request's.
_REQUEST_ID = re.compile(r"\b([0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12})\b")


class ErrorParts(NamedTuple):
    """The parts of one record that decide its error type and message (None = not in the record)."""

    rkind: str | None = None
    rtype: str | None = None
    pkind: str | None = None
    etext: str | None = None
    jtype: str | None = None
    jmsg: str | None = None
    jlevel: str | None = None
    jtext: str | None = None
    ebody: str | None = None

    @property
    def is_error(self) -> bool:
        return any(getattr(self, name) is not None for name in ERROR_FIELDS)


@dataclass(frozen=True, slots=True)
class LambdaError:
    """One error record: its type and message (for the signature), its request id and the text to keep."""

    error_type: str | None
    message: str
    request_id: str | None
    sample: str


def scan(message: str) -> ErrorParts | None:
    """The parts `PARTS` finds in one record (a log event's message, or a line of exported text); None when
    the record is no error."""
    if MARKER.search(message) is None:
        return None
    found: dict[str, str] = {}
    for name, regex in _COMPILED:
        if not all(word in message for word in _NEEDS[name]):
            continue
        if name == "etext" and not any(text in message for text in _TEXTS):
            continue
        match = regex.search(message)
        if match is not None:
            found.update({k: v for k, v in match.groupdict().items() if v is not None})
    parts = ErrorParts(**found)
    return parts if parts.is_error else None


def decide(parts: ErrorParts) -> tuple[str | None, str] | None:
    """(type, message) of an error record from its parts; None when they are no error. The first that applies:
    a failed platform record, a timeout or runtime exit, a JSON error, a JSON record at level ERROR, an ERROR line.
    """
    if parts.rkind:
        return parts.rtype or None, f"{parts.rkind} Status: error"
    if parts.pkind:  # named as in the text format: one failure has one signature in either format
        return _unescape(parts.jtype) or None, f"{_TEXT_RECORD[parts.pkind]} Status: error"
    if parts.etext:
        return None, parts.etext
    if parts.jtype is not None or parts.jmsg is not None:
        return _unescape(parts.jtype) or None, _unescape(parts.jmsg)
    if parts.jlevel:
        return _split(_unescape(parts.jtext))
    if parts.ebody is not None:
        return _split(parts.ebody.strip())
    return None


@functools.lru_cache(maxsize=4096)
def _split(text: str) -> tuple[str | None, str]:
    return split_error(text)


def _unescape(raw: str | None) -> str:
    """A JSON string's body as captured (escapes and all) -> its text; a body cut short is taken as it is."""
    if not raw:
        return ""
    if "\\" not in raw:
        return raw
    try:
        text = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return text if isinstance(text, str) else raw


def request_id(message: str) -> str | None:
    """The request id a record names (text lines, `RequestId:`, JSON `requestId`), if any."""
    match = _REQUEST_ID.search(message)
    return match.group(1) if match else None


def extract(message: str) -> LambdaError | None:
    """One record's error, if it is one."""
    parts = scan(message)
    if parts is None:
        return None
    decided = decide(parts)
    if decided is None:
        return None
    error_type, text = decided
    return LambdaError(error_type, text, request_id(message), message.strip())


def extract_json(record: Mapping[str, object], raw: str | None = None) -> LambdaError | None:
    """A JSON record already decoded (an ingest line of the JSON log format): the same rule, on its text."""
    return extract(raw if raw is not None else json.dumps(record, separators=(",", ":")))


def error_event(found: LambdaError, function: str, at: datetime | None, account: str | None = None
                ) -> ErrorEvent:
    """An ingest reader's event for one error record."""
    return ErrorEvent(function=function, at=at, error_type=found.error_type, message=found.message,
                      request_id=found.request_id, sample=found.sample, account=account)


def text_errors(text: str) -> Iterator[tuple[str, int, LambdaError]]:
    """(line, marker position, error) of each error line in a chunk of raw log text.

    Every `MARKERS` match begins with one of `_MARKER_WORDS`, so the lines to look at are found with `str.find`
    on those words (each word's next place kept, so the text is scanned once per word): a regex search over the
    whole chunk tried its alternatives at nearly every letter of REPORT/START lines, half the reader's time on a
    log without errors. The line's first `MARKER` match, as before, is its marker.
    """
    next_at = {word: text.find(word) for word in _MARKER_WORDS}
    pos = 0
    while True:
        for word, at in next_at.items():
            if 0 <= at < pos:
                next_at[word] = text.find(word, pos)
        found_at = [at for at in next_at.values() if at >= 0]
        if not found_at:
            return
        first = min(found_at)
        start = text.rfind("\n", 0, first) + 1  # a word may sit inside its alternative: the line is the unit
        end = text.find("\n", first)
        end = len(text) if end < 0 else end
        line = text[start:end]
        pos = end + 1
        marker = MARKER.search(line)
        if marker is None:  # a word that is not an error's (`"status": "ok"`, `"error": null`)
            continue
        error = extract(line)
        if error is not None:
            yield line, marker.start(), error
