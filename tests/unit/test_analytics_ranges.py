"""Report ranges: local days to UTC instants, previous periods, the daily/hourly split."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadtrail.analytics.ranges import (
    FIRST_DAY,
    LAST_DAY,
    MAX_DAYS,
    Compare,
    DateRange,
    Interval,
    check_interval,
    default_interval,
    parse_zone,
    resolve_range,
)
from leadtrail.errors import BadRequest

UTC_ZONE = ZoneInfo("UTC")


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "lower", "upper"),
    [
        ("UTC", "2026-03-10", "2026-03-10T00:00", "2026-03-11T00:00"),
        ("Europe/Berlin", "2026-03-10", "2026-03-09T23:00", "2026-03-10T23:00"),
        # the day summer time starts has 23 hours
        ("Europe/Berlin", "2026-03-29", "2026-03-28T23:00", "2026-03-29T22:00"),
        ("America/New_York", "2026-11-01", "2026-11-01T04:00", "2026-11-02T05:00"),
        # half-hour offsets are rounded down to the hour (rollups are hourly)
        ("Asia/Kolkata", "2026-03-10", "2026-03-09T18:00", "2026-03-10T18:00"),
    ],
)
def test_a_local_day_in_utc(zone: str, day: str, lower: str, upper: str) -> None:
    span = DateRange(date.fromisoformat(day), date.fromisoformat(day), ZoneInfo(zone))
    assert (span.lower, span.upper) == (dt(lower), dt(upper))


def test_previous_period_has_the_same_length() -> None:
    span = DateRange(date(2026, 3, 1), date(2026, 3, 7), UTC_ZONE)
    before = span.previous(Compare.PREVIOUS)
    assert before == DateRange(date(2026, 2, 22), date(2026, 2, 28), UTC_ZONE)
    assert span.previous(Compare.NONE) is None
    leap = DateRange(date(2028, 2, 29), date(2028, 2, 29), UTC_ZONE).previous(Compare.YEAR)
    assert leap is not None and leap.start == date(2027, 2, 28)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"])
@pytest.mark.parametrize("days", [1, 2, 7, 31, 90])
def test_split_covers_the_range_exactly_once(zone: str, days: int) -> None:
    span = DateRange(
        date(2026, 3, 20), date(2026, 3, 20) + timedelta(days=days - 1), ZoneInfo(zone)
    )
    part = span.split()
    hours: list[datetime] = []
    for lo, hi in (part.head, part.tail):
        hour = lo
        while hour < hi:
            hours.append(hour)
            hour += timedelta(hours=1)
    day = part.day_from
    while day < part.day_to:
        hours.extend(
            datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=h) for h in range(24)
        )
        day += timedelta(days=1)
    expected = []
    hour = span.lower
    while hour < span.upper:
        expected.append(hour)
        hour += timedelta(hours=1)
    assert sorted(hours) == expected
    if days >= 2:
        assert part.day_to > part.day_from


def test_resolve_range_defaults_and_errors() -> None:
    span = resolve_range(None, None, UTC_ZONE, today=date(2026, 5, 10))
    assert (span.start, span.end) == (date(2026, 5, 4), date(2026, 5, 10))
    with pytest.raises(BadRequest) as bad:
        resolve_range("2026-05-10", "2026-05-01", UTC_ZONE)
    assert bad.value.code == "invalid_range"
    with pytest.raises(BadRequest) as bad:
        resolve_range("10/05/2026", None, UTC_ZONE)
    assert (bad.value.code, bad.value.field) == ("invalid_date", "from")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "Europe/" + "x" * 80])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(BadRequest) as bad:
        parse_zone(name)
    assert bad.value.code == "invalid_timezone"


def test_interval_limits() -> None:
    year = DateRange(date(2025, 1, 1), date(2025, 12, 31), UTC_ZONE)
    with pytest.raises(BadRequest):
        check_interval(year, Interval.HOUR)
    check_interval(year, Interval.DAY)
    assert (
        default_interval(DateRange(date(2025, 1, 1), date(2025, 1, 1), UTC_ZONE)) is Interval.HOUR
    )
    assert (
        default_interval(DateRange(date(2025, 1, 1), date(2025, 1, 30), UTC_ZONE)) is Interval.DAY
    )
    assert default_interval(year) is Interval.WEEK


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01", "0001-01-01", "to"),
        ("9999-12-31", "9999-12-31", "to"),
        ("0001-01-01", "2026-01-01", "from"),
        ("2026-01-01", "9999-12-31", "to"),
        ("1999-12-31", "2000-01-01", "from"),
        ("2100-12-31", "2101-01-01", "to"),
        (None, "0001-01-01", "to"),
    ],
)
def test_days_outside_the_supported_years_are_refused(
    start: str | None, end: str, field: str
) -> None:
    with pytest.raises(BadRequest) as bad:
        resolve_range(start, end, UTC_ZONE)
    assert (bad.value.code, bad.value.field) == ("invalid_date", field)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_the_extreme_supported_days_give_valid_instants_and_previous_periods(zone: str) -> None:
    """Every instant derived from the bounds exists: no overflow anywhere."""
    for start, end in (
        (FIRST_DAY, FIRST_DAY),
        (LAST_DAY, LAST_DAY),
        (LAST_DAY - timedelta(days=MAX_DAYS - 1), LAST_DAY),
        (FIRST_DAY, FIRST_DAY + timedelta(days=MAX_DAYS - 1)),
    ):
        span = resolve_range(str(start), str(end), ZoneInfo(zone))
        assert span.lower < span.upper
        span.split()
        for compare in (Compare.PREVIOUS, Compare.YEAR):
            before = span.previous(compare)
            assert before is not None and before.lower < before.upper <= span.upper
            before.split()


@pytest.mark.parametrize(
    ("zone", "whole"),
    [
        ("UTC", True),
        ("America/New_York", True),  # across both changes of daylight saving time
        ("Europe/Berlin", True),
        ("Asia/Kolkata", False),  # +05:30
        ("Australia/Lord_Howe", False),  # +11:00, then +10:30 from April
    ],
)
def test_whole_hour_days_only_where_every_local_midnight_is_a_whole_utc_hour(
    zone: str, whole: bool
) -> None:
    span = DateRange(date(2026, 3, 1), date(2026, 11, 10), ZoneInfo(zone))
    assert span.whole_hour_days is whole
