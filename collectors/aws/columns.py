"""REPORT lines in Lambda's exact layout, read as columns from a chunk of log text with numpy (pure, no I/O).

The bulk path of `opsview ingest --provider aws` uses this before its regex: one pass of vector operations
over the chunk's bytes instead of one regex match (and seven strings) per REPORT. It only accepts what it
can read exactly as `opsview.collectors.aws.logs.parse_report_text` would; anything else (another separator, an
X-Ray or status suffix, a request id with a space, an unusual number) makes it answer `None`, and the caller
takes its general path. Accepted, each REPORT line is

    ...REPORT RequestId: <id>\\tDuration: <n> ms\\tBilled Duration: <n> ms\\tMemory Size: <int> MB\\t
    Max Memory Used: <int> MB[\\tInit Duration: <n> ms]\\n

with one REPORT per line, numbers `[0-9]+(.[0-9]+)?` of at most 15 digits (so `m / 10**k` is exactly the
float `float("<n>")` gives: both are the correctly rounded value), and an id of printable ASCII but `\\`.
A suffix after the fields (`\\tXRAY TraceId: ...`) is accepted when the parser would ignore it too: the text
has no `Duration` but the fields read, and no `Status`. Numbers past `opsview.untrusted`'s limits (a
15-digit memory size) are refused too: the line parser skips such a record.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from opsview.collectors.aws.logs import REPORT_MARK
from opsview.untrusted import MAX_DURATION_MS, MAX_MEMORY_MB

_MARK: Final = np.frombuffer(REPORT_MARK.encode(), np.uint8)
_P_AT: Final = REPORT_MARK.index("P")  # every marker has a `P` here: the candidates to look at
# What comes before each number (from the tab that ends the id), with the unit of the number before it;
# True: the number may have a decimal part.
_FIELDS: Final = (
    (np.frombuffer(b"\tDuration: ", np.uint8), True),
    (np.frombuffer(b" ms\tBilled Duration: ", np.uint8), True),
    (np.frombuffer(b" ms\tMemory Size: ", np.uint8), False),
    (np.frombuffer(b" MB\tMax Memory Used: ", np.uint8), False),
)
_INIT: Final = np.frombuffer(b" MB\tInit Duration: ", np.uint8)
_END: Final = np.frombuffer(b" MB\n", np.uint8)
_INIT_END: Final = np.frombuffer(b" ms\n", np.uint8)
_MAX_DIGITS: Final = 15
_WIDTH: Final = 64  # bytes looked at from a position: the longest id, or a literal and a number
_PAD: Final = bytes(_WIDTH)
# 10**k at index k + _MAX_DIGITS + 1 (exact), 0 below: digits past a number's end weigh nothing
_POW10: Final = np.array([0.0] * (_MAX_DIGITS + 1) + [float(10**k) for k in range(_MAX_DIGITS + 1)])
_ONE: Final = _MAX_DIGITS + 1

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
_Bytes = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class ReportColumns:
    """A chunk's REPORTs in order, one entry per line; `init_ms` is NaN where the line has none."""

    data: bytes  # the chunk as UTF-8 (and padding), for `request_id`
    lines: int  # newlines in the chunk
    durations_ms: Floats
    billed_ms: Floats
    memory_size_mb: Ints
    max_memory_used_mb: Ints
    init_ms: Floats
    id_start: Ints
    id_end: Ints

    def __len__(self) -> int:
        return len(self.durations_ms)

    def inits(self, stop: int) -> Floats:
        """The init durations among the first `stop` REPORTs (those of cold starts)."""
        init = self.init_ms[:stop]
        found: Floats = init[~np.isnan(init)]
        return found

    def request_id(self, i: int) -> str:
        return self.data[self.id_start[i] : self.id_end[i]].decode("ascii")


