"""The overview's session count from rollups equals a count of the raw sessions that started
in the range, exactly, for a site whose day does not start at midnight UTC, with sessions
that cross the day's edges (they count on the day they started, as in the reports)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from leadtrail.analytics import reports
from leadtrail.analytics.ranges import Compare, DateRange, default_interval
from leadtrail.analytics.rollups import Rollups
from leadtrail.storage import Claims, Database, DbRole
from tests.integration.people_support import add_session, make_tenant

ZONE = ZoneInfo("America/New_York")


async def test_overview_sessions_equal_raw_sessions_started_in_the_range(
    db: Database, owner: asyncpg.Connection
) -> None:
    tenant = await make_tenant(db, "edges")
    day = date(2026, 11, 1)  # the day US daylight saving time ends: 25 local hours
    # elapsed time from local midnight (aware datetimes add wall-clock time in their zone)
    midnight = datetime.combine(day, time(0), tzinfo=ZONE).astimezone(UTC)
    starts = [
        midnight - timedelta(minutes=20),  # the evening before, running past midnight
        midnight - timedelta(seconds=1),
        midnight,
        midnight + timedelta(minutes=5),
        midnight + timedelta(hours=1, minutes=30),  # in the repeated 01:00-02:00 hour
        midnight + timedelta(hours=24, minutes=59),  # 23:59 local: the last minute of the day
        midnight + timedelta(hours=25),  # the next local midnight
        midnight + timedelta(hours=25, minutes=10),
    ]
    for start in starts:
        await add_session(db, tenant.site_id, start=start, minutes=40, events=3)
    await Rollups(db).rebuild(tenant.site_id)

    claims = Claims(role=DbRole.ANALYST, sub="test", site_ids=(tenant.site_id,))
    for first, last in ((day, day), (day - timedelta(days=1), day), (day, day + timedelta(days=1))):
        span = DateRange(first, last, ZONE)
        async with db.transaction(claims) as conn:
            got = await reports.overview(
                conn, tenant.site_id, span, default_interval(span), Compare.NONE
            )
        raw = await owner.fetchval(
            "SELECT count(*) FROM sessions WHERE site_id = $1 AND created_at >= $2 AND created_at < $3",
            tenant.site_id,
            span.lower,
            span.upper,
        )
        assert got.totals["sessions"] == raw, (first, last)
        pages = await owner.fetchval(
            "SELECT coalesce(sum(page_views), 0) FROM sessions"
            " WHERE site_id = $1 AND created_at >= $2 AND created_at < $3",
            tenant.site_id,
            span.lower,
            span.upper,
        )
        assert got.totals["page_views"] == pages
    # the one local day holds the sessions from its midnight to the next, 25 hours later
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM sessions WHERE site_id = $1 AND created_at >= $2 AND created_at < $3",
            tenant.site_id,
            DateRange(day, day, ZONE).lower,
            DateRange(day, day, ZONE).upper,
        )
        == 4
    )
