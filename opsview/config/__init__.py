"""Config: TOML validated into frozen typed models (see config.example.toml for every key)."""

from opsview.config.alerts import AlertsConfig, MatchConfig, NotifierConfig, RuleConfig
from opsview.config.errors import ConfigError, Problem
from opsview.config.loader import candidate_paths, find_config, load_config, parse_config
from opsview.config.models import CollectConfig, Config, PricingConfig, StoreConfig
from opsview.config.sources import AnySource, AwsSource, AzureSource, DemoSource, GcpSource, SourcesConfig
from opsview.config.views import TuiConfig, WebAuthConfig, WebConfig

__all__ = [
    "AlertsConfig",
    "AnySource",
    "AwsSource",
    "AzureSource",
    "CollectConfig",
    "Config",
    "ConfigError",
    "DemoSource",
    "GcpSource",
    "MatchConfig",
    "NotifierConfig",
    "PricingConfig",
    "Problem",
    "RuleConfig",
    "SourcesConfig",
    "StoreConfig",
    "TuiConfig",
    "WebAuthConfig",
    "WebConfig",
    "candidate_paths",
    "find_config",
    "load_config",
    "parse_config",
]
