"""The default rule pack (the same rules config.example.toml ships), used by `opsview demo`.

Kept as TOML so it reads exactly like what users copy into their config.
"""

from __future__ import annotations

import tomllib

from opsview.config import RuleConfig

DEFAULT_RULES_TOML = """
[[rules]]
name = "high-error-rate"
measure = "error_rate"
window = "5m"
op = ">"
threshold = 0.05
for = "5m"
severity = "critical"
annotations = { summary = "{function}: {value:.1%} of invocations failed over {window}" }

[[rules]]
name = "throttled"
measure = "throttles"
window = "5m"
op = ">"
threshold = 0
for = "5m"
severity = "warning"
annotations = { summary = "{function}: {value:.0f} throttled requests over {window}" }

[[rules]]
name = "near-timeout"
measure = "timeout_ratio"
window = "10m"
op = ">"
threshold = 0.8
for = "10m"
severity = "warning"
annotations = { summary = "{function}: p99 at {value:.0%} of its timeout" }

[[rules]]
name = "cold-starts"
measure = "cold_start_rate"
window = "1h"
op = ">"
threshold = 0.2
severity = "warning"
annotations = { summary = "{function}: {value:.0%} of invocations were cold starts over {window}" }

[[rules]]
name = "traffic-stopped"
measure = "invocations"
window = "15m"
op = "=="
threshold = 0
missing = "breaching"
previous = { window = "1h", op = ">", threshold = 60 }  # steady traffic: >= ~1/min
severity = "critical"
annotations = { summary = "{function}: no invocations for {window} after traffic the hour before" }

[[rules]]
name = "new-error-type"
kind = "new_error"               # an error signature first seen within the window
window = "1h"
severity = "warning"
[rules.annotations]
summary = "{function}: new error type {signature} ({value:.0f} in {window})"
description = "latest: {sample} (request {sample_id})"
"""


def default_rules() -> list[RuleConfig]:
    return [RuleConfig.model_validate(rule) for rule in tomllib.loads(DEFAULT_RULES_TOML)["rules"]]
