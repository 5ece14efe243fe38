"""The error signature rule: what makes two error messages "the same failure".

One rule for every cloud's collector and for `opsview ingest`: the error type, then the message with
the parts that vary between occurrences of one failure replaced by placeholders -

    quoted values ('...', "...") <str> · the value of an id field (`TrackingId:...`, `request_id=...`) and
    long tokens mixing letters and digits (generated ids) <id> · timestamps <ts> · UUIDs (request ids) <uuid>
    · IPv4 addresses <ip> · hex (0x..., and runs of 8+ hex digits holding a digit: trace ids, hashes) <hex>
    · numbers, durations and sizes included <n>

so `Task timed out after 3.00 seconds` and `... after 900.00 seconds` are both `Task timed out after
<n> seconds`, while `exit status 1` and `signal: segmentation fault` stay apart. Words are never
touched: a different word is a different failure.

Pure and fast: normalising a message is a few regular-expression passes in C, and repeated messages
(the common case: one failure logged thousands of times) come from a bounded LRU cache
(`bench/signatures.py` measures both against a naive per-line normalisation). Never raises; every
output is bounded (`MAX_SIGNATURE_CHARS`), and normalising a signature again gives it back unchanged.
"""

from __future__ import annotations

import functools
import re
from typing import Final

MAX_TYPE_CHARS: Final = 100
MAX_MESSAGE_CHARS: Final = 400
MAX_SIGNATURE_CHARS: Final = MAX_TYPE_CHARS + 2 + MAX_MESSAGE_CHARS
"""No signature is longer (type, ": ", normalised message). The store keys signatures by this text."""
MAX_SAMPLE_BYTES: Final = 2048
"""A stored sample message is cut to this many UTF-8 bytes."""
NO_MESSAGE: Final = "(no message)"
"""The signature of an error that carries neither a type nor a message."""

_RAW_CHARS = 1024  # only the head of a huge message is normalised (and cached): bounded work and memory
_CACHE_SIZE = 4096  # distinct messages remembered: at most ~4 MB even if every one is _RAW_CHARS long
_ELLIPSIS = "…"

