"""Links from a function to its cloud console and to its logs over a time range, built from `FunctionInfo` only.

Nothing here reads a config, a credential or an environment variable: a link holds the function's provider,
account, region, name, resource id and a label or two that discovery returned, and the time range (a link
is pasted into chats and tickets). Each part taken from a function is percent-encoded for the place it
goes, so a name holding `/`, `#`, `?`, `&`, quotes or spaces cannot break out of its segment.

The URL formats, with where each is documented or shown in public use:

- AWS Lambda console, the function's Monitor tab:
  `https://{region}.console.aws.amazon.com/lambda/home?region={region}#/functions/{name}?tab=monitoring`
  (the form the console's address bar shows; AWS documents no deep-link format, public examples use this one,
  e.g. `https://us-west-2.console.aws.amazon.com/lambda/home?region=us-west-2#/functions/data_process_action?tab=code`
  in an Amazon Q Developer workshop).
- AWS CloudWatch Logs Insights over the function's log group (`/aws/lambda/<name>`, the default group:
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html; a `log_group` label overrides
  it) for an absolute UTC range. AWS does not document the console's `queryDetail` fragment; its encoding is
  the one worked out in the Stack Overflow answer "Is there a way to generate the AWS Console URLs for
  CloudWatch Log Group filters?" (https://stackoverflow.com/questions/60796991, mirrored at
  https://mcmap.net/q/430510/) and seen in the console's own links
  (`#logsV2:logs-insights$3FqueryDetail$3D~(end~'2021-07-18T20*3a59*3a59.000Z~start~'...~timeType~'ABSOLUTE
  ~tz~'UTC~editorString~'fields*20*40timestamp...~source~(~'*2faws*2flambda*2f<name>))`): an object is
  `~(key~value~...)`, a string value is `'` then its UTF-8 bytes with every byte but `[A-Za-z0-9_.-]` written
  `*xx`, a list is `(~item~item)`.
- Azure portal, the function app's overview: `https://portal.azure.com/#@/resource{app resource id}/overview`
  (the portal's resource address; public examples such as
  `https://portal.azure.com/#@/resource/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<app>/functions`).
  The app is the resource id up to `/functions/` (discovery may give the function's own id).
- Azure Application Insights, the Failures blade of the app's component:
  `https://portal.azure.com/#view/AppInsightsExtension/FailuresV2Blade/ComponentId/{"Name":...,"SubscriptionId":...,"ResourceGroup":...}`
  (URL-encoded JSON, as in public runbooks linking the blade). Only when discovery names the component in an
  `app_insights` label (its ARM id): a function app's resource id does not say which component it reports to.
  The blade opens on its own time range; no public example passes one.
- Google Cloud: a gen2 function is a Cloud Run service,
  `https://console.cloud.google.com/run/detail/{region}/{name}/metrics?project={project}`; a gen1 function
  `https://console.cloud.google.com/functions/details/{region}/{name}?project={project}` (the addresses the
  console and `gcloud functions deploy` print).
- Google Cloud Logs Explorer: `https://console.cloud.google.com/logs/query;query={filter};timeRange={start}%2F{end}?project={project}`
  (the form of the console's "Copy link"; Google's own Grafana data source builds it,
  github.com/GoogleCloudPlatform/cloud-logging-data-source-plugin src/QueryEditor.tsx, as does
  github.com/vvakame/gcplogurl), with the filter the collector reads the function by
  (https://cloud.google.com/logging/docs/view/logging-query-language for the string escapes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

from opsview.schema import FunctionInfo

_AZURE_PORTAL: Final = "https://portal.azure.com/"
_GCP_CONSOLE: Final = "https://console.cloud.google.com/"
_UNRESERVED_INSIGHTS: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
LOGS_INSIGHTS_QUERY: Final = "fields @timestamp, @requestId, @message\n| sort @timestamp desc\n| limit 1000"


@dataclass(frozen=True, slots=True)
class ConsoleLink:
    """One link: `id` is stable (element ids, tests), `label` is what a user reads."""

    id: str  # "console" | "logs" | "failures"
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class ConsoleLinks:
    """A function's links, and a sentence for each one that could not be built (so a view can say why)."""

    links: tuple[ConsoleLink, ...]
    missing: tuple[str, ...] = ()

    def get(self, link_id: str) -> ConsoleLink | None:
        return next((link for link in self.links if link.id == link_id), None)


def console_links(info: FunctionInfo, start: datetime, end: datetime) -> ConsoleLinks:
    """Links to `info`'s console page and to its logs over [start, end) (tz-aware)."""
    provider = info.key.provider
    if provider == "aws":
        return _aws(info, start, end)
    if provider == "azure":
        return _azure(info)
    if provider == "gcp":
        return _gcp(info, start, end)
    return ConsoleLinks((), (f"no console for provider {provider!r}",))


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("console links need timezone-aware times")
    return at.astimezone(UTC)


def _iso_ms(at: datetime) -> str:
    return _utc(at).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_utc(at).microsecond // 1000:03d}Z"


# --- AWS ---------------------------------------------------------------------------------------------


def _segment(text: str) -> str:
    """Percent-encode all but unreserved characters: safe inside a path segment, a fragment or a query value."""
    return quote(text, safe="")


