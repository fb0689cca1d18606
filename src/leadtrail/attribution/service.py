"""The attribution report: every conversion in a period, its credit shared among the
sessions before it by one model, summed by channel, source or campaign."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.attribution import channels
from leadtrail.attribution.credit import Credit, credit_of, pick
from leadtrail.attribution.models import Touch, credits
from leadtrail.identity import resolver
from leadtrail.identity.rules import CONCURRENCY_SLACK_SECONDS
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)
GROUPS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "channel": channels.channel,
    "source": channels.source,
    "campaign": channels.campaign,
}
CONVERSION_TYPES = ("lead", "call", "event")
UNATTRIBUTED = "(unattributed)"


@dataclass
class Bucket:
    credit: float = 0.0
    value: float = 0.0
    touches: int = 0
    conversions: set[tuple[str, UUID]] = field(default_factory=set)


async def report(
    conn: Connection,
    site_id: UUID,
    *,
    model: str,
    start: datetime,
    end: datetime,
    group_by: str,
    types: tuple[str, ...] = ("lead", "call"),
    lookback_days: int = 30,
    half_life_days: float = 7.0,
) -> dict[str, Any]:
    rows = await conn.fetch(Q.conversion_touches, site_id, start, end, lookback_days, list(types))
    key_of = GROUPS[group_by]
    grouped: dict[tuple[str, UUID], list[Any]] = defaultdict(list)
    for row in rows:
        grouped[(row["type"], row["id"])].append(row)
    buckets: dict[str, Bucket] = defaultdict(Bucket)
    total_value = 0.0
    by_type: dict[str, int] = defaultdict(int)
    for conv, touch_rows in grouped.items():
        first = touch_rows[0]
        value = float(first["value"]) if isinstance(first["value"], Decimal | int | float) else 0.0
        total_value += value
        by_type[conv[0]] += 1
        touches = [r for r in touch_rows if r["session_id"] is not None]
        if not touches:
            bucket = buckets[UNATTRIBUTED]
            bucket.credit += 1.0
            bucket.value += value
            bucket.conversions.add(conv)
            continue
        shares = credits(
            model,
            [Touch(r["touch_at"], channels.channel(r)) for r in touches],
            first["at"],
            half_life_days,
        )
        for r, share in zip(touches, shares, strict=True):
            bucket = buckets[key_of(r)]
            bucket.credit += share
            bucket.value += share * value
            bucket.touches += 1
            if share > 0:
                bucket.conversions.add(conv)
    results: list[dict[str, Any]] = [
        {
            group_by: key,
            "conversions": round(b.credit, 6),
            "value": round(b.value, 2),
            "touches": b.touches,
            "conversions_touched": len(b.conversions),
        }
        for key, b in buckets.items()
    ]
    results.sort(key=lambda r: (-float(r["conversions"]), str(r[group_by])))
    return {
        "model": model,
        "group_by": group_by,
        "from": start,
        "to": end,
        "conversion_types": list(types),
        "lookback_days": lookback_days,
        "totals": {
            "conversions": len(grouped),
            "value": round(total_value, 2),
            "by_type": dict(by_type),
        },
        "results": results,
    }


async def credit_conversion(
    conn: Connection,
    site_id: UUID,
    *,
    person: UUID | None,
    session_id: UUID | None,
    fingerprint: str | None,
    at: datetime,
    model: str,
    lookback_days: int,
    half_life_days: float,
    until: datetime | None = None,
) -> Credit:
    """The touch a lead or call is credited to, over the person's whole identity graph.

    Sessions of the converting fingerprint that the background resolver has not reached yet
    are resolved first, so a return visit after an ad click finds the click."""
    if fingerprint:
        rows = await conn.fetch(
            Q.unresolved_of_fingerprint,
            site_id,
            fingerprint,
            at,
            lookback_days,
            CONCURRENCY_SLACK_SECONDS,
        )
        if rows:
            await resolver.resolve(conn, site_id, [resolver.visit_from_row(r) for r in rows])
            if session_id is not None:
                person = await conn.fetchval(Q.session_person, site_id, session_id) or person
    if person is None and session_id is None:
        return Credit(model)
    touches = [
        dict(r)
        for r in await conn.fetch(
            Q.person_touches, site_id, person, session_id, until or at, lookback_days, at
        )
    ]
    return credit_of(model, pick(model, touches, at, half_life_days))
