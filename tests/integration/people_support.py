"""Fixtures for the people tests: sites, keys and sessions/events written the way the
ingest writer writes them (column contract in contracts.md), through the owner connection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from leadtrail.auth import session_tokens
from leadtrail.auth.api_keys import create_key
from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database


@dataclass(frozen=True)
class Tenant:
    site_id: uuid.UUID
    public_id: str
    domain: str
    ingest_key: str
    read_key: str
    user_email: str
    password: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.ingest_key}"}


async def make_tenant(db: Database, name: str, settings: dict[str, Any] | None = None) -> Tenant:
    async with db.system() as conn:
        email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
        user = await create_user(conn, email, "correct horse battery")
        site = await create_site(conn, name=name, domain=f"{name}.example", owner_id=user.id)
        if settings:
            await conn.execute("UPDATE sites SET settings = $2 WHERE id = $1", site.id, settings)
        # a server integration that writes and reads back (ingest alone reads nothing)
        ingest = await create_key(conn, site.id, name="server", scopes=["ingest", "read"])
        read = await create_key(conn, site.id, name="reader", scopes=["read"])
    return Tenant(
        site.id, site.public_id, site.domain, ingest.key, read.key, email, "correct horse battery"
    )


async def add_session(
    db: Database,
    site_id: uuid.UUID,
    *,
    fingerprint: str | None = None,
    ip: str | None = "203.0.113.7",
    start: datetime | None = None,
    minutes: float = 5,
    events: int = 3,
    **columns: Any,
) -> uuid.UUID:
    """A session with ``events`` page views, as ingest would have stored it."""
    sid = uuid.uuid4()
    start = start or datetime.now(UTC) - timedelta(minutes=minutes)
    end = start + timedelta(minutes=minutes)
    month = start.date().replace(day=1)
    values = {
        "site_id": site_id,
        "id": sid,
        "created_month": month,
        "created_at": start,
        "last_seen_at": end,
        "fingerprint": fingerprint,
        "ip_address": ip,
        "entry_page": "https://shop.example/",
        "exit_page": "https://shop.example/contact",
        "page_views": events,
        "event_count": events,
        "total_duration_sec": int(minutes * 60),
        "is_bounce": events <= 1,
        "browser": "Chrome",
        "os": "Windows",
        "device_type": "desktop",
        "referrer_type": "direct",
        **columns,
    }
    names = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    async with db.system() as conn:
        await conn.execute(
            f"INSERT INTO sessions ({', '.join(names)}) VALUES ({placeholders})", *values.values()
        )
        for i in range(events):
            await conn.execute(
                """INSERT INTO events (site_id, session_id, session_month, created_at, url,
                                       event_category, event_action, metadata)
                   VALUES ($1, $2, $3, $4, $5, 'acquisition', 'view', $6)""",
                site_id,
                sid,
                month,
                start + (end - start) * (i / max(events, 1)),
                f"https://shop.example/page{i}",
                {"fp": fingerprint} if fingerprint else {},
            )
    return sid


async def person_of(db: Database, site_id: uuid.UUID, session_id: uuid.UUID) -> uuid.UUID | None:
    async with db.system() as conn:
        value = await conn.fetchval(
            "SELECT canonical_user_id FROM sessions WHERE site_id = $1 AND id = $2",
            site_id,
            session_id,
        )
    return value if isinstance(value, uuid.UUID) else None


async def resolve_all(db: Database) -> int:
    """Run the background resolver's pass now (what the component does every second).

    A server under test runs the same component: when it holds a site's queue, the pass
    here would skip that site (the queue's lock is taken with "try"). So each site's queue
    is first waited for with the blocking form of the same lock, then drained."""
    from leadtrail.identity import tx
    from leadtrail.identity.resolver import IdentityResolver, resolve_pending, writer_claims

    async with db.system() as conn:
        site_ids = [r["id"] for r in await conn.fetch("SELECT id FROM sites ORDER BY id")]
    total = 0
    for site_id in site_ids:

        async def drain(conn: Any, site_id: uuid.UUID = site_id) -> int:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('identity-resolver:' || $1::uuid::text, 0))",
                site_id,
            )
            linked = 0
            while (done := await resolve_pending(conn, site_id, 500)) == 500:
                linked += done
            return linked + done

        total += await tx.run(db, writer_claims(site_id), drain)
    return total + await IdentityResolver(db, 0, 500).run_once()


async def fetch(db: Database, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with db.system() as conn:
        return list(await conn.fetch(sql, *args))


def session_token(site_id: uuid.UUID, sid: uuid.UUID, server_secret: str = "test-secret") -> str:
    """The token ``/api/sync`` gives the browser that made ``sid`` (auth/session_tokens.py),
    signed with the server key tests/conftest.py's ``make_settings`` sets."""
    return session_tokens.issue(session_tokens.token_key(server_secret.encode()), site_id, sid)
