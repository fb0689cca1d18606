"""Phone calls matched to the browsing session that led to them (seeds 003 §5, 004 §3):
sessions with the caller's fingerprint active within the window, highest lead score first,
then the most recent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.identity import graph
from leadtrail.identity.service import resolve_session, tie
from leadtrail.leads.service import Q, attribution
from leadtrail.storage import Connection
from leadtrail.webhooks import events, outbox


async def record_call(
    conn: Connection,
    site_id: UUID,
    *,
    phone_number: str,
    fingerprint: str | None,
    caller_number: str | None,
    value: Decimal | None,
    currency: str | None,
    at: datetime,
    window_minutes: int,
    actor: str,
    metadata: dict[str, Any],
    client_ip: str | None = None,
) -> dict[str, Any]:
    match = None
    if fingerprint:
        match = await conn.fetchrow(
            Q.match_call_session, site_id, fingerprint, at, window_minutes, client_ip
        )
    person: UUID | None = None
    session = None
    if match is not None:
        state = await resolve_session(conn, site_id, match["id"])
        person = state.canonical_user_id if state else None
    if caller_number:
        result = await tie(
            conn,
            site_id,
            identifiers=[("phone", caller_number)],
            session_id=match["id"] if match else None,
            source="call",
            actor=actor,
            evidence={"phone_number": phone_number},
        )
        person = result.canonical_user_id
    if match is not None:
        session = await conn.fetchrow(
            Q.session_attribution, site_id, match["id"], match["created_month"]
        )
    info = attribution(session)
    row = await conn.fetchrow(
        Q.insert_call,
        site_id,
        phone_number,
        caller_number,
        "matched" if session is not None else "unmatched",
        session["id"] if session else None,
        session["created_month"] if session else None,
        fingerprint,
        person,
        info["lead_score"],
        info["attribution_source"],
        info["gclid"],
        info.get("utm_source"),
        info["campaign"],
        value,
        currency,
        at,
        metadata,
    )
    assert row is not None
    if session is not None:
        await conn.execute(
            Q.mark_session_converted, site_id, session["id"], session["created_month"]
        )
    await graph.refresh_users(conn, site_id, [person])
    out = dict(row)
    # Same transaction as the call: nothing is sent for a call that rolled back.
    await outbox.emit(conn, site_id, events.CALL_RECEIVED, call_event(out))
    if session is not None:
        await outbox.emit(conn, site_id, events.CALL_MATCHED, call_event(out))
    return out


def call_event(row: dict[str, Any]) -> dict[str, Any]:
    """The payload of the ``call.*`` events."""
    return {
        "call_id": row["id"],
        "site_id": row["site_id"],
        "phone_number": row["phone_number"],
        "caller_number": row["caller_number"],
        "match_status": row["match_status"],
        "status": row["status"],
        "canonical_session_id": row["matched_session_id"],
        "canonical_user_id": row["canonical_user_id"],
        "lead_score": row["lead_score"],
        "attribution_source": row["attribution_source"],
        "gclid": row["gclid"],
        "utm_source": row["utm_source"],
        "utm_campaign": row["utm_campaign"],
        "value": row["value"],
        "currency": row["currency"],
        "created_at": row["created_at"],
    }


async def set_call_status(
    conn: Connection,
    site_id: UUID,
    call_id: UUID,
    *,
    status_given: bool,
    status: str | None,
    value_given: bool,
    value: Decimal | None,
    currency: str | None,
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        Q.update_call, site_id, call_id, status_given, status, value_given, value, currency
    )
    if row is None:
        return None
    await graph.refresh_users(conn, site_id, [row["canonical_user_id"]])
    out = dict(row)
    if status_given and status == "qualified":
        await outbox.emit(conn, site_id, events.CALL_QUALIFIED, call_event(out))
    return out
