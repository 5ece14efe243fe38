"""The alerts screen's rows as plain data: texts in the measure's unit, and a layout for the terminal's width.

Nothing here imports Textual. At 120 columns a row is one line and shows the value against its threshold
in full; narrower, a row takes two lines so that the function keeps enough room to stay recognisable.
A key too long for its column loses the middle of its account (then its middle), never its end, so
`orders-func/CancelOrder` and `orders-func/ProcessOrder` stay two different rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from opsview.alert_records import AlertRecord, AlertState
from opsview.alerts.display import Measures, record_condition
from opsview.schema import FunctionKey
from opsview.tui.model import age_text

T = TypeVar("T")
ELLIPSIS = "…"
MIN_FUNCTION_WIDTH = 40  # below this a one-line row would cut keys too short to tell apart at a glance
RULE_WIDTH_TWO_LINES = 24
_PADDING = 2  # DataTable's cell padding, one each side
_SCROLLBAR = 2


@dataclass(frozen=True, slots=True)
class AlertRow:
    record: AlertRecord
    severity: str
    state: str
    since: str  # how long it has been in its state
    rule: str
    condition: str

    @property
    def row_key(self) -> str:
        return f"{self.record.rule}|{self.record.key}"


def alert_rows(records: Sequence[AlertRecord], measures: Measures, now: datetime) -> list[AlertRow]:
    rows = []
    for r in records:
        state = r.state.value.upper() if r.state is AlertState.FIRING else r.state.value
        rows.append(AlertRow(
            record=r, severity=r.severity, state=state + (", silenced" if r.silenced else ""),
            since=age_text(now - r.since), rule=r.rule, condition=record_condition(r, measures),
        ))
    return rows


def shorten_middle(text: str, width: int, head: int | None = None) -> str:
    """`text` in `width` cells, its middle replaced by an ellipsis; the end keeps the larger share."""
    if len(text) <= width:
        return text
    if width <= 2:
        return text[-width:] if width > 0 else ""
    keep = width - 1
    first = max(1, keep // 3) if head is None else max(0, min(head, keep - 1))
    return text[:first] + ELLIPSIS + text[len(text) - (keep - first):]


def short_key(key: FunctionKey, width: int) -> str:
    """Provider, region and name kept whole where they fit, the account shortened; else the middle of it all."""
    full = str(key)
    if len(full) <= width:
        return full
    for suffix in (f"/{key.region}/{key.name}", f"/{key.name}"):
        room = width - len(key.provider) - 1 - len(suffix) - 1  # what is left of the account before "…"
        if room >= 4:
            return f"{key.provider}/{key.account[:room]}{ELLIPSIS}{suffix}"
    return shorten_middle(full, width)


def distinct_short_keys(keys: Sequence[FunctionKey], width: int) -> dict[FunctionKey, str]:
    """`short_key` of each; where two would read the same, the ellipsis moves until they differ."""
    return _distinct(keys, width, short_key, str)


def distinct_shortened(texts: Sequence[str], width: int) -> dict[str, str]:
    return _distinct(texts, width, shorten_middle, str)


def _distinct(
    items: Sequence[T], width: int, shorten: Callable[[T, int], str], text: Callable[[T], str]
) -> dict[T, str]:
    out = {item: shorten(item, width) for item in items}
    groups: dict[str, list[T]] = {}
    for item, shown in out.items():
        groups.setdefault(shown, []).append(item)
    for clash in (g for g in groups.values() if len(g) > 1):
        full = [text(item) for item in clash]
        for head in range(1, width - 1):
            shortened = [shorten_middle(t, width, head) for t in full]
            if len(set(shortened)) == len(shortened):
                out.update(zip(clash, shortened, strict=True))
                break
        else:  # no window shows the difference: rather too wide than two rows that read the same
            out.update(zip(clash, full, strict=True))
    return out


@dataclass(frozen=True, slots=True)
class AlertsLayout:
    two_lines: bool
    functions: Mapping[FunctionKey, str]  # the text shown for each key
    rules: Mapping[str, str]

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        if self.two_lines:
            return (("alert", "severity\nstate"), ("rule", "rule\nvalue vs threshold"), ("function", "function\nfor"))
        return (("severity", "severity"), ("state", "state"), ("for", "for"), ("rule", "rule"),
                ("value", "value vs threshold"), ("function", "function"))

    def cells(self, row: AlertRow) -> tuple[str, ...]:
        rule = self.rules[row.rule]
        function = self.functions[row.record.key]
        if self.two_lines:
            return (f"{row.severity}\n{row.state}", f"{rule}\n{row.condition}", f"{function}\n{row.since}")
        return (row.severity, row.state, row.since, rule, row.condition, function)


def _width(texts: Sequence[str], header: str) -> int:
    return max([len(header), *map(len, texts)])


def layout(rows: Sequence[AlertRow], width: int, height: int = 0) -> AlertsLayout:
    """One line per alert when the function column keeps MIN_FUNCTION_WIDTH (or its longest key), else two.

    `height`: lines the table has for rows; room for a scrollbar is kept only when they do not all fit."""
    keys = list(dict.fromkeys(r.record.key for r in rows))
    longest = max((len(str(k)) for k in keys), default=0)
    fixed = sum(
        _width(texts, header) + _PADDING
        for texts, header in (
            ([r.severity for r in rows], "severity"), ([r.state for r in rows], "state"),
            ([r.since for r in rows], "for"), ([r.rule for r in rows], "rule"),
            ([r.condition for r in rows], "value vs threshold"),
        )
    ) + _PADDING + (_SCROLLBAR if len(rows) > height else 0)
    room = width - fixed
    if room >= min(longest, MIN_FUNCTION_WIDTH):
        return AlertsLayout(False, distinct_short_keys(keys, max(room, len("function"))),
                            {r.rule: r.rule for r in rows})
    rule_width = max(_width([r.condition for r in rows], "value vs threshold"), RULE_WIDTH_TWO_LINES)
    rules = distinct_shortened(list(dict.fromkeys(r.rule for r in rows)), rule_width)
    fixed = (
        _width([*(r.severity for r in rows), *(r.state for r in rows)], "severity") + _PADDING
        + _width([*rules.values(), *(r.condition for r in rows)], "value vs threshold") + _PADDING
        + _PADDING + (_SCROLLBAR if 2 * len(rows) > height else 0)
    )
    return AlertsLayout(True, distinct_short_keys(keys, max(width - fixed, len("function"))), rules)
