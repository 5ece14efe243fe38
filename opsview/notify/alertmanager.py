"""Prometheus Alertmanager as a notifier (`type = "alertmanager"`): the notification's alerts POSTed to every
replica's API at once. Their shape (labels, annotations whose text the rule's templates rendered as for every
other notifier, startsAt/endsAt) is built in `alertmanager_shapes`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from opsview import __version__
from opsview.config.alerts import NotifierConfig
from opsview.notify.alertmanager_shapes import API_PATH, alerts_of
from opsview.notify.base import DeliveryError, PartialDelivery, safe_url
from opsview.schema import utcnow


def api_url(base: str) -> str:
    """`http://am:9093` (or with a route prefix, or already the API path) -> its `/api/v2/alerts`."""
    base = base.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


class AlertmanagerNotifier:
    """POSTs the notification's alerts to every replica at once; delivered when one accepts them."""

    def __init__(self, config: NotifierConfig, clock: Callable[[], datetime] = utcnow) -> None:
        self.endpoints = [api_url(u) for u in [config.url, *config.urls] if u]
        self.headers = {"Content-Type": "application/json", "User-Agent": f"opsview/{__version__}", **config.headers}
        self.timeout = config.timeout.total_seconds()
        self.valid_for = config.valid_for
        self.clock = clock

    def send(self, payload: Mapping[str, Any]) -> None:
        now = self.clock()
        # A firing state whose validity passed while it waited in the outbox (Alertmanager was unreachable) is
        # stale: sending it would resolve the alert at a past endsAt. The newer notifications behind it carry
        # the current state; resolves always go.
        alerts = [a for a in alerts_of(payload, self.valid_for)
                  if a.status == "resolved" or (a.ends_at is not None and a.ends_at > now)]
        if not alerts:
            return
        data = json.dumps([a.api_json() for a in alerts]).encode("utf-8")
        if len(self.endpoints) == 1:
            errors = [self._post(self.endpoints[0], data)]
        else:
            with ThreadPoolExecutor(max_workers=len(self.endpoints), thread_name_prefix="opsview-am") as pool:
                errors = list(pool.map(lambda url: self._post(url, data), self.endpoints))
        failed = [e for e in errors if e is not None]
        if len(failed) == len(self.endpoints):
            raise DeliveryError("; ".join(failed))
        if failed:
            accepted = len(self.endpoints) - len(failed)
            raise PartialDelivery(f"{'; '.join(failed)} ({accepted} of {len(self.endpoints)} replicas accepted)")

    def _post(self, url: str, data: bytes) -> str | None:
        """None when accepted, else the one-line reason."""
        request = urllib.request.Request(url, data=data, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL from config
                response.read()
        except urllib.error.HTTPError as exc:
            return f"alertmanager {safe_url(url)}: HTTP {exc.code}{_reason(exc)}"
        except (urllib.error.URLError, OSError) as exc:
            return f"alertmanager {safe_url(url)}: {getattr(exc, 'reason', exc)}"
        return None


def _reason(exc: urllib.error.HTTPError) -> str:
    """Alertmanager's own explanation of a rejected request (a JSON string, or `{"message": ...}`), if it gave one."""
    if exc.code != 400:
        return ""
    try:
        body = json.loads(exc.read(2000))
    except (ValueError, OSError):
        return ""
    message = body if isinstance(body, str) else body.get("message", "") if isinstance(body, dict) else ""
    return f" ({' '.join(str(message).split())[:200]})" if message else ""
