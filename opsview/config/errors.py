"""Config problems as the one line a user reads: `file:line: key: what`.

Every config and rule-file error opsview reports goes through `Problem`, whichever command finds it,
so `opsview rules validate` and the command that refuses to start print the same line.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from opsview.config.keylines import KeyLines, line_of
from opsview.formatting import quoted

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

Loc = tuple[int | str, ...]
"""A key path into the file: table and key names, and list indexes."""


class ConfigError(Exception):
    """A config problem, already phrased as the one line the user sees."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file; `str()` is the line shown to the user."""

    path: Path
    line: int | None
    loc: Loc
    message: str

    @property
    def key(self) -> str:
        return format_loc(self.loc)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.key}: {self.message}" if self.loc else f"{where}: {self.message}"


def problem_at(path: Path, lines: KeyLines, loc: Loc, message: str) -> Problem:
    """A problem at `loc`, on the line of the longest part of `loc` the file spells out."""
    return Problem(path, line_of(lines, loc), loc, message)


def config_error(problems: Sequence[Problem]) -> ConfigError:
    """The error a command stops with: the first problem, and how many more `rules validate` would list."""
    first = problems[0]
    rest = len(problems) - 1
    more = f" (+{rest} more problem{'s' if rest > 1 else ''})" if rest else ""
    return ConfigError(f"{first}{more}")


def in_file_order(problems: Iterable[Problem]) -> list[Problem]:
    """Problems of one file sorted by line (whole-file problems first), stable otherwise."""
    return sorted(problems, key=lambda p: p.line or 0)


def format_loc(loc: Sequence[int | str]) -> str:
    """`("alerts", "rules", 1, "for")` -> `alerts.rules[1].for`; a key that is not a bare TOML key is quoted
    as TOML would (`notifiers."on call".url`)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else quoted(part, 60)
            out += f".{name}" if out else name
    return out


def validation_problems(
    exc: ValidationError, root: type[BaseModel], path: Path, lines: KeyLines, prefix: Loc = ()
) -> list[Problem]:
    """Every error of a pydantic validation of the file's data (or of the part of it at `prefix`)."""
    return [
        problem_at(path, lines, prefix + tuple(error["loc"]), explain(error, root))
        for error in exc.errors(include_url=False)
    ]


def explain(error: ErrorDetails | Mapping[str, Any], root: type[BaseModel]) -> str:
    """What is wrong, in the file's terms (`expected a number, got "x"`), without the key path."""
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, tuple(error["loc"])[:-1])
        return f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    ctx = error.get("ctx") or {}
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }.get(kind)
    if bounds and bounds[1] in ctx:
        limit = ctx[bounds[1]]
        shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
        return f"must be {bounds[0]} {shown}, got {describe(value)}"
    expected = {
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_parsing_size": "an integer of at most 19 digits",
        "int_from_float": "a whole number",
        "float_type": "a number",
        "float_parsing": "a number",
        "finite_number": "a finite number",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "string_type": "a string",
        "list_type": "a list",
        "dict_type": "a table",
        "model_type": "a table",
        "model_attributes_type": "a table",
        "time_delta_type": "a duration",
        "time_delta_parsing": "a duration",
    }.get(kind)
    if expected:
        return f"expected {expected}, got {describe(value)}"
    msg = str(error["msg"])
    if kind == "literal_error":
        return msg.replace("Input should be", "expected") + f", got {describe(value)}"
    return msg[0].lower() + msg[1:] if msg else str(kind)


def describe(value: Any) -> str:
    """A value as the user wrote it in TOML, cut short when long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        return quoted(value, 60)
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, list):
        return "a list"
    elif isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    else:
        try:
            text = repr(value)
        except ValueError:  # an int past Python's digit limit for str()
            return "a number too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(root: type[BaseModel], loc: Loc) -> list[str]:
    model: Any = root
    for part in loc:
        model = _unwrap(model)
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            model = _element(model)
            if isinstance(part, int):
                continue
            model = _unwrap(model)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return []
        model = field.annotation
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items() if not f.exclude]
    return []


def _unwrap(tp: Any) -> Any:
    """Optional[X] / Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0]
        else:
            return tp


def _element(tp: Any) -> Any:
    args = typing.get_args(_unwrap(tp))
    return args[-1] if args else tp
