"""The test suite's cloud fakes for the benches: loaded by path (benches run without tests/ on sys.path), once
per process under a fixed name, so a bench and the helper it runs share one module and its patches."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_INTEGRATION = Path(__file__).resolve().parents[1] / "tests" / "integration"


def load(name: str, relative: str) -> ModuleType:
    """`tests/integration/<relative>` as module `name` (the one already loaded, if any)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _INTEGRATION / relative)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
