"""Core, collectors and `opsview check`'s path must import without the UI frameworks."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = ["opsview.schema", "opsview.store", "opsview.config", "opsview.collect", "opsview.fleet", "opsview.collectors",
        "opsview.collectors.demo", "opsview.cli.status_cmd", "opsview.cli.collect_cmd"]


def test_core_imports_without_textual_or_dash() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'dash', 'plotly'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
