"""Storing ad spend and reading it back as click-level cost, campaign ROI and offline
conversions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.adspend.google_ads import OfflineConversion
from leadtrail.adspend.rows import SpendRow, dedupe
from leadtrail.attribution.service import report
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)


async def upsert(
    conn: Connection, site_id: UUID, rows: list[SpendRow], source: str
) -> dict[str, int]:
    rows = sorted(dedupe(rows), key=lambda r: (r.platform, r.campaign_id, r.date, r.gclid))
    if not rows:
        return {"rows": 0, "inserted": 0, "updated": 0, "click_rows": 0, "clicks_matched": 0}
    result = await conn.fetch(
        Q.upsert_spend,
        site_id,
        [r.platform for r in rows],
        [r.campaign_id for r in rows],
        [r.campaign_name for r in rows],
        [r.date for r in rows],
        [r.clicks for r in rows],
        [r.impressions for r in rows],
        [r.cost for r in rows],
        [r.currency for r in rows],
        [r.gclid for r in rows],
        source,
    )
    inserted = sum(1 for r in result if r["inserted"])
    gclids = sorted({r.gclid for r in rows if r.gclid})
    matched = await conn.fetchval(Q.matched_clicks, site_id, gclids) if gclids else 0
    return {
        "rows": len(rows),
        "inserted": inserted,
        "updated": len(rows) - inserted,
        "click_rows": len(gclids),
        "clicks_matched": int(matched or 0),
    }


async def list_spend(
    conn: Connection, site_id: UUID, start: date, end: date
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(Q.list_spend, site_id, start, end)]


def roi(value: Decimal | float | None, cost: Decimal | float | None) -> float | None:
    """(revenue - cost) / cost, in percent; None without cost."""
    if cost is None or float(cost) <= 0:
        return None
    return round((float(value or 0) - float(cost)) / float(cost) * 100, 2)


async def session_costs(
    conn: Connection, site_id: UUID, session_ids: list[UUID], timezone: str
) -> list[dict[str, Any]]:
    rows = await conn.fetch(Q.session_costs, site_id, session_ids, timezone)
    out = []
    for r in rows:
        item = dict(r)
        item["roi_percentage"] = roi(r["conversion_value"], r["cost_per_click"])
        out.append(item)
    return out


async def campaign_performance(
    conn: Connection,
    site_id: UUID,
    *,
    start: datetime,
    end: datetime,
    start_day: date,
    end_day: date,
    model: str,
    half_life_days: float,
    lookback_days: int = 90,
) -> list[dict[str, Any]]:
    """Seed ``campaign_performance``: users, sessions, conversions and revenue (credited by
    ``model``), spend and ROI per campaign. Sessions join campaigns on ``utm_campaign``
    equal (any case) to the campaign id or name."""
    spend = [dict(r) for r in await conn.fetch(Q.campaign_spend, site_id, start_day, end_day)]
    visits = {r["key"]: dict(r) for r in await conn.fetch(Q.campaign_sessions, site_id, start, end)}
    credited = await report(
        conn,
        site_id,
        model=model,
        start=start,
        end=end,
        group_by="campaign",
        half_life_days=half_life_days,
        lookback_days=lookback_days,
    )
    conversions = {str(r["campaign"]).lower(): r for r in credited["results"]}
    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    for s in spend:
        keys = [
            k for k in {str(s["campaign_id"]).lower(), str(s["campaign_name"] or "").lower()} if k
        ]
        rows.append(
            _row(
                s["platform"],
                s["campaign_id"],
                s["campaign_name"],
                s["spend"],
                s["clicks"],
                s["impressions"],
                [visits[k] for k in keys if k in visits and k not in used],
                [conversions[k] for k in keys if k in conversions and k not in used],
            )
        )
        used.update(keys)
    for key, v in visits.items():
        if key not in used:
            rows.append(
                _row(
                    None,
                    None,
                    v["utm_campaign"],
                    Decimal(0),
                    0,
                    0,
                    [v],
                    [conversions[key]] if key in conversions else [],
                )
            )
    rows.sort(
        key=lambda r: (-(r["avg_roi"] if r["avg_roi"] is not None else -1e18), str(r["campaign"]))
    )
    return rows


def _row(
    platform: str | None,
    campaign_id: str | None,
    name: str | None,
    spend: Decimal,
    clicks: int,
    impressions: int,
    visits: list[dict[str, Any]],
    credited: list[dict[str, Any]],
) -> dict[str, Any]:
    users = sum(v["users"] for v in visits)
    sessions = sum(v["sessions"] for v in visits)
    conversions = sum(c["conversions"] for c in credited)
    revenue = sum(c["value"] for c in credited)
    return {
        "platform": platform,
        "campaign_id": campaign_id,
        "campaign": name or campaign_id,
        "unique_users": users,
        "total_sessions": sessions,
        "conversions": round(conversions, 6),
        "conversion_rate": round(conversions / users * 100, 2) if users else 0.0,
        "clicks": int(clicks),
        "impressions": int(impressions),
        "total_ad_spend": float(spend),
        "total_revenue": round(revenue, 2),
        "avg_roi": roi(revenue, spend),
        "cost_per_conversion": round(float(spend) / conversions, 2) if conversions else None,
    }


async def offline_conversions(
    conn: Connection,
    site_id: UUID,
    start: datetime,
    end: datetime,
    types: list[str],
    *,
    click: str = "gclid",
) -> list[OfflineConversion]:
    """Conversions whose credited touch carried a ``click`` id (gclid or msclkid), at the
    time they happened (a call's start, a lead's submission)."""
    query = Q.offline_conversions if click == "gclid" else Q.offline_conversions_msclkid
    rows = await conn.fetch(query, site_id, start, end, types)
    return [OfflineConversion(r["click_id"], r["at"], r["value"], r["currency"]) for r in rows]
