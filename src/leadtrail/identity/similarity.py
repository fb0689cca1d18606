"""Lookalike people (seed 000 ``find_similar_users``).

The measure, in [0, 1]: a weighted share of matching features.

    feature                weight   match
    preferred browser      0.15     equal
    preferred device type  0.15     equal
    preferred OS           0.10     equal
    country                0.05     equal
    region                 0.05     equal
    city                   0.10     equal
    main referrer type     0.15     equal
    engagement             0.25     mean of min/max ratios of sessions, actions, seconds

A categorical feature the reference person lacks is left out and the other weights are
scaled up, so people with unknown location are not punished for it. ``SCORE_SQL`` computes
the same thing in the database (to rank a whole site quickly); ``score`` explains a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from leadtrail.identity.graph import survivor_of
from leadtrail.storage import Connection

CATEGORICAL = (
    ("preferred_browser", 0.15),
    ("preferred_device", 0.15),
    ("preferred_os", 0.10),
    ("country_code", 0.05),
    ("region", 0.05),
    ("city", 0.10),
    ("primary_referrer_type", 0.15),
)
ENGAGEMENT_WEIGHT = 0.25
ENGAGEMENT = ("total_sessions", "total_actions", "total_duration_sec")
FEATURES = tuple(name for name, _ in CATEGORICAL) + ENGAGEMENT


def ratio(a: float, b: float) -> float:
    high = max(a, b)
    return 1.0 if high <= 0 else min(a, b) / high


def score(target: Mapping[str, Any], other: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
    """Similarity and each feature's contribution (before scaling)."""
    parts: dict[str, float] = {}
    weight = ENGAGEMENT_WEIGHT
    for name, w in CATEGORICAL:
        if target.get(name) is None:
            continue
        weight += w
        parts[name] = w if other.get(name) == target[name] else 0.0
    engagement = sum(ratio(float(target[f] or 0), float(other[f] or 0)) for f in ENGAGEMENT) / len(
        ENGAGEMENT
    )
    parts["engagement"] = ENGAGEMENT_WEIGHT * engagement
    return sum(parts.values()) / weight, parts


def _sql() -> str:
    weights = " + ".join(
        f"CASE WHEN t.{n} IS NULL THEN 0 ELSE {w}::float8 * coalesce((c.{n} = t.{n})::int, 0) END"
        for n, w in CATEGORICAL
    )
    total = " + ".join(
        f"CASE WHEN t.{n} IS NULL THEN 0 ELSE {w}::float8 END" for n, w in CATEGORICAL
    )
    ratios = " + ".join(
        f"CASE WHEN greatest(c.{f}, t.{f}) <= 0 THEN 1.0::float8 "
        f"ELSE least(c.{f}, t.{f})::float8 / greatest(c.{f}, t.{f}) END"
        for f in ENGAGEMENT
    )
    columns = ", ".join(f"c.{f}" for f in FEATURES)
    return f"""
        SELECT * FROM (
            SELECT c.id, c.converted_to_lead, c.last_seen_at, {columns},
                   ({weights} + {ENGAGEMENT_WEIGHT}::float8 * ({ratios}) / {len(ENGAGEMENT)})
                   / ({total} + {ENGAGEMENT_WEIGHT}::float8) AS similarity_score
            FROM canonical_users c
            JOIN canonical_users t ON t.site_id = c.site_id AND t.id = $2
            WHERE c.site_id = $1 AND c.id <> t.id AND c.merged_into IS NULL
        ) ranked
        WHERE similarity_score >= $3
        ORDER BY similarity_score DESC, id
        LIMIT $4
    """


#: Built from the constants above: column names are ours, never request text.
SCORE_SQL = _sql()


async def find_similar(
    conn: Connection, site_id: UUID, user_id: UUID, *, threshold: float, limit: int
) -> dict[str, Any] | None:
    person = await survivor_of(conn, site_id, user_id)
    if person is None:
        return None
    target = await conn.fetchrow(
        f"SELECT {', '.join(FEATURES)} FROM canonical_users WHERE site_id = $1 AND id = $2",
        site_id,
        person,
    )
    assert target is not None
    rows = await conn.fetch(SCORE_SQL, site_id, person, threshold, limit)
    users = []
    for r in rows:
        _, parts = score(target, r)
        users.append(
            {
                "canonical_user_id": r["id"],
                "similarity_score": round(r["similarity_score"], 4),
                "matched": sorted(k for k, v in parts.items() if v > 0 and k != "engagement"),
                "engagement": round(parts["engagement"] / ENGAGEMENT_WEIGHT, 4),
                "converted_to_lead": r["converted_to_lead"],
                "last_seen_at": r["last_seen_at"],
                **{f: r[f] for f in FEATURES},
            }
        )
    return {
        "canonical_user_id": person,
        "threshold": threshold,
        "features": dict(target),
        "users": users,
    }
