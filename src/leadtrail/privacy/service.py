"""Privacy requests end to end: find the person, export or erase, audit, refresh rollups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from leadtrail.analytics.rollups import Rollups
from leadtrail.privacy import erasure, subjects
from leadtrail.storage import Claims, Database

Q = subjects.Q


@dataclass(frozen=True)
class Erased:
    id: UUID
    created_at: datetime
    rows_removed: dict[str, int]
    hours_refreshed: int


async def export_person(
    db: Database, claims: Claims, site_id: UUID, kind: str, value: str, *, region: str | None
) -> dict[str, Any]:
    """Every stored fact about the person, by table."""
    async with db.transaction(claims) as conn:
        ids = await subjects.resolve(conn, site_id, kind, value, region=region)
        tables = await erasure.export(conn, site_id, ids)
    return {"site_id": str(site_id), "subject": {"kind": kind, "value": value}, "tables": tables}


async def erase_person(
    db: Database,
    claims: Claims,
    site_id: UUID,
    kind: str,
    value: str,
    *,
    actor: str,
    region: str | None,
) -> Erased:
    """Delete the person everywhere in one transaction, record the erasure (without the
    personal data), then re-aggregate the rollup hours their sessions touched."""
    async with db.transaction(claims) as conn:
        ids = await subjects.resolve(conn, site_id, kind, value, region=region)
        removed, hours = await erasure.erase(conn, site_id, ids)
        row = await conn.fetchrow(
            Q.record_erasure, site_id, kind, actor, erasure.audit_counts(removed)
        )
    # The hours are also marked dirty in that transaction, so a crash here only delays this.
    refreshed = await Rollups(db).refresh(site_id, hours)
    return Erased(row["id"], row["created_at"], removed, refreshed)


async def list_erasures(
    db: Database, claims: Claims, site_id: UUID, limit: int = 100
) -> list[dict[str, Any]]:
    async with db.transaction(claims) as conn:
        rows = await conn.fetch(Q.list_erasures, site_id, limit)
    return [{**r, "rows_removed": orjson.loads(r["rows_removed"])} for r in rows]
