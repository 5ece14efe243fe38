"""Find and load the config file; every problem becomes one `file:line: key: what` line (see errors.py)."""

from __future__ import annotations

import os
from pathlib import Path

from opsview.config.errors import ConfigError, config_error
from opsview.config.models import Config
from opsview.config.validation import check_config_file, check_config_text, file_problem
from opsview.redact import remember_header, remember_url

ENV_VAR = "OPSVIEW_CONFIG"


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
    """The config file to read: `explicit`, else the first candidate that exists; None = defaults.

    A path that was asked for (by --config or $OPSVIEW_CONFIG) but cannot be read is an error, never a
    silent fall back to defaults.
    """
    asked = [(Path(explicit), "")] if explicit is not None else []
    if not asked and (env := os.environ.get(ENV_VAR)):
        asked = [(Path(env), f" (from ${ENV_VAR})")]
    for path, origin in asked:
        problem = file_problem(path)
        if problem is None:
            return path
        message = "config file not found" if problem.message == "file not found" else problem.message
        raise ConfigError(f"{path}: {message}{origin}")
    return next((p for p in candidate_paths() if file_problem(p) is None), None)


def load_config(explicit: str | Path | None = None) -> Config:
    """Load the first config found (or built-in defaults when there is none)."""
    path = find_config(explicit)
    if path is None:
        return Config()
    config, report = check_config_file(path)
    if config is None:
        raise config_error(report.problems)
    remember_secrets(config)
    return config


def parse_config(text: str, path: Path) -> Config:
    """A config from its text; `path` names it in errors and is where rule files are found from."""
    config, report = check_config_text(text, path)
    if config is None:
        raise config_error(report.problems)
    remember_secrets(config)
    return config


def remember_secrets(config: Config) -> None:
    """Tell the redactor every secret the file holds (notifier URLs and headers, the store's and the OTLP
    endpoint's credentials), so no message, log line or stored error shows one, whatever form it takes there."""
    for notifier in config.notifiers.values():
        for url in [notifier.url, *notifier.urls]:
            if url:
                remember_url(url)
        for name, value in notifier.headers.items():
            remember_header(name, value)
    for url in (config.store.url, config.export.otlp.endpoint):
        if url and "://" in url:
            remember_url(url)
