"""What every command shares: --config/--store/--log-level, and errors as one line."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from opsview.config import Config, ConfigError, load_config
from opsview.durations import format_duration, parse_duration
from opsview.logs import setup_logging
from opsview.redact import redact
from opsview.store import Store, StoreError, as_store_error, default_store_path, open_store, redact_url

if TYPE_CHECKING:
    pass

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
MAX_OPTION_DURATION = timedelta(days=3650)
"""The longest --since / --window: the store's longest retention (`now - 99999999d` overflows)."""


def common_options(func: F) -> F:
    """--config, --store and --log-level, accepted after any command."""

    # No click.Path checks: a config that is a directory or unreadable is the loader's one-line error
    # (exit 2, or UNKNOWN for `check`), not a usage message.
    @click.option("--config", "config_path", default=None, metavar="PATH",
                  help="Config file (default: $OPSVIEW_CONFIG, ./opsview.toml, ~/.config/opsview/config.toml).")
    @click.option("--store", "store_url", default=None, metavar="PATH|URL",
                  help="Store file or URL (default: [store].url, else the user data directory).")
    @click.option("--log-level", default="WARNING", show_default=True,
                  type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
                  help="Log level on stderr.")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class Env:
    config: Config
    store_url: str | Path | None

    @property
    def store_label(self) -> str:
        """Where the store is, for messages."""
        return redact_url(str(self.store_url or default_store_path()))

    def open_store(self, *, read_only: bool = False) -> Store:
        try:
            return open_store(self.store_url, read_only=read_only)
        except StoreError as exc:
            fail(str(exc))


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"opsview: {redact(message)}", err=True)
    sys.exit(code)


def load_env(config_path: str | None, store_url: str | None, log_level: str = "WARNING",
             *, log_to_stderr: bool = True) -> Env:
    setup_logging(log_level, to_stderr=log_to_stderr)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
    return Env(config, store_url or config.store.url)


@contextmanager
def store_errors(where: str = "store") -> Iterator[None]:
    """A store failure mid-command becomes one line and exit code 2, never a traceback: a StoreError,
    or a database driver's error that says the store broke under a read (a damaged page)."""
    try:
        yield
    except Exception as exc:
        error = as_store_error(exc, where)
        if error is None:
            raise
        fail(str(error))


class DurationType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            delta = parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if delta.total_seconds() <= 0:
            self.fail(f'duration must be positive, got "{value}"', param, ctx)
        if delta > MAX_OPTION_DURATION:
            self.fail(f'duration must be at most {format_duration(MAX_OPTION_DURATION)}, got "{value}"', param, ctx)
        return delta


DURATION = DurationType()
