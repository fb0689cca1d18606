"""A person's journey (seed 000 ``get_user_journey`` and ``get_user_attribution_path``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from leadtrail.adspend.service import session_costs
from leadtrail.attribution.channels import channel
from leadtrail.identity import graph
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__, "journey_queries.sql")


async def user_journey(
    conn: Connection, site_id: UUID, user_id: UUID, *, events_limit: int = 500
) -> dict[str, Any] | None:
    """None when the site has no such person. A merged id answers with its survivor."""
    person = await graph.survivor_of(conn, site_id, user_id)
    if person is None:
        return None
    user = dict(await conn.fetchrow(Q.user_row, site_id, person) or {})
    identifiers = [dict(r) for r in await conn.fetch(Q.user_identifiers, site_id, person)]
    sessions = [dict(r) for r in await conn.fetch(Q.user_sessions, site_id, person)]
    ids = [s["id"] for s in sessions]
    months = sorted({s["created_month"] for s in sessions})
    events = (
        [dict(r) for r in await conn.fetch(Q.user_events, site_id, ids, months, events_limit)]
        if events_limit
        else []
    )
    leads = [dict(r) for r in await conn.fetch(Q.user_leads, site_id, person)]
    calls = [dict(r) for r in await conn.fetch(Q.user_calls, site_id, person)]
    timezone = await conn.fetchval(Q.site_timezone, site_id) or "UTC"
    ad_spend = await session_costs(conn, site_id, ids, timezone)
    for s in sessions:
        s["channel"] = channel(s)
    user["merged_visitor_ids"] = ids
    user["identifiers"] = identifiers
    spend = sum(float(a["cost_per_click"] or 0) for a in ad_spend)
    value = sum(float(x["value"] or 0) for x in [*leads, *calls] if x["status"] != "junk")
    return {
        "requested_id": user_id,
        "canonical_user_id": person,
        "user": user,
        "sessions": sessions,
        "events": events,
        "leads": leads,
        "calls": calls,
        "ad_spend": ad_spend,
        "journey_summary": {
            "total_sessions": len(sessions),
            "total_events": sum(s["event_count"] for s in sessions),
            "events_returned": len(events),
            "total_leads": len(leads),
            "total_calls": len(calls),
            "total_ad_spend": round(spend, 4),
            "total_value": round(value, 2),
            "converted": bool(leads or calls) or any(s["converted"] for s in sessions),
        },
        "attribution_path": [
            {
                "session_number": n,
                "session_id": s["id"],
                "session_date": s["created_at"],
                "referrer_type": s["referrer_type"],
                "channel": s["channel"],
                "landing_page": s["entry_page"],
                "converted": s["converted"],
            }
            for n, s in enumerate(sessions, start=1)
        ],
    }
