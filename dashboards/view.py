"""What the user is looking at (time range, filters, refresh), and how it travels in the URL.

Every page reads the same `PageQuery`, so a link copied from any page reproduces the view.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from opsview.store import FleetFilter

RANGES: Final[dict[str, timedelta]] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
CUSTOM: Final = "custom"
REFRESH: Final[dict[str, int | None]] = {"off": None, "30s": 30, "1m": 60, "5m": 300}
DEFAULT_RANGE: Final = "1h"
DEFAULT_REFRESH: Final = "off"

# Points per trace sent to the browser: enough for a 1 px line on a wide screen, bounded for 7 days.
MAX_POINTS: Final = 300
_NICE_STEPS_S: Final = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The time range, the provider/account/region filter and the refresh: what every page's URL query holds."""

    range: str = DEFAULT_RANGE
    start: datetime | None = None  # only for range == "custom"
    end: datetime | None = None
    provider: str | None = None
    account: str | None = None
    region: str | None = None
    refresh: str = DEFAULT_REFRESH

    @property
    def filter(self) -> FleetFilter:
        return FleetFilter(self.provider, self.account, self.region)

    @property
    def refresh_s(self) -> int | None:
        return REFRESH.get(self.refresh)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """[start, end) of the view; relative ranges end at `now`."""
        if self.range == CUSTOM and self.start is not None and self.end is not None:
            return self.start, self.end
        span = RANGES.get(self.range, RANGES[DEFAULT_RANGE])
        return now - span, now

    def previous_window(self, now: datetime) -> tuple[datetime, datetime]:
        """The window of the same length just before, for "change vs previous"."""
        start, end = self.window(now)
        return start - (end - start), start

    def to_query(self) -> str:
        """The URL query (without `?`); defaults are left out so links stay short."""
        params: dict[str, str] = {}
        if self.range != DEFAULT_RANGE:
            params["range"] = self.range
        if self.range == CUSTOM:
            if self.start is not None:
                params["from"] = _iso(self.start)
            if self.end is not None:
                params["to"] = _iso(self.end)
        for name in ("provider", "account", "region"):
            value = getattr(self, name)
            if value:
                params[name] = value
        if self.refresh != DEFAULT_REFRESH:
            params["refresh"] = self.refresh
        return urlencode(params)

    def to_data(self) -> dict[str, Any]:
        """JSON-safe form for a dcc.Store."""
        data = asdict(self)
        data["start"] = _iso(self.start) if self.start else None
        data["end"] = _iso(self.end) if self.end else None
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PageQuery:
        return cls(
            range=data["range"], start=parse_time(data.get("start")), end=parse_time(data.get("end")),
            provider=data.get("provider"), account=data.get("account"), region=data.get("region"),
            refresh=data.get("refresh", DEFAULT_REFRESH),
        )


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    view: PageQuery
    problems: tuple[str, ...] = ()  # shown to the user as one line each; the view falls back to defaults


def page_query_from_values(
    range_: str | None, start: str | None, end: str | None, provider: str | None, account: str | None,
    region: str | None, refresh: str | None,
) -> ParsedQuery:
    """Validate control values (from the URL or the controls); bad ones fall back with a message."""
    problems: list[str] = []
    rng = range_ or DEFAULT_RANGE
    if rng not in RANGES and rng != CUSTOM:
        problems.append(f'range "{rng}" is not one of {", ".join([*RANGES, CUSTOM])}; showing {DEFAULT_RANGE}')
        rng = DEFAULT_RANGE
    start_ts = end_ts = None
    if rng == CUSTOM:
        try:
            start_ts, end_ts = parse_time(start), parse_time(end)
        except ValueError as exc:
            problems.append(str(exc))
        if start_ts is None or end_ts is None:
            problems.append("custom range needs both from and to (e.g. 2024-05-01T12:00Z)")
            rng, start_ts, end_ts = DEFAULT_RANGE, None, None
        elif end_ts <= start_ts:
            problems.append("custom range: to must be after from")
            rng, start_ts, end_ts = DEFAULT_RANGE, None, None
    ref = refresh or DEFAULT_REFRESH
    if ref not in REFRESH:
        problems.append(f'refresh "{ref}" is not one of {", ".join(REFRESH)}; refresh is off')
        ref = DEFAULT_REFRESH
    view = PageQuery(rng, start_ts, end_ts, provider or None, account or None, region or None, ref)
    return ParsedQuery(view, tuple(problems))


def parse_page_query(search: str | None) -> ParsedQuery:
    query = parse_qs((search or "").removeprefix("?"))

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    return page_query_from_values(one("range"), one("from"), one("to"), one("provider"), one("account"), one("region"),
                            one("refresh"))


def parse_time(text: str | None) -> datetime | None:
    """ISO 8601; without a zone it is UTC (the dashboard shows UTC)."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f'"{raw}" is not a time (expected ISO 8601 like 2024-05-01T12:00Z)') from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def choose_step(start: datetime, end: datetime, max_points: int = MAX_POINTS) -> int:
    """The smallest round bucket size giving at most `max_points` points over [start, end)."""
    span = max(60.0, (end - start).total_seconds())
    for step in _NICE_STEPS_S:
        if span / step <= max_points:
            return step
    return int(math.ceil(span / max_points / 86400) * 86400)
