from datetime import timedelta

import pytest

from opsview.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h30m", timedelta(minutes=90)),
     ("7d", timedelta(days=7)), ("0s", timedelta(0)), ("250ms", timedelta(milliseconds=250)),
     ("1.5h", timedelta(minutes=90))],
)
def test_durations_people_write(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["5x", "", "m5", "5 minutes", "1h-5m", "-5m"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected e\.g\. 30s, 5m"):
        parse_duration(text)


def test_format_is_the_inverse_of_parse() -> None:
    for text in ("1m30s", "4h", "7d", "0s", "1d2h3m4s"):
        assert format_duration(parse_duration(text)) == text
