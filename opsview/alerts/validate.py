"""`opsview rules validate`: every problem of a config or rule file, one line each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from opsview.config import Config, ConfigError, RuleConfig
from opsview.config.alerts import NotifierConfig, RuleFile
from opsview.config.loader import _explain, format_loc, key_lines, parse_toml, read_text

_RATIOS = {"error_rate", "throttle_rate", "cold_start_rate"}
_RULE_FILE_KEYS = set(RuleFile.model_fields)


def _line(lines: Mapping[tuple[int | str, ...], int], loc: tuple[int | str, ...]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _errors(
    exc: ValidationError, prefix: tuple[int | str, ...], path: Path, lines: Mapping[tuple[int | str, ...], int],
    root: type[BaseModel],
) -> list[str]:
    out = []
    for error in exc.errors(include_url=False):
        loc = prefix + tuple(error["loc"])
        line = _line(lines, loc)
        where = f"{path}:{line}" if line else str(path)
        out.append(f"{where}: {format_loc(loc)}: {_explain(error, root)}")
    return out


def _semantics(
    rule: RuleConfig, loc: tuple[int | str, ...], path: Path, lines: Mapping[tuple[int | str, ...], int],
    notifiers: Mapping[str, NotifierConfig] | None,
) -> list[str]:
    def at(field: str, message: str) -> str:
        line = _line(lines, (*loc, field))
        return f"{path}:{line}: {format_loc((*loc, field))}: {message}" if line else f"{path}: {message}"

    out = []
    if rule.measure in _RATIOS and rule.threshold > 1:
        out.append(at("threshold", f"{rule.measure} is a fraction (0.05 = 5%), threshold {rule.threshold:g} "
                                   "can never be exceeded"))
    if rule.measure == "timeout_ratio" and rule.threshold > 1.5:
        out.append(at("threshold", f"timeout_ratio is p99 / timeout (1.0 = at the timeout), threshold "
                                   f"{rule.threshold:g} looks like a percentage"))
    if notifiers is not None:
        for target in rule.notify:
            if target not in notifiers:
                known = ", ".join(sorted(notifiers)) or "none defined"
                out.append(at("notify", f"unknown notifier {target!r} ({known})"))
    return out


def _rules(
    raw: Any, prefix: tuple[int | str, ...], path: Path, lines: Mapping[tuple[int | str, ...], int],
    notifiers: Mapping[str, NotifierConfig] | None, seen: dict[str, str],
) -> tuple[list[str], int]:
    problems: list[str] = []
    if not isinstance(raw, list):
        return problems, 0
    good = 0
    for index, item in enumerate(raw):
        loc = (*prefix, index)
        try:
            rule = RuleConfig.model_validate(item)
        except ValidationError as exc:
            problems.extend(_errors(exc, loc, path, lines, RuleConfig))
            continue
        if rule.name in seen:
            line = _line(lines, (*loc, "name"))
            problems.append(f"{path}:{line}: {format_loc((*loc, 'name'))}: duplicate rule name {rule.name!r} "
                            f"(also in {seen[rule.name]})")
            continue
        seen[rule.name] = f"{path}:{_line(lines, loc)}"
        found = _semantics(rule, loc, path, lines, notifiers)
        problems.extend(found)
        good += 0 if found else 1
    return problems, good


def validate_file(path: Path, seen: dict[str, str] | None = None,
                  notifiers: Mapping[str, NotifierConfig] | None = None) -> tuple[list[str], int]:
    """(problems, number of valid rules) of a config file or a rule file."""
    seen = {} if seen is None else seen
    try:
        text = read_text(path)
        data = parse_toml(text, path)
    except ConfigError as exc:
        return [str(exc)], 0
    lines = key_lines(text)
    if set(data) <= _RULE_FILE_KEYS:
        problems, good = _rules(data.get("rules", []), ("rules",), path, lines, notifiers, seen)
        rest = {k: v for k, v in data.items() if k != "rules"}
        try:
            RuleFile.model_validate(rest)
        except ValidationError as exc:
            problems.extend(_errors(exc, (), path, lines, RuleFile))
        return problems, good
    # A whole config: the rules one by one (each problem on its line), the rest as a whole.
    alerts = data.get("alerts") if isinstance(data.get("alerts"), dict) else {}
    assert isinstance(alerts, dict)
    notifier_models: dict[str, NotifierConfig] = {}
    problems = []
    for name, raw in (data.get("notifiers") or {}).items():
        try:
            notifier_models[name] = NotifierConfig.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_errors(exc, ("notifiers", name), path, lines, NotifierConfig))
    rule_problems, good = _rules(alerts.get("rules", []), ("alerts", "rules"), path, lines, notifier_models, seen)
    problems.extend(rule_problems)
    rest = dict(data)
    rest["alerts"] = {k: v for k, v in alerts.items() if k != "rules"}
    rest["notifiers"] = {}
    try:
        config = Config.model_validate(rest)
    except ValidationError as exc:
        problems.extend(_errors(exc, (), path, lines, Config))
        return problems, good
    from opsview.alerts.rules import resolve_globs

    try:
        files = resolve_globs(list(config.alerts.rule_files), path.parent)
    except ConfigError as exc:
        problems.append(str(exc))
        files = []
    for rule_file in files:
        more, more_good = validate_file(rule_file, seen, notifier_models)
        problems.extend(more)
        good += more_good
    return problems, good


def validate_files(paths: Sequence[Path]) -> tuple[list[str], int]:
    seen: dict[str, str] = {}
    problems: list[str] = []
    good = 0
    for path in paths:
        found, ok = validate_file(path, seen)
        problems.extend(found)
        good += ok
    return problems, good
