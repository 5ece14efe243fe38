"""Adding a silence: one path for `opsview silence add`, the TUI's alerts screen and the web's alerts page.

Each records the same fields through the same store call; only `created_by` says who (the local user
for the CLI and the TUI, the authenticated web user or "web").
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from opsview.alert_records import Silence
from opsview.durations import EXAMPLES, parse_duration
from opsview.schema import FunctionKey
from opsview.store.base import AlertStore

MAX_SILENCE = timedelta(days=365)
_GLOB_SPECIAL = re.compile(r"([*?\[])")


def add_silence(
    store: AlertStore, rule: str, function: str, duration: timedelta, comment: str, created_by: str, now: datetime
) -> Silence:
    """A silence of `rule` (a glob) for the functions `function` (a glob) from `now` for `duration`."""
    return store.add_silence(rule, function, now, now + duration, comment, created_by)


def exact_glob(text: str) -> str:
    """A glob that matches `text` only (silences take globs; a rule or function name may hold `*?[`)."""
    return _GLOB_SPECIAL.sub(r"[\1]", text)


def silence_alert(
    store: AlertStore, rule: str, key: FunctionKey, duration: timedelta, comment: str, created_by: str, now: datetime
) -> Silence:
    """Silence one alert, as `opsview silence add --rule RULE --function provider/account/region/name` does."""
    with writable(store) as target:
        return add_silence(target, exact_glob(rule), exact_glob(str(key)), duration, comment, created_by, now)


def parse_silence_duration(text: str) -> timedelta:
    """What a user typed for "how long"; ValueError with a one-line reason otherwise."""
    try:
        duration = parse_duration(text)
    except ValueError:
        raise ValueError(f'invalid duration "{text.strip()}" (expected {EXAMPLES})') from None
    if duration <= timedelta(0):
        raise ValueError(f'duration must be positive, got "{text.strip()}"')
    if duration > MAX_SILENCE:
        raise ValueError(f'duration "{text.strip()}" is longer than a year; remove the rule instead')
    return duration


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


@contextmanager
def writable(store: AlertStore) -> Iterator[AlertStore]:
    """`store`, or, when a viewer opened it read-only, a short-lived writable store on the same URL.

    A silence is the one write the viewers make; the rest of their work stays on the read-only store."""
    if not getattr(store, "read_only", False):
        yield store
        return
    from opsview.store import open_store

    target = open_store(store.url)
    try:
        yield target
    finally:
        target.close()
