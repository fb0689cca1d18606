"""Leasing tracking numbers to sessions (least recently used first) and finding the session
a call to a tracking number belongs to. A pool with every number on a live lease is
exhausted: the visitor keeps the site's own number and the exhaustion is counted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)


async def lease(
    conn: Connection, site_id: UUID, session_id: UUID, *, now: datetime, minutes: int
) -> dict[str, Any] | None:
    """The number leased to this session (a session keeps its number while it is active: the
    lease is extended), else a free one; None when the pool is empty or exhausted."""
    await conn.execute(Q.lock_pool, site_id)
    expires = now + timedelta(minutes=minutes)
    held = await conn.fetchrow(Q.current_lease, site_id, session_id, now)
    if held is not None:
        extended = await conn.fetchrow(
            Q.extend_lease,
            site_id,
            session_id,
            held["number"],
            max(expires, held["expires_at"]),
            now,
        )
        return dict(extended) if extended else dict(held)
    number = await conn.fetchval(Q.free_number, site_id, now)
    if number is None:
        if await conn.fetchval(Q.pool_size, site_id):
            await conn.execute(Q.record_exhaustion, site_id, session_id, now)
        return None
    row = await conn.fetchrow(Q.insert_lease, site_id, number, session_id, now, expires)
    await conn.execute(Q.touch_number, site_id, number, now)
    return dict(row) if row else None


async def session_for_call(
    conn: Connection, site_id: UUID, number: str, at: datetime
) -> UUID | None:
    value = await conn.fetchval(Q.session_for_call, site_id, number, at)
    return value if isinstance(value, UUID) else None


async def list_numbers(conn: Connection, site_id: UUID, now: datetime) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(Q.list_numbers, site_id, now)]


async def add_number(
    conn: Connection, site_id: UUID, number: str, label: str | None
) -> dict[str, Any]:
    row = await conn.fetchrow(Q.add_number, site_id, number, label)
    assert row is not None
    return dict(row)


async def remove_number(conn: Connection, site_id: UUID, number: str) -> bool:
    return await conn.fetchval(Q.remove_number, site_id, number) is not None


async def exhaustions(conn: Connection, site_id: UUID, start: datetime, end: datetime) -> int:
    return int(await conn.fetchval(Q.exhaustion_count, site_id, start, end) or 0)
