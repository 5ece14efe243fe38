"""Fixtures shared by every test area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsview.store import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


@pytest.fixture
def realdata() -> Path:
    """../shared/realdata: real provider output. Absent in a user's clone, so tests skip cleanly."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present beside this checkout")
    return REALDATA


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "opsview.db")
    yield store
    store.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests keep screenshots and other things a person may want to look at after CI."""
    path = REPO / "artifacts"
    path.mkdir(exist_ok=True)
    return path
