"""The Azure collector as the integration tests build it: one subscription and workspace, pointed at the local
fake (`azure_fake_service`), and a five-minute window from `T0`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure_fake_service import FakeAzure, FakeCredential

from opsview.collectors.azure.collector import AzureCollector
from opsview.collectors.base import CollectRequest
from opsview.config import AzureSource

SUB = "11111111-2222-3333-4444-555555555555"
WS = "ws-0001"
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def rid(app: str, rg: str = "rg-apps") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Web/sites/{app}"


def collector_on(fake: FakeAzure, **source: object) -> tuple[AzureCollector, FakeCredential]:
    fields: dict[str, object] = {
        "name": "azure-test", "subscription_id": SUB, "workspace_id": WS, "region": "westeurope",
        "logs_endpoint": fake.url, "metrics_endpoint": fake.url, "management_endpoint": fake.url,
    }
    fields.update(source)
    cred = FakeCredential()
    return AzureCollector(AzureSource.model_validate(fields), credential=cred, retry_total=1), cred


def request_for(minutes: int = 5) -> CollectRequest:
    return CollectRequest(start=T0, end=T0 + timedelta(minutes=minutes))
