"""What changed: a function's deploys as markers, and its error rate and p95 since the last deploy against the
same span before it ("since deploy 2h ago: err 4.1% (was 0.3%), p95 410ms (was 230ms)").

Read by `opsview.fleet.function_detail`, so the TUI's detail screen and the web's function page compare the
same spans with the same aggregation (`opsview.schema.aggregate`, the rule every view follows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from opsview import formatting as fmt
from opsview.error_records import EventDetail, EventKind, FunctionEvent
from opsview.schema import FunctionKey, Measures, aggregate, error_rate, floor_time
from opsview.store import ErrorEventStore, FleetFilter, SampleStore


def deploy_label(detail: EventDetail) -> str:
    """A deploy as one short phrase: `version 105 · sha 4f2a9c1e`, `search-indexer-00105-3fa`, `1.1.5`;
    `deploy` when the provider said nothing more."""
    parts = []
    if detail.version:
        parts.append(f"version {detail.version}")
    if detail.revision:
        parts.append(detail.revision)
    if detail.code_sha:
        parts.append(f"sha {detail.code_sha[:8]}")
    return " · ".join(parts) or "deploy"


def deploy_facts(event: FunctionEvent) -> list[tuple[str, str]]:
    """Everything the provider said about a deploy, as (name, value) pairs (the web chart's hover)."""
    d = event.detail
    facts = [("at", f"{event.at:%Y-%m-%d %H:%M:%S} UTC")]
    facts += [(name, value) for name, value in (("version", d.version), ("code sha", d.code_sha),
                                                ("revision", d.revision), ("reason", d.reason)) if value]
    return facts


@dataclass(frozen=True, slots=True)
class DeployComparison:
    """Error rate and p95 over [deploy, end) against the same span just before the deploy.

    The minute the deploy happened in counts on neither side (its bucket mixes old and new code); older data
    rolled up into hours is compared by whole hours starting inside each span.
    """

    deploy: FunctionEvent
    end: datetime
    span: timedelta
    """How long after the deploy is compared (0: the deploy's minute is still the newest)."""
    after: Measures
    before: Measures

    @property
    def ago(self) -> timedelta:
        return self.end - self.deploy.at

    @property
    def error_rate_after(self) -> float | None:
        return error_rate(self.after)

    @property
    def error_rate_before(self) -> float | None:
        return error_rate(self.before)

    @property
    def p95_after(self) -> float | None:
        return self.after.duration_p95_ms

    @property
    def p95_before(self) -> float | None:
        return self.before.duration_p95_ms

    def text(self) -> str:
        """`2h ago: err 4.1% (was 0.3%), p95 410ms (was 230ms) · version 105`; unknown figures are `—`. The
        figures come before what was deployed, so a narrow view cuts the release's name, not the numbers."""
        what = fmt.printable(deploy_label(self.deploy.detail))
        if self.span <= timedelta(0):
            return f"{fmt.ago(self.ago)}: nothing to compare yet · {what}"
        return (f"{fmt.ago(self.ago)}: err {fmt.percent(self.error_rate_after)} "
                f"(was {fmt.percent(self.error_rate_before)}), "
                f"p95 {fmt.millis(self.p95_after)} (was {fmt.millis(self.p95_before)}) · {what}")


def window_deploys(
    store: ErrorEventStore, key: FunctionKey, start: datetime, end: datetime
) -> tuple[FunctionEvent, ...]:
    """The deploys inside [start, end), oldest first: the charts' markers."""
    return tuple(store.events(key, start, end, {EventKind.DEPLOY}))


def since_last_deploy(store: SampleStore, events: ErrorEventStore, key: FunctionKey,
                      end: datetime) -> DeployComparison | None:
    """The comparison for `key`'s latest deploy at or before `end`; None when the store knows no deploy of it."""
    latest = events.last_events(EventKind.DEPLOY, end, FleetFilter(key.provider, key.account, key.region)).get(key)
    if latest is None:
        return None
    floor = floor_time(latest.at, 60)
    after_start = floor if floor == latest.at else floor + timedelta(seconds=60)
    span = max(timedelta(0), end - after_start)
    if span <= timedelta(0):
        return DeployComparison(latest, end, span, Measures(), Measures())
    after = aggregate(store.series(key, after_start, end))
    before = aggregate(store.series(key, floor - span, floor))
    return DeployComparison(latest, end, span, after, before)
