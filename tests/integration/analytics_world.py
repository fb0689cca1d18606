"""A small, seeded population of sessions, calls and leads for analytics tests, and the
same figures computed straight from it in Python (the expected answers)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from leadtrail.storage import Connection
from leadtrail.storage.marks import mark_sessions

BROWSERS = ["Chrome", "Firefox", "Safari", "Edge"]
DEVICES = ["desktop", "mobile", "tablet"]
GEO = [
    ("US", "Texas", "Austin"),
    ("US", "Texas", "Dallas"),
    ("US", "Ohio", "Toledo"),
    ("DE", "Berlin", "Berlin"),
    ("TR", "Istanbul", "Istanbul"),
    (None, None, None),
]
REFERRERS = [
    ("google.com", "search", "plumber near me"),
    ("facebook.com", "social", None),
    (None, "direct", None),
    ("=cmd|' /C calc'!A0", "referral", None),
]
PAGES = [
    "https://shop.example/",
    "https://shop.example/pricing?gclid=x",
    "https://shop.example/contact#top",
]


@dataclass
class SessionRow:
    id: uuid.UUID
    created_at: datetime
    fingerprint: str
    browser: str
    device: str
    geo: tuple[str | None, str | None, str | None]
    referrer: tuple[str | None, str, str | None]
    entry_page: str
    page_views: int
    event_count: int
    duration: int
    bounce: bool
    converted: bool
    lead_score: int
    gclid: str | None
    utm_campaign: str | None

    @property
    def month(self) -> date:
        return self.created_at.astimezone(UTC).date().replace(day=1)


@dataclass
class World:
    site_id: uuid.UUID
    zone: ZoneInfo
    sessions: list[SessionRow] = field(default_factory=list)
    calls: list[tuple[uuid.UUID, datetime, str, str | None]] = field(default_factory=list)
    leads: list[datetime] = field(default_factory=list)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def in_range(self, start: date, end: date) -> list[SessionRow]:
        return [s for s in self.sessions if start <= self.local_day(s.created_at) <= end]

    def expected(self, start: date, end: date) -> dict[str, Any]:
        rows = self.in_range(start, end)
        calls = [c for c in self.calls if start <= self.local_day(c[1]) <= end]
        return {
            "sessions": len(rows),
            "page_views": sum(s.page_views for s in rows),
            "events": sum(s.event_count for s in rows),
            "bounces": sum(s.bounce for s in rows),
            "conversions": sum(s.converted for s in rows),
            "visitors": len({s.fingerprint for s in rows}),
            "paid_sessions": sum(s.gclid is not None for s in rows),
            "hot_leads": sum(s.lead_score > 60 for s in rows),
            "calls": len(calls),
            "calls_matched": sum(c[2] == "matched" for c in calls),
            "calls_qualified": sum(c[3] == "qualified" for c in calls),
            "leads": sum(start <= self.local_day(t) <= end for t in self.leads),
            "browsers": Counter(s.browser for s in rows),
            "cities_us": Counter(s.geo[2] for s in rows if s.geo[0] == "US"),
        }


async def populate(
    conn: Connection, site_id: uuid.UUID, zone: ZoneInfo, *, seed: int, count: int, days: int
) -> World:
    rng = random.Random(seed)
    world = World(site_id, zone)
    now = datetime.now(UTC)
    fingerprints = [f"fp-{seed}-{i}" for i in range(count // 2)]
    for _ in range(count):
        created = now - timedelta(seconds=rng.randrange(days * 86400))
        bounce = rng.random() < 0.4
        row = SessionRow(
            id=uuid.uuid4(),
            created_at=created,
            fingerprint=rng.choice(fingerprints),
            browser=rng.choice(BROWSERS),
            device=rng.choice(DEVICES),
            geo=rng.choice(GEO),
            referrer=rng.choice(REFERRERS),
            entry_page=rng.choice(PAGES),
            page_views=1 if bounce else rng.randrange(2, 9),
            event_count=rng.randrange(1, 30),
            duration=0 if bounce else rng.randrange(5, 900),
            bounce=bounce,
            converted=rng.random() < 0.15,
            lead_score=rng.randrange(0, 101),
            gclid=f"g{rng.randrange(10**6)}" if rng.random() < 0.3 else None,
            utm_campaign=rng.choice(["spring", "brand", None]),
        )
        world.sessions.append(row)
    await conn.executemany(
        """
        INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at, fingerprint,
            browser, device_type, country_code, region, city, referrer_domain, referrer_type,
            search_query, entry_page, exit_page, page_views, event_count, total_duration_sec,
            is_bounce, converted, lead_score, gclid, utm_campaign, attribution_source)
        VALUES ($1, $2, $3, $4, $4::timestamptz + make_interval(secs => $17), $5, $6, $7, $8, $9, $10, $11,
                $12, $13, $14, $14, $15, $16, $17, $18, $19, $20, $21, $22,
                CASE WHEN $21::text IS NULL THEN 'Organic' ELSE 'First Click (Paid)' END)
        """,
        [
            (
                site_id,
                s.id,
                s.month,
                s.created_at,
                s.fingerprint,
                s.browser,
                s.device,
                *s.geo,
                *s.referrer,
                s.entry_page,
                s.page_views,
                s.event_count,
                s.duration,
                s.bounce,
                s.converted,
                s.lead_score,
                s.gclid,
                s.utm_campaign,
            )
            for s in world.sessions
        ],
    )
    # a loader writing sessions marks their hours, as leadtrail's own writers do (storage/marks.py)
    written = await conn.fetch(
        "SELECT site_id, created_at, canonical_user_id FROM sessions WHERE site_id = $1", site_id
    )
    await mark_sessions(conn, written)
    for s in rng.sample(world.sessions, min(8, len(world.sessions))):
        at = s.created_at + timedelta(minutes=3)
        status = rng.choice(["qualified", "junk", None])
        call_id = await conn.fetchval(
            """
            INSERT INTO calls (site_id, phone_number, match_status, matched_session_id,
                               matched_session_month, matched_fingerprint, lead_score, status, created_at)
            VALUES ($1, '+15550100', 'matched', $2, $3, $4, $5, $6, $7) RETURNING id
            """,
            site_id,
            s.id,
            s.month,
            s.fingerprint,
            s.lead_score,
            status,
            at,
        )
        world.calls.append((call_id, at, "matched", status))
    for s in rng.sample(world.sessions, min(5, len(world.sessions))):
        at = s.created_at + timedelta(minutes=5)
        await conn.execute(
            "INSERT INTO leads (site_id, session_id, session_month, name, submitted_at) VALUES ($1, $2, $3, 'x', $4)",
            site_id,
            s.id,
            s.month,
            at,
        )
        world.leads.append(at)
    return world
