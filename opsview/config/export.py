"""`[export.otlp]`: pushing the store to an OpenTelemetry pipeline (Collector, Mimir, Datadog, Honeycomb, ...)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, field_validator

from opsview.config.base import Duration, Model, within
from opsview.formatting import quoted


class OtlpConfig(Model):
    endpoint: str | None = None
    """OTLP/HTTP base URL, e.g. http://collector:4318 (`/v1/metrics` is added); unset = no push unless
    `opsview exporter --otlp URL` names one."""
    interval: Annotated[Duration, within("1m", "1d")] = timedelta(minutes=1)
    """How often to push, in whole minutes; each push covers the whole minutes since the previous one; 1m to 1d."""
    delay: Annotated[Duration, within("0s", "1d")] = timedelta(minutes=5)
    """How far behind now each push ends: the newest minutes are still being filled (CloudWatch publishes
    minutes late, Application Insights ingests late), and a count pushed early would stay too low; 0s to 1d."""
    headers_env: dict[str, str] = Field(default_factory=dict)
    """HTTP header -> environment variable holding its value, e.g. { Authorization = "OTLP_AUTH" }: secrets
    stay out of the file. When empty, the SDK's OTEL_EXPORTER_OTLP_HEADERS applies."""
    timeout: Annotated[Duration, within("100ms", "10m")] = timedelta(seconds=10)
    """Per-push timeout; 100ms to 10m."""

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http:// or https:// URL (OTLP/HTTP), got {quoted(value)}")
        return value

    @field_validator("interval")
    @classmethod
    def _whole_minutes(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds < 60 or seconds % 60:
            raise ValueError("interval must be whole minutes (the store keeps one-minute buckets)")
        return value



class ExportConfig(Model):
    otlp: OtlpConfig = Field(default_factory=OtlpConfig)
    """OTLP/HTTP metrics push (`opsview exporter`)."""
