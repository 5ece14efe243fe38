"""The two Google APIs the GCP collector reads, behind public client interfaces only.

Cloud Logging `entries.list` (https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list) is sent
as documented REST through google-auth's `AuthorizedSession` (a public `requests.Session` that adds and refreshes
the credentials' token), and each page is read as the raw JSON the reference describes. Neither public client
of google-cloud-logging fits a reader of 1000-entry pages:
- `Client.list_entries(...)` returns a generator of SDK `LogEntry` objects: every entry is converted (~3x the
  parse cost, bench/gcp.py), `receiveTimestamp` is dropped, an entry without `logName` raises KeyError and ends
  the listing, and the page token of a page that failed is not exposed;
- `LoggingServiceV2Client.list_log_entries` has a gRPC transport only (3.17), and its protobuf entries would
  need converting back to the JSON shape `entries.py` reads.
So opsview no longer reaches into the logging client's private HTTP connection, and keeps raw-page speed.

Cloud Monitoring `projects.timeSeries.list` goes through google-cloud-monitoring's `MetricServiceClient`: its
gRPC transport against Google, or a plain insecure channel to a local `http://` endpoint (tests, bench).
The library ships no REST transport (2.32: grpc, grpc_asyncio).

Both name the quota project on every call when the source configures one (`x-goog-user-project`,
https://cloud.google.com/docs/quotas/set-quota-project); otherwise Google charges the credentials' project.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOGGING_ENDPOINT = "https://logging.googleapis.com"
USER_AGENT = "opsview-gcp-collector"
_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Identity:
    """Who calls, and which project Google charges the calls' quota to."""

    credentials: Any
    """google-auth credentials (AnonymousCredentials for a local `http://` endpoint)."""
    quota_project: str
    """The project whose quota the calls use; "" = unknown (the credentials' own project, whatever it is)."""
    explicit: bool
    """True when the quota project is named on every request (`quota_project` in the config)."""

    @property
    def quota_label(self) -> str:
        return self.quota_project or "the credentials' project"


def resolve_identity(credentials: Any, quota_project: str | None, local: bool) -> Identity:
    """The caller and its quota project: configured, else the credentials' own, else google-auth's default."""
    if credentials is None:
        if local:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]  # real tokens never travel unencrypted
            return Identity(credentials, quota_project or "", bool(quota_project))
        import google.auth

        credentials, default_project = google.auth.default()
    else:
        default_project = None
    if quota_project:
        return Identity(credentials, quota_project, True)
    own = getattr(credentials, "quota_project_id", None) or getattr(credentials, "project_id", None)
    return Identity(credentials, str(own or default_project or ""), False)


class LoggingPages:
    """`entries.list` one page at a time; raises google.api_core exceptions (`.code` = HTTP status)."""

    def __init__(self, identity: Identity, endpoint: str | None) -> None:
        from google.auth.transport.requests import AuthorizedSession

        credentials = identity.credentials
        if identity.explicit and hasattr(credentials, "with_quota_project"):
            credentials = credentials.with_quota_project(identity.quota_project)
        self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        self._session.headers["User-Agent"] = USER_AGENT
        if identity.explicit:
            self._session.headers["x-goog-user-project"] = identity.quota_project
        self._url = (endpoint or LOGGING_ENDPOINT).rstrip("/") + "/v2/entries:list"
        self._lock = threading.Lock()  # one session per project; requests.Session is not documented thread-safe

    def page(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        from google.api_core.exceptions import from_http_response

        with self._lock:
            response = self._session.post(self._url, json=body, timeout=_TIMEOUT_S)
        if response.status_code >= 400:
            raise from_http_response(response)  # type: ignore[no-untyped-call]
        page = response.json()
        return page if isinstance(page, Mapping) else {}

    def close(self) -> None:
        self._session.close()  # type: ignore[no-untyped-call]


class MonitoringPages:
    """`projects.timeSeries.list` one page at a time, as raw protobuf `ListTimeSeriesResponse`s."""

    def __init__(self, identity: Identity, endpoint: str | None) -> None:
        from google.cloud import monitoring_v3

        self._metadata: tuple[tuple[str, str], ...] = (
            (("x-goog-user-project", identity.quota_project),) if identity.explicit else ()
        )
        if endpoint and endpoint.startswith("http://"):
            import grpc
            from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport

            channel = grpc.insecure_channel(endpoint.removeprefix("http://").rstrip("/"))
            self._client = monitoring_v3.MetricServiceClient(transport=MetricServiceGrpcTransport(channel=channel))
        else:
            self._client = monitoring_v3.MetricServiceClient(
                credentials=identity.credentials,
                client_options={"api_endpoint": endpoint} if endpoint else None,
            )

    def page(self, request: Any) -> Any:
        """One call: `request` is a `monitoring_v3.ListTimeSeriesRequest`; returns the raw protobuf response."""
        from google.cloud import monitoring_v3

        # retry=None: a refused call comes back to our limiter and backoff, which count every attempt
        pager = self._client.list_time_series(request=request, retry=None, timeout=_TIMEOUT_S,
                                              metadata=self._metadata)
        response = next(iter(pager.pages))  # the first page is the response already received: no second call
        return monitoring_v3.ListTimeSeriesResponse.pb(response)
