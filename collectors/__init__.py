"""One subpackage per cloud (plus the demo fleet), each turning a provider's API into schema records.

`PROVIDERS` is the one table that names them: the live collector (`collect`, the viewers' workers,
`check`) and the offline reader (`ingest`) of each source type. Modules are imported only when a
source of that type is configured or ingested, so a user without the Azure SDK never pays for it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from opsview.collectors.base import Collector, CollectRequest, CollectResult
from opsview.config import AnySource, Config

if TYPE_CHECKING:
    from opsview.ingest import IngestReader, InputFormat

__all__ = [
    "PROVIDERS", "CollectRequest", "CollectResult", "Collector", "Provider", "UnsupportedSource", "build_collector",
    "ingest_format", "ingest_reader", "ingest_providers",
]


@dataclass(frozen=True, slots=True)
class Provider:
    collector: str
    """Module exposing `create(source, config) -> Collector`."""
    reader: str | None = None
    """Module exposing `read: IngestReader` and `FORMAT: InputFormat` for `opsview ingest`; None = no offline
    format."""


# source type -> its modules; adding a cloud adds a row here (and its `[[sources.<type>]]` model)
PROVIDERS: dict[str, Provider] = {
    "aws": Provider("opsview.collectors.aws.collector", "opsview.collectors.aws.ingest"),
    "azure": Provider("opsview.collectors.azure.collector", "opsview.collectors.azure.ingest"),
    "gcp": Provider("opsview.collectors.gcp.collector", "opsview.collectors.gcp.ingest"),
    "demo": Provider("opsview.collectors.demo"),
}


class UnsupportedSource(Exception):  # noqa: N818 (reads as what it is: a source we cannot collect)
    """A configured source type (or ingest format) whose module is not available in this build."""


def _module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise UnsupportedSource(f"{what}: module {name} not available ({exc})") from None


def build_collector(source: AnySource, config: Config) -> Collector:
    provider = PROVIDERS.get(source.type)
    if provider is None:
        raise UnsupportedSource(f"source {source.name!r}: no collector for type {source.type!r} in this build")
    collector: Collector = _module(provider.collector, f"source {source.name!r}").create(source, config)
    return collector


def ingest_providers() -> list[str]:
    """Source types `opsview ingest` can read, sorted."""
    return sorted(name for name, p in PROVIDERS.items() if p.reader)


def _reader_module(provider: str) -> ModuleType:
    entry = PROVIDERS.get(provider)
    if entry is None or entry.reader is None:
        raise UnsupportedSource(f"ingest: no reader for {provider!r} (expected one of {', '.join(ingest_providers())})")
    return _module(entry.reader, f"ingest for {provider}")


def ingest_reader(provider: str) -> IngestReader:
    reader: IngestReader = _reader_module(provider).read
    return reader


def ingest_format(provider: str) -> InputFormat:
    """What `provider`'s ingest reader reads (for the line said when a file holds none of it)."""
    found: InputFormat = _reader_module(provider).FORMAT
    return found
