"""The rule pack `opsview demo` watches is the one config.example.toml documents."""

from pathlib import Path

from opsview.alerts.defaults import default_rules
from opsview.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def test_packaged_defaults_match_the_documented_rule_pack() -> None:
    documented = load_config(EXAMPLE).alerts.rules
    assert [r.model_dump() for r in default_rules()] == [r.model_dump(exclude={"notify"}) | {"notify": []}
                                                          for r in documented]
