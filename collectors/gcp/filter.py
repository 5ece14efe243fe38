"""Which functions a source reads, and the Cloud Logging filter a refresh sends per project.

Names (`NameRules`):
- gen1 functions are keyed by their function name (`resource.labels.function_name`).
- gen2 / Cloud Run functions are keyed by their Cloud Run **service name** (`resource.labels.service_name`,
  the name Cloud Run's logs and metrics carry). gcloud derives it from the function id as
  `functionId.lower().replace("_", "-")`, so an `include`/`exclude` glob written with the function's own
  spelling (`Process_Order*`) also matches its service (`process-order*`): each glob is tried in both spellings.
- Which Cloud Run services are functions: those labelled `goog-managed-by=cloudfunctions` (created through the
  Cloud Functions API or `gcloud functions`), plus the services named by the source's `services` globs.
  Functions created through the Cloud Run API or console, or detached with `gcloud functions detach`, are
  managed by Cloud Run alone (https://cloud.google.com/functions/docs/managing#detach) and carry no such label:
  only `services` brings them in.

Filter: only the entries we count are selected, so the call count follows the entries we need: gen1 execution
lines, gen2 request logs and gen2 `Starting new instance` system lines; with `errors`, also the functions'
entries at `severity>=ERROR` (and, for the metrics path's narrow read, gen1 execution lines whose status is
not ok). The `timestamp` bounds are always explicit: without them the client library would add its own
24-hour restriction. Syntax: https://cloud.google.com/logging/docs/view/logging-query-language (`severity`
compares by level: `severity>=ERROR` is ERROR, CRITICAL, ALERT and EMERGENCY).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Final

GEN2_LABEL = 'labels."goog-managed-by"="cloudfunctions"'
MANAGED_BY = "goog-managed-by"
CLOUD_FUNCTIONS = "cloudfunctions"


class Select(enum.Enum):
    """What a logging filter selects."""

    ALL = "all"
    """Everything the logs path counts (gen1 execution lines, gen2 request logs and instance starts)."""
    STARTS = "starts"
    """gen2 `Starting new instance` lines only: the metrics path's narrow read for cold starts (and, with
    errors, the error records, gen1 ones included)."""


def rfc3339(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("naive datetime; opsview works in tz-aware UTC")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_spelling(name: str) -> str:
    """The Cloud Run service name gcloud gives a gen2 function (or a glob over function names)."""
    return name.lower().replace("_", "-")


def glob_to_re2(glob: str) -> str:
    """An fnmatch glob as an RE2 body, without backslashes (so no filter-string escaping is needed).

    Character classes (`[a-c]`, `[!x]`) carry over; a class holding anything but letters, digits, `-` and `_`
    raises ValueError (Cloud Run names hold only lowercase letters, digits and hyphens)."""
    out = []
    i, n = 0, len(glob)
    while i < n:
        char = glob[i]
        i += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = glob.find("]", i + 1 if glob[i:i + 1] == "!" else i)
            if end < 0:  # fnmatch would read it literally; no function or service name holds a bracket
                raise ValueError(f"glob {glob!r}: unclosed '['")
            body = glob[i:end]
            i = end + 1
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body or not all(c.isalnum() or c in "-_" for c in body):
                raise ValueError(f"glob {glob!r}: a character class may hold only letters, digits, '-' and '_'")
            out.append(("[^" if negate else "[") + body + "]")
        elif char.isalnum() or char in "-_":
            out.append(char)
        else:
            out.append(f"[{char}]")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class NameRules:
    """One source's `include` / `exclude` (function names) and `services` (extra Cloud Run services)."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    @classmethod
    def of(cls, include: Sequence[str], exclude: Sequence[str], services: Sequence[str] = ()) -> NameRules:
        return cls(tuple(include), tuple(exclude), tuple(services))

    @staticmethod
    def _spellings(globs: Sequence[str], gen2: bool) -> list[str]:
        if not gen2:
            return list(globs)
        return list(dict.fromkeys([*globs, *(service_spelling(g) for g in globs)]))

    def admits(self, name: str, gen2: bool) -> bool:
        include = self._spellings(self.include, gen2)
        exclude = self._spellings(self.exclude, gen2)
        return any(fnmatchcase(name, g) for g in include) and not any(fnmatchcase(name, g) for g in exclude)

    def name_pattern(self, gen2: bool) -> str | None:
        """RE2 over the key names `include` admits (both spellings for gen2); None = no narrowing."""
        if not self.include or "*" in self.include:
            return None
        try:
            return "^(" + "|".join(glob_to_re2(g) for g in self._spellings(self.include, gen2)) + ")$"
        except ValueError:
            return None  # an unusual class: `admits` still applies it client-side

    @property
    def all_services(self) -> bool:
        return "*" in self.services

    def services_pattern(self) -> str | None:
        """RE2 over the extra Cloud Run service names; None when `services` names none (or all)."""
        if not self.services or self.all_services:
            return None
        return "^(" + "|".join(glob_to_re2(g) for g in self._spellings(self.services, True)) + ")$"


