"""Credential failures of each SDK become the one line that says what to fix; other failures are left alone.

The exceptions are the SDKs' own, raised by their own code where that is cheap (azure-identity's chain,
google-auth's file loader); `tests/integration/cli/test_cli_credentials.py` runs every real default chain.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google.auth
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ChainedTokenCredential, CredentialUnavailableError
from botocore.exceptions import ClientError, NoCredentialsError
from google.auth.exceptions import RefreshError

from opsview.collectors.credentials import credential_problem, failure_line, merge_credential_failures
from opsview.schema import CollectorHealth


class _Unavailable:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise CredentialUnavailableError("EnvironmentCredential authentication unavailable. Environment variables "
                                         "are not fully configured.")


class _WrongSecret:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise ClientAuthenticationError("Authentication failed: AADSTS7000215: Invalid client secret provided.")


def _chain_error(*credentials: Any) -> ClientAuthenticationError:
    with pytest.raises(ClientAuthenticationError) as caught:
        ChainedTokenCredential(*credentials).get_token("https://api.loganalytics.io/.default")
    return caught.value


def test_an_azure_chain_of_unavailable_credentials_says_how_to_sign_in() -> None:
    line = credential_problem(_chain_error(_Unavailable(), _Unavailable()))
    assert line is not None
    assert line.startswith("Azure: no credential found (ChainedTokenCredential tried 2 credentials): run `az login`")
    assert "\n" not in line


def test_an_azure_credential_that_failed_for_real_is_named_with_its_reason() -> None:
    line = credential_problem(_chain_error(_Unavailable(), _WrongSecret()))
    assert line is not None
    assert line.startswith("Azure: _WrongSecret failed (")
    assert "AADSTS7000215: Invalid client secret provided." in line


def test_a_client_wrapping_the_chain_error_is_seen_through() -> None:
    """azure-monitor-query raises an HttpResponseError from the credential's ClientAuthenticationError."""
    inner = _chain_error(_Unavailable())
    with pytest.raises(HttpResponseError) as outer:
        raise HttpResponseError(message=str(inner)) from inner
    assert (credential_problem(outer.value) or "").startswith("Azure: no credential found")


def test_other_azure_failures_are_not_credential_problems() -> None:
    assert credential_problem(ClientAuthenticationError("The provided authentication is not valid")) is None
    assert credential_problem(HttpResponseError(message="(Forbidden) The client does not have authorization")) is None


def test_aws_missing_and_expired_credentials() -> None:
    assert (credential_problem(NoCredentialsError()) or "").startswith("AWS: no credentials found: configure")
    expired = ClientError({"Error": {"Code": "ExpiredToken", "Message": "The security token included in the "
                                     "request is expired"}}, "GetCallerIdentity")
    assert (credential_problem(expired) or "").startswith("AWS: the credentials have expired (ExpiredToken)")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "GetMetricData")
    assert credential_problem(denied) is None


def test_gcp_file_not_found_and_refresh_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "key.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    with pytest.raises(google.auth.exceptions.DefaultCredentialsError) as caught:
        google.auth.default()
    line = credential_problem(caught.value) or ""
    assert line.startswith(f"GCP: Application Default Credentials unusable (File {missing} was not found.)")
    assert "`gcloud auth application-default login`" in line
    refresh = credential_problem(RefreshError("Reauthentication is needed."))
    assert (refresh or "").startswith("GCP: the credentials could not be refreshed (Reauthentication is needed.)")


def test_failure_line_keeps_the_sdk_text_for_debug(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("opsview.test")
    error = _chain_error(_Unavailable())
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="opsview.test"):
        line = failure_line(error, log, "source az")
    assert line.startswith("Azure: no credential found (ChainedTokenCredential tried 1 credential)")
    levels = {r.levelno: r.getMessage() for r in caplog.records}
    assert logging.WARNING not in levels  # the health line tells the user; nothing else shouts
    assert "Attempted credentials" in levels[logging.DEBUG]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="opsview.test"):
        assert failure_line(ValueError("boom\nsecond line"), log, "source x") == "boom second line"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_scopes_failing_on_one_credential_become_one_entry_for_the_source() -> None:
    at = datetime(2024, 5, 1, tzinfo=UTC)
    line = "Azure: no credential found: run `az login`"
    merged = merge_credential_failures([
        (CollectorHealth("az", "azure", at, False, "long SDK text", scope="logs:ws", duration_s=2.0), line),
        (CollectorHealth("az", "azure", at, False, "other text", scope="metrics:westeurope", duration_s=3.0), line),
        (CollectorHealth("az", "azure", at, False, "429 Too Many Requests", scope="metrics:northeurope"), None),
    ])
    assert [(h.scope, h.ok, h.error, h.duration_s) for h in merged] == [
        ("", False, line, 3.0), ("metrics:northeurope", False, "429 Too Many Requests", 0.0)]
