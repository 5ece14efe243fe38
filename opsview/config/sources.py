"""`[[sources.*]]`: what to collect from. One model per provider."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from opsview.config.base import Duration, Model, within


def _listify(value: object) -> object:
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_listify)]


class SourceBase(Model):
    name: str | None = None
    """Unique name of this source, shown in health badges; defaults to the provider (plus an index)."""
    enabled: bool = True
    """Set false to keep a source in the file without collecting from it."""
    include: StrList = Field(default_factory=lambda: ["*"])
    """Function name globs to collect (fnmatch, case-sensitive)."""
    exclude: StrList = Field(default_factory=list)
    """Function name globs to skip, applied after `include`."""


class DemoSource(SourceBase):
    type: Literal["demo"] = "demo"
    seed: int = Field(default=42, ge=0, le=2**63 - 1)
    """Seed of the generated fleet: the same seed gives the same fleet and numbers; 0 to 2^63-1."""
    scale: int = Field(default=1, ge=1, le=1000)
    """Multiplies the ~60 base functions (scale 100 = ~6,000 functions, for benchmarks)."""


class AwsSource(SourceBase):
    type: Literal["aws"] = "aws"
    profile: str | None = None
    """Named profile from ~/.aws/config; unset = boto3's default credential chain."""
    role_arn: str | None = None
    """Role to assume for another account (sts:AssumeRole)."""
    external_id: str | None = None
    """ExternalId the role's trust policy requires, if any."""
    regions: StrList = Field(default_factory=lambda: ["us-east-1"])
    """Regions to collect, or "all" for every region enabled in the account."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Only functions carrying all of these tags (key = value)."""
    discovery_interval: Annotated[Duration, within("1m", "7d")] = timedelta(minutes=15)
    """How often to re-list functions; metrics are collected every refresh; 1m to 7d."""
    cold_starts: Literal["insights", "filter", "off"] = "insights"
    """Where cold starts come from: Logs Insights, FilterLogEvents, or not collected."""
    errors: Literal["insights", "filter", "off"] = "insights"
    """Where error signatures come from: Logs Insights (FilterLogEvents if it is denied), FilterLogEvents, or
    not collected."""
    endpoint_url: str | None = None
    """Override the AWS endpoint (a local test server, an AWS-compatible gateway)."""


class AzureSource(SourceBase):
    type: Literal["azure"] = "azure"
    subscription_id: str
    """Azure subscription that holds the function apps."""
    workspace_id: str | None = None
    """Log Analytics workspace id behind the apps' workspace-based Application Insights."""
    app_insights_resource_id: str | None = None
    """Or: the Application Insights resource id to query instead of a workspace."""
    function_app_ids: StrList = Field(default_factory=list)
    """Resource ids of function apps whose platform metrics to read."""
    resource_groups: StrList = Field(default_factory=lambda: ["*"])
    """Resource group globs."""
    apps: StrList = Field(default_factory=lambda: ["*"])
    """Function app name globs."""
    metrics: bool = True
    """Read Azure Monitor platform metrics (execution counts and units) as well as logs."""
    logs_endpoint: str | None = None
    """Override the Logs Query endpoint (sovereign clouds, a local test server)."""
    metrics_endpoint: str | None = None
    """Override the metrics batch endpoint, e.g. https://westeurope.metrics.monitor.azure.com."""
    region: str = "unknown"
    """Region of the function apps (the metrics batch endpoint is regional; also the region in function keys)."""
    app_regions: dict[str, str] = Field(default_factory=dict)
    """Per-app region where apps of this source live in several regions (app name -> region)."""
    app_plans: dict[str, Literal["consumption", "flex"]] = Field(default_factory=dict)
    """Hosting plan per app name glob (first match wins); it picks the platform metrics to ask for, since
    Consumption and Flex Consumption apps define different ones. Apps not named are detected."""
    management_endpoint: str | None = None
    """Override the Azure Resource Manager endpoint (metric definitions; sovereign clouds, a local test server)."""
    reread: Annotated[Duration, within("0s", "1d")] = timedelta(minutes=10)
    """How far back each refresh re-reads stored buckets: App Insights ingestion lags by minutes; 0s to 1d."""
    errors: bool = True
    """Collect error signatures (AppExceptions, AppTraces at Error and above) and app versions in the same query."""


