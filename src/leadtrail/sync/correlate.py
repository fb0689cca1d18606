"""Mirrored Firespring rows into leadtrail's own model (seed 000's session correlator).

A Firespring visitor becomes a session with its landing page view and its actions as
events, written by the ingest writer's own batch code (so sessions, counters, scores,
rollups and the identity resolver's queue behave as for live traffic), then linked to a
canonical user by the identity resolver. Ids are derived from the Firespring ids, so
correlating the same visitor again adds nothing. MMP Toledo leads become leads through
the leads service (idempotent on ``external_lead_id``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.auth.service import AUTH_CLAIMS
from leadtrail.errors import BadRequest, LeadtrailError
from leadtrail.identity import normalize, tx
from leadtrail.identity.resolver import IdentityResolver
from leadtrail.identity.service import resolve_session
from leadtrail.ingest.batch import BatchWriter
from leadtrail.ingest.events import PreparedEvent, Visit, event_id
from leadtrail.ingest.geo import GeoInfo
from leadtrail.ingest.session_state import SessionCache
from leadtrail.ingest.sites import SiteConfig
from leadtrail.ingest.useragent import UserAgentInfo
from leadtrail.leads.service import LeadInput, submit_lead
from leadtrail.storage import Database
from leadtrail.storage.queries import load
from leadtrail.sync.service import writer_claims
from leadtrail.sync.transform import TransformError, to_timestamp

Q = load("leadtrail.sync", "correlate.sql")
_NAMESPACE = uuid.UUID("6f0c1f7e-3a51-4d0e-9a55-1c6a2b1f7e01")
#: Firespring action types counted as conversions (the rest are interactions)
CONVERSIONS = frozenset({"submit", "form_submit", "conversion", "lead", "purchase"})
#: visitors written per writer transaction
BATCH = 500


def session_uuid(site_id: UUID, firespring_id: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"{site_id}/firespring/{firespring_id}")


def canonical_session_id(firespring_id: str, started: datetime) -> str:
    """Seed 000's ``session_{firespring_id}_{timestamp}``."""
    return f"session_{firespring_id}_{int(started.timestamp())}"


def fingerprint(ip: str | None, browser: str | None, os: str | None) -> str | None:
    """Firespring has no browser fingerprint: the seed's IP + browser + OS stands in."""
    if not ip:
        return None
    text = f"{ip}|{browser or ''}|{os or ''}".lower()
    return "fs_" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value)[:500] if value not in (None, "") else None


def _time(data: Mapping[str, Any], *keys: str) -> datetime | None:
    for key in keys:
        if data.get(key) not in (None, ""):
            try:
                return to_timestamp(data[key])
            except TransformError:
                raise BadRequest(f"{key}: {data[key]!r} is not a time", field=key) from None
    return None


def visit_events(
    site: SiteConfig, data: Mapping[str, Any], actions: Sequence[Mapping[str, Any]]
) -> list[PreparedEvent]:
    """The events of one Firespring visit (seed 000's correlate payload shape)."""
    fs_id = _text(data, "session_id") or _text(data, "visitor_id")
    if fs_id is None:
        raise BadRequest("session_id is required", field="session_id")
    started = _time(data, "visit_time", "visit_started_at", "last_visit_at")
    if started is None:
        raise BadRequest("visit_time is required", field="visit_time")
    browser, os_name = _text(data, "browser"), _text(data, "os")
    ip = _text(data, "ip_address")
    agent = UserAgentInfo(browser, None, os_name, None, _text(data, "device") or "desktop", None)
    geo = GeoInfo(
        country_code=(_text(data, "country_code") or "").upper()[:2] or None,
        region=_text(data, "region") or _text(data, "state"),
        city=_text(data, "city"),
    )
    visit = Visit(ip, agent, geo, None)
    sid = session_uuid(site.id, fs_id)
    fp = fingerprint(ip, browser, os_name)
    landing = _text(data, "landing_page") or f"https://{site.domain}/"
    referrer = _text(data, "referrer") or (
        f"https://{data['referrer_domain']}/" if data.get("referrer_domain") else None
    )
    meta: dict[str, Any] = {"fp": fp, "source": "firespring", "firespring_session_id": fs_id}
    if data.get("organization"):
        meta["organization"] = _text(data, "organization")

    def event(client_id: str, when: datetime, url: str, category: str, action: str,
              label: str | None = None, value: float | None = None) -> PreparedEvent:  # fmt: skip
        return PreparedEvent(
            site=site, session_id=sid, id=event_id(sid, client_id), client_event_id=client_id,
            created_at=when, url=url, category=category, action=action, label=label,
            value=value, referrer=referrer, meta=dict(meta), visit=visit,
        )  # fmt: skip

    events = [event("fs:landing", started, landing, "acquisition", "view")]
    for action in actions:
        when = _time(action, "occurred_at") or started
        kind = re.sub(r"[^\w.:-]", "_", _text(action, "action_type") or "action")[:64]
        url = _text(action, "page_url") or landing
        category = "conversion" if kind in CONVERSIONS else "interaction"
        events.append(event(f"fs:action:{action['action_id']}", when, url, category, kind))
    duration = data.get("session_duration_seconds") or data.get("duration_seconds")
    if isinstance(duration, int | float | Decimal) and duration > 0:
        end = started + timedelta(seconds=float(duration))
        events.append(event("fs:end", end, landing, "system", "session_end", value=float(duration)))
    return events


