"""Report ranges: local dates in an IANA time zone turned into UTC instants, the previous
period to compare with, whether the range is whole local days (local-day rollups), and how
it splits into whole UTC days (daily rollups) and leftover hours (hourly rollups) when it is
not. Pure: no I/O."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadtrail.errors import BadRequest

#: Longest range a report accepts (about five years).
MAX_DAYS = 1830
#: Days any report, period or ad spend row may name. Wide enough for any real history and
#: plan; narrow enough that every date derived from them (the previous period, a day's end
#: in any time zone, a year back) is a valid date, where year 1 or 9999 would overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
#: Most buckets a time series may have.
MAX_BUCKETS = 2000
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")


class Interval(enum.Enum):
    """Time-series granularity; values are PostgreSQL ``date_trunc`` units."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Compare(enum.Enum):
    PREVIOUS = "previous"
    YEAR = "year"
    NONE = "none"


def parse_zone(name: str) -> ZoneInfo:
    if len(name) > 64 or not _ZONE_NAME.match(name):
        raise BadRequest(f"unknown time zone {name!r}", code="invalid_timezone", field="tz")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequest(
            f"unknown time zone {name!r}", code="invalid_timezone", field="tz"
        ) from None


def parse_date(value: str, field: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{field} must be a date like 2026-01-31", code="invalid_date", field=field
        ) from None
    if not in_bounds(day):
        raise BadRequest(
            f"{field} must be between {FIRST_DAY} and {LAST_DAY}", code="invalid_date", field=field
        )
    return day


def in_bounds(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class DateRange:
    """Local dates ``start``..``end`` (both included) in ``zone``."""

    start: date
    end: date
    zone: ZoneInfo

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def tz(self) -> str:
        return str(self.zone.key)

    def _instant(self, day: date) -> datetime:
        # Rollups are hourly: a zone whose offset is not whole hours (India, Nepal, ...)
        # has its day boundaries rounded down to the hour.
        return floor_hour(datetime.combine(day, time(0), tzinfo=self.zone))

    @property
    def lower(self) -> datetime:
        """First instant in the range (UTC, inclusive)."""
        return self._instant(self.start)

    @property
    def upper(self) -> datetime:
        """First instant after the range (UTC, exclusive)."""
        return self._instant(self.end + timedelta(days=1))

    def previous(self, compare: Compare) -> DateRange | None:
        """The period to compare with: the same number of days just before, or a year back."""
        if compare is Compare.NONE:
            return None
        if compare is Compare.YEAR:
            return DateRange(_year_back(self.start), _year_back(self.end), self.zone)
        return DateRange(
            self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.zone
        )

    @property
    def whole_hour_days(self) -> bool:
        """Whether every local day of the range starts on a whole UTC hour (true for all
        but a few zones such as India's or Nepal's): then the range is exactly its local
        days, and the local-day rollups can answer it."""
        day = self.start
        while day <= self.end + timedelta(days=1):
            offset = datetime.combine(day, time(0), tzinfo=self.zone).utcoffset()
            if offset is None or offset % timedelta(hours=1):
                return False
            day += timedelta(days=1)
        return True

    def split(self) -> Split:
        """Whole UTC days inside the range, and the hours left at either end."""
        lower, upper = self.lower, self.upper
        first_day = lower.date() if lower.hour == 0 else lower.date() + timedelta(days=1)
        last_day = upper.date()  # exclusive
        if first_day >= last_day:
            return Split(first_day, first_day, (lower, upper), (upper, upper))
        head_end = datetime.combine(first_day, time(0), tzinfo=UTC)
        tail_start = datetime.combine(last_day, time(0), tzinfo=UTC)
        return Split(first_day, last_day, (lower, head_end), (tail_start, upper))


@dataclass(frozen=True)
class Split:
    """``[day_from, day_to)`` from daily rollups, plus two half-open hour ranges."""

    day_from: date
    day_to: date
    head: tuple[datetime, datetime]
    tail: tuple[datetime, datetime]


def _year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def resolve_range(
    start: str | None, end: str | None, zone: ZoneInfo, *, today: date | None = None
) -> DateRange:
    """``from``/``to`` query values (default: the last 7 days up to today in ``zone``)."""
    today = today or datetime.now(zone).date()
    end_day = parse_date(end, "to") if end else today
    start_day = parse_date(start, "from") if start else end_day - timedelta(days=6)
    if start_day > end_day:
        raise BadRequest("from must not be after to", code="invalid_range", field="from")
    if (end_day - start_day).days + 1 > MAX_DAYS:
        raise BadRequest(
            f"a range may span at most {MAX_DAYS} days", code="invalid_range", field="from"
        )
    return DateRange(start_day, end_day, zone)


def check_interval(span: DateRange, interval: Interval) -> None:
    """Refuse series with too many points (hourly over a year, say)."""
    per_bucket = {
        Interval.HOUR: 1 / 24,
        Interval.DAY: 1,
        Interval.WEEK: 7,
        Interval.MONTH: 28,
    }[interval]
    if span.days / per_bucket > MAX_BUCKETS:
        raise BadRequest(
            f"too many {interval.value}s in this range; choose a coarser interval",
            code="too_many_buckets",
            field="interval",
        )


def default_interval(span: DateRange) -> Interval:
    if span.days <= 2:
        return Interval.HOUR
    if span.days <= 92:
        return Interval.DAY
    if span.days <= 400:
        return Interval.WEEK
    return Interval.MONTH