def _aws(info: FunctionInfo, start: datetime, end: datetime) -> ConsoleLinks:
    key = info.key
    region = _segment(key.region)
    console = (f"https://{region}.console.aws.amazon.com/lambda/home?region={region}"
               f"#/functions/{_segment(key.name)}?tab=monitoring")
    group = info.labels.get("log_group") or f"/aws/lambda/{key.name}"
    detail = _insights_object([
        ("end", _insights_string(_iso_ms(end))),
        ("start", _insights_string(_iso_ms(start))),
        ("timeType", _insights_string("ABSOLUTE")),
        ("tz", _insights_string("UTC")),
        ("editorString", _insights_string(LOGS_INSIGHTS_QUERY)),
        ("source", "(~" + _insights_string(group) + ")"),
    ])
    logs = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logsV2:logs-insights$3FqueryDetail$3D{detail}")
    return ConsoleLinks((
        ConsoleLink("console", "Lambda console", console),
        ConsoleLink("logs", "Logs Insights", logs),
    ))


def _insights_string(text: str) -> str:
    """A string value in the console's `queryDetail` notation: `'` and its UTF-8 bytes, `*xx` for all but
    `[A-Za-z0-9_.-]` (so `~`, `(`, `)`, `'` and `*` inside a value cannot end it)."""
    return "'" + "".join(chr(b) if b in _UNRESERVED_INSIGHTS else f"*{b:02x}" for b in text.encode())


def _insights_object(pairs: list[tuple[str, str]]) -> str:
    return "~(" + "~".join(f"{name}~{value}" for name, value in pairs) + ")"


# --- Azure -------------------------------------------------------------------------------------------


def _arm_parts(resource_id: str) -> list[str]:
    return [p for p in resource_id.split("/") if p]


def _app_resource_id(resource_id: str) -> str | None:
    """`/subscriptions/.../providers/Microsoft.Web/sites/<app>` out of an app's or a function's id."""
    parts = _arm_parts(resource_id)
    lower = [p.lower() for p in parts]
    if "sites" not in lower or "subscriptions" not in lower:
        return None
    end = lower.index("sites") + 2
    return "/" + "/".join(parts[:end]) if end <= len(parts) else None


def _arm_path(resource_id: str) -> str:
    """A resource id as the portal's address holds it: each segment percent-encoded, the slashes kept."""
    return "".join("/" + _segment(p) for p in _arm_parts(resource_id))


def _azure(info: FunctionInfo) -> ConsoleLinks:
    links: list[ConsoleLink] = []
    missing: list[str] = []
    app = _app_resource_id(info.resource_id) if info.resource_id else None
    if app is None:
        missing.append("portal: the function app's resource id is not known")
    else:
        links.append(ConsoleLink("console", "Azure portal", f"{_AZURE_PORTAL}#@/resource{_arm_path(app)}/overview"))
    component = _component(info.labels.get("app_insights", ""))
    if component is None:
        missing.append("failures: the Application Insights resource is not known")
    else:
        blob = json.dumps(component, separators=(",", ":"))
        links.append(ConsoleLink("failures", "Application Insights failures",
                                 f"{_AZURE_PORTAL}#view/AppInsightsExtension/FailuresV2Blade/ComponentId/"
                                 f"{_segment(blob)}"))
    return ConsoleLinks(tuple(links), tuple(missing))


def _component(resource_id: str) -> dict[str, str] | None:
    parts = _arm_parts(resource_id)
    lower = [p.lower() for p in parts]
    try:
        subscription = parts[lower.index("subscriptions") + 1]
        group = parts[lower.index("resourcegroups") + 1]
        name = parts[lower.index("components") + 1]
    except (ValueError, IndexError):
        return None
    return {"Name": name, "SubscriptionId": subscription, "ResourceGroup": group}


# --- Google Cloud ------------------------------------------------------------------------------------


def _lql_string(text: str) -> str:
    """A Logging query language string literal: backslash and double quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gcp_log_filter(info: FunctionInfo) -> str:
    """The Cloud Logging filter for one function's entries (gen2 as a Cloud Run revision, gen1 as a function)."""
    key = info.key
    if info.labels.get("generation") == "gen1":
        return (f"resource.type=\"cloud_function\" AND resource.labels.function_name={_lql_string(key.name)}"
                f" AND resource.labels.region={_lql_string(key.region)}")
    return (f"resource.type=\"cloud_run_revision\" AND resource.labels.service_name={_lql_string(key.name)}"
            f" AND resource.labels.location={_lql_string(key.region)}")


def _gcp(info: FunctionInfo, start: datetime, end: datetime) -> ConsoleLinks:
    key = info.key
    project = _segment(key.account)
    region, name = _segment(key.region), _segment(key.name)
    if info.labels.get("generation") == "gen1":
        console = f"{_GCP_CONSOLE}functions/details/{region}/{name}?project={project}"
        label = "Cloud Functions console"
    else:
        console = f"{_GCP_CONSOLE}run/detail/{region}/{name}/metrics?project={project}"
        label = "Cloud Run console"
    span = _segment(f"{_iso_ms(start)}/{_iso_ms(end)}")
    logs = f"{_GCP_CONSOLE}logs/query;query={_segment(gcp_log_filter(info))};timeRange={span}?project={project}"
    return ConsoleLinks((ConsoleLink("console", label, console), ConsoleLink("logs", "Logs Explorer", logs)))
