"""``POST /functions/v1/session-correlator``: the seed's one function whose ``action``
field picks the operation, answered by leadtrail's own services.

Authenticated with a site API key (``Authorization: Bearer``); ``data.site_id`` names the site when the key has several. Dispatch is the table
``ACTIONS`` (action name -> handler), so adding an action is one line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from leadtrail.auth.principal import Access
from leadtrail.errors import BadRequest, NotFound
from leadtrail.identity import journey, tx
from leadtrail.leads import service as lead_service
from leadtrail.sync import correlate
from leadtrail.web.deps import current_principal
from leadtrail.web.lead_routes import LeadBody, _lead_input
from leadtrail.web.ops_routes import publish
from leadtrail.web.people_common import json, parse_uuid, read_object, server_caller, validate
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["session-correlator"], dependencies=[NO_NUL])
PATH = "/functions/v1/session-correlator"

#: (request, the action's ``data`` object, the site reference) -> response body
Handler = Callable[[Request, dict[str, Any], str | None], Awaitable[dict[str, Any]]]


async def correlate_lead_submission(
    request: Request, data: dict[str, Any], site_ref: str | None
) -> dict[str, Any]:
    """A lead attributed to the visitor's session (or their latest within the lookback)."""
    caller = await server_caller(request, site_ref, Access.OPERATE)
    fields = dict(data)
    if "mmp_lead_id" in fields:
        fields.setdefault("external_lead_id", fields.pop("mmp_lead_id"))
    if "canonical_session_id" in fields:
        fields.setdefault("session_id", fields.pop("canonical_session_id"))
    body = validate(LeadBody, fields)
    lead = _lead_input(body, caller)
    row, created = await tx.run(
        services(request).db,
        caller.claims,
        lambda conn: lead_service.submit_lead(
            conn,
            caller.site.id,
            lead,
            lookback_minutes=caller.site.people.lead_lookback_minutes,
            actor=caller.actor,
        ),
    )
    return {
        "status": "created" if created else "duplicate",
        "lead_id": row["id"],
        "mmp_lead_id": row["external_lead_id"],
        "canonical_user_id": row["canonical_user_id"],
        "canonical_session_id": row["session_id"],
        "lead_score": row["lead_score"],
        "attributed_campaign": row["attributed_campaign"],
        "attributed_source": row["attributed_source"],
    }


async def get_user_journey(
    request: Request, data: dict[str, Any], site_ref: str | None
) -> dict[str, Any]:
    """The seed's journey: user, sessions, events, leads, ad_spend, journey_summary."""
    raw = data.get("canonical_user_id")
    if not isinstance(raw, str):
        raise BadRequest("data.canonical_user_id is required", code="invalid_request")
    uid = parse_uuid(raw, "canonical_user_id")
    caller = await server_caller(request, site_ref, Access.READ)
    async with services(request).db.transaction(caller.claims) as conn:
        out = await journey.user_journey(conn, caller.site.id, uid)
    if out is None:
        raise NotFound(f"no person {uid}", code="user_not_found")
    return out


async def publish_heartbeat(
    request: Request, data: dict[str, Any], site_ref: str | None
) -> dict[str, Any]:
    return await publish(request, data, site_ref)


async def correlate_firespring_session(
    request: Request, data: dict[str, Any], site_ref: str | None
) -> dict[str, Any]:
    """A mirrored Firespring visitor as a session, its events and a canonical user."""
    if not any(isinstance(data.get(k), str) and data[k] for k in ("session_id", "visitor_id")):
        raise BadRequest(
            "data.session_id (the Firespring visitor's id) is required",
            code="invalid_request",
            field="data.session_id",
        )
    caller = await server_caller(request, site_ref, Access.OPERATE)
    return await correlate.correlate_firespring_session(services(request).db, caller.site.id, data)


async def batch_populate_from_firespring(
    request: Request, data: dict[str, Any], site_ref: str | None
) -> dict[str, Any]:
    """Every mirrored visitor and lead into leadtrail's model (no 1,000 cap)."""
    caller = await server_caller(request, site_ref, Access.OPERATE)
    return dict(
        await correlate.batch_populate_from_firespring(services(request).db, caller.site.id)
    )


def not_available(action: str) -> Handler:
    """An action of the seed that this build does not offer yet (a 400, never a 500)."""

    async def handler(
        request: Request, data: dict[str, Any], site_ref: str | None
    ) -> dict[str, Any]:
        raise BadRequest(
            f"action {action!r} is not available in this build (Firespring sync is not installed)",
            code="action_unavailable",
            field="action",
        )

    return handler


ACTIONS: dict[str, Handler] = {
    "correlate_lead_submission": correlate_lead_submission,
    "get_user_journey": get_user_journey,
    "publish_heartbeat": publish_heartbeat,
    # the Firespring sync (leadtrail.sync.correlate, issue 14)
    "correlate_firespring_session": correlate_firespring_session,
    "batch_populate_from_firespring": batch_populate_from_firespring,
}


@router.post(
    PATH,
    summary="The seed's session-correlator function: one endpoint, the action picks the work",
    description=(
        'Body `{"action": …, "data": {…}}`. Actions: `correlate_lead_submission`, '
        "`get_user_journey`, `publish_heartbeat`, `correlate_firespring_session` and "
        "`batch_populate_from_firespring` (the DynamoDB sync's mirrored visitors, "
        "docs/sync.md). Site API key required."
    ),
)
async def session_correlator(request: Request) -> Response:
    await current_principal(request)  # 401 before anything about the body is said
    body = await read_object(request)
    action = body.get("action")
    handler = ACTIONS.get(action) if isinstance(action, str) else None
    if handler is None:
        raise BadRequest(
            f"action must be one of: {', '.join(ACTIONS)}", code="unknown_action", field="action"
        )
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest("data must be an object", code="invalid_request", field="data")
    site_ref = data.pop("site_id", None) or body.get("site_id")
    return json(await handler(request, data, str(site_ref) if site_ref else None))
