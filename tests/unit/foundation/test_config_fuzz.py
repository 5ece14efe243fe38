"""Property tests over generated config and rule files.

Whatever the file says, loading gives a valid `Config` or one `ConfigError` line naming file, line and
key, never another exception; `opsview rules validate` (check_files) agrees with loading line for line;
and every key the generator writes is found on the line it was written on.

The generator builds files from the config models themselves (every section, key and type, each value
sometimes a hostile one: nan, inf, 1e300, 400-digit numbers, negative and giant durations, wrong types,
unknown keys, names that repeat) and writes them in every TOML layout: [tables], [[arrays of tables]],
inline tables, dotted keys, multi-line arrays and strings, comments that look like keys.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from opsview.alerts.rules import load_rules
from opsview.config import Config, ConfigError, load_config
from opsview.config.alerts import RuleConfig, RuleFile
from opsview.config.base import DurationBounds
from opsview.config.keylines import key_lines
from opsview.config.validation import check_files
from opsview.schema import ALL_MEASURES

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_counter = itertools.count()

# --- values ----------------------------------------------------------------------------------

HOSTILE_NUMBERS = st.sampled_from([
    0, -1, -60, -5, 1, 2**63, 2**64 + 1, -(2**63) - 1, 10**30, -(10**30), 1e300, -1e300, 1e-300,
    math.nan, math.inf, -math.inf, -0.0, 0.5,
])
DURATION_TEXT = st.sampled_from([
    "30s", "5m", "1h", "90m", "1h30m", "1d", "7d", "30d", "250ms", "0", "0s", "-5m", "5x", "", " ", "1e300",
    "99999999999999d", "9" * 400 + "s", "1.5h", "1w", "5 m", "m5",
])
NAMES = st.sampled_from(["a", "b", "oncall", "x y", "dé", "", "a.b", "line\nbreak", "quo\"te"])
TEXT = st.one_of(st.text(max_size=12), NAMES, st.sampled_from(["{function}", "{valu}", "{", "[x]\nk = 1"]))
SCALARS = st.one_of(st.booleans(), st.integers(), HOSTILE_NUMBERS, st.floats(), TEXT, DURATION_TEXT)
ANY_VALUE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES | st.text(max_size=6), inner,
                                                                      max_size=3)),
    max_leaves=6,
)


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """(type, Annotated metadata) with Optional removed."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            meta.extend(tp.__metadata__)
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            return tp, meta


def plausible(tp: Any, name: str) -> st.SearchStrategy[Any]:
    """Values a user would plausibly write for a field of type `tp` (right type, sometimes out of range)."""
    tp, _ = _unwrap(tp)
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return model_data(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return st.lists(plausible(inner, name), max_size=3)
    if origin is dict:
        inner = typing.get_args(tp)[1]
        return st.dictionaries(NAMES, plausible(inner, name), max_size=2)
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(tp)) | TEXT
    if tp is timedelta:
        return DURATION_TEXT | HOSTILE_NUMBERS | st.integers(-100, 10**6)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-5, 100) | HOSTILE_NUMBERS.filter(lambda v: isinstance(v, int))
    if tp is float:
        return st.floats(-2, 2) | st.integers(-10, 1000) | HOSTILE_NUMBERS
    if name == "measure":
        return st.sampled_from(ALL_MEASURES) | TEXT
    if name in ("name", "notify"):
        return NAMES
    if name == "url":
        return st.sampled_from(["https://hooks.example.com/x", "http://127.0.0.1:9/h", "not a url", "slack://a/b",
                                "http://u:p@h/x", "http://h:99999/", "ftp://h/x", "http://[::1"]) | TEXT
    if name == "datapoints":
        return st.sampled_from(["3/5", "0/5", "5/3", "1/1441", "x", "03/05"]) | TEXT
    return TEXT