class GcpSource(SourceBase):
    type: Literal["gcp"] = "gcp"
    project_id: StrList
    """One project id or a list of them."""
    mode: Literal["metrics", "logs"] = "metrics"
    """metrics: counts and latency from Cloud Monitoring, logs only for cold starts (needs
    roles/monitoring.viewer); logs: every request log from Cloud Logging (roles/logging.viewer only)."""
    services: StrList = Field(default_factory=list)
    """Cloud Run service globs counted as functions besides those labelled goog-managed-by=cloudfunctions
    (functions created through Cloud Run or detached); "*" = every Cloud Run service of the projects."""
    quota_project: str | None = None
    """Project whose API quota the calls use (sent as x-goog-user-project); unset = the credentials' project."""
    regions: StrList = Field(default_factory=list)
    """Only these regions; empty = all."""
    api_endpoint: str | None = None
    """Override the Cloud Logging endpoint (a local test server). A plain `http://` endpoint gets
    anonymous credentials: real tokens never travel unencrypted."""
    monitoring_endpoint: str | None = None
    """Override the Cloud Monitoring endpoint (a local test server on a plain `http://` address: insecure gRPC)."""
    calls_per_minute: int = Field(default=60, ge=1, le=6000)
    """entries.list calls allowed per quota project per minute (Cloud Logging's default read quota is 60)."""
    monitoring_calls_per_minute: int = Field(default=300, ge=1, le=100_000)
    """timeSeries.list calls allowed per quota project per minute (a cap well under Monitoring's read quota);
    1 to 100000."""
    overlap: Annotated[Duration, within("0s", "1d")] = timedelta(minutes=3)
    """How far before the newest stored bucket a refresh starts again, for log entries that arrive late;
    0s to 1d."""
    max_retries: int = Field(default=5, ge=0, le=20)
    """Retries of one call refused with 429 RESOURCE_EXHAUSTED or a 5xx, with exponential backoff."""
    errors: bool = True
    """Collect error signatures (entries at severity ERROR and above, gen1 failed executions) from Cloud Logging:
    in the logs filter (logs mode) or beside the cold-start read (metrics mode)."""

    @field_validator("services")
    @classmethod
    def _services_are_globs_of_service_names(cls, value: list[str]) -> list[str]:
        for glob in value:  # Cloud Run names: letters, digits, hyphens (a function's own spelling: underscores)
            if not re.fullmatch(r"[A-Za-z0-9_*?!\[\]-]+", glob):
                raise ValueError(f"{glob!r} is not a glob of Cloud Run service names")
        return value


class SourcesConfig(Model):
    demo: list[DemoSource] = Field(default_factory=list)
    aws: list[AwsSource] = Field(default_factory=list)
    azure: list[AzureSource] = Field(default_factory=list)
    gcp: list[GcpSource] = Field(default_factory=list)

    def all(self) -> list[AnySource]:
        """Every enabled source, each with its name (names are unique in a loaded config)."""
        return [source for _, _, source in self.named()]

    def named(self) -> Iterator[tuple[str, int, AnySource]]:
        """(type, index in its [[sources.TYPE]] list, source with its name) of every enabled source; an
        unnamed source is called by its type, plus its position when there are several of that type."""
        groups: tuple[Sequence[AnySource], ...] = (self.demo, self.aws, self.azure, self.gcp)
        for group in groups:
            for index, source in enumerate(group):
                if not source.enabled:
                    continue
                name = source.name or (source.type if len(group) == 1 else f"{source.type}-{index + 1}")
                yield source.type, index, source.model_copy(update={"name": name})


AnySource = DemoSource | AwsSource | AzureSource | GcpSource
