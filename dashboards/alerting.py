"""What the alert views share: each rule's measure (for values in their unit) and the one write the
dashboard makes, a silence, recorded as `opsview silence add` records it."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from opsview.alert_records import Silence
from opsview.alerts.display import Measures, configured_measures
from opsview.alerts.silencing import parse_silence_duration, silence_alert
from opsview.schema import FunctionKey
from opsview.web.context import WebContext
from opsview.web.server import request_user


class SilenceRefusedError(ValueError):
    """Why a silence was not added, as one line for the page."""


def alert_measures(ctx: WebContext) -> Measures:
    """Rule name -> measure, read from the config's rules (and its rule files) at most every few seconds."""
    return ctx.reads.get(("alert-measures",), lambda: configured_measures(ctx.config))


def add_silence(ctx: WebContext, rule: str, function: str, duration: str, comment: str, now: datetime) -> Silence:
    """Silence one alert for the user of the current request. Raises SilenceRefusedError with the reason."""
    user = request_user(current_app)
    if user is None:
        raise SilenceRefusedError("sign in to silence alerts ([web.auth] is configured)")
    try:
        key = FunctionKey.parse(function)
        length = parse_silence_duration(duration or "")
    except ValueError as exc:
        raise SilenceRefusedError(str(exc)) from None
    if not rule:
        raise SilenceRefusedError("no alert chosen")
    return silence_alert(ctx.store, rule, key, length, comment.strip(), user, now)
