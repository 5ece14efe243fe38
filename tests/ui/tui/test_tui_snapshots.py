"""SVG snapshots of the fleet and detail screens at 120x40 and 80x24, on a frozen demo fleet.

The alerts screen's are in test_alerts_screen.py, on the same fleet with the default rule pack evaluated.

Update after an intended change with `pytest tests/ui/tui/test_tui_snapshots.py --snapshot-update`
and look at the report before committing the new SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from opsview.tui.app import OpsviewApp

from .conftest import SIZES

pytestmark = pytest.mark.ui

MakeApp = Callable[..., OpsviewApp]


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        for _ in range(20):
            try:
                await pilot.app.workers.wait_for_complete()
                break
            except WorkerCancelled:  # a read replaced by a newer one
                continue
        await pilot.pause()


def _script(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)

    return run_before


SCREENS = {
    "fleet": (),
    "fleet_filtered": ("slash", *"payments", "enter"),
    # from the last row, sorted by cold starts: the table starts at its top, the cold% column kept at 80x24
    "fleet_sorted": ("end", "s", "s"),
    "detail": ("down", "enter"),
    # payments-webhook 7 minutes after its 12:00 release: the deploy on every chart, the since-deploy line ...
    "detail_deploy": ("slash", *"payments", "enter", "enter"),
    # ... and `e`: its top error signatures, the release's new TypeError marked NEW
    "detail_errors": ("slash", *"payments", "enter", "enter", "e"),
}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_screen_snapshot(snap_compare: Any, make_app: MakeApp, screen: str, size: str) -> None:
    assert snap_compare(make_app(), run_before=_script(*SCREENS[screen]), terminal_size=SIZES[size])
