"""Find, read and validate the config file; turn every failure into one readable line."""

from __future__ import annotations

import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from opsview.config.models import Config

ENV_VAR = "OPSVIEW_CONFIG"


class ConfigError(Exception):
    """A config problem, already phrased as the one line the user sees."""


def candidate_paths() -> list[Path]:
    """The lookup order after --config: $OPSVIEW_CONFIG, ./opsview.toml, the user config dir."""
    paths: list[Path] = []
    if env := os.environ.get(ENV_VAR):
        paths.append(Path(env))
    paths.append(Path("opsview.toml"))
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    paths.append(Path(xdg) / "opsview" / "config.toml")
    return paths


def find_config(explicit: str | Path | None = None) -> Path | None:
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        return path
    env = os.environ.get(ENV_VAR)
    if env and not Path(env).is_file():
        raise ConfigError(f"{env}: config file not found (from ${ENV_VAR})")
    return next((p for p in candidate_paths() if p.is_file()), None)


def load_config(explicit: str | Path | None = None) -> Config:
    """Load the first config found (or built-in defaults when there is none)."""
    path = find_config(explicit)
    if path is None:
        return Config()
    return parse_config(read_text(path), path)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        if where:
            line, column = where.group(1), where.group(2)
            raise ConfigError(f"{path}:{line}: TOML syntax error: {reason} (column {column})") from None
        raise ConfigError(f"{path}: TOML syntax error: {reason}") from None


def parse_config(text: str, path: Path) -> Config:
    data = parse_toml(text, path)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, text, path, Config)) from None
    return config.model_copy(update={"path": path})


# --- error formatting -----------------------------------------------------------------------


def format_validation_error(exc: ValidationError, text: str, path: Path, root: type[BaseModel]) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    key_path = format_loc(loc)
    line = key_lines(text).get(_longest_known_prefix(loc, key_lines(text)))
    where = f"{path}:{line}" if line else str(path)
    message = _explain(first, root)
    more = f" (+{len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{where}: {key_path + ': ' if key_path else ''}{message}{more}"


def format_loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _explain(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, tuple(error["loc"])[:-1])
        return f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    expected = {
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "a whole number",
        "float_type": "a number",
        "float_parsing": "a number",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "string_type": "a string",
        "list_type": "a list",
        "dict_type": "a table",
        "model_type": "a table",
        "model_attributes_type": "a table",
    }.get(kind)
    if expected:
        return f"expected {expected}, got {_describe(value)}"
    msg = str(error["msg"])
    if kind == "literal_error":
        return msg.replace("Input should be", "expected") + f", got {_describe(value)}"
    return msg[0].lower() + msg[1:] if msg else kind


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _allowed_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
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


# --- mapping key paths to line numbers ---------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _split_dotted(name: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', name)
    return [p.strip("\"'") for p in parts]


def key_lines(text: str) -> dict[tuple[int | str, ...], int]:
    """Map each key path the file spells out (tables, arrays of tables, keys, inline keys) to its line."""
    lines: dict[tuple[int | str, ...], int] = {}
    array_counts: dict[tuple[str, ...], int] = {}
    table: tuple[int | str, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            names = _split_dotted(header.group(2))
            prefix: tuple[int | str, ...] = ()
            for name in names[:-1]:
                prefix += (name,)
                plain = tuple(str(p) for p in prefix)
                if plain in array_counts:
                    prefix += (array_counts[plain] - 1,)
            prefix += (names[-1],)
            if header.group(1) == "[[":
                plain = tuple(str(p) for p in prefix)
                array_counts[plain] = array_counts.get(plain, 0) + 1
                prefix += (array_counts[plain] - 1,)
            table = prefix
            lines.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            path = table + tuple(_split_dotted(key.group(1)))
            lines.setdefault(path, number)
            rest = raw[key.end() :]
            for inline in _INLINE_KEY.finditer(rest):
                lines.setdefault(path + (inline.group(1).strip('"'),), number)
    return lines


def _longest_known_prefix(
    loc: tuple[int | str, ...], known: Mapping[tuple[int | str, ...], int]
) -> tuple[int | str, ...]:
    for end in range(len(loc), 0, -1):
        if loc[:end] in known:
            return loc[:end]
    return ()