def model_data(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A table for `model`: some of its keys (required ones usually), sometimes a wrong value or unknown key."""
    fields = {(f.alias or n): (f, n) for n, f in model.model_fields.items() if not f.exclude}

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (info, name) in fields.items():
            if not draw(st.integers(0, 9)) < (8 if info.is_required() else 2):
                continue
            out[key] = draw(ANY_VALUE) if draw(st.integers(0, 19)) == 0 else draw(plausible(info.annotation, name))
        if draw(st.integers(0, 14)) == 0:
            out[draw(st.text(min_size=1, max_size=6))] = draw(SCALARS)
        return out

    return build()


CONFIGS = model_data(Config)
RULE_FILES = st.fixed_dictionaries({"rules": st.lists(model_data(RuleConfig), max_size=3)})


def _naming_rule_file(data: dict[str, Any], name_it: bool) -> dict[str, Any]:
    """The config, sometimes naming rules.toml in alerts.rule_files."""
    alerts = data.get("alerts", {})
    if name_it and isinstance(alerts, dict):
        data = {**data, "alerts": {**alerts, "rule_files": ["rules.toml"]}}
    return data


CONFIGS_WITH_RULE_FILE = st.tuples(CONFIGS, st.booleans()).map(lambda t: _naming_rule_file(*t))

# --- writing TOML, remembering the line of every key -------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(name: str) -> str:
    return name if _BARE.fullmatch(name) else toml_string(name)


def toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class Writer:
    """Writes data as TOML in layouts drawn from `choice`; `where` is the line of every key path written."""

    def __init__(self, choice: st.DrawFn) -> None:
        self.draw = choice
        self.lines: list[str] = []
        self.where: dict[tuple[int | str, ...], int] = {}

    def pick(self, weight: int = 2) -> bool:
        return bool(self.draw(st.integers(0, weight)) == 0)

    def add(self, text: str, *locs: tuple[int | str, ...]) -> None:
        for loc in locs:
            self.where.setdefault(loc, len(self.lines) + 1)
        self.lines.extend(text.split("\n"))

    def noise(self) -> None:
        if self.pick(4):
            self.add(self.draw(st.sampled_from(["", "# [fake]", "# name = 'x'", "   # [[alerts.rules]]"])))

    def table(self, loc: tuple[int | str, ...], table: dict[str, Any]) -> None:
        later: list[tuple[str, tuple[int | str, ...], Any]] = []
        for key, value in table.items():
            sub = (*loc, key)
            if isinstance(value, dict) and self.pick(1):
                later.append(("table", sub, value))
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value) and self.pick(1):
                later.append(("array", sub, value))
            elif isinstance(value, dict) and value and self.pick(3) and not any(
                isinstance(v, dict) for v in value.values()
            ):
                for child, child_value in value.items():  # dotted keys: key.child = value
                    self.line_value(f"{toml_key(key)}.{toml_key(child)}", (sub, (*sub, child)), child_value)
            else:
                self.key_value(key, sub, value)
            self.noise()
        for kind, sub, value in later:
            name = ".".join(toml_key(p) for p in sub if isinstance(p, str))
            if kind == "table":
                self.add(f"[{name}]", sub)
                self.table(sub, value)
            else:
                for index, element in enumerate(value):
                    self.add(f"[[{name}]]", sub, (*sub, index))
                    self.table((*sub, index), element)

    def key_value(self, key: str, loc: tuple[int | str, ...], value: Any) -> None:
        if isinstance(value, list) and value and self.pick(2):  # one element per line
            self.add(f"{toml_key(key)} = [", loc)
            for index, element in enumerate(value):
                self.line_value("  ", ((*loc, index),), element, prefix_only=True)
                self.lines[-1] += ","
            self.add("]")
        else:
            self.line_value(toml_key(key), (loc,), value)

    def line_value(self, head: str, locs: tuple[tuple[int | str, ...], ...], value: Any,
                   prefix_only: bool = False) -> None:
        line = len(self.lines) + 1
        for loc in locs:
            self.where.setdefault(loc, line)
        text = self.inline(locs[-1], value, line)
        self.lines.extend(((head + text) if prefix_only else f"{head} = {text}").split("\n"))

    def inline(self, loc: tuple[int | str, ...], value: Any, line: int) -> str:
        if isinstance(value, dict | list):  # a multi-line string inside moves what follows it down
            items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
            out = "{ " if isinstance(value, dict) else "["
            for number, (key, inner) in enumerate(items):
                here = line + out.count("\n")
                self.where.setdefault((*loc, key), here)
                head = f"{toml_key(key)} = " if isinstance(key, str) else ""
                out += ("" if number == 0 else ", ") + head + self.inline((*loc, key), inner, here)
            if isinstance(value, dict):
                return out + " }" if items else "{}"
            return out + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            if math.isnan(value):
                return "nan"
            if math.isinf(value):
                return "inf" if value > 0 else "-inf"
            return repr(value)
        if isinstance(value, int):
            return str(value)
        if "\n" in value and self.pick(1):  # a multi-line string: its lines are text, not keys
            body = toml_string(value)[1:-1].replace("\\u000a", "\n")
            return '"""\n' + body + '"""'
        return toml_string(value)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@st.composite
def written(draw: st.DrawFn, data: st.SearchStrategy[dict[str, Any]]) -> tuple[dict[str, Any], str, Writer]:
    value = draw(data)
    writer = Writer(draw)
    writer.noise()
    writer.table((), value)
    return value, writer.text(), writer


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


# --- properties --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def fresh(folder: Path, text: str, name: str = "opsview.toml") -> Path:
    path = folder / str(next(_counter)) / name
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


ONE_PROBLEM = r"^{path}:(\d+): (\S.*?): (\S.*)$"


def error_of(load: Callable[[], object]) -> str | None:
    """The one line a load stops with, or None when it loads (any other exception fails the test)."""
    try:
        load()
    except ConfigError as exc:
        return str(exc)
    return None


def assert_single_line(message: str, path: Path) -> None:
    assert len(message.splitlines()) == 1, message
    assert "\n" not in message, message
    assert message.startswith(f"{path}:"), message


def assert_one_line(message: str, path: Path, text: str) -> None:
    assert_single_line(message, path)
    match = re.match(ONE_PROBLEM.format(path=re.escape(str(path))), message)
    assert match, message
    assert 1 <= int(match.group(1)) <= text.count("\n") + 1, message


@SETTINGS
@given(doc=written(CONFIGS))
def test_any_config_loads_or_is_one_line_naming_file_line_and_key(
    doc: tuple[dict[str, Any], str, Writer], folder: Path
) -> None:
    data, text, _ = doc
    assert same(tomllib.loads(text), data), text  # the writer wrote what was drawn
    path = fresh(folder, text)
    message = error_of(lambda: load_config(path))
    if message is not None:
        assert_one_line(message, path, text)
    else:
        config = load_config(path)
        assert isinstance(config, Config)
        assert config.path == path


def first_of(problems: list[str]) -> str:
    """The line a command stops with: the first problem, and how many more `rules validate` lists."""
    rest = len(problems) - 1
    return problems[0] + (f" (+{rest} more problem{'s' if rest > 1 else ''})" if rest else "")


@SETTINGS
@given(doc=written(CONFIGS_WITH_RULE_FILE), rules=written(RULE_FILES))
def test_rules_validate_agrees_with_loading_line_for_line(
    doc: tuple[dict[str, Any], str, Writer], rules: tuple[dict[str, Any], str, Writer], folder: Path
) -> None:
    data, text, _ = doc
    if data and set(data) <= set(RuleFile.model_fields):
        return  # a file of only [[rules]] is a rule file to `rules validate`, not a config
    path = fresh(folder, text)
    (path.parent / "rules.toml").write_text(rules[1], encoding="utf-8")
    reports = check_files([path])
    assert reports[0].path == path
    in_config = [str(p) for p in reports[0].problems]
    in_rule_files = [str(p) for r in reports[1:] for p in r.problems]
    stopped = error_of(lambda: load_config(path))
    if stopped is not None:
        assert stopped == first_of(in_config)
        return
    assert in_config == []
    stopped = error_of(lambda: load_rules(load_config(path)))
    if stopped is not None:
        assert stopped == first_of(in_rule_files)
    else:
        assert in_rule_files == []


@SETTINGS
@given(doc=written(CONFIGS))
def test_every_key_written_is_found_on_its_line(doc: tuple[dict[str, Any], str, Writer]) -> None:
    _, text, writer = doc
    found = key_lines(text)
    for loc, line in writer.where.items():
        assert found.get(loc) == line, (loc, line, found.get(loc), text)


@SETTINGS
@given(text=st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_is_a_config_or_one_line(text: str, folder: Path) -> None:
    path = fresh(folder, text)
    message = error_of(lambda: load_config(path))
    if message is not None:
        assert_single_line(message, path)


EXAMPLE = (Path(__file__).resolve().parents[3] / "config.example.toml").read_text(encoding="utf-8")


@SETTINGS
@given(cut=st.integers(0, len(EXAMPLE)), insert=st.sampled_from(["", "-", "nan", "1e300", "\n[", "=", '"', "x", "0"]),
       drop=st.integers(0, 5))
def test_edits_of_the_example_config_are_a_config_or_one_line(cut: int, insert: str, drop: int, folder: Path) -> None:
    text = EXAMPLE[:cut] + insert + EXAMPLE[cut + drop:]
    path = fresh(folder, text)
    message = error_of(lambda: load_rules(load_config(path)))
    if message is not None:
        assert_single_line(message, path)


# --- every number has a bound ------------------------------------------------------------------


def _models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo: list[Any] = [Config, RuleFile]
    while todo:
        tp, _ = _unwrap(todo.pop())
        for arg in typing.get_args(tp):
            todo.append(arg)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in seen:
            seen.append(tp)
            todo.extend(f.annotation for f in tp.model_fields.values())
    return seen


def _numeric_fields() -> list[tuple[str, str, Any, list[Any]]]:
    out = []
    for model in _models():
        for name, info in model.model_fields.items():
            tp, meta = _unwrap(info.annotation)
            if tp in (int, float, timedelta):
                meta = [*meta, *info.metadata]
                meta += [inner for m in meta if isinstance(m, FieldInfo) for inner in m.metadata]
                out.append((model.__name__, name, tp, meta))
    return out


@pytest.mark.parametrize(("model", "name", "tp", "meta"), _numeric_fields(),
                         ids=[f"{m}.{n}" for m, n, _, _ in _numeric_fields()])
def test_every_duration_and_number_has_a_documented_bound(model: str, name: str, tp: Any, meta: list[Any]) -> None:
    field = next(m for m in _models() if m.__name__ == model).model_fields[name]
    doc = field.description or ""
    if tp is timedelta:
        bounds = [getattr(m, "func", None) for m in meta]
        (bound,) = [b for b in bounds if isinstance(b, DurationBounds)]
        assert bound.low in doc, f"{model}.{name}: document {bound!r} in the docstring"
        assert bound.high in doc, f"{model}.{name}: document {bound!r} in the docstring"
        return
    limits = {type(m).__name__: m for m in meta}
    assert {"Ge", "Le"} <= set(limits), f"{model}.{name} needs ge= and le="
    if tp is float:
        assert any(getattr(m, "allow_inf_nan", True) is False for m in meta), f"{model}.{name} must refuse nan/inf"
