"""Prometheus Alertmanager as a notifier (`type = "alertmanager"`): the notification's alerts POSTed to every
replica's API at once. Their shape (labels, annotations whose text the rule's templates rendered as for every
other notifier, startsAt/endsAt) is built in `alertmanager_shapes`.
"""

from __future__ import annotations

import http.client
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
from opsview.notify.base import DeliveryError, DeliveryTimeout, PartialDelivery, split_credentials, timed_out
from opsview.redact import redact_url
from opsview.schema import utcnow


def api_url(base: str) -> str:
    """`http://am:9093` (or with a route prefix, or already the API path) -> its `/api/v2/alerts`."""
    base = base.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


class AlertmanagerNotifier:
    """POSTs the notification's alerts to every replica at once; delivered when one accepts them."""

    def __init__(self, config: NotifierConfig, clock: Callable[[], datetime] = utcnow) -> None:
        configured = [api_url(u) for u in [config.url, *config.urls] if u]
        split = [split_credentials(u) for u in configured]
        self.endpoints = [url for url, _ in split]  # without `user:password@`, which goes as basic auth
        self._auth = dict(split)
        self._shown = {url: redact_url(u) for (url, _), u in zip(split, configured, strict=True)}
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
            results = [self._post(self.endpoints[0], data)]
        else:
            with ThreadPoolExecutor(max_workers=len(self.endpoints), thread_name_prefix="opsview-am") as pool:
                results = list(pool.map(lambda url: self._post(url, data), self.endpoints))
        failed = [r for r in results if r is not None]
        if len(failed) == len(self.endpoints):
            message = "; ".join(reason for reason, _ in failed)
            # One replica that may have taken it is enough: not again within this check.
            raise (DeliveryTimeout if any(late for _, late in failed) else DeliveryError)(message)
        if failed:
            accepted = len(self.endpoints) - len(failed)
            raise PartialDelivery(f"{'; '.join(reason for reason, _ in failed)} "
                                  f"({accepted} of {len(self.endpoints)} replicas accepted)")

    def _post(self, url: str, data: bytes) -> tuple[str, bool] | None:
        """None when accepted, else the one-line reason and whether the replica timed out."""
        shown = self._shown[url]
        request = urllib.request.Request(url, data=data, headers={**self._auth[url], **self.headers}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL from config
                response.read()
        except urllib.error.HTTPError as exc:
            return f"alertmanager {shown}: HTTP {exc.code}{_reason(exc)}", False
        except (urllib.error.URLError, OSError) as exc:
            if timed_out(exc):
                return f"alertmanager {shown}: no answer within {self.timeout:g}s", True
            return f"alertmanager {shown}: {getattr(exc, 'reason', exc)}", False
        except (http.client.HTTPException, ValueError) as exc:
            return f"alertmanager {shown}: {type(exc).__name__}: {exc}", False
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
