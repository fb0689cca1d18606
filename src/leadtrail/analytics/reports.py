"""The reports: overview (KPIs, time series, comparison), breakdowns and the conversion
funnel. They read rollup tables only, so their cost grows with the number of days (local
days in the site's zone), edge hours and distinct values in the range, not with the number
of events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadtrail.analytics import hll, metrics
from leadtrail.analytics.dimensions import Dimension, split_value
from leadtrail.analytics.ranges import Compare, DateRange, Interval
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)


def range_json(span: DateRange) -> dict[str, str]:
    return {
        "from": span.start.isoformat(),
        "to": span.end.isoformat(),
        "tz": span.tz,
        "start": span.lower.isoformat(),
        "end": span.upper.isoformat(),
    }


SKETCHES = ("visitors", "returning_visitors", "converted_visitors")
#: the counters of calls and form leads (counted from their own tables)
CALLS_LEADS = ("calls", "calls_matched", "calls_qualified", "leads")


async def _totals_row(conn: Connection, site_id: UUID, span: DateRange) -> dict[str, Any]:
    """The range's summed rollup counters, its distinct-visitor sketches counted."""
    part = span.split()
    row = await conn.fetchrow(
        Q.overview_totals,
        site_id,
        part.day_from,
        part.day_to,
        *part.head,
        *part.tail,
        span.whole_hour_days,
        span.tz,
        span.start,
        span.end,
        span.lower,
        span.upper,
    )
    counters = dict(row)
    for name in SKETCHES:
        counters[name] = _count(counters[name])
    return counters


def _count(sketch: Any) -> int:
    return hll.count(None if sketch is None else sketch.bytes)


async def totals(
    conn: Connection,
    site_id: UUID,
    span: DateRange,
    *,
    calls_leads: dict[str, int] | None = None,
) -> dict[str, float | int]:
    """Overview KPIs for one range. ``calls_leads``: its call and lead counters when the
    caller has them already (the series of the same range sums to them)."""
    counters = await _totals_row(conn, site_id, span)
    if calls_leads is None:
        extra = await conn.fetchrow(Q.calls_leads_totals, site_id, span.lower, span.upper)
        calls_leads = dict(extra)
    counters.update(calls_leads)
    figures = metrics.overview_figures(counters)
    figures["returning_visitors"] = counters["returning_visitors"]
    figures["converted_visitors"] = counters["converted_visitors"]
    return figures


async def series(
    conn: Connection, site_id: UUID, span: DateRange, interval: Interval
) -> list[dict[str, Any]]:
    local = interval is not Interval.HOUR and span.whole_hour_days
    rows = await conn.fetch(
        Q.overview_series,
        site_id,
        span.lower,
        span.upper,
        interval.value,
        span.tz,
        local,
        span.start,
        span.end,
    )
    out = []
    for r in rows:
        counters = dict(r)
        bucket: datetime = counters.pop("bucket")
        figures = metrics.session_figures(counters)
        out.append(
            {
                "bucket": bucket.astimezone(span.zone).isoformat(),
                "visitors": _count(counters["visitors"]),
                **figures,
                "hot_leads": counters["hot_sessions"],
                **{name: counters[name] for name in CALLS_LEADS},
            }
        )
    return out


@dataclass(frozen=True)
class Overview:
    range: DateRange
    interval: Interval
    compare: Compare
    totals: dict[str, float | int]
    previous_range: DateRange | None
    previous: dict[str, float | int] | None
    series: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "range": {**range_json(self.range), "interval": self.interval.value},
            "compare": self.compare.value,
            "totals": self.totals,
            "previous_range": range_json(self.previous_range) if self.previous_range else None,
            "previous": self.previous,
            "change": metrics.changes(self.totals, self.previous) if self.previous else None,
            "series": self.series,
        }


async def overview(
    conn: Connection, site_id: UUID, span: DateRange, interval: Interval, compare: Compare
) -> Overview:
    before = span.previous(compare)
    buckets = await series(conn, site_id, span, interval)
    # the buckets cover the range exactly: their calls and leads are the range's
    summed = {name: sum(int(b[name]) for b in buckets) for name in CALLS_LEADS}
    return Overview(
        range=span,
        interval=interval,
        compare=compare,
        totals=await totals(conn, site_id, span, calls_leads=summed),
        previous_range=before,
        previous=await totals(conn, site_id, before) if before else None,
        series=buckets,
    )


async def funnel(conn: Connection, site_id: UUID, span: DateRange) -> dict[str, Any]:
    row = await _totals_row(conn, site_id, span)
    return {
        "range": range_json(span),
        "stages": metrics.funnel(
            row["visitors"], row["returning_visitors"], row["converted_visitors"]
        ),
    }


async def breakdown(
    conn: Connection,
    site_id: UUID,
    span: DateRange,
    dimension: Dimension,
    *,
    prefix: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    part = span.split()
    rows = await conn.fetch(
        Q.breakdown,
        site_id,
        dimension.name,
        part.day_from,
        part.day_to,
        *part.head,
        *part.tail,
        prefix,
        limit,
        offset,
    )
    total_rows = rows[0]["total_rows"] if rows else 0
    total_sessions = rows[0]["total_sessions"] if rows else 0
    out = []
    for r in rows:
        counters = dict(r)
        value = counters.pop("value")
        out.append(
            {
                **split_value(dimension, value),
                **metrics.session_figures(counters),
                "share": metrics.ratio(
                    counters["sessions"], total_sessions, percent=True, digits=1
                ),
            }
        )
    return {
        "dimension": dimension.name,
        "label": dimension.label,
        "range": range_json(span),
        "total_rows": total_rows,
        "total_sessions": total_sessions,
        "limit": limit,
        "offset": offset,
        "rows": out,
    }
