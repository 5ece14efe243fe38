"""Secrets out of every text a person or a log sees: one function, `redact`, for every place a URL or a header may
appear (one-line errors through `formatting.one_line`, every log record through `logs`, CLI messages, the
outbox's stored `last_error`).

What it blanks (with `***`):
- a URL's userinfo (`https://alice:pw@host` -> `https://***@host`), the value of a query parameter whose name
  says secret (`token`, `key`, `sig`, `password`, ...) or whose value looks like a token, and path segments or
  hosts that look like tokens (Slack/Discord webhook paths, `slack://TokenA/TokenB/TokenC`);
- `Authorization`-like headers and `Bearer`/`Basic` credentials, `password=...`/`"token": "..."` pairs;
- every literal secret the process was told about with `remember` (header values, URL passwords, the web's
  password or token, OTLP headers): whatever form a receiver or a library echoes them in.

"Looks like a token": 20 or more URL-safe characters with letters and digits or mixed case, or a long hex
string; a UUID is not (cloud resource ids are UUIDs, and hiding them hides which subscription failed).
Over-redaction costs a little diagnosis; under-redaction leaks a credential, so the rules lean to blanking.

No imports from opsview: every layer (formatting, logs, notifiers, config) uses it.
"""

from __future__ import annotations

import re
import threading
import urllib.parse

MASK = "***"
MIN_REMEMBERED = 4
"""Shorter literal secrets are not blanked by value (every `abc` in a log would go); the patterns still catch
them where they sit (userinfo, headers, key=value)."""

# Query parameter names that carry secrets in URLs (`?key=` is Google's API key, `?code=` an OAuth code,
# `?sig=` an Azure SAS signature).
_QUERY_SECRET = re.compile(
    r"(?:^|[_.\-])(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|key|access[_-]?key|private[_-]?key|"
    r"auth|authorization|credentials?|sig|signature|session|sessionid|jwt|code|sas)$",
    re.IGNORECASE,
)
# In free text only the unambiguous names: `exit_code=2` or `monkey=1` must stay as they are.
_TEXT_SECRET = (r"(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
                r"client[_-]?secret|credentials?)")
# scheme://rest, ending at whitespace, a quote, a bracket a message puts around it, or a comma.
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]{0,30})://([^\s'\"<>`\])},]+)")
# `user:password@host` without a scheme (a DSN, an SDK's "connecting to ..." line).
_BARE_USERINFO = re.compile(r"(?<![\w/:@])([\w.%+\-]+):([^\s@/:'\"]+)@(?=[\w\-]+(?:\.[\w\-]+)*)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-~.+=%:]{20,}")
_HEX = re.compile(r"[0-9a-fA-F]{24,}")
# Header lines and dict/JSON items: `Authorization: Bearer x`, `'X-Api-Key': 'x'`, `Cookie: a=b`.
_HEADER = re.compile(
    r"""(?P<name>["']?(?:proxy-)?authorization["']?|["']?x-[a-z0-9-]*(?:token|key|secret|auth)["']?|"""
    r"""["']?(?:set-)?cookie["']?|["']?api-key["']?)(?P<sep>\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\r\n,;}]+)""",
    re.IGNORECASE,
)
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey", "sharedkey",
                           "aws4-hmac-sha256", "sso-key", "splunk", "geniekey"})
_SCHEME_CREDENTIAL = re.compile(r"\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/=\-]{6,})", re.IGNORECASE)
# `password=x`, `"token": "x"`, `client_secret: x`: the name ends in one of the secret words (`token_env` does not).
_PAIR = re.compile(
    rf"""(?P<name>["']?\b(?:[\w.\-]*[_.\-])?{_TEXT_SECRET}\b["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&'"})\]]+)""",
    re.IGNORECASE,
)

_lock = threading.Lock()
_remembered: frozenset[str] = frozenset()
_remembered_re: re.Pattern[str] | None = None


def remember(*secrets: str | None) -> None:
    """Blank these values wherever they appear from now on (process-wide: a secret stays secret)."""
    global _remembered, _remembered_re
    new = {s for s in secrets if s and len(s) >= MIN_REMEMBERED} - _remembered
    if not new:
        return
    with _lock:
        _remembered = _remembered | new
        # Longest first, so a secret containing another is blanked whole.
        ordered = sorted(_remembered, key=len, reverse=True)
        _remembered_re = re.compile("|".join(re.escape(s) for s in ordered))


