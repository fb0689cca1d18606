"""Arranging experiment data as ingest would have stored it, in bulk (owner SQL)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg


async def seed_arm(
    owner: asyncpg.Connection,
    site_id: uuid.UUID,
    test_id: str,
    variant: str,
    units: int,
    *,
    converters: int = 0,
    rage_clicks: int = 0,
    at: datetime,
    prefix: str = "",
) -> None:
    """``units`` visitors, one session each, exposed to ``variant`` at ``at``; the first
    ``converters`` send a form lead, the first ``rage_clicks`` rage-click once."""
    month = at.date().replace(day=1)
    fp = f"{prefix}{test_id}-{variant}-"
    await owner.execute(
        """INSERT INTO sessions (site_id, id, created_month, created_at, fingerprint, page_views,
                                 is_bounce, device_type)
           SELECT $1, gen_random_uuid(), $2, $3, $4 || i, 2, i % 3 = 0, 'desktop'
           FROM generate_series(1, $5) AS i""",
        site_id,
        month,
        at,
        fp,
        units,
    )
    await owner.execute(
        """INSERT INTO events (site_id, session_id, session_month, created_at, url,
                               event_category, event_action, event_label, metadata)
           SELECT site_id, id, created_month, $4, 'https://x.example/', 'system',
                  'experiment_exposure', $5, jsonb_build_object('xv', $6::text, 'xu', fingerprint, 'fp', fingerprint)
           FROM sessions WHERE site_id = $1 AND created_month = $2 AND fingerprint LIKE $3 || '%'""",
        site_id,
        month,
        fp,
        at + timedelta(seconds=1),
        test_id,
        variant,
    )
    await owner.execute(
        """INSERT INTO leads (site_id, session_id, session_month, submitted_at, email, value)
           SELECT site_id, id, created_month, $4, 'x' || fingerprint || '@example.com', 100
           FROM sessions WHERE site_id = $1 AND created_month = $2 AND fingerprint LIKE $3 || '%'
             AND substring(fingerprint from length($3) + 1)::int <= $5""",
        site_id,
        month,
        fp,
        at + timedelta(minutes=1),
        converters,
    )
    await owner.execute(
        """INSERT INTO events (site_id, session_id, session_month, created_at, url,
                               event_category, event_action, event_label)
           SELECT site_id, id, created_month, $4, 'https://x.example/', 'interaction', 'rage_click', 'IMG'
           FROM sessions WHERE site_id = $1 AND created_month = $2 AND fingerprint LIKE $3 || '%'
             AND substring(fingerprint from length($3) + 1)::int <= $5""",
        site_id,
        month,
        fp,
        at + timedelta(minutes=2),
        rage_clicks,
    )
