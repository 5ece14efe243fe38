"""A local Cloud Logging REST server for the GCP collector tests (see fake_logging_api.py)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load_fake() -> ModuleType:
    # --import-mode=importlib puts no test directory on sys.path: load the helper by its path
    name = "opsview_tests_gcp_fake_logging_api"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fake_logging_api.py"))
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fake = _load_fake()


def _load_module(name: str, file: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


traffic = _load_module("opsview_tests_gcp_traffic", "traffic.py")
monitoring_fake = _load_module("opsview_tests_gcp_fake_monitoring_api", "fake_monitoring_api.py")


@pytest.fixture
def logging_api() -> Iterator[Callable[..., Any]]:
    """Factory: `logging_api({"project": [entries...]}, latency_s=0, **options)` -> a started FakeLoggingApi."""
    started: list[Any] = []

    def start(entries: dict[str, list[dict[str, Any]]], latency_s: float = 0.0, **options: Any) -> Any:
        api = fake.FakeLoggingApi(entries, latency_s, **options).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def entry_builders() -> ModuleType:
    return fake


@pytest.fixture
def monitoring_api() -> Iterator[Callable[..., Any]]:
    """Factory: `monitoring_api({"project": [RawSeries...]}, **options)` -> a started FakeMonitoringApi (gRPC)."""
    started: list[Any] = []

    def start(series: dict[str, list[Any]], **options: Any) -> Any:
        api = monitoring_fake.FakeMonitoringApi(series, **options).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def gcp_traffic() -> ModuleType:
    """The synthetic traffic generator and its two views (log entries, raw metric series)."""
    return traffic


@pytest.fixture
def monitoring_builders() -> ModuleType:
    return monitoring_fake
