"""POST the notification as JSON (`status`, `rule`, `severity`, `alerts: [...]`) to a URL, or as Alertmanager's
webhook payload (`format = "alertmanager"`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from opsview import __version__
from opsview.config.alerts import NotifierConfig
from opsview.notify.base import DeliveryError, safe_url


class WebhookNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        assert config.url is not None
        self.url = config.url
        self.headers = {"Content-Type": "application/json", "User-Agent": f"opsview/{__version__}", **config.headers}
        self.timeout = config.timeout.total_seconds()
        self.format = config.format

    def send(self, payload: Mapping[str, Any]) -> None:
        if self.format == "alertmanager":
            from opsview.notify.alertmanager_shapes import webhook_message

            payload = webhook_message(payload)
        data = json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL from config
                response.read()
        except urllib.error.HTTPError as exc:
            # Only the status: a receiver's error page may echo our headers (tokens) back.
            raise DeliveryError(f"webhook {safe_url(self.url)}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"webhook {safe_url(self.url)}: {reason}") from None

