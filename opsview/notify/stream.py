"""One JSON object per notification, on stdout or appended to a file, for pipelines."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opsview.config.alerts import NotifierConfig
from opsview.notify.base import DeliveryError


class StdoutNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        """Nothing to configure: the same signature as every notifier, so the registry builds them alike."""

    def send(self, payload: Mapping[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")
        sys.stdout.flush()


class JsonlNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        assert config.path is not None
        self.path = Path(config.path).expanduser()

    def send(self, payload: Mapping[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(payload, sort_keys=True) + "\n")
        except OSError as exc:
            raise DeliveryError(f"jsonl {self.path}: {exc.strerror}") from None
