"""``POST /api/identify``, journeys, lookalikes and the merge history (with undo)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.auth.identity_tokens import identity_secret, server_key, verified
from leadtrail.auth.principal import Access
from leadtrail.errors import BadRequest, LeadtrailError, NotFound
from leadtrail.identity import graph, journey, normalize, similarity, tx
from leadtrail.identity.rules import IdKey
from leadtrail.identity.service import MergeRefused, tie
from leadtrail.storage import Connection
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.people_common import (
    Caller,
    body_schema,
    json,
    parse_uuid,
    preflight,
    rate_limit,
    read_object,
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

router = APIRouter(tags=["people"], dependencies=[NO_NUL])
TRACKER_IDENTIFY_RATE = "60/minute"


class IdentifyBody(BaseModel):
    """Server mode (Bearer key): tie identifiers to the visitor of a session or fingerprint."""

    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(default=None, description="Site uuid or public id")
    session_id: UUID | None = None
    fingerprint: str | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    external_id: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] | None = Field(
        default=None, description="Traits kept on the person (name, plan, ...)"
    )


class TrackerIdentifyBody(BaseModel):
    """Tracker mode: ``leadtrail.identify({email, phone, id})`` as text/plain JSON."""

    s: str = Field(max_length=64)
    sid: UUID | None = None
    k: str | None = Field(
        default=None,
        max_length=128,
        description="The session token `/api/sync` answered for `sid` (required with `sid`)",
    )
    fp: str | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    id: str | None = Field(default=None, max_length=200)
    uh: str | None = Field(
        default=None,
        max_length=128,
        description="hex HMAC-SHA256 of `id` with the site's identity secret (identity verification)",
    )


TRACKER_OK = {"status": "ok"}


def _identifiers(body: IdentifyBody, caller: Caller) -> list[IdKey]:
    out: list[IdKey] = []
    if body.email and body.email.strip():
        out.append(("email", normalize.email(body.email)))
    if body.phone and body.phone.strip():
        out.append(("phone", normalize.phone(body.phone, caller.site.people.default_region)))
    if body.external_id and body.external_id.strip():
        out.append(("external_id", normalize.external_id(body.external_id)))
    if not out:
        raise BadRequest(
            "send at least one of email, phone or external_id", code="no_identifiers", field="email"
        )
    return out


@router.options("/api/identify", include_in_schema=False)
async def identify_preflight(request: Request) -> Response:
    return preflight(request)


@router.post(
    "/api/identify",
    summary="Tie an email, phone or external id to a visitor",
    description=(
        "Server mode: Bearer key (ingest scope) and an `IdentifyBody`. Tracker mode "
        "(`leadtrail.identify`): no key, a `TrackerIdentifyBody` as text/plain from an allowed "
        'origin; it answers only `{"status": "ok"}`, attaches to the caller\'s own session '
        "and never merges people unless `uh` verifies `id` (docs/security.md). People the "
        "identifiers tie together merge; see docs/identity.md. Tracker "
        "mode on a site with `respect_dnt`: a browser sending DNT or GPC gets 202 "
        '`{"status": "ignored", "reason": "dnt"}` and nothing is stored.'
    ),
    openapi_extra=body_schema(IdentifyBody, TrackerIdentifyBody),
    responses={202: {"description": "Tracker mode: ignored (Do-Not-Track / GPC), nothing stored"}},
)
async def identify(request: Request) -> Response:
    data = await read_object(request)
    tracker = "authorization" not in request.headers and "s" in data
    try:
        if tracker:
            await rate_limit(request, "tracker-identify", TRACKER_IDENTIFY_RATE)
            t = validate(TrackerIdentifyBody, data)
            caller = await tracker_caller(request, t.s, "tracker-identify")
            if (ignored := tracker_opted_out(request, caller)) is not None:
                return ignored
            require_session_token(request, caller, t.sid, t.k)
            body = IdentifyBody(session_id=t.sid, email=t.email, phone=t.phone, external_id=t.id)
            secret = identity_secret(server_key(services(request).settings), caller.site.id)
            trusted = verified(secret, t.id, t.uh)
        else:
            body = validate(IdentifyBody, data)
            caller = await server_caller(request, body.site_id, Access.OPERATE)
            trusted = True
        identifiers = _identifiers(body, caller)
        fingerprint = normalize.fingerprint(body.fingerprint) if body.fingerprint else None

        async def work(conn: Connection) -> dict[str, Any]:
            result = await tie(
                conn,
                caller.site.id,
                identifiers=identifiers,
                session_id=body.session_id,
                fingerprint=fingerprint,
                source="identify",
                actor=caller.actor,
                attributes=body.attributes,
                allow_merge=trusted,
            )
            return {
                "status": "identified",
                "canonical_user_id": result.canonical_user_id,
                "created": result.created,
                "merges": result.merges,
                "session_id": result.session.id if result.session else None,
            }

        try:
            out = await tx.run(services(request).db, caller.claims, work)
        except MergeRefused:
            out = {}  # named someone else without proof: nothing is stored, nothing is told
    except LeadtrailError as exc:
        if tracker:
            return tracker_error(exc, request)
        raise
    # A browser learns nothing back: not whether the e-mail was known, not whose session.
    return json(TRACKER_OK if tracker else out, 200, caller.origin)


@router.get(
    "/api/users/{user_id}/journey",
    summary="A person's journey: sessions, events, leads, calls, ad spend and attribution path",
)
async def user_journey(
    user_id: str,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id"),
    events_limit: int = Query(default=500, ge=0, le=5000),
) -> Response:
    uid = parse_uuid(user_id, "user_id")
    site = await site_for(request, principal, site_id, Access.READ)
    claims = principal.claims(site.id, need=Access.READ)
    async with services(request).db.transaction(claims) as conn:
        out = await journey.user_journey(conn, site.id, uid, events_limit=events_limit)
    if out is None:
        raise NotFound(f"no person {uid}", code="user_not_found")
    return json(out)


@router.get(
    "/api/users/{user_id}/similar",
    summary="Lookalike people (seed find_similar_users) with a similarity score",
    description="The measure is documented in docs/identity.md (lookalikes).",
)
async def similar_users(
    user_id: str,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id"),
    threshold: float = Query(default=0.7, ge=0, le=1),
    limit: int = Query(default=20, ge=1, le=500),
) -> Response:
    uid = parse_uuid(user_id, "user_id")
    site = await site_for(request, principal, site_id, Access.READ)
    claims = principal.claims(site.id, need=Access.READ)
    async with services(request).db.transaction(claims) as conn:
        out = await similarity.find_similar(conn, site.id, uid, threshold=threshold, limit=limit)
    if out is None:
        raise NotFound(f"no person {uid}", code="user_not_found")
    return json(out)


@router.get("/api/identity/merges", summary="Merge history (audit), newest first")
async def merges(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id"),
    user_id: str | None = Query(default=None, description="Only merges involving this person"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> Response:
    uid = parse_uuid(user_id, "user_id") if user_id else None
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(
        principal.claims(site.id, need=Access.READ)
    ) as conn:
        rows = await graph.list_merges(conn, site.id, uid, limit)
    return json({"merges": rows})


@router.post(
    "/api/identity/merges/{merge_id}/undo",
    summary="Undo a merge: both people get back exactly what they had",
)
async def undo_merge(
    merge_id: str,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id"),
) -> Response:
    mid = parse_uuid(merge_id, "merge_id")
    site = await site_for(request, principal, site_id, Access.OPERATE)
    actor = f"{principal.kind}:{principal.id}"
    result = await tx.run(
        services(request).db,
        principal.claims(site.id, need=Access.OPERATE),
        lambda conn: graph.unmerge(conn, site.id, mid, actor),
    )
    return json({"status": "unmerged", **vars(result)})
