"""Core, collectors and `opsview check`'s path must import without the UI frameworks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CORE = ["opsview.schema", "opsview.store", "opsview.config", "opsview.collect", "opsview.fleet", "opsview.collectors",
        "opsview.collectors.demo", "opsview.cli.status_cmd", "opsview.cli.collect_cmd",
        # what runs on a server without a viewer: `opsview check`, `opsview exporter`, `opsview ingest`
        "opsview.alerts", "opsview.notify.registry", "opsview.exporter", "opsview.otlp", "opsview.cli.check_cmd",
        "opsview.cli.exporter_cmd", "opsview.cli.ingest_cmd"]
ROOT = Path(__file__).resolve().parents[3]


def test_core_imports_without_textual_or_dash() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'dash', 'plotly'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_store_opens_and_writes_without_the_alert_engine(tmp_path: Path) -> None:
    """The store stands below alerting: opening one, and writing and reading both faces, loads nothing
    of `opsview.alerts` or `opsview.notify` (the records it keeps live in `opsview.alert_records`)."""
    code = (
        "import json, sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from opsview.alert_records import AlertChanges\n"
        "from opsview.store import AlertStore, SampleStore, open_store\n"
        f"store = open_store({str(tmp_path / 's.db')!r})\n"
        "assert isinstance(store, SampleStore) and isinstance(store, AlertStore)\n"
        "store.apply_alert_changes(AlertChanges())\n"
        "now = datetime.now(UTC)\n"
        "store.maintain(now, timedelta(days=1), timedelta(hours=1)); store.alert_records(); store.fleet(now, now)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('opsview.alerts', 'opsview.notify')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_store_faces_split_the_store_without_overlap() -> None:
    """Every method of the combined `Store` belongs to exactly one face (besides `url` and `close`)."""
    from opsview.store import AlertStore, ErrorEventStore, SampleStore, Store

    def members(proto: type) -> set[str]:
        return {n for n in dir(proto) if not n.startswith("_")} - {"url", "close"}

    samples, alerting, why = members(SampleStore), members(AlertStore), members(ErrorEventStore)
    assert not samples & alerting
    assert not (samples | alerting) & why
    assert samples | alerting | why == members(Store)
    assert {"get_meta", "set_meta", "fleet", "maintain"} <= samples
    assert {"apply_alert_changes", "outbox", "acquire_lock", "silences"} <= alerting
    assert {"write_errors", "top_errors", "fleet_errors", "write_events", "events"} <= why


def test_the_package_installs_one_top_level_name_opsview(monkeypatch: pytest.MonkeyPatch) -> None:
    """`collectors/` and `dashboards/` install as `opsview.collectors` and `opsview.web`, never as top-level
    `collectors`/`dashboards` (a PyPI package named `collectors` exists). The packages a wheel or an editable
    install holds are setuptools' discovery over pyproject.toml, read here as the build reads it (a wheel
    build takes seconds and wants a build environment)."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    monkeypatch.chdir(ROOT)  # discovery runs relative to the project, as a build does
    packages = apply_configuration(Distribution(), ROOT / "pyproject.toml").packages or []
    assert {p.split(".")[0] for p in packages} == {"opsview"}
    # found through the symlinks opsview/collectors and opsview/web, per-cloud subpackages included
    assert {"opsview.collectors", "opsview.collectors.aws", "opsview.collectors.azure", "opsview.collectors.gcp",
            "opsview.web", "opsview.web.pages"} <= set(packages)


def test_collectors_is_not_importable_at_the_top_level_outside_the_checkout(tmp_path: Path) -> None:
    """Outside the checkout (no repository root on sys.path) only the `opsview.` names import."""
    code = (
        "import importlib.util, json\n"
        "print(json.dumps([importlib.util.find_spec(m) is not None for m in ('collectors', 'dashboards')]))\n"
        "import opsview.collectors, opsview.web\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env=env)
    assert json.loads(out.stdout) == [False, False]
