"""Build a small Lambda fleet on the moto server: functions, metrics, log groups and REPORT records."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's default account
REPORT = ("REPORT RequestId: {rid}\tDuration: 20.00 ms\tBilled Duration: 20 ms\tMemory Size: 512 MB\t"
          "Max Memory Used: 90 MB{init}")


def client(url: str, service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=url)


def deploy(url: str, region: str, names: Iterable[str], logging: dict[str, Any] | None = None,
           timeout: int = 30) -> None:
    """Create functions (one role per region); `logging` is their LoggingConfig."""
    iam = client(url, "iam", region)
    role_name = f"fn-role-{region}"
    try:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return 1\n")
    lam = client(url, "lambda", region)
    for name in names:
        kwargs: dict[str, Any] = {}
        if logging:
            kwargs["LoggingConfig"] = logging
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": code.getvalue()}, Timeout=timeout, MemorySize=512, **kwargs)


def put_metrics(url: str, region: str, name: str, at: datetime, invocations: float,
                duration_ms: float = 100.0) -> None:
    dims = [{"Name": "FunctionName", "Value": name}]
    client(url, "cloudwatch", region).put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Value": invocations, "Unit": "Count"},
        {"MetricName": "Duration", "Dimensions": dims, "Timestamp": at, "Value": duration_ms},
    ])


@dataclass(frozen=True, slots=True)
class Record:
    stream: str
    at: datetime
    message: str


def report(stream: str, at: datetime, rid: str, init_ms: float | None = None) -> Record:
    init = "" if init_ms is None else f"\tInit Duration: {init_ms:.2f} ms"
    return Record(stream, at, REPORT.format(rid=rid, init=init))


def write_logs(url: str, region: str, group: str, records: Sequence[Record]) -> None:
    """Create the group (if needed), its streams, and put the records in time order, 5,000 a call."""
    logs = client(url, "logs", region)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    by_stream: dict[str, list[Record]] = {}
    for record in records:
        by_stream.setdefault(record.stream, []).append(record)
    for stream, items in by_stream.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        items.sort(key=lambda r: r.at)
        for offset in range(0, len(items), 5000):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": int(r.at.timestamp() * 1000), "message": r.message}
                for r in items[offset : offset + 5000]
            ])
