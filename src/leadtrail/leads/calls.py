"""Phone calls matched to the browsing session that led to them (seeds 003 §5, 004 §3,
issue 11). The order, first hit wins, each call recording which one matched:

1. ``session``     the session id the provider or page passed along
2. ``dni``         the session the dialled tracking number was leased to at the call time
3. ``fingerprint`` sessions of the caller's fingerprint active within the window before the
                   call started, highest lead score first, then the most recent (the seeds)
4. ``tel_click``   the latest click on a ``tel:`` link to the dialled number within the window

Matching uses the time the call started, not the time the post arrived; a provider's call id
makes posts idempotent. The call stores the click ids and campaign of the touch the site's
attribution model credits over the caller's whole identity graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.dni import service as dni
from leadtrail.identity import graph
from leadtrail.identity.service import resolve_session, tie
from leadtrail.leads.service import Q, conversion_score, credit, credit_columns
from leadtrail.sites.people import PeopleSettings
from leadtrail.storage import Connection
from leadtrail.storage.marks import mark_sessions
from leadtrail.webhooks import events, outbox

METHODS = ("session", "dni", "fingerprint", "tel_click")


@dataclass(frozen=True)
class CallInput:
    """A call with its numbers already normalised to E.164."""

    tracking_number: str
    started_at: datetime
    caller_number: str | None = None
    fingerprint: str | None = None
    session_id: UUID | None = None
    external_call_id: str | None = None
    duration_s: int | None = None
    recording_url: str | None = None
    provider: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


async def find_session(
    conn: Connection,
    site_id: UUID,
    call: CallInput,
    window_minutes: int,
    client_ip: str | None = None,
) -> tuple[Any, str | None]:
    """``(session row, method)`` by the order above; ``(None, None)`` when nothing matches."""
    if call.session_id is not None:
        row = await conn.fetchrow(Q.session_by_id, site_id, call.session_id)
        if row is not None:
            return row, "session"
    leased = await dni.session_for_call(conn, site_id, call.tracking_number, call.started_at)
    if leased is not None:
        row = await conn.fetchrow(Q.session_by_id, site_id, leased)
        if row is not None:
            return row, "dni"
    if call.fingerprint:
        match = await conn.fetchrow(
            Q.match_call_session,
            site_id,
            call.fingerprint,
            call.started_at,
            window_minutes,
            client_ip,
        )
        if match is not None:
            return match, "fingerprint"
    number = digits(call.tracking_number)
    if len(number) >= 7:
        clicked = await conn.fetchval(
            Q.tel_click_session, site_id, number, call.started_at, window_minutes
        )
        if clicked is not None:
            row = await conn.fetchrow(Q.session_by_id, site_id, clicked)
            if row is not None:
                return row, "tel_click"
    return None, None


async def record_call(
    conn: Connection,
    site_id: UUID,
    call: CallInput,
    *,
    people: PeopleSettings,
    actor: str,
    client_ip: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a call; ``(call row, created)``. Idempotent on ``external_call_id``."""
    if call.external_call_id:
        existing = await conn.fetchrow(Q.call_by_external_id, site_id, call.external_call_id)
        if existing is not None:
            return dict(existing), False
    match, method = await find_session(conn, site_id, call, people.call_window_minutes, client_ip)
    person: UUID | None = None
    if match is not None:
        state = await resolve_session(conn, site_id, match["id"])
        person = state.canonical_user_id if state else None
    if call.caller_number:
        result = await tie(
            conn,
            site_id,
            identifiers=[("phone", call.caller_number)],
            session_id=match["id"] if match else None,
            source="call",
            actor=actor,
            evidence={"phone_number": call.tracking_number},
        )
        person = result.canonical_user_id
    session = None
    if match is not None:
        session = await conn.fetchrow(
            Q.session_attribution, site_id, match["id"], match["created_month"]
        )
    credited, attribution_source = await credit(
        conn,
        site_id,
        people,
        person=person,
        session=session,
        fingerprint=call.fingerprint,
        at=call.started_at,
    )
    score = conversion_score(session, attribution_source, people)
    row = await conn.fetchrow(
        Q.insert_call,
        site_id,
        call.tracking_number,
        call.caller_number,
        "matched" if session is not None else "unmatched",
        session["id"] if session else None,
        session["created_month"] if session else None,
        call.fingerprint,
        person,
        score,
        attribution_source,
        call.value,
        call.currency,
        call.started_at,
        call.metadata,
        call.external_call_id,
        call.tracking_number,
        call.duration_s,
        call.recording_url,
        call.provider,
        method,
        *credit_columns(credited),
    )
    if row is None:  # a concurrent retry of the same provider call got there first
        existing = await conn.fetchrow(Q.call_by_external_id, site_id, call.external_call_id)
        assert existing is not None
        return dict(existing), False
    if session is not None:
        converted = await conn.fetch(
            Q.mark_session_converted, site_id, session["id"], session["created_month"], score
        )
        await mark_sessions(conn, converted)
    await graph.refresh_users(conn, site_id, [person])
    out = dict(row)
    # Same transaction as the call: nothing is sent for a call that rolled back.
    await outbox.emit(conn, site_id, events.CALL_RECEIVED, call_event(out))
    if session is not None:
        await outbox.emit(conn, site_id, events.CALL_MATCHED, call_event(out))
    return out, True


async def rematch_call(
    conn: Connection,
    site_id: UUID,
    call_id: UUID,
    session_id: UUID,
    *,
    people: PeopleSettings,
    actor: str,
) -> dict[str, Any] | None:
    """Point a call at a session by hand (the Calls page): match method ``manual``, and the
    credit recomputed for that session's person at the call's time. None: no such call;
    raises LookupError when the session is not the site's."""
    call = await conn.fetchrow(Q.call_by_id, site_id, call_id)
    if call is None:
        return None
    row = await conn.fetchrow(Q.session_by_id, site_id, session_id)
    if row is None:
        raise LookupError(session_id)
    state = await resolve_session(conn, site_id, session_id)
    person = state.canonical_user_id if state else None
    if call["caller_number"]:
        result = await tie(
            conn,
            site_id,
            identifiers=[("phone", call["caller_number"])],
            session_id=session_id,
            source="call",
            actor=actor,
            evidence={"call_id": str(call_id), "manual": True},
        )
        person = result.canonical_user_id
    session = await conn.fetchrow(Q.session_attribution, site_id, row["id"], row["created_month"])
    at = call["started_at"] or call["created_at"]
    credited, attribution_source = await credit(
        conn, site_id, people, person=person, session=session, fingerprint=None, at=at
    )
    score = conversion_score(session, attribution_source, people)
    updated = await conn.fetchrow(
        Q.rematch_call,
        site_id,
        call_id,
        row["id"],
        row["created_month"],
        person,
        score,
        attribution_source,
        *credit_columns(credited),
    )
    converted = await conn.fetch(
        Q.mark_session_converted, site_id, row["id"], row["created_month"], score
    )
    await mark_sessions(conn, converted)
    await graph.refresh_users(conn, site_id, [person, call["canonical_user_id"]])
    if updated is None:
        return None
    out = dict(updated)
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
