"""Logging is configured once, at the entry point; the TUI logs to a file only.

Every line, to the file or the terminal, tracebacks included, passes through `opsview.redact` first: a library
that logs a URL with a token or a header (Apprise, urllib3, an SDK) cannot put it on screen or on disk.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from platformdirs import user_log_dir

from opsview.redact import redact

_CREDENTIAL_CHAIN_LOGGERS = ("azure.identity", "google.auth._default", "google.auth.compute_engine",
                             "botocore.credentials")


def default_log_file() -> Path:
    return Path(user_log_dir("opsview", appauthor=False)) / "opsview.log"


def setup_logging(level: str = "WARNING", *, log_file: Path | None = None, to_stderr: bool = True) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG)
    debug = level.upper() == "DEBUG"
    # Python warnings go through logging too, so that they reach the log file and never the terminal at
    # ordinary levels: raw on stderr they would break the one-line output of `collect`/`check` and draw over
    # the TUI. Filters cannot be trusted to hold them back: `warnings.catch_warnings` is not thread-safe
    # (https://docs.python.org/3/library/warnings.html#available-context-managers) and google-auth enters it
    # while resolving credentials on a collector thread, so a filter a library installs meanwhile on another
    # thread (requests silencing urllib3's SOCKS DependencyWarning on import) can be undone.
    logging.captureWarnings(True)
    fmt = _RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.INFO)
        file_handler.setFormatter(fmt)
        root.addHandler(file_handler)
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(level.upper())
        stream.setFormatter(_OneLineFormatter("opsview: %(levelname)s: %(message)s", tracebacks=debug))
        if not debug:
            stream.addFilter(_no_python_warnings)
        root.addHandler(stream)
    # SDKs are chatty at INFO and may echo request details; keep them to warnings.
    for noisy in ("botocore", "boto3", "urllib3", "azure", "google", "werkzeug", "waitress", "psycopg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A failed credential chain is logged by the SDKs as pages of text (azure-identity: every credential tried,
    # on each attempt; google-auth: each metadata-server probe): the source's health line says what to fix
    # (`opsview.collectors.credentials`), and the whole chain is shown at DEBUG only.
    for chain in _CREDENTIAL_CHAIN_LOGGERS:
        logging.getLogger(chain).setLevel(logging.WARNING if debug else logging.CRITICAL)
    # Apprise logs each bad URL itself, half-masked; our one-line delivery error never shows the URL at all.
    # Its DEBUG (and TRACE) lines print every request URL and payload, which for most services hold the token:
    # at our DEBUG it gets INFO (its answers and failures), never those.
    logging.getLogger("apprise").setLevel(logging.INFO if debug else logging.CRITICAL)


def _no_python_warnings(record: logging.LogRecord) -> bool:
    """Library warnings are for whoever debugs opsview (the file, `--log-level DEBUG`), not for on-call."""
    return record.name != "py.warnings"


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _OneLineFormatter(_RedactingFormatter):
    """The terminal gets one line per problem; tracebacks only at DEBUG (the log file always keeps them)."""

    def __init__(self, fmt: str, *, tracebacks: bool) -> None:
        super().__init__(fmt)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks:
            return super().format(record)
        record.message = record.getMessage()
        return redact(self.formatMessage(record))
