"""`[export.otlp]`: pushing the store to an OpenTelemetry pipeline (Collector, Mimir, Datadog, Honeycomb, ...)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from opsview.config.base import Duration, Model


class OtlpConfig(Model):
    endpoint: str | None = None
    """OTLP/HTTP base URL, e.g. http://collector:4318 (`/v1/metrics` is added); unset = no push unless
    `opsview exporter --otlp URL` names one."""
    interval: Duration = timedelta(minutes=1)
    """How often to push; each push covers the whole minutes since the previous one."""
    delay: Duration = timedelta(minutes=5)
    """How far behind now each push ends: the newest minutes are still being filled (CloudWatch publishes
    minutes late, Application Insights ingests late), and a count pushed early would stay too low."""
    headers_env: dict[str, str] = Field(default_factory=dict)
    """HTTP header -> environment variable holding its value, e.g. { Authorization = "OTLP_AUTH" }: secrets
    stay out of the file. When empty, the SDK's OTEL_EXPORTER_OTLP_HEADERS applies."""
    timeout: Duration = timedelta(seconds=10)
    """Per-push timeout."""

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f'endpoint must be an http:// or https:// URL (OTLP/HTTP), got "{value}"')
        return value

    @field_validator("interval")
    @classmethod
    def _whole_minutes(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds < 60 or seconds % 60:
            raise ValueError("interval must be whole minutes (the store keeps one-minute buckets)")
        return value

    @field_validator("delay")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("delay must not be negative")
        return value


class ExportConfig(Model):
    otlp: OtlpConfig = Field(default_factory=OtlpConfig)
    """OTLP/HTTP metrics push (`opsview exporter`)."""
