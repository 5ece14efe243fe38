"""Any Apprise URL: Slack, Teams, PagerDuty, email, ... (https://github.com/caronc/apprise/wiki)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsview.config.alerts import NotifierConfig
from opsview.notify.base import DeliveryError, body, title


class AppriseNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        import apprise

        self.client = apprise.Apprise()
        for url in [u for u in [config.url, *config.urls] if u]:
            # Checked once, before any retry: a malformed URL will not become valid by trying again.
            if not self.client.add(url):
                # Never echo the URL: Apprise URLs embed tokens and passwords.
                raise DeliveryError(f"apprise: unsupported or malformed URL (scheme {url.split(':', 1)[0]!r})")

    def send(self, payload: Mapping[str, Any]) -> None:
        if not self.client.notify(title=title(payload), body=body(payload)):
            raise DeliveryError("apprise: delivery failed (run with --log-level DEBUG to see the service's answer)")
