from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsview.web.view import MAX_POINTS, PageQuery, choose_step, parse_page_query


def test_query_round_trips_every_control() -> None:
    view = PageQuery("custom", datetime(2024, 5, 1, 12, tzinfo=UTC), datetime(2024, 5, 1, 18, tzinfo=UTC),
                     "azure", "sub-1", "westeurope", "1m")
    parsed = parse_page_query("?" + view.to_query())
    assert parsed.problems == ()
    assert parsed.view == view


def test_default_view_gives_a_short_link() -> None:
    assert PageQuery().to_query() == ""
    assert PageQuery(provider="aws").to_query() == "provider=aws"


@pytest.mark.parametrize(
    ("search", "problem"),
    [
        ("?range=2y", 'range "2y"'),
        ("?range=custom&from=yesterday&to=2024-05-01T00:00Z", '"yesterday" is not a time'),
        ("?range=custom&from=2024-05-02T00:00Z&to=2024-05-01T00:00Z", "to must be after from"),
        ("?refresh=1s", 'refresh "1s"'),
    ],
)
def test_bad_url_values_fall_back_with_one_clear_line(search: str, problem: str) -> None:
    parsed = parse_page_query(search)
    assert any(problem in p for p in parsed.problems)
    assert parsed.view.range in ("1h", "6h", "custom")
    assert parsed.view.refresh in ("off", "1m")


def test_previous_window_is_the_same_length_just_before() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    start, end = PageQuery(range="6h").window(now)
    prev_start, prev_end = PageQuery(range="6h").previous_window(now)
    assert (end - start, prev_end, prev_end - prev_start) == (timedelta(hours=6), start, timedelta(hours=6))


@pytest.mark.parametrize("span", [timedelta(minutes=15), timedelta(hours=24), timedelta(days=7), timedelta(days=90)])
def test_series_are_downsampled_to_a_bounded_number_of_points(span: timedelta) -> None:
    end = datetime(2024, 5, 1, tzinfo=UTC)
    step = choose_step(end - span, end)
    assert step % 60 == 0
    assert span.total_seconds() / step <= MAX_POINTS
