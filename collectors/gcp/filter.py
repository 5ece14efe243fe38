"""The one Cloud Logging filter a refresh sends per project (both generations, explicit time bounds).

Only the entries we count are selected, so the call count follows the entries we need:
gen1 execution lines, gen2 request logs and gen2 `Starting new instance` system lines. The
`timestamp` bounds are always explicit: without them the client library would add its own
24-hour restriction, and the window would not be the one we asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

GEN2_LABEL = 'labels."goog-managed-by"="cloudfunctions"'


def rfc3339(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("naive datetime; opsview works in tz-aware UTC")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def glob_to_re2(glob: str) -> str:
    """An fnmatch glob as an RE2 body, without backslashes (so no filter-string escaping is needed)."""
    out = []
    for char in glob:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char.isalnum() or char in "-_":
            out.append(char)
        else:
            out.append(f"[{char}]")
    return "".join(out)


def _any_of(field: str, values: Sequence[str]) -> str:
    return "(" + " OR ".join(f'{field}="{v}"' for v in values) + ")"


def _names(field: str, include: Sequence[str]) -> str | None:
    # a glob with a character class keeps fnmatch's own semantics: filtered client side only
    if not include or "*" in include or any("[" in g for g in include):
        return None
    return f'{field}=~"^(' + "|".join(glob_to_re2(g) for g in include) + ')$"'


def build_filter(start: datetime, end: datetime, regions: Sequence[str] = (), include: Sequence[str] = ()) -> str:
    """Entries in [start, end) that opsview counts, for every function of the project."""
    gen1 = ['resource.type="cloud_function"', 'textPayload:"finished with status"']
    gen2 = ['resource.type="cloud_run_revision"', GEN2_LABEL,
            '(httpRequest.status>0 OR textPayload:"Starting new instance")']
    if regions:
        gen1.append(_any_of("resource.labels.region", regions))
        gen2.append(_any_of("resource.labels.location", regions))
    gen1_names = _names("resource.labels.function_name", include)
    gen2_names = _names("resource.labels.service_name", include)
    if gen1_names:
        gen1.append(gen1_names)
    if gen2_names:
        gen2.append(gen2_names)
    return (
        f'timestamp>="{rfc3339(start)}" AND timestamp<"{rfc3339(end)}" AND '
        f"(({' AND '.join(gen1)}) OR ({' AND '.join(gen2)}))"
    )