# One alternation scanned once, left to right; at each position the first rule that matches wins. Each
# group's name is its placeholder's text.
_RULES: Final[tuple[tuple[str, str], ...]] = (
    # Quoted values: an opening quote not glued to a word (so "can't" opens nothing), up to its closing
    # quote. Data, not code: KeyError 'user_42' and KeyError 'cart_9' are one failure.
    ("str", r"(?<![\w>])'[^']*'|(?<![\w>])\"[^\"]*\""),
    # The value of an id field, whatever its shape: `TrackingId:<guid>_G12`, `request_id=a1b2`, `traceId: x`.
    ("id", r"(?P<key>\b(?:[A-Za-z0-9_-]*(?:Id|ID|_id|-id)|id|ID)[:=] ?)[^\s,;()\[\]{}]{1,200}"),
    # ISO 8601 / RFC 3339 timestamps and dates, and clock times.
    ("ts", r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
           r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"),
    # UUID-shaped ids, letters beyond f included (the Lambda docs print request ids like 8f507cfc-xmpl-...).
    ("uuid", r"\b[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}\b"),
    ("ip", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b|\b(?=[a-fA-F]*\d)[0-9a-fA-F]{8,}\b"),
    # Generated ids: 10+ word characters mixing letters and digits (GCP execution ids, Stripe ids, ...).
    ("token", r"\b(?=[A-Za-z_]*\d)(?=\d*[A-Za-z_])[A-Za-z0-9_]{10,}\b"),
    # Numbers, with their decimals and dotted parts (1.2.3), unless glued after a letter or digit (utf8, v2).
    ("n", r"(?<![A-Za-z0-9.])\d+(?:[.,]\d+)*"),
)
_PATTERN = re.compile("|".join(f"(?P<{name}>{rule})" for name, rule in _RULES))
_PLACEHOLDERS: Final = {name: f"<{name}>" for name, _ in _RULES} | {"token": "<id>"}
_MAY_MATCH = re.compile(r"[0-9'\"]|[Ii][Dd][:=]")  # what every rule needs: text without any of it is done
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def signature(error_type: str | None, message: str | None) -> str:
    """`Type: normalised message`; either part may be missing. The store's key for "the same failure".

    A message that repeats its type (`Error: boom` with type `Error`, as Azure's OuterMessage does) is
    not prefixed twice.
    """
    kind = clean_type(error_type)
    text = normalize_message(message) if message else ""
    if kind and text:
        if text == kind:
            return kind
        if text.startswith(kind + ":"):
            text = text[len(kind) + 1:].lstrip()
        return f"{kind}: {text}" if text else kind
    return kind or text or NO_MESSAGE


def clean_type(error_type: str | None) -> str:
    """An error type as one printable line of at most MAX_TYPE_CHARS (types are code: not normalised)."""
    return _clean_type(error_type[: MAX_TYPE_CHARS * 2]) if error_type else ""


@functools.lru_cache(maxsize=1024)  # a fleet has few error types
def _clean_type(error_type: str) -> str:
    text = " ".join(_printable(error_type).split())
    return text if len(text) <= MAX_TYPE_CHARS else text[: MAX_TYPE_CHARS - 1] + _ELLIPSIS


def normalize_message(message: str) -> str:
    """The message with its varying parts replaced by placeholders, as one line of at most MAX_MESSAGE_CHARS."""
    return _normalize(message[:_RAW_CHARS])


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _normalize(raw: str) -> str:
    text = _fixed_point(" ".join(_printable(raw).split()))
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    head = text[: MAX_MESSAGE_CHARS - 2]
    # Cut between whole tokens: the head of a normalised text is then normalised too. (A token cut in
    # half could match a rule it did not match whole: `deadbeef12` of `deadbeef12zz`.)
    space = head.rfind(" ")
    if space >= MAX_MESSAGE_CHARS // 2:
        return head[:space] + " " + _ELLIPSIS
    for _ in range(4):  # one giant token: normalise its cut head again until it stays as it is
        again = _fixed_point(head)[: MAX_MESSAGE_CHARS - 2]
        if again == head:
            break
        head = again
    return head + " " + _ELLIPSIS


def _fixed_point(text: str) -> str:
    """The rules applied until nothing changes. A replacement can make a neighbour match that did not
    before (`x1'a'`: once `x1` is ... the quote opens), so one pass is not always enough; two almost always are."""
    for _ in range(6):
        if not _MAY_MATCH.search(text):
            break
        again = _apply_rules(text)
        if again == text:
            break
        text = again
    return text


def _apply_rules(text: str) -> str:
    return _PATTERN.sub(_placeholder, text)


def _placeholder(match: re.Match[str]) -> str:
    name = match.lastgroup or "n"
    if name == "id":  # the field's name stays: `TrackingId:<id>`
        return match.group("key") + "<id>"
    return _PLACEHOLDERS[name]


def _printable(text: str) -> str:
    """Control characters out, and text that encodes as UTF-8 (a lone surrogate from a bad decode does not,
    and PostgreSQL refuses NUL in text)."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", text)


def cap_sample(text: str | None) -> str | None:
    """A sample message as stored: printable (newlines kept), at most MAX_SAMPLE_BYTES of UTF-8, cut on a
    character boundary with "…" saying it was cut."""
    if text is None:
        return None
    short = len(text) <= MAX_SAMPLE_BYTES // 4 or (len(text) <= MAX_SAMPLE_BYTES and text.isascii())
    if short and text.isprintable():
        return text  # the common case: one short printable line (no surrogate or control character is printable)
    clean = _CONTROL.sub(" ", text[: MAX_SAMPLE_BYTES * 2])
    data = clean.encode("utf-8", "replace")
    if len(data) <= MAX_SAMPLE_BYTES and len(clean) == len(text):
        return data.decode("utf-8")
    room = MAX_SAMPLE_BYTES - len(_ELLIPSIS.encode())
    return data[:room].decode("utf-8", "ignore") + _ELLIPSIS


# --- telling type and message apart in raw error text ------------------------------------------------

_TYPED_LINE = re.compile(
    r"^(?P<type>(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Exit|Fault|Failure|Timeout|Interrupt"
    r"|Exceeded|Refused))(?::\s*(?P<message>.*))?$"
)
_TRACEBACK = "Traceback (most recent call last):"


def split_error(text: str) -> tuple[str | None, str]:
    """(type, message) from raw error text that carries its type in the words, as runtimes print it:

    - a Python traceback: its last unindented `Type: message` line;
    - `TypeError: Cannot read ...` (Node), `java.lang.IllegalStateException: ...`, `System.TimeoutException:
      ...`: the type before the first colon, when it is a (dotted) name ending in Error, Exception, ...;
    - Go's `panic: runtime error: ...`: type `panic`;
    - anything else: no type, and the first non-empty line as the message (a stack trace's frames are not
      the failure: they are kept in the sample).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None, ""
    first = lines[0].strip()
    if first.startswith(_TRACEBACK):
        for line in reversed(lines[1:]):
            if line[:1].isspace():
                continue
            match = _TYPED_LINE.match(line.strip())
            if match:
                return match.group("type"), match.group("message") or ""
            break
        return None, first
    if first.startswith("panic: "):
        return "panic", first.removeprefix("panic: ")
    match = _TYPED_LINE.match(first)
    if match:
        return match.group("type"), match.group("message") or ""
    return None, first
