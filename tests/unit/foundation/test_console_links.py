"""Console and logs links per cloud: where they point, the window's time range in them, names escaped so they
cannot break out of their place, and nothing in them but what discovery returned (opsview.console_links)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from opsview.console_links import LOGS_INSIGHTS_QUERY, console_links, gcp_log_filter
from opsview.schema import FunctionInfo, FunctionKey

START = datetime(2025, 3, 4, 11, 7, 30, tzinfo=UTC)
END = START + timedelta(hours=1)
NASTY = "a b#c?d&e/f\"g'h~i(j)k*l%m"  # every character with a meaning in one of the URL formats


def _aws(name: str = "payments-webhook", **labels: str) -> FunctionInfo:
    return FunctionInfo(FunctionKey("aws", "111111111111", "us-east-1", name),
                        resource_id=f"arn:aws:lambda:us-east-1:111111111111:function:{name}", labels=labels)


def _insights(url: str) -> dict[str, str | list[str]]:
    """Decode the Logs Insights fragment the way the console does: `~(k~v~...)`, `'` strings with `*xx` bytes,
    `(~'a~'b)` lists."""
    detail = url.split("#logsV2:logs-insights$3FqueryDetail$3D", 1)[1]
    assert detail.startswith("~(")
    assert detail.endswith(")")
    tokens = re.findall(r"\(~[^()]*\)|[^~()]+", detail[2:-1])

    def value(token: str) -> str | list[str]:
        if token.startswith("(~"):
            return [_string(t) for t in token[2:-1].split("~")]
        return _string(token)

    return {name: value(raw) for name, raw in zip(tokens[::2], tokens[1::2], strict=True)}


def _string(token: str) -> str:
    assert token.startswith("'"), token
    out, i = bytearray(), 1
    while i < len(token):
        if token[i] == "*":
            out += bytes.fromhex(token[i + 1: i + 3])
            i += 3
        else:
            assert re.fullmatch(r"[A-Za-z0-9_.-]", token[i]), f"unescaped {token[i]!r}"
            out += token[i].encode()
            i += 1
    return out.decode()


def test_aws_links_open_the_function_and_logs_insights_over_the_window() -> None:
    links = console_links(_aws(), START, END)
    console, logs = links.get("console"), links.get("logs")
    assert console is not None
    assert logs is not None
    assert console.url == ("https://us-east-1.console.aws.amazon.com/lambda/home?region=us-east-1"
                           "#/functions/payments-webhook?tab=monitoring")
    assert logs.url.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#")
    detail = _insights(logs.url)
    assert detail == {
        "end": "2025-03-04T12:07:30.000Z", "start": "2025-03-04T11:07:30.000Z", "timeType": "ABSOLUTE",
        "tz": "UTC", "editorString": LOGS_INSIGHTS_QUERY, "source": ["/aws/lambda/payments-webhook"],
    }
    # the shape of the console's own links (an absolute range, the group as a list)
    assert "~(end~'2025-03-04T12*3a07*3a30.000Z~start~'2025-03-04T11*3a07*3a30.000Z~timeType~'ABSOLUTE" in logs.url
    assert logs.url.endswith("~source~(~'*2faws*2flambda*2fpayments-webhook))")


def test_aws_log_group_label_overrides_the_default_group() -> None:
    logs = console_links(_aws(log_group="/shared/payments"), START, END).get("logs")
    assert logs is not None
    assert _insights(logs.url)["source"] == ["/shared/payments"]


def test_aws_names_with_special_characters_stay_inside_their_place() -> None:
    links = console_links(_aws(NASTY), START, END)
    console, logs = links.get("console"), links.get("logs")
    assert console is not None
    assert logs is not None
    fragment = urlsplit(console.url).fragment
    assert fragment == "/functions/a%20b%23c%3Fd%26e%2Ff%22g%27h~i%28j%29k%2Al%25m?tab=monitoring"
    assert unquote(fragment.split("/functions/", 1)[1].split("?tab=")[0]) == NASTY
    assert _insights(logs.url)["source"] == [f"/aws/lambda/{NASTY}"]  # the structure survived: decodes whole
    assert " " not in console.url + logs.url
    assert '"' not in console.url + logs.url


def test_azure_links_open_the_function_app_and_its_failures_blade() -> None:
    component = "/subscriptions/7a6b/resourceGroups/rg-obs/providers/microsoft.insights/components/appi-orders"
    info = FunctionInfo(
        FunctionKey("azure", "7a6b", "westeurope", "orders-func/ProcessOrder"),
        resource_id="/subscriptions/7a6b/resourceGroups/rg-orders/providers/Microsoft.Web/sites/orders-func"
                    "/functions/ProcessOrder",
        labels={"app": "orders-func", "app_insights": component},
    )
    links = console_links(info, START, END)
    console, failures = links.get("console"), links.get("failures")
    assert console is not None
    assert failures is not None
    assert console.url == ("https://portal.azure.com/#@/resource/subscriptions/7a6b/resourceGroups/rg-orders"
                           "/providers/Microsoft.Web/sites/orders-func/overview")
    prefix = "https://portal.azure.com/#view/AppInsightsExtension/FailuresV2Blade/ComponentId/"
    assert failures.url.startswith(prefix)
    assert json.loads(unquote(failures.url[len(prefix):])) == {
        "Name": "appi-orders", "SubscriptionId": "7a6b", "ResourceGroup": "rg-obs"}
    assert links.missing == ()


def test_azure_without_ids_says_which_link_is_missing_and_why() -> None:
    info = FunctionInfo(FunctionKey("azure", "7a6b", "eastus", "billing-func/Refund"), labels={"app": "billing-func"})
    links = console_links(info, START, END)
    assert links.links == ()
    assert links.missing == ("portal: the function app's resource id is not known",
                             "failures: the Application Insights resource is not known")


def test_azure_resource_id_segments_are_escaped() -> None:
    info = FunctionInfo(FunctionKey("azure", "s", "r", "my app/fn"),
                        resource_id="/subscriptions/s/resourceGroups/rg #1/providers/Microsoft.Web/sites/my?app")
    console = console_links(info, START, END).get("console")
    assert console is not None
    assert console.url == ("https://portal.azure.com/#@/resource/subscriptions/s/resourceGroups/rg%20%231"
                           "/providers/Microsoft.Web/sites/my%3Fapp/overview")


@pytest.mark.parametrize(("generation", "console_url", "resource"), [
    ("gen2", "https://console.cloud.google.com/run/detail/us-central1/search-indexer/metrics?project=demo-shop-prod",
     'resource.type="cloud_run_revision" AND resource.labels.service_name="search-indexer" '
     'AND resource.labels.location="us-central1"'),
    ("gen1", "https://console.cloud.google.com/functions/details/us-central1/search-indexer?project=demo-shop-prod",
     'resource.type="cloud_function" AND resource.labels.function_name="search-indexer" '
     'AND resource.labels.region="us-central1"'),
])
def test_gcp_links_open_the_function_and_logs_explorer_with_its_filter(generation: str, console_url: str,
                                                                        resource: str) -> None:
    info = FunctionInfo(FunctionKey("gcp", "demo-shop-prod", "us-central1", "search-indexer"),
                        labels={"generation": generation})
    links = console_links(info, START, END)
    console, logs = links.get("console"), links.get("logs")
    assert console is not None
    assert logs is not None
    assert console.url == console_url
    parts = urlsplit(logs.url)
    assert (parts.netloc, parts.query) == ("console.cloud.google.com", "project=demo-shop-prod")
    path, *params = parts.path.split(";")
    assert path == "/logs/query"
    values = dict(p.split("=", 1) for p in params)
    assert unquote(values["query"]) == resource == gcp_log_filter(info)
    assert unquote(values["timeRange"]) == "2025-03-04T11:07:30.000Z/2025-03-04T12:07:30.000Z"


def test_gcp_filter_escapes_quotes_and_the_url_escapes_separators() -> None:
    info = FunctionInfo(FunctionKey("gcp", "p;x", "us-central1", 'fn"x\\y;z'), labels={"generation": "gen1"})
    logs = console_links(info, START, END).get("logs")
    assert logs is not None
    assert 'resource.labels.function_name="fn\\"x\\\\y;z"' in gcp_log_filter(info)
    path = urlsplit(logs.url).path
    assert path.count(";") == 2  # query= and timeRange=: a `;` in a name is encoded, not a new parameter
    assert parse_qs(urlsplit(logs.url).query) == {"project": ["p;x"]}


def test_links_hold_only_the_function_and_the_window() -> None:
    """A label's value (which may be anything a user tagged) and the rest of FunctionInfo never reach a URL but
    the documented ones (log group, App Insights component, generation)."""
    secret = "hunter2-token"
    info = FunctionInfo(FunctionKey("aws", "1", "us-east-1", "f"), resource_id="arn:aws:lambda:us-east-1:1:function:f",
                        labels={"api_token": secret, "team": secret})
    assert all(secret not in link.url for link in console_links(info, START, END).links)


def test_demo_keys_get_the_links_of_the_cloud_they_impersonate_and_others_none() -> None:
    from opsview.collectors.demo import build_fleet

    fleet = {f.info.key.provider: f.info for f in build_fleet(42, 1)}
    assert {p: [link.id for link in console_links(i, START, END).links] for p, i in sorted(fleet.items())} == {
        "aws": ["console", "logs"], "azure": ["console"], "gcp": ["console", "logs"]}
    other = console_links(FunctionInfo(FunctionKey("demo", "a", "r", "n")), START, END)
    assert other.links == ()
    assert other.missing


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        console_links(_aws(), START.replace(tzinfo=None), END)
