"""``POST /api/leads``, ``POST /api/call-event``, ``PATCH /api/calls/{id}``,
``POST /api/calls/{id}/match``, ``PATCH /api/leads/{id}``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.analytics.ranges import FIRST_DAY, in_bounds
from leadtrail.attribution.channels import CLICK_IDS
from leadtrail.auth.principal import Access
from leadtrail.errors import BadRequest, LeadtrailError, NotFound
from leadtrail.identity import normalize, tx
from leadtrail.leads import calls as call_service
from leadtrail.leads import service as lead_service
from leadtrail.leads.calls import CallInput
from leadtrail.leads.metadata import check_metadata
from leadtrail.leads.service import LeadInput
from leadtrail.storage import Claims, DbRole
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.people_common import (
    Caller,
    body_schema,
    json,
    parse_uuid,
    preflight,
    rate_limit,
    read_object,
    request_ip,
    require_session_token,
    server_caller,
    site_for,
    tracker_caller,
    tracker_error,
    tracker_opted_out,
    validate,
)
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["leads and calls"], dependencies=[NO_NUL])

CALL_EVENT_RATE = "50/minute"
TRACKER_LEAD_RATE = "20/minute"
Text200 = Field(default=None, max_length=200)


class LeadBody(BaseModel):
    """A lead from a server (CRM, form backend), with a Bearer key."""

    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(default=None, description="Site uuid or public id")
    external_lead_id: str | None = Field(default=None, max_length=200)
    session_id: UUID | None = None
    fingerprint: str | None = Field(default=None, max_length=128)
    form_type: str | None = Field(default=None, max_length=100)
    name: str | None = Text200
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    company: str | None = Text200
    message: str | None = Field(default=None, max_length=5000)
    external_id: str | None = Field(default=None, max_length=200)
    value: Decimal | None = Field(default=None, ge=0, le=10**9)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    submitted_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class TrackerLeadBody(BaseModel):
    """What the tracker posts for forms marked ``data-leadtrail-lead`` (text/plain JSON)."""

    s: str = Field(max_length=64)
    sid: UUID | None = None
    k: str | None = Field(
        default=None,
        max_length=128,
        description="The session token `/api/sync` answered for `sid` (required with `sid`)",
    )
    fp: str | None = Field(default=None, max_length=128)
    eid: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")
    form_type: str | None = Field(default=None, max_length=100)
    name: str | None = Text200
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    company: str | None = Text200
    message: str | None = Field(default=None, max_length=5000)


def _clean(text: str | None) -> str | None:
    return text.strip() or None if text else None


def _currency(value: str | None, caller: Caller) -> str:
    currency = (value or caller.site.people.currency).upper()
    if currency != caller.site.people.currency:
        raise BadRequest(
            f"the site reports in {caller.site.people.currency}; leadtrail does not convert currencies",
            code="currency_mismatch",
            field="currency",
        )
    return currency


def _lead_input(body: LeadBody, caller: Caller) -> LeadInput:
    region = caller.site.people.default_region
    email = normalize.email(body.email) if body.email and body.email.strip() else None
    phone = normalize.phone(body.phone, region) if body.phone and body.phone.strip() else None
    external_id = (
        normalize.external_id(body.external_id)
        if body.external_id and body.external_id.strip()
        else None
    )
    if not (email or phone or external_id):
        raise BadRequest(
            "a lead needs an email, a phone number or an external id",
            code="no_identifiers",
            field="email",
        )
    now = datetime.now(UTC)
    submitted = body.submitted_at or now
    if submitted.tzinfo is None:
        raise BadRequest(
            "submitted_at needs a time zone", code="invalid_request", field="submitted_at"
        )
    if submitted > now + timedelta(minutes=5):
        raise BadRequest(
            "submitted_at is in the future", code="invalid_request", field="submitted_at"
        )
    if not in_bounds(submitted.date()):  # year 1 would overflow when stored as UTC
        raise BadRequest(
            f"submitted_at is before {FIRST_DAY}", code="invalid_request", field="submitted_at"
        )
    fp = normalize.fingerprint(body.fingerprint) if body.fingerprint else None
    return LeadInput(
        external_lead_id=_clean(body.external_lead_id),
        session_id=body.session_id,
        fingerprint=fp,
        form_type=_clean(body.form_type),
        name=_clean(body.name),
        email=email,
        phone=phone,
        company=_clean(body.company),
        message=_clean(body.message),
        value=body.value,
        currency=_currency(body.currency, caller)
        if body.value is not None or body.currency
        else None,
        submitted_at=submitted,
        external_id=external_id,
        metadata=body.metadata,
    )


def _lead_out(row: dict[str, Any], created: bool) -> dict[str, Any]:
    return {
        "status": "created" if created else "duplicate",
        "lead_id": row["id"],
        "external_lead_id": row["external_lead_id"],
        "canonical_user_id": row["canonical_user_id"],
        "session_id": row["session_id"],
        "lead_score": row["lead_score"],
        "attributed_campaign": row["attributed_campaign"],
        "attributed_source": row["attributed_source"],
        "attribution_source": row["attribution_source"],
        "gclid": row["gclid"],
        **credit_out(row),
        "submitted_at": row["submitted_at"],
        "merges": row.get("merges", []),
    }


@router.options("/api/leads", include_in_schema=False)
async def leads_preflight(request: Request) -> Response:
    return preflight(request)


@router.post(
    "/api/leads",
    summary="Record a form lead and attribute it to the visitor's session",
    description=(
        "Server mode: `Authorization: Bearer <key>` (ingest scope) and a `LeadBody`. Tracker "
        "mode: no key, a `TrackerLeadBody` as text/plain, from an allowed origin. Idempotent on "
        "`external_lead_id` (tracker: its `eid`). 201 for a new lead, 200 for a repeat. "
        'Tracker mode answers only 200 `{"status": "ok"}`; its lead attaches to the '
        "caller's own session (no look-back, no merge; docs/security.md). "
        "Tracker mode on a site with `respect_dnt`: a browser sending DNT or GPC gets 202 "
        '`{"status": "ignored", "reason": "dnt"}` and nothing is stored.'
    ),
    openapi_extra=body_schema(LeadBody, TrackerLeadBody),
    responses={
        201: {"description": "Lead stored"},
        200: {"description": "Already stored"},
        202: {"description": "Tracker mode: ignored (Do-Not-Track / GPC), nothing stored"},
    },
)
async def post_lead(request: Request) -> Response:
    data = await read_object(request)
    tracker = "authorization" not in request.headers and "s" in data
    try:
        if tracker:
            await rate_limit(request, "tracker-leads", TRACKER_LEAD_RATE)
            t = validate(TrackerLeadBody, data)
            caller = await tracker_caller(request, t.s, "tracker-leads")
            if (ignored := tracker_opted_out(request, caller)) is not None:
                return ignored
            require_session_token(request, caller, t.sid, t.k)
            body = LeadBody(
                external_lead_id=f"tracker:{t.eid}" if t.eid else None,
                session_id=t.sid,
                form_type=t.form_type,
                name=t.name,
                email=t.email,
                phone=t.phone,
                company=t.company,
                message=t.message,
            )
        else:
            body = validate(LeadBody, data)
            caller = await server_caller(request, body.site_id, Access.OPERATE)
        lead = _lead_input(body, caller)
        settings = caller.site.people
        row, created = await tx.run(
            services(request).db,
            caller.claims,
            lambda conn: lead_service.submit_lead(
                conn,
                caller.site.id,
                lead,
                lookback_minutes=settings.lead_lookback_minutes,
                actor=caller.actor,
                people=settings,
                from_browser=tracker,
            ),
        )
    except LeadtrailError as exc:
        if tracker:
            return tracker_error(exc, request)
        raise
    if tracker:  # a browser learns nothing back (session, click id, campaign, score)
        return json({"status": "ok"}, 200, caller.origin)
    return json(_lead_out(row, created), 201 if created else 200, caller.origin)


class CallEventBody(BaseModel):
    """A call, from a server or a call-tracking provider (the seeds' fields plus the
    provider fields of issue 11; every added field is optional, so the seeds' posts work)."""

    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(default=None, description="Site uuid or public id")
    phone_number: str | None = Field(
        default=None, max_length=40, description="The number that was dialled (seeds' name)"
    )
    tracking_number: str | None = Field(
        default=None, max_length=40, description="The number that was dialled"
    )
    fingerprint: str | None = Field(default=None, max_length=128)
    session_id: UUID | None = Field(default=None, description="The page's session, when known")
    caller_number: str | None = Field(
        default=None, max_length=40, description="The caller's own number, when known"
    )
    external_call_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The provider's id of the call: a retry returns the first call",
    )
    started_at: datetime | None = Field(
        default=None, description="When the call started (ISO time with zone); default now"
    )
    duration_s: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    recording_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    provider: str | None = Field(default=None, max_length=50)
    value: Decimal | None = Field(default=None, ge=0, le=10**9)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    metadata: dict[str, Any] = Field(default_factory=dict)


