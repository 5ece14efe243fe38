"""How the alerts screen shortens function keys: the middle goes, the end stays, two rows never read the same."""

from __future__ import annotations

from opsview.schema import FunctionKey
from opsview.tui.alerts_view import distinct_short_keys, short_key

CANCEL = FunctionKey("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "orders-func/CancelOrder")


def test_the_account_gives_way_first_then_the_region_never_the_name() -> None:
    assert short_key(CANCEL, 46) == "azure/0f1e…/westeurope/orders-func/CancelOrder"
    assert short_key(CANCEL, 35) == "azure/0f1e…/orders-func/CancelOrder"  # then the region
    assert short_key(CANCEL, 30) == "azure/0f1…ers-func/CancelOrder"  # then the middle of it all; the end stays
    assert str(CANCEL) == short_key(CANCEL, 200)


def test_keys_that_differ_only_in_the_middle_stay_distinct() -> None:
    a = FunctionKey("aws", "111111111111", "us-east-1", "api")
    b = FunctionKey("aws", "111111111112", "us-east-1", "api")
    assert short_key(a, 18) == short_key(b, 18) == "aws/111111111…/api"  # alone, two rows would read the same
    shown = distinct_short_keys([a, b], 18)
    assert shown[a] != shown[b]
    assert all(len(text) <= 18 and text.endswith("/api") for text in shown.values())
