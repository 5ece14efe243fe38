"""The root of the config file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, model_validator

from opsview.config.alerts import AlertsConfig, NotifierConfig
from opsview.config.base import Duration, Model
from opsview.config.export import ExportConfig
from opsview.config.sources import SourcesConfig
from opsview.config.views import TuiConfig, WebConfig
from opsview.schema import DEFAULT_PRICES, Price


class StoreConfig(Model):
    url: str | None = None
    """SQLite file path (or sqlite:///path, postgresql://...); unset = the user data directory."""
    retention: Duration = timedelta(days=30)
    """Samples older than this are deleted."""
    rollup_after: Duration = timedelta(days=7)
    """Minute buckets older than this are rolled up into hourly buckets."""


class CollectConfig(Model):
    interval: Duration = timedelta(seconds=60)
    """Refresh interval of the TUI, the web app and background collection."""
    since: Duration = timedelta(hours=1)
    """How far back the first collection of a source reaches (later ones are incremental)."""
    concurrency: int = Field(default=8, ge=1, le=64)
    """Sources (and regions/accounts inside a source) collected at once."""


class PriceConfig(Model):
    per_million_requests: float = Field(ge=0)
    """USD per million invocations."""
    per_gb_second: float = Field(ge=0)
    """USD per GB-second of billed duration."""

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

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        names = [s.name for s in self.sources.all()]
        dupes = sorted({n for n in names if names.count(n) > 1 and n})
        if dupes:
            raise ValueError(f"duplicate source name {dupes[0]!r}: give each source a unique name")
        seen: set[str] = set()
        for rule in self.alerts.rules:
            if rule.name in seen:
                raise ValueError(f"duplicate rule name {rule.name!r}")
            seen.add(rule.name)
            for target in rule.notify:
                if target not in self.notifiers:
                    known = ", ".join(sorted(self.notifiers)) or "none defined"
                    raise ValueError(f"rule {rule.name!r} notifies unknown notifier {target!r} ({known})")
        return self
