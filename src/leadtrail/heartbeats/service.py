"""Publishing heartbeats and reading the system's health (the seed's get_system_health)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from leadtrail.heartbeats.model import Beat
from leadtrail.scheduling import check_current_fence
from leadtrail.storage import Claims, Connection, Database
from leadtrail.storage.queries import load

Q = load(__package__)


async def publish_system(db: Database, beat: Beat) -> None:
    """A beat of one of leadtrail's own components."""
    async with db.system() as conn:
        await conn.execute(Q.insert_system, *beat.args())


async def publish_site(conn: Connection, site_id: UUID, beat: Beat) -> dict[str, Any]:
    """A beat posted for a site (runs under the caller's claims)."""
    row = await conn.fetchrow(Q.insert_site, site_id, *beat.args())
    assert row is not None
    return dict(row)


def _component(row: Any) -> dict[str, Any]:
    return {
        "site_id": row["site_id"],
        "component_type": row["component_type"],
        "component_id": row["component_id"],
        "component_name": row["component_name"],
        "status": "dead" if row["is_dead"] else row["status"],
        "reported_status": row["status"],
        "last_heartbeat": row["heartbeat_timestamp"],
        "seconds_since_heartbeat": round(row["seconds_since"], 3),
        "is_dead": row["is_dead"],
        "is_leader": row["is_leader"],
        "region": row["region"],
        "version": row["version"],
        "metrics": row["metrics"],
    }


async def system_health(
    db: Database, claims: Claims | None, *, dead_after: float, include_system: bool
) -> dict[str, Any]:
    """Every component's latest beat, dead after ``dead_after`` seconds of silence.

    ``include_system``: leadtrail's own components (operators only); ``claims``: the sites
    whose posted components the caller may see."""
    components: list[dict[str, Any]] = []
    if include_system:
        async with db.system() as conn:
            components += [_component(r) for r in await conn.fetch(Q.system_health, dead_after)]
    if claims is not None and claims.site_ids:
        async with db.transaction(claims) as conn:
            components += [_component(r) for r in await conn.fetch(Q.site_health, dead_after)]
    counts = {s: 0 for s in ("healthy", "degraded", "unhealthy", "dead")}
    for c in components:
        counts[c["status"]] += 1
    if counts["dead"] or counts["unhealthy"]:
        overall = "unhealthy"
    elif counts["degraded"]:
        overall = "degraded"
    else:
        overall = "healthy"
    return {
        "status": overall,
        "dead_after_seconds": dead_after,
        "counts": counts,
        "components": components,
    }


async def cleanup(db: Database, *, keep_seconds: float, forget_seconds: float) -> int:
    """The seed's cleanup_old_heartbeats(): old beats go, each component's latest stays
    until ``forget_seconds``. Returns the number of rows deleted."""
    async with db.system() as conn, conn.transaction():
        await check_current_fence(conn)
        a = await conn.execute(Q.cleanup_system, keep_seconds, forget_seconds)
        b = await conn.execute(Q.cleanup_site, keep_seconds, forget_seconds)
        c = await conn.execute(Q.cleanup_probe, forget_seconds)
    return sum(int(s.split()[-1]) for s in (a, b, c))
