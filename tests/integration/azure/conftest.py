"""Fixtures for the Azure integration tests: the fake Azure Monitor service (azure_fake_service)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from azure_fake_service import FakeAzure, start_fake_azure  # noqa: E402


@pytest.fixture
def fake_azure() -> Iterator[FakeAzure]:
    state = FakeAzure()
    server, thread = start_fake_azure(state)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
