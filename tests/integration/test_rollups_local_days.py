"""The overview answers whole local days from the local-day rollup and the other hours from
the hourly one, with the same figures as merging every hour of the range: for a site in a
zone with daylight saving time (a 25-hour day), in another zone than the site's, after the
site's zone changes, and in a zone whose offset is not whole hours."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from leadtrail.analytics import reports
from leadtrail.analytics.ranges import Compare, DateRange, Interval
from leadtrail.analytics.rollups import Rollups
from leadtrail.storage import Claims, Database, DbRole
from tests.integration.people_support import add_session, make_tenant

NEW_YORK = ZoneInfo("America/New_York")
DST_END = date(2026, 11, 1)  # US daylight saving time ends: 25 local hours


async def _populate(db: Database, site_id: UUID) -> None:
    rng = random.Random(7)
    first = datetime.combine(DST_END - timedelta(days=4), time(0), tzinfo=UTC)
    for _ in range(160):
        start = first + timedelta(minutes=rng.randrange(9 * 24 * 60))
        await add_session(
            db,
            site_id,
            start=start,
            minutes=rng.choice((1, 30, 90)),
            events=rng.randint(1, 4),
            fingerprint=f"fp{rng.randrange(60)}",
        )


async def _expected(owner: asyncpg.Connection, site_id: UUID, span: DateRange) -> dict[str, Any]:
    """Every hour of the range merged (what the overview computed before local days), and
    the raw session count."""
    merged = await owner.fetchrow(
        "SELECT coalesce(sum(sessions), 0) AS sessions, coalesce(sum(page_views), 0) AS page_views,"
        " leadtrail.hll_count(bit_or(visitors)) AS visitors FROM rollup_hourly"
        " WHERE site_id = $1 AND hour >= $2 AND hour < $3",
        site_id,
        span.lower,
        span.upper,
    )
    per_day = await owner.fetch(
        "SELECT date_trunc('day', hour, $4) AS bucket, sum(sessions) AS sessions,"
        " leadtrail.hll_count(bit_or(visitors)) AS visitors FROM rollup_hourly"
        " WHERE site_id = $1 AND hour >= $2 AND hour < $3 GROUP BY 1",
        site_id,
        span.lower,
        span.upper,
        span.tz,
    )
    raw = await owner.fetchval(
        "SELECT count(*) FROM sessions WHERE site_id = $1 AND created_at >= $2 AND created_at < $3",
        site_id,
        span.lower,
        span.upper,
    )
    return {
        "totals": dict(merged),
        "raw_sessions": raw,
        "days": {r["bucket"]: (r["sessions"], r["visitors"]) for r in per_day},
    }


async def _check(db: Database, owner: asyncpg.Connection, site_id: UUID, span: DateRange) -> None:
    claims = Claims(role=DbRole.ANALYST, sub="test", site_ids=(site_id,))
    async with db.transaction(claims) as conn:
        got = await reports.overview(conn, site_id, span, Interval.DAY, Compare.NONE)
    want = await _expected(owner, site_id, span)
    assert got.totals["sessions"] == want["totals"]["sessions"] == want["raw_sessions"], span
    assert got.totals["page_views"] == want["totals"]["page_views"], span
    assert got.totals["visitors"] == want["totals"]["visitors"], span
    if span.whole_hour_days:  # (else the hour rounded down at the start adds a bucket)
        assert len(got.series) == span.days
    for point in got.series:
        bucket = datetime.fromisoformat(point["bucket"])
        sessions, visitors = want["days"].get(bucket, (0, None))
        assert point["sessions"] == sessions, (span, bucket)
        assert point["visitors"] == (visitors or 0), (span, bucket)


async def _local_rows(owner: asyncpg.Connection, site_id: UUID) -> list[asyncpg.Record]:
    return await owner.fetch(
        "SELECT day, tz, sessions FROM rollup_local_daily WHERE site_id = $1 ORDER BY day", site_id
    )


async def test_local_days_match_every_hour_merged_across_dst_and_zones(
    db: Database, owner: asyncpg.Connection
) -> None:
    tenant = await make_tenant(db, "localdays")
    site = tenant.site_id
    await owner.execute("UPDATE sites SET timezone = 'America/New_York' WHERE id = $1", site)
    await _populate(db, site)
    job = Rollups(db)
    await job.run_once()  # backfill, then the days are cut in the site's zone

    rows = await _local_rows(owner, site)
    assert rows and {r["tz"] for r in rows} == {"America/New_York"}
    # the 25-hour day holds the sessions of all its 25 hours
    dst_day = DateRange(DST_END, DST_END, NEW_YORK)
    assert dst_day.upper - dst_day.lower == timedelta(hours=25)
    dst_day_sessions = await owner.fetchval(
        "SELECT count(*) FROM sessions WHERE site_id = $1 AND created_at >= $2 AND created_at < $3",
        site,
        dst_day.lower,
        dst_day.upper,
    )
    assert {r["day"]: r["sessions"] for r in rows}[DST_END] == dst_day_sessions > 0

    spans = [
        DateRange(DST_END, DST_END, NEW_YORK),
        DateRange(DST_END - timedelta(days=3), DST_END + timedelta(days=3), NEW_YORK),
        # a range reaching past the data: days without rows fall back to (no) hours
        DateRange(DST_END - timedelta(days=10), DST_END + timedelta(days=10), NEW_YORK),
        # another zone than the site's: no local rows for it, every hour is read
        DateRange(
            DST_END - timedelta(days=2), DST_END + timedelta(days=2), ZoneInfo("Europe/Berlin")
        ),
        # half-hour offset: the range's edges are rounded to hours, local days are not used
        DateRange(
            DST_END - timedelta(days=2), DST_END + timedelta(days=2), ZoneInfo("Asia/Kolkata")
        ),
    ]
    for span in spans:
        await _check(db, owner, site, span)

    # the site-zone ranges are answered from the local rows (a doctored row shows through)
    await owner.execute(
        "UPDATE rollup_local_daily SET sessions = sessions + 1000 WHERE site_id = $1 AND day = $2",
        site,
        DST_END,
    )
    claims = Claims(role=DbRole.ANALYST, sub="test", site_ids=(site,))
    async with db.transaction(claims) as conn:
        doctored = await reports.overview(conn, site, spans[0], Interval.DAY, Compare.NONE)
    assert doctored.totals["sessions"] == dst_day_sessions + 1000
    assert doctored.series[0]["sessions"] == dst_day_sessions + 1000

    # a local day whose row is missing (not yet cut) is read from its hours
    await owner.execute(
        "DELETE FROM rollup_local_daily WHERE site_id = $1 AND day = $2", site, DST_END
    )
    await _check(db, owner, site, spans[1])

    # the site moves to Berlin: its days are re-cut there on the next pass
    await owner.execute("UPDATE sites SET timezone = 'Europe/Berlin' WHERE id = $1", site)
    await job.run_once()
    rows = await _local_rows(owner, site)
    assert rows and {r["tz"] for r in rows} == {"Europe/Berlin"}
    for span in spans:
        await _check(db, owner, site, span)

    # a changed hour re-aggregated: its local day follows
    changed = await owner.fetchrow(
        "UPDATE sessions SET page_views = page_views + 5 WHERE (site_id, id) IN"
        " (SELECT site_id, id FROM sessions WHERE site_id = $1 ORDER BY created_at LIMIT 1)"
        " RETURNING created_at",
        site,
    )
    await job.refresh(site, [changed["created_at"]])
    for span in spans:
        await _check(db, owner, site, span)
