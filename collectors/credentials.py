"""What to fix when a cloud SDK's default credential chain finds nothing usable: one line, for every collector.

Each SDK explains a failed chain at length, for its own developers: azure-identity's `DefaultAzureCredential`
raises a `ClientAuthenticationError` listing every credential it tried (about 14 lines) and logs the same text
as a warning on each attempt; google-auth names a web page; botocore says "Unable to locate credentials".
A user needs the one thing to do. `credential_problem` maps each SDK's credential exceptions to that line
(the only place that does); collectors report it as the source's health line through `failure_line`, and
`merge_credential_failures` folds the scopes a credential failed for (regions, projects, logs and metrics)
into one entry per source, since one credential serves them all. The SDK's full text (the whole chain) goes
to the log at DEBUG only (`--log-level debug`); `opsview.logs` keeps the SDKs' own credential loggers quiet
below that.

SDK modules are never imported here: an exception of an SDK exists only once that SDK is loaded, so each
check looks the SDK up in `sys.modules` (a user without the Azure SDK never pays for it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace

from opsview.formatting import one_line, quoted
from opsview.schema import CollectorHealth

AWS_FIX = ("configure credentials: `aws configure` (or `aws sso login`), AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
           "AWS_SECRET_ACCESS_KEY; or set `profile` / `role_arn` in this source")
AZURE_FIX = ("run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (a service "
             "principal), or run where a managed identity is assigned")
GCP_FIX = ("run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
           "service-account key file")

# How azure-identity words a credential of the chain that found nothing to use (`CredentialUnavailableError`):
# an attempt without one of these failed for real (a wrong secret, an expired login) and stopped the chain.
_AZURE_UNAVAILABLE = ("unavailable", "not found", "not installed", "could not be found", "requires",
                      "not fully configured", "no accounts", "please run 'az login'", "please run 'azd auth login'")
_AZURE_CHAIN = "failed to retrieve a token from the included credentials"
_GCP_NOT_FOUND = "Your default credentials were not found"


class CredentialsError(Exception):
    """A source's credentials are missing or unusable; the message is the line that says what to fix and the
    SDK's exception is the cause. Raised to stop a source's remaining calls: each would fail the same way."""


def _sdk_error(exc: BaseException, module: str, *names: str) -> bool:
    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    types = tuple(t for t in (getattr(loaded, n, None) for n in names) if isinstance(t, type))
    return bool(types) and isinstance(exc, types)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from (an SDK may wrap a credential error in a transport error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def credential_problem(exc: BaseException) -> str | None:
    """The line that says what to fix, when `exc` (or what it was raised from) says the credentials are missing
    or unusable; None for any other failure (a denied permission is not a credential problem)."""
    for error in _chain(exc):
        if isinstance(error, CredentialsError):
            return str(error)
        line = _aws(error) or _azure(error) or _gcp(error)
        if line is not None:
            return line
    return None


def _aws(exc: BaseException) -> str | None:
    module = "botocore.exceptions"
    if _sdk_error(exc, module, "ProfileNotFound"):
        profile = getattr(exc, "kwargs", {}).get("profile", "")
        return (f"AWS: profile {quoted(str(profile))} not found in ~/.aws/config or ~/.aws/credentials: "
                f"`aws configure --profile {profile}`, or fix `profile` in this source or AWS_PROFILE")
    if _sdk_error(exc, module, "UnauthorizedSSOTokenError", "SSOTokenLoadError"):
        return "AWS: the SSO session is missing or has expired: run `aws sso login` (with this source's profile)"
    if _sdk_error(exc, module, "PartialCredentialsError"):
        return f"AWS: partial credentials ({one_line(exc)}): {AWS_FIX}"
    if _sdk_error(exc, module, "NoCredentialsError"):
        return f"AWS: no credentials found: {AWS_FIX}"
    if _sdk_error(exc, module, "CredentialRetrievalError", "TokenRetrievalError"):
        return f"AWS: credentials could not be obtained ({one_line(exc)}): {AWS_FIX}"
    if _sdk_error(exc, module, "ClientError"):
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            return f"AWS: the credentials have expired ({code}): refresh them, e.g. `aws sso login`, or {AWS_FIX}"
        if code in {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"}:
            return f"AWS: the credentials were rejected ({code}): check the access key and secret, or {AWS_FIX}"
    return None


def _azure(exc: BaseException) -> str | None:
    # The chain's failure is a ClientAuthenticationError with no HTTP response (a 401 from a service has one);
    # each credential of the chain words its own reason.
    if not _sdk_error(exc, "azure.core.exceptions", "ClientAuthenticationError"):
        return None
    message = str(getattr(exc, "message", None) or exc)
    if getattr(exc, "response", None) is not None or _AZURE_CHAIN not in message:
        if _sdk_error(exc, "azure.identity", "CredentialUnavailableError"):
            return f"Azure: no usable credential ({one_line(message)}): {AZURE_FIX}"
        return None
    attempts = [line.strip() for line in message.splitlines() if line.startswith("\t")]
    failed = next((a for a in reversed(attempts) if not any(m in a.lower() for m in _AZURE_UNAVAILABLE)), None)
    if failed is not None:
        name, _, reason = failed.partition(":")
        return f"Azure: {name} failed ({one_line(reason)[:160]}): {AZURE_FIX}"
    chain = message.split(" ", 1)[0]  # "DefaultAzureCredential failed to retrieve ..."
    tried = f"{chain} tried {len(attempts)} credential{'s' if len(attempts) != 1 else ''}" if attempts else chain
    return f"Azure: no credential found ({tried}): {AZURE_FIX}"


def _gcp(exc: BaseException) -> str | None:
    module = "google.auth.exceptions"
    if _sdk_error(exc, module, "DefaultCredentialsError"):
        text = one_line(exc)
        if text.startswith(_GCP_NOT_FOUND):
            return f"GCP: no Application Default Credentials found: {GCP_FIX}"
        return f"GCP: Application Default Credentials unusable ({text[:160]}): {GCP_FIX}"
    if _sdk_error(exc, module, "RefreshError"):
        return f"GCP: the credentials could not be refreshed ({one_line(exc)[:160]}): {GCP_FIX}"
    return None


def failure_line(exc: BaseException, log: logging.Logger, where: str) -> str:
    """The health line for a failure of `where` (a source or one of its scopes), and its log record.

    A credential problem is the line that says what to fix, logged at INFO (the health line already tells the
    user) with the SDK's whole text and traceback at DEBUG; anything else is `one_line(exc)`, logged as a
    warning (its traceback at DEBUG, and always in the log file).
    """
    problem = credential_problem(exc)
    if problem is None:
        line = one_line(exc)
        log.warning("%s: %s", where, line, exc_info=exc if log.isEnabledFor(logging.DEBUG) else None)
        return line
    log.info("%s: %s", where, problem)
    log.debug("%s: the SDK's credential error in full:\n%s", where, exc, exc_info=exc)
    return problem


def merge_credential_failures(entries: Iterable[tuple[CollectorHealth, str | None]]) -> list[CollectorHealth]:
    """Health entries, with those that failed on credentials folded into one entry per source.

    `entries` pairs each entry with its credential problem (None: it did not fail on credentials). One
    credential serves every scope of a source, so its failure is said once, for the source (scope ""),
    not once per region, project or API; the other entries are kept as they are.
    """
    kept: list[CollectorHealth] = []
    merged: dict[tuple[str, str], CollectorHealth] = {}
    for health, problem in entries:
        if problem is None:
            kept.append(health)
            continue
        first = merged.get((health.source, problem))
        if first is None:
            merged[(health.source, problem)] = replace(health, ok=False, error=problem, scope="", functions=0,
                                                        samples=0)
        else:
            merged[(health.source, problem)] = replace(first, duration_s=max(first.duration_s, health.duration_s))
    return [*merged.values(), *kept]
