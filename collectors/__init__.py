"""One module per cloud (plus the demo fleet), each turning a provider's API into schema records.

Modules are imported only when a source of that type is configured, so a user without the
Azure SDK never pays for importing it.
"""

from __future__ import annotations

import importlib

from collectors.base import Collector, CollectRequest, CollectResult
from opsview.config import AnySource, Config

__all__ = ["CollectRequest", "CollectResult", "Collector", "UnsupportedSource", "build_collector"]

# source type -> module exposing `create(source, config) -> Collector`
_FACTORIES = {
    "demo": "collectors.demo",
    "aws": "collectors.aws",
    "azure": "collectors.azure",
    "gcp": "collectors.gcp",
}


class UnsupportedSource(Exception):  # noqa: N818 (reads as what it is: a source we cannot collect)
    """A configured source type whose collector is not available in this build."""


def build_collector(source: AnySource, config: Config) -> Collector:
    module_name = _FACTORIES.get(source.type)
    if module_name is None:
        raise UnsupportedSource(f"source {source.name!r}: no collector for type {source.type!r} in this build")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UnsupportedSource(
            f"source {source.name!r}: collector module {module_name} not available ({exc})"
        ) from None
    collector: Collector = module.create(source, config)
    return collector
