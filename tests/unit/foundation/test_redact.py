"""One redaction rule for every text that leaves the process (issue 16 item 12): a URL's credentials, secret query
values and token-like path parts, Authorization-style headers, `password=` pairs, and every literal secret the
config named. The hostile inputs below are the forms a secret takes in SDK errors, library logs and our own
messages; each must come out without the secret and with the rest still readable."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from opsview.formatting import ONE_LINE_MAX, one_line
from opsview.redact import MASK, redact, redact_url, remember, remember_header, remember_url

S = "Zq7s3cr3tVal"  # a secret: letters and digits, as tokens are

LEAKS = [
    # (text holding S, what must still be readable)
    (f"webhook http://alice:{S}@hooks.example.com/x: refused", "webhook http://***@hooks.example.com/x: refused"),
    (f"https://{S}@hooks.example.com/x", "https://***@hooks.example.com/x"),
    (f"connecting to opsview:{S}@db.internal:5432", "connecting to opsview:***@db.internal:5432"),
    (f"POST https://h.example/api?token={S}&team=ops", "POST https://h.example/api?token=***&team=ops"),
    (f"GET https://maps.example/api?key={S}", "GET https://maps.example/api?key=***"),
    (f"https://acct.blob.example/c/b?sv=2024&sig={S}%2B%3D", "https://acct.blob.example/c/b?sv=2024&sig=***"),
    (f"https://h.example/cb#access_token={S}", "https://h.example/cb#access_token=***"),
    (f"Slack POST URL: https://hooks.slack.com/services/T0/B0/{S}AbCdEfGhIjKl", "https://hooks.slack.com/services/T0/B0/***"),
    (f"Loaded URL: slack://{S}AbCdEfGhIjKl/B1/C2", "slack://***/B1/C2"),
    (f"discord://123456789012345678/{S}aBcDeFgHiJkLmNoP", "discord://123456789012345678/***"),
    (f"json://bob:{S}@127.0.0.1:8080/hook", "json://***@127.0.0.1:8080/hook"),
    (f"postgresql://opsview:{S}@db.internal:5432/opsview", "postgresql://***@db.internal:5432/opsview"),
    (f"Authorization: Bearer {S}", "Authorization: Bearer ***"),
    (f"authorization: Basic {S}==", "authorization: Basic ***"),
    (f"{{'Authorization': 'Bearer {S}', 'Content-Type': 'application/json'}}", "'Content-Type': 'application/json'"),
    (f'{{"Authorization": "{S}"}}', '{"Authorization": "***"}'),
    (f"Authorization: Custom {S} (rejected)", "Authorization: Custom *** (rejected)"),
    (f"X-Api-Key: {S}", "X-Api-Key: ***"),
    (f"x-auth-token={S}", "x-auth-token=***"),
    (f"Cookie: session={S}; theme=dark", "Cookie: ***"),
    (f"token expired: bearer {S}", "bearer ***"),
    (f"host=db password={S} dbname=opsview", "host=db password=*** dbname=opsview"),
    (f"password='{S} with spaces'", "password='***'"),
    (f'"client_secret": "{S}"', '"client_secret": "***"'),
    (f"api_key={S}: refused", "api_key=***: refused"),
    (f"AWS_SECRET_ACCESS_KEY={S}", "AWS_SECRET_ACCESS_KEY=***"),
]


@pytest.mark.parametrize(("text", "kept"), LEAKS)
def test_a_secret_never_survives_in_any_of_its_forms(text: str, kept: str | None) -> None:
    out = redact(text)
    assert S not in out
    if kept is not None:
        assert kept in out
    assert redact(out) == out  # idempotent: a message redacted twice reads the same


BENIGN = [
    "collector aws-prod: AccessDenied: not authorized to perform lambda:ListFunctions",
    "opsview.toml:12: notifiers.hook.headers: header 'Authorization': the value must be one line (no CR, LF or NUL)",
    "web.auth.token_env: environment variable OPSVIEW_WEB_TOKEN is not set or empty",
    "web: basic authentication required for every page",
    "https://management.azure.com/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers"
    "/Microsoft.Web/sites?api-version=2023-01-01: 403",
    "webhook http://127.0.0.1:8080/hook: HTTP 503",
    "exit_code=2 firing=3 monkey=1 threshold=0.05",
    "alertmanager http://am-1:9093/api/v2/alerts: no answer within 2s",
    "aws/111111111111/us-east-1/checkout-api: p99 1.2s > 1s",
    "OTLP push of 2026-01-01T00:00:00+00:00..2026-01-01T00:05:00+00:00 to http://collector:4318/v1/metrics failed",
]


@pytest.mark.parametrize("text", BENIGN)
def test_text_without_a_secret_comes_back_unchanged(text: str) -> None:
    assert redact(text) == text
    assert redact("mail ops@example.com at 12:30") == "mail ops@example.com at 12:30"


def test_redact_url_keeps_what_diagnosis_needs() -> None:
    assert redact_url(f"https://u:{S}@h.example:8443/a/b?x=1&token={S}#f") == "https://***@h.example:8443/a/b?x=1&token=***#f"
    assert redact_url("http://[::1]:9093/api/v2/alerts") == "http://[::1]:9093/api/v2/alerts"


def test_remembered_secrets_are_blanked_in_any_context() -> None:
    header = "hdr-remembered-0f3c"
    remember(header, "abc")  # too short to blank by value: "abc" would go from every line
    remember_url("https://ops:pw-remembered-77@h.example/hook?team=ops&sig=sig-remembered-91")
    echoed = f"receiver said: bad header {header}; bad signature sig-remembered-91 for pw-remembered-77 (abc)"
    out = redact(echoed)
    for secret in (header, "sig-remembered-91", "pw-remembered-77"):
        assert secret not in out
    assert "(abc)" in out
    assert redact("team ops") == "team ops"  # a non-secret query value of a configured URL stays


def test_configured_headers_are_remembered_when_they_hold_a_secret() -> None:
    remember_header("X-Team", "platform")  # not a secret: every "platform" in a log would go
    remember_header("X-Hook-Token", "lowercaseonlytoken")  # the name says secret
    remember_header("Authorization", "Bearer Rm9vQmFy-remembered")
    out = redact("platform.report: lowercaseonlytoken Rm9vQmFy-remembered")
    assert out == "platform.report: *** ***"


def test_one_line_blanks_before_it_cuts() -> None:
    # A cut through the URL would leave "...alice:Zq7s3c" that no pattern recognises any more.
    message = "x" * (ONE_LINE_MAX - 20) + f" http://alice:{S}@h.example/hook"
    out = one_line(message)
    assert len(out) <= ONE_LINE_MAX
    assert S[:6] not in out


_TOKEN = st.text(string.ascii_letters + string.digits + "-_", min_size=12, max_size=40).filter(
    lambda t: any(c.isdigit() for c in t) and any(c.isalpha() for c in t))
_TEMPLATES = [
    "http://user:{s}@host.example/path",
    "https://host.example/p?access_token={s}&x=1",
    "Authorization: Bearer {s}",
    "{{'Authorization': 'Basic {s}'}}",
    "password={s}",
    '"secret": "{s}"',
    "slack://{s}{s}/B/C",
]


@settings(max_examples=300, deadline=None)
@given(secret=_TOKEN, template=st.sampled_from(_TEMPLATES), before=st.text(max_size=30), after=st.text(max_size=30))
def test_property_no_secret_survives_whatever_surrounds_it(secret: str, template: str, before: str,
                                                            after: str) -> None:
    assume(secret not in before + after)
    text = before + " " + template.format(s=secret) + " " + after
    out = redact(text)
    assert secret not in out
    assert MASK in out