def _any_of(field: str, values: Sequence[str]) -> str:
    return "(" + " OR ".join(f'{field}="{v}"' for v in values) + ")"


def gen2_admission(rules: NameRules) -> str | None:
    """The logging clause that picks the Cloud Run services counted as functions; None = every service."""
    if rules.all_services:
        return None
    pattern = rules.services_pattern()
    if pattern is None:
        return GEN2_LABEL
    return f'({GEN2_LABEL} OR resource.labels.service_name=~"{pattern}")'


ERRORS: Final = "severity>=ERROR"
# gen1 execution lines whose status word is not ok (`finished with status: 'crash'`); `status code:` lines are
# the code's HTTP replies, not failures of the platform
_GEN1_FAILED: Final = ('(textPayload:"inished with status:" AND NOT textPayload:"status: \'ok\'" '
                       'AND NOT textPayload:"status: ok" AND NOT textPayload:"status: \'success\'" '
                       'AND NOT textPayload:"status: success")')


def build_filter(
    start: datetime,
    end: datetime,
    regions: Sequence[str] = (),
    include: Sequence[str] | NameRules = (),
    select: Select = Select.ALL,
    errors: bool = False,
) -> str:
    """Entries in [start, end) that opsview counts, for every function of the project (with `errors`, their
    error records too)."""
    rules = include if isinstance(include, NameRules) else NameRules.of(include or ("*",), ())
    bounds = f'timestamp>="{rfc3339(start)}" AND timestamp<"{rfc3339(end)}"'
    gen2 = ['resource.type="cloud_run_revision"']
    admission = gen2_admission(rules)
    if admission:
        gen2.append(admission)
    if select is Select.STARTS:
        # a request log at ERROR (a 5xx) is an invocation, not an error record: Monitoring counts those
        gen2.append(f'(textPayload:"Starting new instance" OR ({ERRORS} AND NOT httpRequest.status>0))' if errors
                    else 'textPayload:"Starting new instance"')
    else:
        gen2.append(f'(httpRequest.status>0 OR textPayload:"Starting new instance"{" OR " + ERRORS if errors else ""})')
    gen1 = ['resource.type="cloud_function"']
    if select is Select.STARTS:
        gen1.append(f"({ERRORS} OR {_GEN1_FAILED})")
    else:
        gen1.append(f'(textPayload:"finished with status" OR {ERRORS})' if errors
                    else 'textPayload:"finished with status"')
    if regions:
        gen1.append(_any_of("resource.labels.region", regions))
        gen2.append(_any_of("resource.labels.location", regions))
    gen1_names = rules.name_pattern(gen2=False)
    gen2_names = rules.name_pattern(gen2=True)
    if gen1_names:
        gen1.append(f'resource.labels.function_name=~"{gen1_names}"')
    if gen2_names:
        gen2.append(f'resource.labels.service_name=~"{gen2_names}"')
    if select is Select.STARTS and not errors:
        return f"{bounds} AND ({' AND '.join(gen2)})"
    return f"{bounds} AND (({' AND '.join(gen1)}) OR ({' AND '.join(gen2)}))"
