"""`opsview collect` where no cloud credential exists: one line per source that says what to fix.

Each SDK runs its real default chain in a clean environment: HOME an empty directory, no credential
variables, and every metadata server answered at once so that nothing waits on a network timeout:
- AWS: `AWS_EC2_METADATA_DISABLED=true` ("disable the use of the Amazon EC2 instance metadata service",
  https://docs.aws.amazon.com/sdkref/latest/guide/feature-imds-client.html);
- GCP: `GCE_METADATA_HOST` / `GCE_METADATA_IP` at a closed local port (google-auth's documented overrides,
  https://googleapis.dev/python/google-auth/latest/reference/google.auth.environment_vars.html) and one
  detection attempt (`GCE_METADATA_DETECT_RETRIES=1`);
- Azure: azure-identity's IMDS endpoint override (`AZURE_POD_IDENTITY_AUTHORITY_HOST`) at a local server that
  answers like the IMDS of a machine with no identity assigned: 400 to the token request. IMDS documents
  4xx as "error in request, don't retry"
  (https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#error-handling),
  and azure-identity reads a 400 as "managed identity disabled or not assigned" (CredentialUnavailableError),
  so the chain goes on to the next credential exactly as on such a machine. Without the override the SDK
  probes 169.254.169.254 (1 s connect timeout), which some networks answer and others drop.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

CONFIG = """
[[sources.azure]]
name = "azure-prod"
subscription_id = "00000000-0000-0000-0000-000000000000"
workspace_id = "11111111-1111-1111-1111-111111111111"
region = "westeurope"
function_app_ids = [
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Web/sites/app1",
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Web/sites/app2",
]
app_regions = { app2 = "northeurope" }

[[sources.aws]]
name = "aws-default"
regions = ["us-east-1", "eu-west-1"]

[[sources.aws]]
name = "aws-profile"
profile = "prod-readonly"
regions = ["us-east-1"]

[[sources.gcp]]
name = "gcp-prod"
project_id = ["shop-prod", "shop-data"]
"""


class _NoIdentityImds(BaseHTTPRequestHandler):
    """IMDS on a VM without a managed identity: the token request is refused with 400."""

    def do_GET(self) -> None:
        body = json.dumps({"error": "invalid_request", "error_description": "Identity not found"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def imds() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoIdentityImds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound but never listening: a connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def clean_env(tmp_path: Path, imds: str, closed_port: int) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": "/usr/bin:/bin",  # no `az`, `azd` or `pwsh` of a developer's machine
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        "GCE_METADATA_HOST": f"127.0.0.1:{closed_port}",
        "GCE_METADATA_IP": f"127.0.0.1:{closed_port}",
        "GCE_METADATA_DETECT_RETRIES": "1",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": imds,
    }


def _collect(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "opsview.toml"
    config.write_text(CONFIG)
    return subprocess.run(
        [sys.executable, "-m", "opsview", "collect", "--config", str(config), "--store", str(tmp_path / "s.db"),
         *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def test_every_source_without_credentials_is_one_line_naming_the_fix(tmp_path: Path,
                                                                     clean_env: dict[str, str]) -> None:
    result = _collect(tmp_path, clean_env)
    assert result.returncode == 1
    # nothing from the SDKs' loggers (azure-identity's 14-line chain, google-auth's metadata probes), no traceback
    assert result.stderr == "4 of 4 sources failed\n"
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert len(lines) == len(result.stdout.splitlines()) == 4, result.stdout
    assert all(" FAILED " in line for line in lines.values())

    azure = lines["azure-prod"]
    assert "Azure: no credential found" in azure
    assert "`az login`" in azure
    assert "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET" in azure
    assert "managed identity" in azure
    assert "Attempted credentials" not in azure  # the SDK's chain is for --log-level debug

    assert "AWS: no credentials found" in lines["aws-default"]
    assert "`aws configure`" in lines["aws-default"]
    assert "AWS_PROFILE" in lines["aws-default"]
    assert 'AWS: profile "prod-readonly" not found' in lines["aws-profile"]
    assert "`aws configure --profile prod-readonly`" in lines["aws-profile"]

    assert "GCP: no Application Default Credentials found" in lines["gcp-prod"]
    assert "`gcloud auth application-default login`" in lines["gcp-prod"]
    assert "GOOGLE_APPLICATION_CREDENTIALS" in lines["gcp-prod"]

    # the store says it once per source too (what the TUI and the web show), not per region, project or API
    store = SQLiteStore(tmp_path / "s.db")
    try:
        health = store.latest_health()
    finally:
        store.close()
    assert sorted((h.source, h.scope, h.ok) for h in health) == [
        ("aws-default", "", False), ("aws-profile", "", False), ("azure-prod", "", False), ("gcp-prod", "", False)]
    assert {h.source: h.error for h in health} == {name: line.split(" FAILED ", 1)[1] for name, line in lines.items()}


def test_debug_shows_the_sdks_whole_credential_chain(tmp_path: Path, clean_env: dict[str, str]) -> None:
    result = _collect(tmp_path, clean_env, "--source", "azure-prod", "--log-level", "debug")
    assert result.returncode == 1
    assert "Azure: no credential found" in result.stdout
    for credential in ("EnvironmentCredential", "ManagedIdentityCredential", "AzureCliCredential"):
        assert credential in result.stderr


def test_a_service_account_file_that_is_missing_is_named(tmp_path: Path, clean_env: dict[str, str]) -> None:
    missing = tmp_path / "sa.json"
    result = _collect(tmp_path, {**clean_env, "GOOGLE_APPLICATION_CREDENTIALS": str(missing)}, "--source", "gcp-prod")
    assert result.returncode == 1
    assert result.stderr == "1 of 1 sources failed\n"
    [line] = result.stdout.splitlines()
    assert f"File {missing} was not found" in line
    assert "GOOGLE_APPLICATION_CREDENTIALS" in line