def parse_columns(text: str, others: tuple[str, ...] = ()) -> ReportColumns | None:
    """The REPORTs of `text` (whole lines, ending with a newline), or `None` if one is not in the layout or
    the text holds one of the `others` marks (records the caller reads another way; ASCII)."""
    data = text.encode("utf-8")
    size = len(data)
    if not size or data[-1] != 10:
        return None
    data += _PAD
    a = np.frombuffer(data, np.uint8)
    # `windows[i]`: the _WIDTH bytes from i, a view; indexing it with positions copies one row per position
    windows = np.lib.stride_tricks.as_strided(a, (size, _WIDTH), (1, 1), writeable=False)
    text_bytes = a[:size]
    lines = int(np.count_nonzero(text_bytes == 10))
    # one pass finds the key bytes of the REPORT marker and of every other record's mark (see `_keys`)
    keys = _keys(others)
    hit = text_bytes == _MARK[_P_AT]
    for byte in keys.bytes:
        hit |= text_bytes == byte
    candidates = np.flatnonzero(hit)
    found = a[candidates]
    for mark, byte, offset in keys.marks:
        at = candidates[found == byte] - offset
        if (windows[np.maximum(at, 0), : len(mark)] == mark).all(axis=1).any():
            return None  # a record of another kind (a `P` at a text's start cannot be one: no false hit)
    p = candidates[found == _MARK[_P_AT]]
    p = p[p >= _P_AT] - _P_AT
    starts = p[(windows[p, : len(_MARK)] == _MARK).all(axis=1)]
    n = len(starts)
    if not n:
        nothing = np.empty(0, np.int64)
        return ReportColumns(data, lines, *(nothing.astype(np.float64),) * 2, nothing, nothing,
                             nothing.astype(np.float64), nothing, nothing)
    rows = np.arange(n)
    # the id: one space, then printable ASCII but `\` up to the first tab (`[^\s\\]+` as the parser reads it)
    head = windows[starts + len(_MARK)]
    id_len = (head[:, 1:] == 9).argmax(axis=1)
    if not ((head[:, 0] == 32).all() and (head[rows, id_len + 1] == 9).all() and id_len.min() >= 1):
        return None
    width = int(id_len.max())
    ids = head[:, 1 : width + 1]
    printable = ((ids - np.uint8(33)) < 94) & (ids != 92)  # `!`..`~` (uint8: bytes below 33 wrap around)
    if not (printable | (np.arange(width) >= id_len[:, None])).all():
        return None
    id_start = starts + len(_MARK) + 1
    at = id_start + id_len
    columns = []
    for literal, decimal in _FIELDS:
        parsed = _field(windows, at, literal, decimal)
        if parsed is None:
            return None
        values, at = parsed
        columns.append(values)
    init = np.full(n, np.nan)
    has_init = (windows[at, : len(_INIT)] == _INIT).all(axis=1)
    if has_init.any():
        parsed = _field(windows, at[has_init], _INIT, True)
        if parsed is None:
            return None
        init[has_init], at[has_init] = parsed
    # then the line ends, or a suffix follows (X-Ray ids...) that the parser would ignore as well
    end = windows[at, : len(_END)]
    if not ((end[:, :3] == np.where(has_init[:, None], _INIT_END[:3], _END[:3])).all() and
            ((end[:, 3] == 10) | (end[:, 3] == 9)).all()):
        return None
    fields = 2 * n + int(has_init.sum())  # `Duration`s read: every line's own and billed one, and the inits
    if (end[:, 3] == 9).any() and not _suffixes_ignored(text, text_bytes, starts, fields):
        return None
    duration, billed, size_mb, used = columns
    if max(duration.max(), billed.max(), np.nanmax(init, initial=0.0)) > MAX_DURATION_MS or max(
            size_mb.max(), used.max()) > MAX_MEMORY_MB:
        return None
    return ReportColumns(data, lines, duration, billed, size_mb.astype(np.int64), used.astype(np.int64), init,
                         id_start, id_start + id_len)


def _suffixes_ignored(text: str, text_bytes: _Bytes, starts: Ints, durations: int) -> bool:
    """Whether the parser would read REPORTs with a suffix as without (the regex path's rule): no more
    `Duration` fields (the `durations` read are all the text has), no `Status`, no second REPORT on a line."""
    if "Status" in text or text.count("Duration") != durations:
        return False
    newlines = np.flatnonzero(text_bytes == 10)
    line_end = newlines[np.searchsorted(newlines, starts)]
    return bool((starts[1:] > line_end[:-1]).all())


@dataclass(frozen=True, slots=True)
class _Keys:
    bytes: tuple[int, ...]  # the key bytes to look for besides the marker's `P`
    marks: tuple[tuple[_Bytes, int, int], ...]  # (mark, its key byte, where that byte is in it)


# Bytes rarely seen in application output or request ids (not hex digits), tried in this order.
_RARE: Final = b"PkUxqjzZKQJ"


@functools.cache
def _keys(others: tuple[str, ...]) -> _Keys:
    marks = []
    for mark in others:
        encoded = mark.encode("ascii")
        byte = next((b for b in _RARE if b in encoded), encoded[0])
        marks.append((np.frombuffer(encoded, np.uint8), byte, encoded.index(byte)))
    return _Keys(tuple(sorted({byte for _, byte, _ in marks} - {_MARK[_P_AT]})), tuple(marks))


def _field(windows: _Bytes, at: Ints, literal: _Bytes, decimal: bool) -> tuple[Floats, Ints] | None:
    """At each `at`: `literal`, then a number ending at a space. The numbers, and where those spaces are."""
    window = windows[at, : len(literal) + _MAX_DIGITS + 2]
    if not (window[:, : len(literal)] == literal).all():
        return None
    digits = window[:, len(literal) :]
    length = (digits == 32).argmax(axis=1)  # 0 as well when there is no space: refused below
    if length.min() < 1:
        return None
    values = _numbers(digits[:, : int(length.max())], length, decimal)
    return None if values is None else (values, at + len(literal) + length)


def _numbers(window: _Bytes, length: Ints, decimal: bool) -> Floats | None:
    """`float(window[i, :length[i]])` for each row, if every one is `[0-9]+(.[0-9]+)?` (no dot unless `decimal`)."""
    cols = np.arange(window.shape[1])
    outside = cols >= length[:, None]
    digit = window - np.uint8(48)  # uint8: bytes below `0` wrap to large values
    is_digit = digit < 10
    power = length[:, None] - cols  # 1 + the digits after column j: 10**(power - 1) is digit j's weight
    scale: Ints | int = 0
    if decimal:
        is_dot = (window == 46) & ~outside
        dots = is_dot.sum(axis=1)
        if not ((is_digit | is_dot | outside).all() and dots.max() <= 1 and is_digit[:, 0].all()
                and is_digit[np.arange(len(length)), length - 1].all()):
            return None
        if dots.any():
            dot_at = np.where(dots > 0, is_dot.argmax(axis=1), 0)  # no dot: no digit is shifted
            power = power - (cols < dot_at[:, None])
            scale = np.where(dots > 0, length - 1 - dot_at, 0)
        if (length - dots).max() > _MAX_DIGITS:
            return None
    elif not (is_digit | outside).all() or length.max() > _MAX_DIGITS:
        return None
    weight = _POW10[np.maximum(power, 0) + (_ONE - 1)] * is_digit
    # integers below 2**53 and exact powers of ten: the sum is exact, the division correctly rounded
    values: Floats = (digit * weight).sum(axis=1) / _POW10[_ONE + scale]
    return values
