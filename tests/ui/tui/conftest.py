"""A demo-fleet store frozen at a fixed instant, and an app whose clock reads that instant."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsview.collectors.demo import build_fleet, window_coverage, window_errors, window_samples
from opsview.config import Config
from opsview.error_records import ErrorCoverage
from opsview.schema import CollectorHealth
from opsview.store import SQLiteStore
from opsview.tui.app import OpsviewApp


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests on a fresh event loop (Pilot needs one; no asyncio plugin required)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**kwargs))
    return True


NOW = datetime(2025, 3, 4, 12, 7, 30, tzinfo=UTC)  # just after a throttle burst and an error spike
SIZES = {"wide": (120, 40), "small": (80, 24)}


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def fill_demo_store(store: SQLiteStore, *, now: datetime = NOW, hours: float = 2.0, scale: int = 1,
                    errors: bool = True) -> None:
    """The demo fleet's samples over the last `hours` and one healthy collection; with `errors`, its error
    signatures and deploys too, every function's errors searched over all of it (as the demo collector does)."""
    fleet = build_fleet(42, scale)
    start = now - timedelta(hours=hours)
    store.upsert_functions(f.info for f in fleet)
    store.write_samples(window_samples(42, scale, start, now))
    store.record_coverage(window_coverage(42, scale, start, now))  # as the collector would
    if errors:
        found, deploys = window_errors(42, scale, start, now)
        store.write_errors(found)
        store.write_events(deploys)
        store.record_error_coverage([ErrorCoverage(tuple(f.info.key for f in fleet), start, now)])
    store.record_health([CollectorHealth("demo", "demo", now - timedelta(seconds=20), True, functions=60)])


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session; each test copies it, so tests may write to their copy."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = SQLiteStore(path)
    fill_demo_store(store)
    store.close()
    return path


@pytest.fixture(scope="session")
def metrics_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`demo_db` without error signatures and deploys: the metrics alone, for tests of the metric rules."""
    path = tmp_path_factory.mktemp("metrics") / "metrics.db"
    store = SQLiteStore(path)
    fill_demo_store(store, errors=False)
    store.close()
    return path


@pytest.fixture
def demo_store(demo_db: Path, tmp_path: Path) -> Iterator[SQLiteStore]:
    import shutil

    target = tmp_path / "demo.db"
    shutil.copy(demo_db, target)
    store = SQLiteStore(target)
    yield store
    store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(demo_store: SQLiteStore, clock: FakeClock) -> Callable[..., OpsviewApp]:
    """Read-only by default: tests drive refreshes themselves instead of racing a collector."""

    def make(config: Config | None = None, *, read_only: bool = True, **kwargs: object) -> OpsviewApp:
        return OpsviewApp(demo_store, config or Config(), read_only=read_only, clock=clock, **kwargs)  # type: ignore[arg-type]

    return make
