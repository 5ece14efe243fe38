"""A bad config file is one line naming file, line and key, exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opsview.config import ConfigError, load_config
from opsview.config.loader import find_config

REPO = Path(__file__).resolve().parents[3]


def run_status(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsview", "status", "--config", str(config), "--store", str(tmp_path / "s.db")],
        capture_output=True, text=True, cwd=tmp_path,
    )


CASES = {
    "toml syntax": ("[store\nurl = 'x'\n", r"bad.toml:1: TOML syntax error: .*"),
    "unknown key": (
        "[collect]\ninterval = '1m'\nintervall = '2m'\n",
        r"bad.toml:3: collect.intervall: unknown key \(expected one of: interval, since, concurrency\)",
    ),
    "wrong type": (
        "[collect]\nconcurrency = 'eight'\n", r'bad.toml:2: collect.concurrency: expected an integer, got "eight"'
    ),
    "bad duration": (
        "[[alerts.rules]]\nname = 'a'\nmeasure = 'errors'\nthreshold = 1\n\n[[alerts.rules]]\nname = 'b'\n"
        "measure = 'error_rate'\nthreshold = 0.05\nfor = '5x'\n",
        r'bad.toml:10: alerts.rules\[1\].for: invalid duration "5x" \(expected e.g. 30s, 5m, 1h30m, 7d\)',
    ),
    "inline table key": (
        "[[alerts.rules]]\nname = 'a'\nmeasure = 'errors'\nthreshold = 1\nmatch = { provider = 'aws', fn = 'x' }\n",
        r"bad.toml:5: alerts.rules\[0\].match.fn: unknown key",
    ),
    "unknown measure": (
        "[[alerts.rules]]\nname = 'a'\nmeasure = 'eror_rate'\nthreshold = 1\n",
        r"bad.toml:3: alerts.rules\[0\].measure: unknown measure 'eror_rate'",
    ),
    "missing required": (
        "[[sources.azure]]\nworkspace_id = 'w'\n",
        r"bad.toml:1: sources.azure\[0\].subscription_id: required key is missing",
    ),
    "not utf-8": (b"[store]\nurl = '\xff\xfe'\n", r"bad.toml: not UTF-8 text"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_is_one_line_with_location_and_exit_2(case: str, tmp_path: Path) -> None:
    text, pattern = CASES[case]
    config = tmp_path / "bad.toml"
    if isinstance(text, bytes):
        config.write_bytes(text)
    else:
        config.write_text(text)
    result = run_status(config, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("opsview: ")
    assert __import__("re").search(pattern, lines[0]), lines[0]


def test_missing_explicit_config_is_an_error_not_defaults(tmp_path: Path) -> None:
    result = run_status(tmp_path / "nope.toml", tmp_path)
    assert result.returncode == 2
    assert "nope.toml: config file not found" in result.stderr


def test_lookup_order_env_then_cwd_then_user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home_cfg = tmp_path / "xdg" / "opsview" / "config.toml"
    home_cfg.parent.mkdir(parents=True)
    home_cfg.write_text("[collect]\nconcurrency = 3\n")
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("OPSVIEW_CONFIG", raising=False)
    assert load_config().collect.concurrency == 3

    (cwd / "opsview.toml").write_text("[collect]\nconcurrency = 4\n")
    assert load_config().collect.concurrency == 4

    env_cfg = tmp_path / "env.toml"
    env_cfg.write_text("[collect]\nconcurrency = 5\n")
    monkeypatch.setenv("OPSVIEW_CONFIG", str(env_cfg))
    assert load_config().collect.concurrency == 5

    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[collect]\nconcurrency = 6\n")
    assert load_config(explicit).collect.concurrency == 6

    monkeypatch.setenv("OPSVIEW_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone.toml: config file not found \(from \$OPSVIEW_CONFIG\)"):
        find_config()


def test_no_config_anywhere_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.delenv("OPSVIEW_CONFIG", raising=False)
    config = load_config()
    assert config.collect.interval.total_seconds() == 60
    assert config.sources.all() == []
    assert config.pricing.price("aws") is not None


def test_the_example_config_is_valid_and_documents_every_store_and_collect_key() -> None:
    example = REPO / "config.example.toml"
    config = load_config(example)
    text = example.read_text()
    for key in ("retention", "rollup_after", "interval", "since", "concurrency", "per_gb_second"):
        assert f"{key} =" in text
    assert config.store.retention.days == 30


def test_sources_get_unique_default_names(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[[sources.demo]]\nseed = 1\n[[sources.demo]]\nseed = 2\n[[sources.gcp]]\nproject_id = 'p'\n")
    names = [s.name for s in load_config(cfg).sources.all()]
    assert names == ["demo-1", "demo-2", "gcp"]
    cfg.write_text("[[sources.demo]]\nname = 'x'\n[[sources.gcp]]\nname = 'x'\nproject_id = 'p'\n")
    with pytest.raises(ConfigError, match="duplicate source name 'x'"):
        load_config(cfg)
