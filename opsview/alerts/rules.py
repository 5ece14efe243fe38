"""Rules from the config and the files `alerts.rule_files` names (globs relative to the config file)."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from opsview.config import Config, ConfigError, RuleConfig
from opsview.config.alerts import NotifierConfig, RuleFile
from opsview.config.loader import format_validation_error, key_lines, parse_toml, read_text


def resolve_globs(patterns: list[str], base: Path) -> list[Path]:
    """Expand globs relative to `base`; a plain path that does not exist is an error, an empty glob is not."""
    out: list[Path] = []
    for pattern in patterns:
        full = Path(pattern).expanduser()
        if not full.is_absolute():
            full = base / full
        if glob.has_magic(str(full)):
            out.extend(Path(p) for p in sorted(glob.glob(str(full), recursive=True)) if Path(p).is_file())
        elif full.is_file():
            out.append(full)
        else:
            raise ConfigError(f"{full}: rule file not found (from alerts.rule_files {pattern!r})")
    return out


def read_rule_file(path: Path) -> RuleFile:
    text = read_text(path)
    data = parse_toml(text, path)
    try:
        return RuleFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, text, path, RuleFile)) from None


def _rule_line(path: Path, index: int, field: str | None = None) -> str:
    try:
        lines = key_lines(path.read_text(encoding="utf-8"))
    except OSError:
        return str(path)
    line = lines.get(("rules", index, field)) if field else None
    line = line or lines.get(("rules", index)) or lines.get(("alerts", "rules", index))
    return f"{path}:{line}" if line else str(path)


def load_rules(config: Config) -> list[RuleConfig]:
    """Every rule, inline first, then each rule file in glob order; names unique, notifiers known."""
    rules: list[RuleConfig] = list(config.alerts.rules)
    origins: dict[str, str] = {r.name: str(config.path or "config") for r in rules}
    base = config.path.parent if config.path else Path.cwd()
    for path in resolve_globs(list(config.alerts.rule_files), base):
        parsed = read_rule_file(path)
        for index, rule in enumerate(parsed.rules):
            if rule.name in origins:
                raise ConfigError(
                    f"{_rule_line(path, index, 'name')}: rules[{index}].name: duplicate rule name {rule.name!r} "
                    f"(also in {origins[rule.name]})"
                )
            unknown = _unknown_notifier(rule, config.notifiers)
            if unknown:
                raise ConfigError(f"{_rule_line(path, index, 'notify')}: rules[{index}].notify: {unknown}")
            origins[rule.name] = str(path)
            rules.append(rule)
    return rules


def _unknown_notifier(rule: RuleConfig, notifiers: Mapping[str, NotifierConfig]) -> str | None:
    for target in rule.notify:
        if target not in notifiers:
            known = ", ".join(sorted(notifiers)) or "none defined"
            return f"unknown notifier {target!r} ({known})"
    return None
