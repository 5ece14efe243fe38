"""Logging is configured once, at the entry point; the TUI logs to a file only."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from platformdirs import user_log_dir

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
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    logging.getLogger("apprise").setLevel(logging.DEBUG if debug else logging.CRITICAL)


class _OneLineFormatter(logging.Formatter):
    """The terminal gets one line per problem; tracebacks only at DEBUG (the log file always keeps them)."""

    def __init__(self, fmt: str, *, tracebacks: bool) -> None:
        super().__init__(fmt)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks:
            return super().format(record)
        record.message = record.getMessage()
        return self.formatMessage(record)
