"""Any Apprise URL: Slack, Teams, PagerDuty, email, ... (https://github.com/caronc/apprise/wiki)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsview.config.alerts import NotifierConfig
from opsview.notify.base import DeliveryError, body, title


class AppriseNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        self.urls = [u for u in [config.url, *config.urls] if u]

    def send(self, payload: Mapping[str, Any]) -> None:
        import apprise

        client = apprise.Apprise()
        for url in self.urls:
            if not client.add(url):
                # Never echo the URL: Apprise URLs embed tokens and passwords.
                raise DeliveryError(f"apprise: unsupported or malformed URL (scheme {url.split(':', 1)[0]!r})")
        ok = client.notify(title=title(payload), body=body(payload))
        if not ok:
            raise DeliveryError("apprise: delivery failed (see the log for the service's answer)")
