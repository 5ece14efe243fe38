"""One moto server per test module, extended where moto does not behave like AWS (see aws_fakes.py)."""

from __future__ import annotations

import socket
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aws_fakes import (  # noqa: E402
    documented_cloudwatch,
    documented_lambda_logging,
    documented_log_group_identifiers,
    moto_percentiles,
)


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto's server on loopback, serving CloudWatch and Lambda as their documentation says (aws_fakes.py).

    moto keeps its state per process, not per server: it is reset before and after each module.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    with moto_percentiles(), documented_cloudwatch(), documented_lambda_logging(), documented_log_group_identifiers():
        server.start()
        url = f"http://127.0.0.1:{port}"
        _reset(url)
        try:
            yield url
        finally:
            _reset(url)
            server.stop()


def _reset(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10):
        pass
