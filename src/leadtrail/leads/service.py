"""Form leads: attributed to the session they came from, else the same person's latest
session within the lookback; the person is marked converted and their identifiers linked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.identity import graph
from leadtrail.identity.rules import IdKey
from leadtrail.identity.service import resolve_session, tie
from leadtrail.storage import Connection
from leadtrail.storage.queries import load
from leadtrail.webhooks import events, outbox

Q = load(__package__)


@dataclass(frozen=True)
class LeadInput:
    """A lead with identifiers already normalised."""

    external_lead_id: str | None
    session_id: UUID | None
    fingerprint: str | None
    form_type: str | None
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    message: str | None
    value: Decimal | None
    currency: str | None
    submitted_at: datetime
    external_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def identifiers(self) -> list[IdKey]:
        out: list[IdKey] = []
        if self.email:
            out.append(("email", self.email))
        if self.phone:
            out.append(("phone", self.phone))
        if self.external_id:
            out.append(("external_id", self.external_id))
        return out


def attribution(session: Any) -> dict[str, Any]:
    """Campaign and source a conversion takes from its session's UTM tags and click ids."""
    if session is None:
        return {
            "lead_score": 0,
            "campaign": None,
            "source": None,
            "attribution_source": None,
            "gclid": None,
        }
    source = session["utm_source"] or session["referrer_domain"] or session["referrer_type"]
    if not source and session["click_id"]:
        source = "google"
    return {
        "lead_score": session["lead_score"],
        "campaign": session["utm_campaign"],
        "source": source or "direct",
        "attribution_source": session["attribution_source"],
        "gclid": session["gclid"],
        "utm_source": session["utm_source"],
    }


async def submit_lead(
    conn: Connection, site_id: UUID, lead: LeadInput, *, lookback_minutes: int, actor: str
) -> tuple[dict[str, Any], bool]:
    """Store a lead; ``(lead row, created)``. Idempotent on ``external_lead_id``."""
    if lead.external_lead_id:
        existing = await conn.fetchrow(Q.lead_by_external_id, site_id, lead.external_lead_id)
        if existing is not None:
            return dict(existing), False
    session_id = lead.session_id
    if session_id is not None and await resolve_session(conn, site_id, session_id) is None:
        session_id = None  # unknown to this site: find the session as if none was given
    if session_id is None:
        links = await graph.load_links(conn, site_id, lead.identifiers())
        owners = sorted({link.owner for link in links.values() if isinstance(link.owner, UUID)})
        session_id = await conn.fetchval(
            Q.lookback_session,
            site_id,
            owners,
            lead.fingerprint,
            lead.submitted_at,
            lookback_minutes,
        )
    result = await tie(
        conn,
        site_id,
        identifiers=lead.identifiers(),
        session_id=session_id,
        fingerprint=lead.fingerprint,
        source="lead",
        actor=actor,
        evidence={"external_lead_id": lead.external_lead_id},
        attributes={"name": lead.name, "company": lead.company},
        refresh=False,
    )
    session = None
    if result.session is not None:
        session = await conn.fetchrow(
            Q.session_attribution, site_id, result.session.id, result.session.month
        )
    info = attribution(session)
    row = await conn.fetchrow(
        Q.insert_lead,
        site_id,
        lead.external_lead_id,
        session["id"] if session else None,
        session["created_month"] if session else None,
        result.canonical_user_id,
        lead.form_type,
        lead.name,
        lead.email,
        lead.phone,
        lead.company,
        lead.message,
        info["lead_score"],
        info["campaign"],
        info["source"],
        info["attribution_source"],
        info["gclid"],
        lead.value,
        lead.currency,
        lead.submitted_at,
        lead.metadata,
    )
    assert row is not None
    if session is not None:
        await conn.execute(
            Q.mark_session_converted, site_id, session["id"], session["created_month"]
        )
    await graph.refresh_users(conn, site_id, [result.canonical_user_id])
    out = dict(row)
    # Same transaction as the lead: the webhook exists exactly when the lead does.
    await outbox.emit(conn, site_id, events.LEAD_CREATED, lead_event(out))
    out["merges"] = result.merges
    return out, True


def lead_event(row: dict[str, Any]) -> dict[str, Any]:
    """The ``lead.created`` payload (the seed's session_lead_submissions row)."""
    return {
        "lead_id": row["id"],
        "site_id": row["site_id"],
        "mmp_lead_id": row["external_lead_id"],
        "canonical_session_id": row["session_id"],
        "canonical_user_id": row["canonical_user_id"],
        "form_type": row["form_type"],
        "submitted_at": row["submitted_at"],
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "company": row["company"],
        "lead_score": row["lead_score"],
        "attributed_campaign": row["attributed_campaign"],
        "attributed_source": row["attributed_source"],
        "attribution_source": row["attribution_source"],
        "gclid": row["gclid"],
        "value": row["value"],
        "currency": row["currency"],
    }


async def set_lead_status(
    conn: Connection,
    site_id: UUID,
    lead_id: UUID,
    *,
    status_given: bool,
    status: str | None,
    value_given: bool,
    value: Decimal | None,
    currency: str | None,
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        Q.update_lead, site_id, lead_id, status_given, status, value_given, value, currency
    )
    if row is None:
        return None
    await graph.refresh_users(conn, site_id, [row["canonical_user_id"]])
    return dict(row)
