"""Marks for the rollup job and the identity resolver after sessions change.

Sessions carry no triggers (they could not be distributed on Citus, migration 0065): every
writer passes the rows it inserted or updated here, in its own transaction, so the hours they
fall in are re-aggregated and their people's totals refreshed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from asyncpg import Connection

MARK = "SELECT leadtrail.mark_sessions_changed($1::uuid[], $2::timestamptz[], $3::uuid[])"


async def mark_sessions(
    conn: Connection,
    rows: Iterable[Mapping[str, Any]],
    *,
    former_people: Iterable[tuple[UUID, UUID | None]] = (),
) -> None:
    """Mark changed sessions: ``rows`` carry ``site_id``, ``created_at`` and
    ``canonical_user_id``; ``former_people`` are (site, person) a session moved away from."""
    sites: list[UUID] = []
    created: list[datetime | None] = []
    people: list[UUID | None] = []
    for row in rows:
        sites.append(row["site_id"])
        created.append(row["created_at"])
        people.append(row["canonical_user_id"])
    for site_id, person in former_people:
        if person is not None:
            sites.append(site_id)
            created.append(None)
            people.append(person)
    if sites:
        await conn.execute(MARK, sites, created, people)
