"""The fleet header: totals per provider, the view, data freshness with a STALE warning, source badges."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from opsview import formatting as fmt
from opsview.tui.model import FleetSnapshot, FleetTableView, SourceProblem, age_text, is_stale, window_label


class SourceBadge(Static):
    """One failing source; focus it (tab) to read why, or hover for the tooltip."""

    can_focus = True

    def __init__(self, problem: SourceProblem) -> None:
        super().__init__(f"✗ {problem.label}", classes="source-badge", markup=False)
        self.problem = problem
        self.tooltip = problem.error


class FleetHeader(Vertical):
    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id)
        self._texts: dict[Static, str] = {}
        self._totals: FleetSnapshot | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="summary", markup=False)
        yield Static(id="totals", markup=False)
        with Horizontal(id="status-line"):
            yield Static(id="freshness", markup=False)
            yield Horizontal(id="badges")
        yield Static(id="reason", markup=False)

    def show_view(self, view: FleetTableView, shown: int, total: int, coverage: str | None = None) -> None:
        """`coverage`: how much of the window the store collected, when short of it (`6h of data`)."""
        window = f"window {window_label(view.window)}" + (f" · {coverage}" if coverage else "")
        parts = [window, f"{shown}/{total} functions", f"sort {view.sort_label()}"]
        parts.append(f"cloud {view.provider or 'all'}")
        if view.text.strip():
            parts.append(f"filter “{view.text.strip()}”")
        self._update(self.query_one("#summary", Static), " · ".join(parts))

    def show_totals(self, snapshot: FleetSnapshot) -> None:
        self._totals = snapshot
        self._fit_totals()

    def _fit_totals(self) -> None:
        line = self.query_one("#totals", Static)
        if self._totals is not None and line.content_region.width:
            self._update(line, totals_line(self._totals, line.content_region.width))

    def on_resize(self, event: events.Resize) -> None:
        self._fit_totals()

    def show_freshness(self, last: datetime | None, now: datetime, interval: timedelta, read_error: str | None) -> None:
        line = self.query_one("#freshness", Static)
        stale = is_stale(last, now, interval)
        if last is None:
            text = Text("STALE no successful collection yet", end="")
        else:
            when = last.strftime("%H:%M:%S UTC")
            text = Text(f"{'STALE ' if stale else ''}data as of {when} ({age_text(now - last)} ago)", end="")
        if read_error:
            text.append(f"  store read failed: {read_error}")
        line.set_class(stale, "stale")
        line.set_class(read_error is not None, "read-error")
        self._update(line, text, auto_width=True)

    def _update(self, static: Static, content: str | Text, *, auto_width: bool = False) -> None:
        """Static.update, skipping the whole-screen layout pass when the new text keeps the widget's size.

        The header changes on every keystroke and every second, and a layout pass each time cost more
        than redrawing the fleet table. A one-line text keeps its height; an auto-width one also needs
        the same length.
        """
        new = content.plain if isinstance(content, Text) else content
        old = self._texts.get(static)
        same_size = old is not None and "\n" not in new + old and (
            cell_len(new) == cell_len(old) if auto_width
            else max(cell_len(new), cell_len(old)) <= static.content_region.width
        )
        self._texts[static] = new
        static.update(content, layout=not same_size)

    @property
    def is_stale(self) -> bool:
        return self.query_one("#freshness", Static).has_class("stale")

    def show_problems(self, problems: Sequence[SourceProblem]) -> None:
        box = self.query_one("#badges", Horizontal)
        current = list(box.query(SourceBadge))
        if [b.problem.label for b in current] == [p.label for p in problems]:
            for badge, problem in zip(current, problems, strict=True):
                badge.problem = problem
                badge.tooltip = problem.error
            return
        box.remove_children()
        box.mount_all([SourceBadge(p) for p in problems])
        self._show_reason(None)

    @property
    def badge_labels(self) -> list[str]:
        return [b.problem.label for b in self.query(SourceBadge)]

    def _show_reason(self, problem: SourceProblem | None) -> None:
        reason = self.query_one("#reason", Static)
        reason.display = problem is not None
        if problem is not None:
            reason.update(f"{problem.label}: {problem.error} (at {problem.at:%H:%M:%S} UTC)")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, SourceBadge):
            self._show_reason(event.widget.problem)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if isinstance(event.widget, SourceBadge):
            self._show_reason(None)


def totals_line(snapshot: FleetSnapshot, width: int) -> str:
    """Each cloud's functions, calls per minute and error rate in one line of at most `width` cells.

    When the full line does not fit, the function counts go first (the summary line above has the
    total), then the line is cut: it never wraps and pushes the table down.
    """
    full, short = [], []
    for provider in sorted(snapshot.counts):
        m = snapshot.totals.get(provider)
        err = (m.errors / m.invocations) if m and m.errors is not None and m.invocations else None
        rate = snapshot.per_minute.get(provider)  # per collected minute, not per minute of the window
        figures = f"{_rate(rate)}/min err {fmt.percent(err)}"
        full.append(f"{provider} {snapshot.counts[provider]} fn {figures}")
        short.append(f"{provider} {figures}")
    if not full:
        return "no functions in the store yet"
    for parts in (full, short):
        text = " │ ".join(parts)
        if cell_len(text) <= width:
            return text
    return set_cell_size(text, width - 1) + "…"


def _rate(value: float | None) -> str:
    return fmt.count(value) if value is None or value < 1000 else f"{value / 1000:.1f}k"
