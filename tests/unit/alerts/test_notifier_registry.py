"""Every notifier `type` a config may name is built by the registry, into the notifier of that type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest

from opsview.config.alerts import NotifierConfig
from opsview.notify.registry import NOTIFIERS, build_notifier

PAYLOAD = {"status": "firing", "rule": "errors-high", "severity": "critical", "alerts": []}


def _config(kind: str, tmp_path: Path) -> NotifierConfig:
    return NotifierConfig.model_validate({
        "type": kind,
        "url": "https://hooks.example.invalid/x" if kind in ("webhook", "alertmanager") else "json://localhost/x",
        "path": str(tmp_path / "out.jsonl"),
    })


def test_each_type_the_config_accepts_has_exactly_one_notifier() -> None:
    # before the registry, a type without a branch in the factory quietly became a stdout notifier
    accepted = set(get_args(NotifierConfig.model_fields["type"].annotation))
    assert set(NOTIFIERS) == accepted


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
def test_the_registry_builds_the_notifier_of_that_type(kind: str, tmp_path: Path) -> None:
    notifier = build_notifier(_config(kind, tmp_path))
    assert type(notifier) is NOTIFIERS[kind]


def test_jsonl_and_stdout_write_the_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_notifier(_config("jsonl", tmp_path)).send(PAYLOAD)
    build_notifier(_config("stdout", tmp_path)).send(PAYLOAD)
    assert json.loads((tmp_path / "out.jsonl").read_text()) == PAYLOAD
    assert json.loads(capsys.readouterr().out) == PAYLOAD
