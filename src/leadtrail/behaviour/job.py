"""Keeps the behaviour rollups current: every pass drains the days the ingest writer marked
(``leadtrail.behaviour_dirty``) and re-aggregates each whole day of that site from
``behavior_events``, in one writer transaction per site under an advisory lock. A day is the
unit because the reports show days; late events (an outbox sent a day later) mark their own
day, so nothing needs a periodic full refresh. ``rebuild`` redoes a site's history.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.storage.citus import citus_version
from leadtrail.storage.queries import load

logger = logging.getLogger(__name__)
Q = load(__package__)
#: days re-aggregated per transaction
CHUNK_DAYS = 7


def _claims(site_id: UUID) -> Claims:
    return Claims(role=DbRole.WRITER, sub="behaviour", site_ids=(site_id,))


#: the rollups reading the staged rows (plain PostgreSQL)
FILL_DAYS_STAGE = "INSERT INTO behaviour_days\n" + Q.days_source
#: the rollups reading the raw rows as a subquery each (Citus: no temporary table may take
#: part in a distributed transaction, and INSERT ... SELECT from one is refused under RLS)
CITUS_AGGREGATES = [
    statement.strip().replace("FROM behaviour_days", f"FROM ({Q.days_source}) behaviour_days")
    for statement in Q.aggregate_days_stage.split(";")
    if statement.strip()
]


async def refresh_days(
    conn: Connection, site_id: UUID, days: Iterable[date], *, citus: bool = False
) -> int:
    """Re-aggregate ``days`` of one site in the caller's transaction; returns how many."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    await conn.execute(Q.behaviour_lock, str(site_id))
    await conn.execute(Q.clear_marks, site_id, wanted)
    await conn.execute(Q.refresh_clear, site_id, wanted)
    lower = datetime.combine(wanted[0], time(), UTC)
    upper = datetime.combine(wanted[-1], time(), UTC) + timedelta(days=1)
    if citus:
        for statement in CITUS_AGGREGATES:
            await conn.execute(statement, site_id, wanted, lower, upper)
        return len(wanted)
    await conn.execute(Q.create_days_stage)
    await conn.execute(FILL_DAYS_STAGE, site_id, wanted, lower, upper)
    await conn.execute(Q.aggregate_days_stage)
    return len(wanted)


class BehaviourJob:
    def __init__(self, db: Database, *, partitions_ahead: int = 3) -> None:
        self._db = db
        self._ahead = partitions_ahead
        #: whether the database is Citus (looked up on the first refresh)
        self._citus: bool | None = None

    async def refresh(self, site_id: UUID, days: Iterable[date]) -> int:
        ordered = sorted(set(days))
        done = 0
        for start in range(0, len(ordered), CHUNK_DAYS):
            async with self._db.transaction(_claims(site_id)) as conn:
                if self._citus is None:
                    self._citus = await citus_version(conn) is not None
                chunk = ordered[start : start + CHUNK_DAYS]
                done += await refresh_days(conn, site_id, chunk, citus=self._citus)
        return done

    async def rebuild(self, site_id: UUID) -> int:
        async with self._db.transaction(_claims(site_id)) as conn:
            rows = await conn.fetch(Q.event_days, site_id)
        return await self.refresh(site_id, [r["day"] for r in rows])

    async def run_once(self) -> int:
        """Drain the marks and re-aggregate their days; marks of a site that failed are
        put back for the next pass. Returns the number of days re-aggregated."""
        async with self._db.system() as conn:
            await conn.fetchval("SELECT leadtrail.ensure_behaviour_partitions($1)", self._ahead)
            dirty = await conn.fetch(Q.drain_dirty)
        by_site: dict[UUID, set[date]] = defaultdict(set)
        for row in dirty:
            by_site[row["site_id"]].add(row["day"])
        done = 0
        pending = dict(by_site)
        for site_id, days in by_site.items():
            try:
                done += await self.refresh(site_id, days)
            except BaseException:
                async with self._db.system() as conn:
                    for other, left in pending.items():
                        await conn.execute(Q.mark_dirty, other, sorted(left))
                raise
            pending.pop(site_id)
        return done
