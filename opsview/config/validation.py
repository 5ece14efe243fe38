"""The one validator of config and rule files.

`load_config` and `load_rules` (every command) stop on the first problem this module finds, and
`opsview rules validate` lists all of them: both call the same functions, so they cannot disagree.
Each problem is a `Problem` naming file, line and key. Shapes and bounds are the models' own checks;
what spans several keys (unique names, known notifiers, retention against look-backs) is checked here,
where the lines are known.
"""

from __future__ import annotations

import glob
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opsview.config.alerts import NotifierConfig, RuleConfig, RuleFile
from opsview.config.errors import Loc, Problem, in_file_order, problem_at, validation_problems
from opsview.config.keylines import KeyLines, key_lines, line_of
from opsview.config.models import Config
from opsview.durations import format_duration

_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_LONG_NUMBER = re.compile(r"\d{4000,}")


@dataclass
class FileReport:
    """What one file holds: its problems, and how many of its rules have none."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    good_rules: int = 0


@dataclass
class _Parsed:
    path: Path
    data: dict[str, Any]
    lines: KeyLines


# --- reading ---------------------------------------------------------------------------------


def file_problem(path: Path) -> Problem | None:
    """Why `path` cannot be read as a config file (missing, a directory, a FIFO), or None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Problem(path, None, (), "file not found")
    except OSError as exc:
        return Problem(path, None, (), f"cannot read ({exc.strerror or exc})")
    except ValueError:  # os.stat refuses a NUL in a path (`rule_files = ["\u0000"]`)
        return Problem(path, None, (), "not a usable path (it contains a NUL character)")
    if stat.S_ISDIR(mode):
        return Problem(path, None, (), "is a directory, not a file")
    if not stat.S_ISREG(mode):
        return Problem(path, None, (), "not a regular file")
    return None