async def _site(db: Database, site_id: UUID) -> SiteConfig:
    async with db.transaction(AUTH_CLAIMS) as conn:
        row = await conn.fetchrow(Q.site_config, site_id)
    if row is None:
        raise BadRequest(f"unknown site {site_id}")
    return SiteConfig.from_row(row)


async def _write(db: Database, site_id: UUID, events: list[PreparedEvent]) -> None:
    conn = await db.app_connection()
    try:
        await BatchWriter(SessionCache(len(events) + 1)).write(conn, events)
    finally:
        await conn.close()


async def correlate_firespring_session(
    db: Database, site_id: UUID, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Seed 000's ``correlate_firespring_session``: the visit as a session and its events,
    linked to a canonical user; returns the ids and the session row."""
    site = await _site(db, site_id)
    fs_id = _text(data, "session_id") or _text(data, "visitor_id") or ""
    async with db.transaction(writer_claims(site_id)) as conn:
        actions = [dict(r) for r in await conn.fetch(Q.visitor_actions, site_id, [fs_id])]
    events = visit_events(site, data, actions)
    await _write(db, site_id, events)
    sid = events[0].session_id
    state = await tx.run(db, writer_claims(site_id), lambda c: resolve_session(c, site_id, sid))
    started = events[0].created_at
    return {
        "canonical_user_id": str(state.canonical_user_id)
        if state and state.canonical_user_id
        else None,
        "canonical_session_id": canonical_session_id(fs_id, started),
        "session_id": str(sid),
        "events": len(events),
    }


async def _populate(db: Database, site: SiteConfig, rows: list[dict[str, Any]]) -> int:
    """Write the sessions and events of mirrored visitor rows; returns the events."""
    ids = [r["visitor_id"] for r in rows]
    async with db.transaction(writer_claims(site.id)) as conn:
        actions: dict[str, list[Mapping[str, Any]]] = {}
        for action in await conn.fetch(Q.visitor_actions, site.id, ids):
            actions.setdefault(action["visitor_id"], []).append(dict(action))
    out: list[PreparedEvent] = []
    for row in rows:
        row["session_id"] = row["visitor_id"]
        out.extend(visit_events(site, row, actions.get(row["visitor_id"], [])))
    if out:
        await _write(db, site.id, out)
    return len(out)


async def correlate_visitors(db: Database, site_id: UUID, visitor_ids: list[str]) -> int:
    """Sessions and events for these mirrored visitors (the stream path's step); the
    background identity resolver links them to people."""
    site = await _site(db, site_id)
    events = 0
    for start in range(0, len(visitor_ids), BATCH):
        async with db.transaction(writer_claims(site_id)) as conn:
            rows = [
                dict(r)
                for r in await conn.fetch(
                    Q.visitors_by_id, site_id, visitor_ids[start : start + BATCH]
                )
            ]
        events += await _populate(db, site, rows)
    return events


async def batch_populate_from_firespring(
    db: Database, site_id: UUID, *, batch: int = BATCH, resolve: bool = True
) -> dict[str, int]:
    """Seed 000's ``batch_populate_from_firespring`` without its 1,000-visitor cap: every
    live mirrored visitor (and lead), in batches, then one identity-resolver pass."""
    site = await _site(db, site_id)
    after = ""
    sessions = events = 0
    while True:
        async with db.transaction(writer_claims(site_id)) as conn:
            rows = [dict(r) for r in await conn.fetch(Q.visitors_page, site_id, after, batch)]
        if not rows:
            break
        events += await _populate(db, site, rows)
        sessions += len(rows)
        after = rows[-1]["visitor_id"]
    leads = await populate_leads(db, site_id)
    linked = 0
    if resolve:
        linked = await IdentityResolver(db, 0, 1000).run_once()
    return {"sessions": sessions, "events": events, "leads": leads, "linked": linked}


async def populate_leads(db: Database, site_id: UUID) -> int:
    """Mirrored MMP Toledo leads into ``leads`` (seed 000's correlate_lead_submission)."""
    async with db.transaction(writer_claims(site_id)) as conn:
        rows = await conn.fetch(Q.mirrored_leads, site_id)
    created = 0
    for row in rows:
        try:
            email = normalize.email(row["email"]) if row["email"] else None
        except LeadtrailError:
            email = None
        try:
            phone = normalize.phone(row["phone"], "US") if row["phone"] else None
        except LeadtrailError:
            phone = None
        lead = LeadInput(
            external_lead_id=f"mmp:{row['lead_id']}",
            session_id=None,
            fingerprint=None,
            form_type=row["form_type"] or "mmp_toledo",
            name=row["name"],
            email=email,
            phone=phone,
            company=row["company"],
            message=row["message"],
            value=None,
            currency=None,
            submitted_at=row["submitted_at"] or datetime.now(UTC),
            metadata={"source": "mmp_toledo_leads"},
        )
        _, made = await tx.run(
            db,
            writer_claims(site_id),
            lambda c, lead=lead: submit_lead(  # type: ignore[misc]
                c, site_id, lead, lookback_minutes=60, actor="dynamodb-sync"
            ),
        )
        created += made
    return created


__all__ = [
    "batch_populate_from_firespring",
    "correlate_firespring_session",
    "correlate_visitors",
    "populate_leads",
]


async def write_history(
    db: Database, site_id: UUID, events: list[PreparedEvent], batch: int = 2000
) -> int:
    """Imported events through the ingest batch writer, oldest first, then one
    identity-resolver pass; returns sessions linked to people."""
    events.sort(key=lambda e: (e.created_at, e.session_id))
    for start in range(0, len(events), batch):
        await _write(db, site_id, events[start : start + batch])
    return await IdentityResolver(db, 0, 1000).run_once()
