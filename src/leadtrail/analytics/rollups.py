"""Keeping the rollup tables current while sessions keep changing.

A session counts in the UTC hour it started, with its latest values (page views, exit
page, duration, lead score, conversion, person). Sessions change for a while after they
start, so hours are never "closed": the job re-aggregates whole hours from ``sessions``.

Each pass (every ``LEADTRAIL_ROLLUP_INTERVAL`` seconds):

1. Backfill: a site never aggregated gets every hour of its history aggregated.
2. Changes: hours holding sessions whose ``last_seen_at`` moved since the previous pass
   (minus a safety margin for transactions still in flight) are re-aggregated. The writer
   moves ``last_seen_at`` with every batch, so a live session's hour stays current.
3. Person changes: a trigger on ``sessions.canonical_user_id`` (identity resolution,
   merges, unmerges, at any age) marks the session's hour in ``leadtrail.rollup_dirty``;
   each pass drains it.
4. Settling, once an hour: every hour holding sessions seen in the last
   ``LEADTRAIL_ROLLUP_SETTLE_HOURS`` is re-aggregated, which catches what moves neither:
   late events carrying an older client time.

Older corrections that touch neither (a bulk import of old sessions) need
``leadtrail rollups rebuild``. Each site is re-aggregated in its own writer transaction
scoped to that site (RLS applies), under an advisory lock so two processes never
interleave on one site.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from leadtrail.analytics.dimensions import DIMENSIONS
from leadtrail.scheduling.lease import check_current_fence
from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.storage.citus import citus_version
from leadtrail.storage.queries import load

logger = logging.getLogger(__name__)
Q = load(__package__)

DIM_NAMES = list(DIMENSIONS)
#: Hours re-aggregated per transaction (keeps transactions short during a backfill).
CHUNK_HOURS = 168
SETTLE_EVERY = timedelta(hours=1)


def _claims(site_id: UUID) -> Claims:
    return Claims(role=DbRole.WRITER, sub="rollups", site_ids=(site_id,))


async def refresh_hours(
    conn: Connection,
    site_id: UUID,
    hours: Iterable[datetime],
    zone: str = "UTC",
    *,
    citus: bool = False,
) -> int:
    """Re-aggregate ``hours`` (UTC hour starts) of one site, and the days holding them (UTC
    days, and local days in the site's ``zone``); returns how many hours. ``citus``: the
    database is a Citus cluster, which needs the hourly tables filled in two statements."""
    wanted = sorted({h.astimezone(UTC).replace(minute=0, second=0, microsecond=0) for h in hours})
    if not wanted:
        return 0
    await conn.execute(Q.rollup_lock, str(site_id))
    await conn.execute(Q.clear_marks, site_id, wanted)
    await conn.execute(Q.delete_hourly, site_id, wanted)
    await conn.execute(Q.delete_dim_hourly, site_id, wanted, DIM_NAMES)
    if citus:
        await conn.execute(Q.insert_hourly, site_id, wanted)
        await conn.execute(Q.insert_dim_hourly, site_id, wanted)
    else:
        await conn.execute(Q.insert_hourly_and_dims, site_id, wanted)
    days = sorted({h.date() for h in wanted})
    await conn.execute(Q.delete_daily, site_id, days)
    await conn.execute(Q.insert_daily, site_id, days)
    await conn.execute(Q.delete_dim_daily, site_id, days, DIM_NAMES)
    await conn.execute(Q.insert_dim_daily, site_id, days, DIM_NAMES)
    await conn.execute(Q.delete_local_daily, site_id, zone, wanted)
    await conn.execute(Q.insert_local_daily, site_id, zone, wanted)
    return len(wanted)


class Rollups:
    """The rollup job: ``run_once`` is one pass; ``rebuild`` redoes a site's history."""

    def __init__(self, db: Database, *, settle_hours: int = 26) -> None:
        self._db = db
        self._settle = timedelta(hours=settle_hours)
        self._citus: bool | None = None

    async def refresh(self, site_id: UUID, hours: Iterable[datetime]) -> int:
        """Re-aggregate hours of one site, a week per transaction."""
        ordered = sorted(set(hours))
        if not ordered:
            return 0
        zone = (await self._zone(site_id))[1]
        if self._citus is None:
            async with self._db.system() as conn:
                self._citus = await citus_version(conn) is not None
        done = 0
        for start in range(0, len(ordered), CHUNK_HOURS):
            async with self._db.transaction(_claims(site_id)) as conn:
                # On the scheduler's leader: commit only while this node still leads.
                await check_current_fence(conn)
                done += await refresh_hours(
                    conn, site_id, ordered[start : start + CHUNK_HOURS], zone, citus=self._citus
                )
        return done

    async def _zone(self, site_id: UUID) -> tuple[str, str]:
        """The site's time zone as stored, and as the local days are cut: the same, or UTC
        when PostgreSQL does not know it (a zone newer than its tz database)."""
        async with self._db.system() as conn:
            stored = await conn.fetchval("SELECT timezone FROM sites WHERE id = $1", site_id)
            stored = str(stored or "UTC")
            try:
                async with conn.transaction():
                    await conn.execute("SELECT now() AT TIME ZONE $1", stored)
            except asyncpg.PostgresError:
                return stored, "UTC"
        return stored, stored

    async def recut_local_days(self) -> int:
        """Re-cut the local days of sites whose time zone changed since their days were cut
        (or that never had them); returns how many sites."""
        async with self._db.system() as conn:
            rows = await conn.fetch(
                """
                SELECT p.site_id FROM leadtrail.rollup_progress AS p
                JOIN sites AS s ON s.id = p.site_id
                WHERE p.backfilled_at IS NOT NULL AND p.local_tz IS DISTINCT FROM s.timezone
                """
            )
        for row in rows:
            site_id = row["site_id"]
            stored, zone = await self._zone(site_id)
            async with self._db.transaction(_claims(site_id)) as conn:
                await check_current_fence(conn)
                await conn.execute(Q.rollup_lock, str(site_id))
                await conn.execute(Q.delete_site_local_daily, site_id)
                await conn.execute(Q.recut_local_daily, site_id, zone)
            async with self._db.system() as conn:
                await conn.execute(
                    "UPDATE leadtrail.rollup_progress SET local_tz = $2 WHERE site_id = $1",
                    site_id,
                    stored,
                )
        return len(rows)

    async def rebuild(self, site_id: UUID, since: datetime | None = None) -> int:
        """Re-aggregate every hour of a site from ``since`` (default: all history), also
        clearing rollup rows of hours that no longer hold sessions."""
        async with self._db.transaction(_claims(site_id)) as conn:
            span = await conn.fetchrow(Q.site_span, site_id)
            lower = since or datetime(1970, 1, 1, tzinfo=UTC)
            upper = datetime.now(UTC) + timedelta(days=2)
            if span["last"] is not None:
                upper = max(upper, span["last"] + timedelta(hours=1))
            rows = await conn.fetch(Q.session_hours, site_id, lower, upper)
            stale = await conn.fetch(
                "SELECT hour FROM rollup_hourly WHERE site_id = $1 AND hour >= $2",
                site_id,
                lower,
            )
        return await self.refresh(site_id, {r["hour"] for r in [*rows, *stale]})

    async def run_once(self) -> int:
        """One pass: backfill new sites, refresh changed hours, settle once an hour.
        Returns the number of hours re-aggregated."""
        started = datetime.now(UTC)
        async with self._db.system() as conn:
            fresh = await conn.fetch(
                """
                SELECT s.id FROM sites AS s
                LEFT JOIN leadtrail.rollup_progress AS p ON p.site_id = s.id
                WHERE p.backfilled_at IS NULL
                """
            )
            progress = await conn.fetchrow(
                "SELECT min(scanned_to) AS scanned_to, min(settled_at) AS settled_at "
                "FROM leadtrail.rollup_progress WHERE backfilled_at IS NOT NULL"
            )
        done = 0
        for row in fresh:
            done += await self.rebuild(row["id"])
            await self._record(row["id"], backfilled=started, scanned=started, settled=started)

        if progress is not None and progress["scanned_to"] is not None:
            settled = progress["settled_at"]
            settle = settled is None or started - settled >= SETTLE_EVERY
            done += await self._refresh_changed(
                skip={r["id"] for r in fresh},
                settle_since=started - self._settle if settle else None,
            )
            async with self._db.system() as conn:
                await conn.execute(
                    "UPDATE leadtrail.rollup_progress SET scanned_to = $1"
                    + (", settled_at = $1" if settle else "")
                    + " WHERE backfilled_at IS NOT NULL",
                    started,
                )
        await self.recut_local_days()
        return done

    async def _refresh_changed(self, *, skip: set[UUID], settle_since: datetime | None) -> int:
        """Hours the writer and the person-change trigger marked; on a settle pass also every
        hour of the last ``settle_hours`` (a safety net for anything unmarked)."""
        async with self._db.system() as conn:
            dirty = await conn.fetch(Q.drain_dirty)
            sites = (
                [
                    r["site_id"]
                    for r in await conn.fetch(
                        "SELECT site_id FROM leadtrail.rollup_progress WHERE backfilled_at IS NOT NULL"
                    )
                ]
                if settle_since is not None
                else []
            )
        by_site: dict[UUID, set[datetime]] = defaultdict(set)
        for row in dirty:
            if row["site_id"] not in skip:
                by_site[row["site_id"]].add(row["hour"])
        upper = datetime.now(UTC) + timedelta(days=2)
        for site_id in sites:
            if site_id in skip:
                continue
            async with self._db.transaction(_claims(site_id)) as conn:
                rows = await conn.fetch(Q.session_hours, site_id, settle_since, upper)
            by_site[site_id].update(r["hour"] for r in rows)
        marked: dict[UUID, list[datetime]] = defaultdict(list)
        for row in dirty:
            marked[row["site_id"]].append(row["hour"])
        done = 0
        for site_id, hours in by_site.items():
            try:
                done += await self.refresh(site_id, hours)
            except BaseException:
                # keep what was marked for the next pass
                async with self._db.system() as conn:
                    for other, left in marked.items():
                        await conn.execute(Q.mark_dirty, other, left)
                raise
            marked.pop(site_id, None)
        return done

    async def _record(
        self, site_id: UUID, *, backfilled: datetime, scanned: datetime, settled: datetime
    ) -> None:
        async with self._db.system() as conn:
            await conn.execute(
                """
                INSERT INTO leadtrail.rollup_progress (site_id, backfilled_at, scanned_to, settled_at)
                SELECT id, $2, $3, $4 FROM sites WHERE id = $1
                ON CONFLICT (site_id) DO UPDATE
                SET backfilled_at = EXCLUDED.backfilled_at, scanned_to = EXCLUDED.scanned_to,
                    settled_at = EXCLUDED.settled_at
                """,
                site_id,
                backfilled,
                scanned,
                settled,
            )

    async def rebuild_sites(self, site_ids: Sequence[UUID], since: datetime | None) -> int:
        """Operator rebuild (CLI). A site the job never saw is marked backfilled; the
        progress of the others is left alone (the job still owes them what changed
        before ``since``)."""
        done = 0
        for site_id in site_ids:
            started = datetime.now(UTC)
            done += await self.rebuild(site_id, since)
            async with self._db.system() as conn:
                await conn.execute(
                    """
                    INSERT INTO leadtrail.rollup_progress (site_id, backfilled_at, scanned_to, settled_at)
                    SELECT id, $2, $2, $2 FROM sites WHERE id = $1
                    ON CONFLICT (site_id) DO NOTHING
                    """,
                    site_id,
                    started,
                )
        return done
