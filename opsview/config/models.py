"""The root of the config file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field

from opsview.config.alerts import AlertsConfig, NotifierConfig
from opsview.config.base import Duration, Model, finite, within
from opsview.config.export import ExportConfig
from opsview.config.sources import SourcesConfig
from opsview.config.views import TuiConfig, WebConfig
from opsview.schema import DEFAULT_PRICES, Price


class StoreConfig(Model):
    url: str | None = None
    """SQLite file path (or sqlite:///path, postgresql://...); unset = the user data directory."""
    retention: Annotated[Duration, within("1h", "3650d")] = timedelta(days=30)
    """Samples (and health, alert history, delivered notifications) older than this are deleted; 1h to 3650d,
    and at least `collect.since` and every rule's look-back, or a collection would delete what it just wrote
    and rules would read spans the store no longer holds."""
    rollup_after: Annotated[Duration, within("1h", "3650d")] = timedelta(days=7)
    """Minute buckets older than this are rolled up into hourly buckets; 1h to 3650d."""


class CollectConfig(Model):
    interval: Annotated[Duration, within("1s", "1d")] = timedelta(seconds=60)
    """Refresh interval of the TUI, the web app and background collection; 1s to 1d."""
    since: Annotated[Duration, within("1m", "3650d")] = timedelta(hours=1)
    """How far back the first collection of a source reaches (later ones are incremental); 1m to 3650d."""
    concurrency: int = Field(default=8, ge=1, le=64)
    """Sources (and regions/accounts inside a source) collected at once."""


class PriceConfig(Model):
    per_million_requests: Annotated[float, finite(0, 1000)]
    """USD per million invocations; 0 to 1000."""
    per_gb_second: Annotated[float, finite(0, 1000)]
    """USD per GB-second of billed duration; 0 to 1000."""

    def to_price(self) -> Price:
        return Price(self.per_million_requests, self.per_gb_second)


def _default_price(provider: str) -> PriceConfig:
    price = DEFAULT_PRICES[provider]
    return PriceConfig(per_million_requests=price.per_million_requests, per_gb_second=price.per_gb_second)


class PricingConfig(Model):
    aws: PriceConfig = Field(default_factory=lambda: _default_price("aws"))
    azure: PriceConfig = Field(default_factory=lambda: _default_price("azure"))
    gcp: PriceConfig = Field(default_factory=lambda: _default_price("gcp"))
    demo: PriceConfig = Field(default_factory=lambda: _default_price("demo"))

    def price(self, provider: str) -> Price | None:
        conf = getattr(self, provider, None)
        return conf.to_price() if isinstance(conf, PriceConfig) else None


class Config(Model):
    """The whole file. Checks across keys (unique names, known notifiers, retention against look-backs) live
    in `opsview.config.validation`, which knows the lines to name; load configs through `load_config`."""

    store: StoreConfig = Field(default_factory=StoreConfig)
    collect: CollectConfig = Field(default_factory=CollectConfig)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    notifiers: dict[str, NotifierConfig] = Field(default_factory=dict)
    tui: TuiConfig = Field(default_factory=TuiConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    path: Path | None = Field(default=None, exclude=True)
    """Where this config was read from (set by the loader, not a file key)."""
