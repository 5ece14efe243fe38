"""Which functions a rule watches, and which alerts a silence mutes."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from opsview.alert_records import Silence
from opsview.config.alerts import MatchConfig
from opsview.schema import FunctionInfo, FunctionKey


def matches(match: MatchConfig, info: FunctionInfo) -> bool:
    key = info.key
    if match.provider is not None and key.provider != match.provider:
        return False
    if match.account is not None and not fnmatchcase(key.account, match.account):
        return False
    if match.region is not None and not fnmatchcase(key.region, match.region):
        return False
    if match.function is not None and not fnmatchcase(key.name, match.function):
        return False
    return all(info.labels.get(k) == v for k, v in match.labels.items())


def match_key(match: MatchConfig) -> str:
    """Rules with equal matches share one pass over the fleet."""
    return match.model_dump_json()


def function_glob_matches(glob: str, key: FunctionKey) -> bool:
    """A silence's --function glob applies to the bare name or the full provider/account/region/name."""
    return fnmatchcase(key.name, glob) or fnmatchcase(str(key), glob)


def silenced_by(rule: str, key: FunctionKey, silences: Sequence[Silence]) -> Silence | None:
    for silence in silences:
        if fnmatchcase(rule, silence.rule) and function_glob_matches(silence.function, key):
            return silence
    return None