def call_input(body: CallEventBody, caller: Caller) -> CallInput:
    """Normalised numbers and a checked call time (also used by the provider webhooks)."""
    settings = caller.site.people
    dialled = body.tracking_number or body.phone_number
    if not dialled:
        raise BadRequest(
            "phone_number (or tracking_number) is required",
            code="invalid_request",
            field="phone_number",
        )
    name = "tracking_number" if body.tracking_number else "phone_number"
    now = datetime.now(UTC)
    started = body.started_at or now
    if started.tzinfo is None:
        raise BadRequest("started_at needs a time zone", code="invalid_request", field="started_at")
    if started > now + timedelta(minutes=5):
        raise BadRequest("started_at is in the future", code="invalid_request", field="started_at")
    if not in_bounds(started.date()):
        raise BadRequest(
            f"started_at is before {FIRST_DAY}", code="invalid_request", field="started_at"
        )
    return CallInput(
        tracking_number=normalize.phone(dialled, settings.default_region, field=name),
        started_at=started,
        caller_number=normalize.phone(
            body.caller_number, settings.default_region, field="caller_number"
        )
        if body.caller_number
        else None,
        fingerprint=normalize.fingerprint(body.fingerprint) if body.fingerprint else None,
        session_id=body.session_id,
        external_call_id=_clean(body.external_call_id),
        duration_s=body.duration_s,
        recording_url=body.recording_url,
        provider=_clean(body.provider),
        value=body.value,
        currency=_currency(body.currency, caller)
        if body.value is not None or body.currency
        else None,
        # bounded in keys, depth and bytes, no lone surrogates (security finding 4, 8)
        metadata=check_metadata(body.metadata),
    )


