"""Call-tracking provider webhooks (``/api/webhooks/twilio/{site}``,
``/api/webhooks/calls/{site}``), verified by the provider's signature (401 otherwise), and
the per-site provider secrets (``/api/sites/{site}/call-providers``)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.auth.principal import Access
from leadtrail.auth.service import AUTH_CLAIMS
from leadtrail.auth.signing import signing_key
from leadtrail.callproviders import mapping, signatures
from leadtrail.callproviders import service as providers
from leadtrail.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from leadtrail.storage import Claims, DbRole
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.lead_routes import CallEventBody, call_input, call_out, store_call
from leadtrail.web.people_common import (
    MAX_BODY,
    Caller,
    SiteRef,
    json,
    rate_limit,
    site_for,
    validate,
)
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["call providers"], dependencies=[NO_NUL])
WEBHOOK_RATE = "600/minute"
Kind = Literal["twilio", "hmac"]


async def _site(request: Request, public_id: str) -> SiteRef:
    async with services(request).db.transaction(AUTH_CLAIMS) as conn:
        row = await conn.fetchrow(
            "SELECT id, public_id, domain, allowed_origins, timezone, settings FROM sites"
            " WHERE public_id = $1 OR id::text = $1",
            public_id,
        )
    if row is None:
        raise NotFound(f"no site {public_id!r}", code="site_not_found")
    return SiteRef(
        row["id"],
        row["public_id"],
        row["domain"],
        tuple(row["allowed_origins"]),
        row["timezone"],
        dict(row["settings"]),
    )


async def _secret(request: Request, site: SiteRef, kind: str) -> str:
    claims = Claims(role=DbRole.WRITER, sub=f"webhook-{kind}", site_ids=(site.id,))
    key = signing_key(services(request).settings)
    async with services(request).db.transaction(claims) as conn:
        secret = await providers.secret_of(conn, site.id, kind, key)
    if secret is None:
        raise Unauthorized(f"no {kind} provider is set up for this site", code="invalid_signature")
    return secret


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY // 1024} KB")
    return body


def _caller(site: SiteRef, kind: str) -> Caller:
    claims = Claims(role=DbRole.WRITER, sub=f"webhook-{kind}", site_ids=(site.id,))
    return Caller(site, claims, f"webhook:{kind}")


@router.post(
    "/api/webhooks/twilio/{site}",
    summary="Twilio Voice status callback (form-encoded, X-Twilio-Signature)",
    description=(
        "Point the tracking number's status callback here. The request must carry a valid "
        "`X-Twilio-Signature` for the site's Twilio auth token (401 `invalid_signature` "
        "otherwise). A call is stored once its final callback arrives (CallStatus completed, "
        "busy, no-answer, failed or canceled), idempotent on CallSid."
    ),
)
async def twilio_callback(site: str, request: Request) -> Response:
    await rate_limit(request, "call-webhook", WEBHOOK_RATE)
    ref = await _site(request, site)
    raw = await _body(request)
    # Twilio posts application/x-www-form-urlencoded; parsed here (no multipart needed)
    params = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    token = await _secret(request, ref, "twilio")
    url = str(request.url)
    if not signatures.twilio_valid(
        token, url, params, request.headers.get(signatures.TWILIO_HEADER, "")
    ):
        raise Unauthorized("the Twilio signature does not verify", code="invalid_signature")
    data = mapping.twilio(dict(params))
    if data is None:
        return json({"status": "ignored", "reason": "call in progress"}, 202)
    caller = _caller(ref, "twilio")
    row, created = await store_call(
        request, caller, call_input(validate(CallEventBody, data), caller)
    )
    return json(call_out(row, created), 201 if created else 200)


@router.post(
    "/api/webhooks/calls/{site}",
    summary="Generic call webhook (JSON, HMAC-SHA256 signed; CallRail-style)",
    description=(
        "`X-Leadtrail-Signature: sha256=<hex HMAC-SHA256 of the raw body with the site's "
        "secret>`. The body takes `/api/call-event`'s fields or CallRail's / "
        "CallTrackingMetrics' names for them (docs/leads-and-calls.md)."
    ),
)
async def generic_callback(site: str, request: Request) -> Response:
    await rate_limit(request, "call-webhook", WEBHOOK_RATE)
    ref = await _site(request, site)
    raw = await _body(request)
    secret = await _secret(request, ref, "hmac")
    if not signatures.generic_valid(
        secret, raw, request.headers.get(signatures.GENERIC_HEADER, "")
    ):
        raise Unauthorized("the signature does not verify", code="invalid_signature")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    caller = _caller(ref, "hmac")
    body = validate(CallEventBody, mapping.generic(payload))
    row, created = await store_call(request, caller, call_input(body, caller))
    return json(call_out(row, created), 201 if created else 200)


class ProviderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str = Field(
        min_length=16,
        max_length=200,
        description="Twilio: the account's auth token; hmac: the shared signing secret",
    )


@router.get("/api/sites/{site}/call-providers", summary="The site's call-provider webhooks")
async def list_call_providers(
    site: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    ref = await site_for(request, principal, site, Access.MANAGE)
    async with services(request).db.transaction(
        principal.claims(ref.id, need=Access.MANAGE)
    ) as conn:
        rows = await providers.list_providers(conn, ref.id)
    return {"providers": [{**r, "webhook_path": webhook_path(ref, r["kind"])} for r in rows]}


def webhook_path(site: SiteRef, kind: str) -> str:
    return f"/api/webhooks/{'twilio' if kind == 'twilio' else 'calls'}/{site.public_id}"


@router.put(
    "/api/sites/{site}/call-providers/{kind}",
    summary="Set a call provider's secret (stored encrypted)",
)
async def put_call_provider(
    site: str, kind: Kind, body: ProviderBody, request: Request, principal: CurrentPrincipal
) -> Response:
    ref = await site_for(request, principal, site, Access.MANAGE)
    key = signing_key(services(request).settings)
    async with services(request).db.transaction(
        principal.claims(ref.id, need=Access.MANAGE)
    ) as conn:
        row = await providers.set_secret(conn, ref.id, kind, body.secret.strip(), key)
    return json({**row, "webhook_path": webhook_path(ref, kind)})


@router.delete("/api/sites/{site}/call-providers/{kind}", summary="Remove a call provider")
async def delete_call_provider(
    site: str, kind: Kind, request: Request, principal: CurrentPrincipal
) -> Response:
    ref = await site_for(request, principal, site, Access.MANAGE)
    async with services(request).db.transaction(
        principal.claims(ref.id, need=Access.MANAGE)
    ) as conn:
        removed = await providers.remove(conn, ref.id, kind)
    if not removed:
        raise NotFound(f"no {kind} provider on this site", code="provider_not_found")
    return Response(status_code=204)