def read_text(path: Path) -> str | Problem:
    if (problem := file_problem(path)) is not None:
        return problem
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return Problem(path, None, (), f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        return Problem(path, None, (), f"cannot read ({exc.strerror or exc})")


def parse_toml(text: str, path: Path) -> dict[str, Any] | Problem:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = _TOML_WHERE.search(msg)
        reason = _TOML_WHERE.sub("", msg)
        if where:
            return Problem(path, int(where.group(1)), (),
                           f"TOML syntax error: {reason} (column {where.group(2)})")
        return Problem(path, None, (), f"TOML syntax error: {reason}")
    except RecursionError:
        return Problem(path, None, (), "TOML syntax error: arrays or tables nested too deep")
    except ValueError:  # tomllib turns digits into int(): Python refuses more than 4300 of them
        match = _LONG_NUMBER.search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else None
        return Problem(path, line, (), "TOML value error: a number with thousands of digits")


def _read(path: Path) -> _Parsed | Problem:
    text = read_text(path)
    if isinstance(text, Problem):
        return text
    data = parse_toml(text, path)
    if isinstance(data, Problem):
        return data
    return _Parsed(path, data, key_lines(text))


# --- the config file ---------------------------------------------------------------------------


def check_config_file(path: Path) -> tuple[Config | None, FileReport]:
    parsed = _read(path)
    if isinstance(parsed, Problem):
        return None, FileReport(path, [parsed])
    return _check_config(parsed)


def check_config_text(text: str, path: Path) -> tuple[Config | None, FileReport]:
    """A config from its text (the path only names it in problems)."""
    data = parse_toml(text, path)
    if isinstance(data, Problem):
        return None, FileReport(path, [data])
    return _check_config(_Parsed(path, data, key_lines(text)))


def _check_config(parsed: _Parsed) -> tuple[Config | None, FileReport]:
    path, data, lines = parsed.path, parsed.data, parsed.lines
    report = FileReport(path)
    raw_rules = data.get("alerts", {}).get("rules") if isinstance(data.get("alerts"), dict) else None
    if "path" in data:  # a model field the loader sets, not a key of the file
        allowed = ", ".join(n for n, f in Config.model_fields.items() if not f.exclude)
        report.problems.append(problem_at(path, lines, ("path",), f"unknown key (expected one of: {allowed})"))
    config: Config | None = None
    try:
        config = Config.model_validate({k: v for k, v in data.items() if k != "path"})
    except ValidationError as exc:
        report.problems.extend(validation_problems(exc, Config, path, lines))
    if config is not None and not report.problems:
        config = config.model_copy(update={"path": path})
        report.problems.extend(_cross_checks(config, lines))
    report.problems = in_file_order(report.problems)
    report.good_rules = _good_rules(raw_rules, ("alerts", "rules"), report.problems)
    return (config if not report.problems else None), report


def _cross_checks(config: Config, lines: KeyLines) -> list[Problem]:
    assert config.path is not None
    path = config.path
    out: list[Problem] = []
    names: dict[str, Loc] = {}
    for kind, index, source in config.sources.named():
        name = source.name or kind
        loc: Loc = ("sources", kind, index)
        loc += ("name",) if (*loc, "name") in lines else ()
        if name in names:
            other = line_of(lines, names[name])
            also = f" (also on line {other})" if other else ""
            out.append(problem_at(path, lines, loc,
                                  f"duplicate source name {name!r}{also}: give each source a unique name"))
        else:
            names[name] = loc
    store, since = config.store.retention, config.collect.since
    if since > store:
        out.append(problem_at(
            path, lines, ("store", "retention") if ("store", "retention") in lines else ("collect", "since"),
            f"store.retention ({format_duration(store)}) is shorter than collect.since ({format_duration(since)}): "
            "a first collection would delete the samples it just wrote",
        ))
    seen: dict[str, str] = {}
    for index, rule in enumerate(config.alerts.rules):
        out.extend(_rule_checks(rule, ("alerts", "rules", index), path, lines, seen, config.notifiers, store))
    return out


def _rule_checks(
    rule: RuleConfig, loc: Loc, path: Path, lines: KeyLines, seen: dict[str, str],
    notifiers: Mapping[str, NotifierConfig] | None, retention: timedelta | None,
) -> list[Problem]:
    out: list[Problem] = []
    if rule.name in seen:
        out.append(problem_at(path, lines, (*loc, "name"),
                              f"duplicate rule name {rule.name!r} (also in {seen[rule.name]})"))
    else:
        line = line_of(lines, loc)
        seen[rule.name] = f"{path}:{line}" if line else str(path)
    if notifiers is not None:
        for index, target in enumerate(rule.notify):
            if target not in notifiers:
                known = f"defined: {', '.join(sorted(notifiers))}" if notifiers else "no [notifiers.*] defined"
                out.append(problem_at(path, lines, (*loc, "notify", index),
                                      f"unknown notifier {target!r} ({known})"))
    if retention is not None and rule.lookback > retention:
        out.append(problem_at(
            path, lines, (*loc, "window"),
            f"the rule looks back {format_duration(rule.lookback)} but store.retention keeps only "
            f"{format_duration(retention)}: it would read a span the store no longer holds",
        ))
    return out


def _good_rules(raw: object, prefix: Loc, problems: list[Problem]) -> int:
    if not isinstance(raw, list):
        return 0
    bad = {p.loc[len(prefix)] for p in problems if p.loc[: len(prefix)] == prefix and len(p.loc) > len(prefix)}
    return len(raw) - len(bad)


# --- rule files ------------------------------------------------------------------------------


def resolve_globs(patterns: list[str], origin: Path, loc: Loc) -> tuple[list[Path], list[Problem]]:
    """Expand the globs at `loc` of the file `origin`, relative to its folder; a plain path that is not a
    readable file is a problem on that line of `origin`, a glob that matches nothing is not."""
    out: list[Path] = []
    problems: list[Problem] = []
    lines: KeyLines | None = None
    for index, pattern in enumerate(patterns):
        full = Path(pattern).expanduser()
        if not full.is_absolute():
            full = origin.parent / full
        if glob.has_magic(str(full)):
            out.extend(Path(p) for p in sorted(glob.glob(str(full), recursive=True)) if Path(p).is_file())
        elif (problem := file_problem(full)) is None:
            out.append(full)
        else:
            if lines is None:
                lines = _lines_of(origin)
            message = "rule file not found" if problem.message == "file not found" else problem.message
            problems.append(problem_at(origin, lines, (*loc, index), f"{full}: {message}"))
    return out, problems


def _lines_of(path: Path) -> KeyLines:
    """The key lines of a file already read once (empty when it went away since)."""
    text = read_text(path)
    return key_lines(text) if isinstance(text, str) else {}


def check_rule_file(
    path: Path, *, seen: dict[str, str] | None = None, notifiers: Mapping[str, NotifierConfig] | None = None,
    retention: timedelta | None = None,
) -> tuple[RuleFile | None, FileReport]:
    """A file of `[[rules]]` (and `[[tests]]`); `seen` holds rule names already defined elsewhere,
    `notifiers` and `retention` come from the config that names the file (None: not checked)."""
    seen = {} if seen is None else seen
    parsed = _read(path)
    if isinstance(parsed, Problem):
        return None, FileReport(path, [parsed])
    report = FileReport(path)
    rule_file: RuleFile | None = None
    try:
        rule_file = RuleFile.model_validate(parsed.data)
    except ValidationError as exc:
        report.problems.extend(validation_problems(exc, RuleFile, path, parsed.lines))
    if rule_file is not None:
        for index, rule in enumerate(rule_file.rules):
            report.problems.extend(_rule_checks(rule, ("rules", index), path, parsed.lines, seen, notifiers,
                                                retention))
    report.problems = in_file_order(report.problems)
    report.good_rules = _good_rules(parsed.data.get("rules"), ("rules",), report.problems)
    return (rule_file if not report.problems else None), report


def check_rules(config: Config, seen: dict[str, str] | None = None) -> tuple[list[RuleConfig], list[FileReport]]:
    """Every rule of a loaded config: inline first, then each file of `alerts.rule_files` in glob order."""
    seen = {} if seen is None else seen
    origin = config.path or Path.cwd() / "config"
    lines = _lines_of(origin) if config.path else {}
    for index, rule in enumerate(config.alerts.rules):
        line = line_of(lines, ("alerts", "rules", index))
        seen.setdefault(rule.name, f"{origin}:{line}" if line else str(origin))
    rules = list(config.alerts.rules)
    files, missing = resolve_globs(list(config.alerts.rule_files), origin, ("alerts", "rule_files"))
    reports = [FileReport(origin, missing)] if missing else []
    for path in files:
        rule_file, report = check_rule_file(path, seen=seen, notifiers=config.notifiers,
                                            retention=config.store.retention)
        reports.append(report)
        if rule_file is not None:
            rules.extend(rule_file.rules)
    return rules, reports


def check_rule_test_file(
    path: Path, config: Config | None = None
) -> tuple[RuleFile | None, list[RuleConfig], list[FileReport]]:
    """A rule test file (`opsview rules test`): its rules and tests plus the rules of the files it names.

    A named file that is the main config (more than rules, rule_files and tests) brings its inline rules
    and its rule files, as does `config` (`rules test --config`, first); a file reached twice counts once."""
    seen: dict[str, str] = {}
    rules: list[RuleConfig] = []
    reports: list[FileReport] = []
    done: set[Path] = set()
    if config is not None:
        if config.path is not None:
            done.add(_identity(config.path))
        rules, reports = _config_rules(config, seen)
    rule_file, report = check_rule_file(path, seen=seen)
    reports.append(report)
    if rule_file is None:
        return None, [], reports
    rules.extend(rule_file.rules)
    files, missing = resolve_globs(list(rule_file.rule_files), path, ("rule_files",))
    report.problems.extend(missing)
    for extra in files:
        if _identity(extra) in done:
            continue
        done.add(_identity(extra))
        parsed = _read(extra)
        if not isinstance(parsed, Problem) and not set(parsed.data) <= set(RuleFile.model_fields):
            named, config_report = _check_config(parsed)
            reports.append(config_report)
            if named is not None:
                more_rules, more_reports = _config_rules(named, seen)
                rules.extend(more_rules)
                reports.extend(more_reports)
            continue
        more, more_report = check_rule_file(extra, seen=seen)
        reports.append(more_report)
        if more is not None:
            rules.extend(more.rules)
    ok = not any(r.problems for r in reports)
    return (rule_file if ok else None), rules, reports


def _config_rules(config: Config, seen: dict[str, str]) -> tuple[list[RuleConfig], list[FileReport]]:
    """A config's rules for a rule test, their names checked against the rules `seen` before them."""
    origin = config.path or Path.cwd() / "config"
    lines = _lines_of(origin) if config.path else {}
    twice = [problem_at(origin, lines, ("alerts", "rules", index, "name"),
                        f"duplicate rule name {rule.name!r} (also in {seen[rule.name]})")
             for index, rule in enumerate(config.alerts.rules) if rule.name in seen]
    rules, reports = check_rules(config, seen)
    return rules, ([FileReport(origin, twice)] if twice else []) + reports


# --- `opsview rules validate` ----------------------------------------------------------------


def check_files(paths: list[Path]) -> list[FileReport]:
    """Every problem of config and rule files, as `opsview rules validate` lists them.

    A config is checked exactly as `load_config` and `load_rules` check it (its rule files included);
    a file holding only `rules`, `rule_files` and `tests` is a rule file, checked on its own (its notifier
    names against no config). Configs go first, and a file reached twice is checked once.
    """
    reports: list[FileReport] = []
    done: set[Path] = set()
    rule_files: list[tuple[Path, bool]] = []
    for path in paths:
        parsed = _read(path)
        if isinstance(parsed, Problem):
            reports.append(FileReport(path, [parsed]))
            done.add(_identity(path))
        elif parsed.data and set(parsed.data) <= set(RuleFile.model_fields):
            rule_files.append((path, bool(parsed.data.get("rule_files"))))
        elif _identity(path) not in done:
            done.add(_identity(path))
            config, report = _check_config(parsed)
            reports.append(report)
            if config is not None:
                _, more = check_rules(config)
                reports.extend(more)
                done.update(_identity(r.path) for r in more)
    seen: dict[str, str] = {}
    for path, names_files in rule_files:
        if _identity(path) in done:
            continue
        done.add(_identity(path))
        if names_files:  # a rule test file: checked with the rule files it loads, as `rules test` does
            reports.extend(check_rule_test_file(path)[2])
        else:
            reports.append(check_rule_file(path, seen=seen)[1])
    return reports


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()

