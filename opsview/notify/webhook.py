"""POST the notification as JSON (`id`, `status`, `rule`, `severity`, `alerts: [...]`) to a URL, or as Alertmanager's
webhook payload (`format = "alertmanager"`).

Every request carries the notification's stable id in an `Idempotency-Key` header (the same on every retry, in
this check or a later one; https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/), and
opsview's JSON carries it as `id`: delivery is at-least-once, so a receiver drops a copy by that key.
`user:password@` in the URL is sent as HTTP basic auth.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from opsview import __version__
from opsview.config.alerts import NotifierConfig
from opsview.notify.base import DeliveryError, DeliveryTimeout, split_credentials, timed_out
from opsview.redact import redact_url

IDEMPOTENCY_HEADER = "Idempotency-Key"


class WebhookNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        assert config.url is not None
        self.url, auth = split_credentials(config.url)
        self.shown = redact_url(config.url)
        self.headers = {"Content-Type": "application/json", "User-Agent": f"opsview/{__version__}", **auth,
                        **config.headers}
        self.timeout = config.timeout.total_seconds()
        self.format = config.format

    def send(self, payload: Mapping[str, Any]) -> None:
        key = payload.get("id")
        body = payload
        if self.format == "alertmanager":
            from opsview.notify.alertmanager_shapes import webhook_message

            body = webhook_message(payload)  # Alertmanager's documented shape: the id rides in the header only
        data = json.dumps(body).encode("utf-8")
        headers = {**self.headers, **({IDEMPOTENCY_HEADER: str(key)} if key else {})}
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL from config
                response.read()
        except urllib.error.HTTPError as exc:
            # Only the status: a receiver's error page may echo our headers (tokens) back.
            raise DeliveryError(f"webhook {self.shown}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            if timed_out(exc):
                raise DeliveryTimeout(f"webhook {self.shown}: no answer within {self.timeout:g}s (it may have "
                                      "arrived; the next check sends it again with the same id)") from None
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"webhook {self.shown}: {reason}") from None
        except (http.client.HTTPException, ValueError) as exc:  # a malformed answer; a URL urllib cannot use
            raise DeliveryError(f"webhook {self.shown}: {type(exc).__name__}: {exc}") from None
