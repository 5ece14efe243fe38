"""`opsview ingest --provider aws`: exported Lambda logs -> log events, in constant memory.

Accepted inputs (detected from the first bytes, never from the file name):

- raw log text, one event per line (console copies, `sam logs`, `aws logs tail`, `--log-type Tail`):
  `opsview.collectors.aws.text_reader`;
- JSON Lines: Lambda's JSON log format (`platform.report` ...) or one CloudWatch event per line;
- the JSON document printed by `aws logs filter-log-events` / `get-log-events` (`{"events": [...]}`), a bare
  array of events, or a decoded subscription payload (`{"logGroup": ..., "logEvents": [...]}`). Documents
  are read event by event from a bounded buffer, so a multi-gigabyte export never sits in memory
  (`opsview.collectors.aws.json_reader`).

Records of every format go through one `Correlator` (timeout and error lines joined to their REPORT); error
records also become `ErrorEvent`s (`error_lines`: the rule the collector applies to the same records).
`lines_skipped` counts platform records (and JSON events) that do not parse; application output around
them is read and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TextIO

from opsview.collectors.aws.correlator import Correlator
from opsview.collectors.aws.json_reader import CHUNK, JsonDocument, is_json_object, json_lines
from opsview.collectors.aws.text_reader import read_text
from opsview.ingest import IngestStats, InputFormat
from opsview.logevents import ErrorEvent, LogEvent

# JSON opens an object with a key (or nothing), an array with an object, an array or nothing; text whose first line
# starts with a bracket (`[INFO]` of Python's Lambda logging, a lone `[` or `{` the code printed) is text
_JSON_START = re.compile(r'\s*(?:\{\s*["}]|\[\s*[{[\]])')

FORMAT = InputFormat(
    "no Lambda invocation records found (expected Lambda log lines with REPORT records, Lambda's JSON log format, "
    "or the JSON of `aws logs filter-log-events` / `get-log-events`)",
    re.compile(r'REPORT RequestId:|"platform\.report"|/aws/lambda/|"logStreamName"'),
)


def read(stream: TextIO, source_name: str, function: str | None, stats: IngestStats) -> Iterator[LogEvent]:
    """The `IngestReader` for AWS (see `opsview.ingest`)."""
    fallback = source_name.split(".", 1)[0] or source_name
    stats.errors_read = True
    head = stream.read(CHUNK)
    start = head.lstrip()[:1]
    correlate = Correlator()
    if _JSON_START.match(head):
        first_line = head.split("\n", 1)[0]
        if start == "{" and is_json_object(first_line):
            records = json_lines(head, stream, function, fallback, stats)
        else:
            records = JsonDocument(head, stream, function, fallback, stats).records()
    else:
        yield from read_text(head, stream, function, fallback, stats, correlate)
        yield from correlate.flush()
        return
    for item in records:
        if isinstance(item, ErrorEvent):
            yield item
        else:
            yield from correlate.add(*item)
    yield from correlate.flush()