def remember_url(url: str) -> None:
    """Remember the secret parts of a configured URL: its password, and whatever `redact_url` would blank
    (token-like user, host and path segments, secret query values), so they stay hidden out of URL form too."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return
    secrets: list[str] = []
    if "@" in parts.netloc:
        user, _, password = parts.netloc.rpartition("@")[0].partition(":")
        secrets += [password, urllib.parse.unquote(password)]
        secrets += [u for u in (user, urllib.parse.unquote(user)) if _looks_like_token(u)]
    for name, value in urllib.parse.parse_qsl(parts.query):
        if _QUERY_SECRET.search(name) or _looks_like_token(value):
            secrets.append(value)
    secrets += [seg for seg in [parts.hostname or "", *parts.path.split("/")] if _looks_like_token(seg)]
    remember(*secrets)


_SECRET_HEADER = re.compile(r"auth|token|key|secret|passw|cookie|sig|session|credential", re.IGNORECASE)


def remember_header(name: str, value: str) -> None:
    """Remember a configured header's value when the header or the value says secret (`Authorization`,
    `X-Api-Key`, a value with digits or mixed case); `X-Team: platform` is not, or every "platform" would go."""
    words = value.split()
    if not words:
        return
    if _SECRET_HEADER.search(name) or any(_credential_like(w) for w in words):
        remember(value, *(w for w in words[1:]), *(w for w in words if _credential_like(w)))


def _looks_like_token(text: str) -> bool:
    if _UUID.fullmatch(text):
        return False
    if _HEX.fullmatch(text):
        return True
    if not _TOKENISH.fullmatch(text):
        return False
    mixed_case = any(c.islower() for c in text) and any(c.isupper() for c in text)
    return any(c.isalpha() for c in text) and (mixed_case or any(c.isdigit() for c in text))


def redact_url(url: str, *, keep_user: bool = False) -> str:
    """The URL with its secrets blanked and everything else (scheme, host, port, path) kept for diagnosis;
    `keep_user` keeps the user name and drops the password (a database role says which login failed)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, hashmark, fragment = rest.partition("#")
    rest, qmark, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":") if hostport.count(":") == 1 else (hostport, "", "")
    if _looks_like_token(host):
        host = MASK
    path = "/".join(MASK if _looks_like_token(seg) else seg for seg in path.split("/"))
    shown_user = (userinfo.partition(":")[0] if keep_user else MASK) if at else ""
    return (f"{scheme}://{shown_user}{at}{host}{colon}{port}{slash}{path}"
            f"{qmark}{_redact_query(query)}{hashmark}{_redact_query(fragment)}")


def _redact_query(query: str) -> str:
    if not query:
        return query
    out = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        if eq and value and (_QUERY_SECRET.search(urllib.parse.unquote(name)) or _looks_like_token(value)):
            value = MASK
        elif not eq and _looks_like_token(name):
            name = MASK
        out.append(name + eq + value)
    return "&".join(out)


def redact(text: str) -> str:
    """`text` with every secret this module recognises blanked; text without one comes back unchanged."""
    if not text:
        return text
    pattern = _remembered_re
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if "://" in text:
        text = _URL.sub(_blank_url, text)
    if "@" in text:
        text = _BARE_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    text = _HEADER.sub(_blank_header, text)
    text = _SCHEME_CREDENTIAL.sub(_blank_credential, text)
    return _PAIR.sub(_blank_value, text)


def _blank_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.strip("'\" ").startswith(MASK) or not value.strip("'\" "):
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    tail = "" if quote else value[len(value.rstrip(".:!?")):]  # the sentence's punctuation stays
    return f"{match.group('name')}{match.group('sep')}{quote}{MASK}{quote}{tail}"


def _blank_url(match: re.Match[str]) -> str:
    url = match.group(0)
    bare = url.rstrip(".:;!?")  # the sentence's punctuation after a URL ("http://host/x: refused") is not the URL's
    return redact_url(bare) + url[len(bare):]


def _blank_header(match: re.Match[str]) -> str:
    """A header's value: quoted (a dict or JSON item) always; unquoted only when it reads as a credential
    (`Bearer x`, `abc123`), so prose such as "header 'Authorization': the value must be one line" stays."""
    value = match.group("value")
    if value[:1] in ("'", '"'):
        return _blank_value(match)
    words = value.split()
    if not words:
        return match.group(0)
    head = match.group("name") + match.group("sep")
    if words[0].lower() in _AUTH_SCHEMES and len(words) > 1:
        return f"{head}{value[: value.index(words[0]) + len(words[0])]} {MASK}"
    # `<credential>` or `<Scheme> <credential>`, the scheme one opsview does not know
    for index, word in enumerate(words[:2]):
        if _credential_like(word):
            end = value.index(word) + len(word)
            return f"{head}{' '.join(words[:index] + [MASK])}{value[end:]}"
    return match.group(0)


def _credential_like(word: str) -> bool:
    return (any(c.isdigit() or c in "+/=_-.~" for c in word)
            or (any(c.islower() for c in word) and any(c.isupper() for c in word[1:])))


def _blank_credential(match: re.Match[str]) -> str:
    """`Bearer <token>` / `Basic <base64>`, not the words in "basic authentication required"."""
    return f"{match.group(1)}{match.group(2)}{MASK}" if _credential_like(match.group(3)) else match.group(0)
