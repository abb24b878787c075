import datetime as dt

import pytest

from copilot.semantic.dates import read_dates

TODAY = dt.date(2024, 11, 20)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "start", "end", "grain", "compare"),
    [
        ("approval rate last 7 days", dt.date(2024, 11, 14), dt.date(2024, 11, 21), None, False),
        ("declines yesterday", dt.date(2024, 11, 19), dt.date(2024, 11, 20), None, False),
        ("loans today", dt.date(2024, 11, 20), dt.date(2024, 11, 21), None, False),
        ("since October", dt.date(2024, 10, 1), dt.date(2024, 11, 21), None, False),
        ("since 5 Oct", dt.date(2024, 10, 5), dt.date(2024, 11, 21), None, False),
        ("since December", dt.date(2023, 12, 1), dt.date(2024, 11, 21), None, False),
        ("last month", dt.date(2024, 10, 1), dt.date(2024, 11, 1), None, False),
        ("this month", dt.date(2024, 11, 1), dt.date(2024, 11, 21), None, False),
        ("last week", dt.date(2024, 11, 11), dt.date(2024, 11, 18), None, False),
        ("last quarter", dt.date(2024, 7, 1), dt.date(2024, 10, 1), None, False),
        ("past three months", dt.date(2024, 8, 23), dt.date(2024, 11, 21), None, False),
        ("in September 2024", dt.date(2024, 9, 1), dt.date(2024, 10, 1), None, False),
        ("between 2024-10-01 and 2024-10-15", dt.date(2024, 10, 1), dt.date(2024, 10, 16), None, False),
        ("approval rate week on week", None, None, "week", False),
        ("monthly disbursals", None, None, "month", False),
        ("daily trend last 2 weeks", dt.date(2024, 11, 7), dt.date(2024, 11, 21), "day", False),
        ("this week vs last week", dt.date(2024, 11, 18), dt.date(2024, 11, 21), None, True),
        ("approval rate by partner", None, None, None, False),
    ],
)
def test_date_expressions(text: str, start, end, grain, compare) -> None:
    reading = read_dates(text, TODAY)
    assert (reading.window.start if reading.window else None) == start
    assert (reading.window.end if reading.window else None) == end
    assert reading.grain == grain
    assert reading.compare_previous is compare