def credit_out(row: dict[str, Any]) -> dict[str, Any]:
    """The credited touch of a lead or call, as the API answers it."""
    return {
        "attribution_model": row["attribution_model"],
        "channel": row["channel"],
        "credited_session_id": row["credited_session_id"],
        "click_ids": {k: row[k] for k in CLICK_IDS if row.get(k)},
    }


def call_out(row: dict[str, Any], created: bool = True) -> dict[str, Any]:
    return {
        "status": row["match_status"],
        "created": created,
        "call_id": row["id"],
        "session_id": row["matched_session_id"],
        "match_method": row["match_method"],
        "lead_score": row["lead_score"],
        "canonical_user_id": row["canonical_user_id"],
        "phone_number": row["phone_number"],
        "tracking_number": row["tracking_number"],
        "external_call_id": row["external_call_id"],
        "started_at": row["started_at"],
        "attribution_source": row["attribution_source"],
        "gclid": row["gclid"],
        "utm_source": row["utm_source"],
        "utm_medium": row["utm_medium"],
        "utm_campaign": row["utm_campaign"],
        **credit_out(row),
    }


async def store_call(
    request: Request, caller: Caller, call: CallInput
) -> tuple[dict[str, Any], bool]:
    return await tx.run(
        services(request).db,
        caller.claims,
        lambda conn: call_service.record_call(
            conn,
            caller.site.id,
            call,
            people=caller.site.people,
            actor=caller.actor,
            client_ip=request_ip(request),
        ),
    )


@router.post(
    "/api/call-event",
    summary="Record a phone call and match it to the session that led to it",
    description=(
        "Matching, first hit wins: the `session_id` given; the session the dialled "
        "`tracking_number` was leased to (dynamic number insertion) when the call started; "
        "sessions of the `fingerprint` active within the site's call window (30 min) before "
        "`started_at`, highest lead score then most recent (the seeds' rule); the latest click "
        "on a `tel:` link to that number within the window. The answer's `match_method` says "
        "which. Unmatched calls are stored too. Idempotent on `external_call_id` (201 for a new "
        f"call, 200 for a repeat). Site API key (ingest scope); {CALL_EVENT_RATE} per IP."
    ),
    status_code=201,
    responses={200: {"description": "Already stored (same external_call_id)"}},
)
async def call_event(body: CallEventBody, request: Request) -> Response:
    await rate_limit(request, "call-event", CALL_EVENT_RATE)
    caller = await server_caller(request, body.site_id, Access.OPERATE)
    row, created = await store_call(request, caller, call_input(body, caller))
    return json(call_out(row, created), 201 if created else 200)


class RematchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: UUID


@router.post(
    "/api/calls/{call_id}/match",
    summary="Match a call to a session by hand (match method `manual`)",
)
async def rematch(
    call_id: str,
    body: RematchBody,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id (optional)"),
) -> Response:
    item_id = parse_uuid(call_id, "call_id")
    caller = await _locate(request, principal, "calls", item_id, site_id)

    async def work(conn: Any) -> dict[str, Any] | None:
        try:
            return await call_service.rematch_call(
                conn,
                caller.site.id,
                item_id,
                body.session_id,
                people=caller.site.people,
                actor=caller.actor,
            )
        except LookupError:
            raise NotFound(
                f"no session {body.session_id} on this site", code="session_not_found"
            ) from None

    row = await tx.run(services(request).db, caller.claims, work)
    if row is None:
        raise NotFound(f"no call {item_id}", code="call_not_found")
    return json(call_out(row))


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["qualified", "junk"] | None = None
    value: Decimal | None = Field(default=None, ge=0, le=10**9)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")


async def _locate(
    request: Request, principal: Any, table: str, item_id: UUID, site_ref: str | None
) -> Caller:
    """The site a call or lead belongs to, among the caller's sites (404 otherwise)."""
    svc = services(request)
    if site_ref:
        site = await site_for(request, principal, site_ref, Access.OPERATE)
    else:
        claims = Claims(role=DbRole.ANALYST, sub=str(principal.id), site_ids=principal.site_ids)
        query = lead_service.Q.find_call_site if table == "calls" else lead_service.Q.find_lead_site
        async with svc.db.transaction(claims) as conn:
            site_id = await conn.fetchval(query, item_id)
        if site_id is None:
            raise NotFound(f"no {table[:-1]} {item_id}", code=f"{table[:-1]}_not_found")
        site = await site_for(request, principal, str(site_id), Access.OPERATE)
    return Caller(
        site, principal.claims(site.id, need=Access.OPERATE), f"{principal.kind}:{principal.id}"
    )


async def _patch(
    request: Request, principal: Any, table: str, raw_id: str, site_id: str | None, body: StatusBody
) -> Response:
    item_id = parse_uuid(raw_id, "id")
    caller = await _locate(request, principal, table, item_id, site_id)
    fields = body.model_fields_set
    if not fields:
        raise BadRequest("send status, value or currency", code="invalid_request")
    value_given = "value" in fields or "currency" in fields
    currency = (
        _currency(body.currency, caller)
        if value_given and (body.value is not None or body.currency)
        else None
    )
    update = call_service.set_call_status if table == "calls" else lead_service.set_lead_status
    row = await tx.run(
        services(request).db,
        caller.claims,
        lambda conn: update(
            conn,
            caller.site.id,
            item_id,
            status_given="status" in fields,
            status=body.status,
            value_given=value_given,
            value=body.value,
            currency=currency,
        ),
    )
    if row is None:
        raise NotFound(f"no {table[:-1]} {item_id}", code=f"{table[:-1]}_not_found")
    return json(
        {
            k: row[k]
            for k in ("id", "status", "value", "currency", "canonical_user_id", "updated_at")
        }
    )


@router.patch(
    "/api/calls/{call_id}",
    summary="Mark a call qualified or junk (or clear it); optionally set its value",
)
async def patch_call(
    call_id: str,
    body: StatusBody,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id (optional)"),
) -> Response:
    return await _patch(request, principal, "calls", call_id, site_id, body)


@router.patch(
    "/api/leads/{lead_id}",
    summary="Mark a lead qualified or junk (or clear it); optionally set its value",
)
async def patch_lead(
    lead_id: str,
    body: StatusBody,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id (optional)"),
) -> Response:
    return await _patch(request, principal, "leads", lead_id, site_id, body)
