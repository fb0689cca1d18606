"""Form leads: attributed to the session they came from, else the same person's latest
session within the lookback; the person is marked converted and their identifiers linked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.attribution.credit import Credit, label
from leadtrail.attribution.service import credit_conversion
from leadtrail.identity import graph
from leadtrail.identity.rules import IdKey
from leadtrail.identity.service import (
    MergeRefused,
    TieResult,
    load_session,
    resolve_session,
    tie,
)
from leadtrail.ingest.first_touch import ADS_ASSISTED
from leadtrail.ingest.referrer import is_google
from leadtrail.scoring import MAX_SCORE, explain
from leadtrail.sites.people import PeopleSettings
from leadtrail.storage import Connection
from leadtrail.storage.marks import mark_sessions
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


async def credit(
    conn: Connection,
    site_id: UUID,
    people: PeopleSettings,
    *,
    person: UUID | None,
    session: Any,
    fingerprint: str | None,
    at: datetime,
) -> tuple[Credit, str | None]:
    """The site's model's credited touch and the attribution label for a conversion."""
    session_id = session["id"] if session is not None else None
    credited = await credit_conversion(
        conn,
        site_id,
        person=person,
        session_id=session_id,
        fingerprint=(session["fingerprint"] if session is not None else None) or fingerprint,
        at=at,
        # touches after the visit the conversion happened on are not what brought it
        until=min(at, session["created_at"]) if session is not None else at,
        model=people.attribution_model,
        lookback_days=people.click_lookback_days,
        half_life_days=people.attribution_half_life_days,
    )
    if session is None and credited.session_id is None:
        return credited, None
    own_click = session is not None and session["click_id"] is not None
    own_label = session["attribution_source"] if session is not None else None
    return credited, label(own_label, own_click, credited, session_id)


def conversion_rules(
    session: Any, attribution_source: str | None, people: PeopleSettings
) -> list[tuple[str, int]]:
    """Why a call or lead on ``session`` scores what it does: it is a conversion (seed rule
    +50) with the session's context (Google referrer, returning ad user)."""
    if session is None:
        return []
    return explain(
        "conversion",
        "call",
        None,
        google_referrer=is_google(session["referrer"]) if session["referrer"] else False,
        returning_ad_user=attribution_source == ADS_ASSISTED,
        weights=people.weights,
    )


def conversion_score(session: Any, attribution_source: str | None, people: PeopleSettings) -> int:
    """The session's score raised to what its conversion earns (the card's tier follows);
    ``mark_session_converted`` stores it on the session."""
    if session is None:
        return 0
    rules = conversion_rules(session, attribution_source, people)
    return max(int(session["lead_score"]), min(sum(p for _, p in rules), MAX_SCORE))


def credit_columns(credited: Credit) -> tuple[Any, ...]:
    """The credit columns of ``insert_lead``/``insert_call`` ($-numbered after the rest)."""
    ids = credited.click_ids
    return (
        credited.session_id,
        credited.session_month,
        credited.touched_at,
        credited.model,
        credited.channel,
        credited.source,
        credited.medium,
        credited.campaign,
        ids.get("gclid"),
        ids.get("gbraid"),
        ids.get("wbraid"),
        ids.get("msclkid"),
        ids.get("fbclid"),
        ids.get("ttclid"),
        ids.get("li_fat_id"),
    )


async def submit_lead(
    conn: Connection,
    site_id: UUID,
    lead: LeadInput,
    *,
    lookback_minutes: int,
    actor: str,
    people: PeopleSettings | None = None,
    from_browser: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Store a lead; ``(lead row, created)``. Idempotent on ``external_lead_id``.

    ``from_browser``: the tracker, with nothing but a public site id. The lead attaches to the
    caller's own session only: no look-back to other sessions, and no merge. When its e-mail or
    phone belongs to someone else, the lead is stored on the session without tying them."""
    if lead.external_lead_id:
        existing = await conn.fetchrow(Q.lead_by_external_id, site_id, lead.external_lead_id)
        if existing is not None:
            return dict(existing), False
    session_id = lead.session_id
    if session_id is not None and await resolve_session(conn, site_id, session_id) is None:
        session_id = None  # unknown to this site: find the session as if none was given
    if session_id is None and not from_browser:
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
    try:
        result = await tie(
            conn,
            site_id,
            identifiers=lead.identifiers(),
            session_id=session_id,
            fingerprint=None if from_browser else lead.fingerprint,
            source="lead",
            actor=actor,
            evidence={"external_lead_id": lead.external_lead_id},
            attributes={"name": lead.name, "company": lead.company},
            refresh=False,
            allow_merge=not from_browser,
        )
    except MergeRefused:
        own = await load_session(conn, site_id, session_id) if session_id else None
        result = TieResult(own.canonical_user_id if own else None, False, [], own)  # type: ignore[arg-type]
    session = None
    if result.session is not None:
        session = await conn.fetchrow(
            Q.session_attribution, site_id, result.session.id, result.session.month
        )
    credited, attribution_source = await credit(
        conn,
        site_id,
        people or PeopleSettings(),
        person=result.canonical_user_id,
        session=session,
        fingerprint=lead.fingerprint,
        at=lead.submitted_at,
    )
    score = conversion_score(session, attribution_source, people or PeopleSettings())
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
        score,
        attribution_source,
        lead.value,
        lead.currency,
        lead.submitted_at,
        lead.metadata,
        *credit_columns(credited),
    )
    assert row is not None
    if session is not None:
        converted = await conn.fetch(
            Q.mark_session_converted, site_id, session["id"], session["created_month"], score
        )
        await mark_sessions(conn, converted)
    if result.canonical_user_id is not None:
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
