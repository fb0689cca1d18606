"""``POST /api/sync``: the tracker's endpoint. A plain Starlette route (DESIGN 8: FastAPI's
body handling costs ~4x on the hot path), documented in OpenAPI by hand below."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from leadtrail.errors import Forbidden, LeadtrailError, PayloadTooLarge
from leadtrail.ingest.payload import MAX_BATCH, MAX_BODY_BYTES
from leadtrail.ingest.service import SyncRequest
from leadtrail.web.errors import error_response
from leadtrail.web.services import services

PATH = "/api/sync"
_PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, counted while it is read: a lying or absent Content-Length cannot get past."""
    declared = request.headers.get("content-length")
    too_large = PayloadTooLarge(f"the body is over {limit} bytes", code="payload_too_large")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def sync_endpoint(request: Request) -> Response:
    svc = services(request)
    ingest = svc.ingest
    origin = request.headers.get("origin")
    if request.method == "OPTIONS":
        if origin and await ingest.sites.any_site_allows(origin):
            return Response(
                status_code=204,
                headers={
                    **_PREFLIGHT_HEADERS,
                    "Access-Control-Allow-Origin": origin,
                    "Vary": "Origin",
                },
            )
        return error_response(
            Forbidden("this origin belongs to no site", code="origin_not_allowed")
        )
    allowed = False
    try:
        body = await read_body(request)
        client = request.client
        result = await ingest.sync(
            SyncRequest(body, request.headers, client.host if client else None)
        )
        response = _json(result.body, result.status)
        allowed = result.origin_allowed
    except LeadtrailError as exc:
        response = error_response(exc)
        if origin and not isinstance(exc, Forbidden):
            # Let the tracker read why a request failed, if the origin is some site's.
            allowed = await ingest.sites.any_site_allows(origin)
    if origin and allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def document(schema: dict[str, Any]) -> None:
    """Add ``/api/sync`` to the generated OpenAPI schema."""
    event = {
        "type": "object",
        "required": ["s", "u", "sid", "ec", "ea"],
        "properties": {
            "s": {"type": "string", "description": "Site public id"},
            "u": {"type": "string", "maxLength": 2048, "description": "Page URL"},
            "sid": {"type": "string", "format": "uuid", "description": "Session id (UUID v4)"},
            "sm": {
                "type": "string",
                "description": "Session month hint, YYYY-MM-01 (ignored for known sessions)",
            },
            "ec": {
                "type": "string",
                "enum": ["acquisition", "interaction", "conversion", "system"],
            },
            "ea": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
            "el": {"type": "string", "maxLength": 1024},
            "ev": {"type": "number"},
            "r": {"type": "string", "maxLength": 2048, "description": "Referrer"},
            "eid": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{8,64}$",
                "description": "Client event id, reused on retry: stored once",
            },
            "ts": {
                "type": "number",
                "description": "Client time, ms since epoch (used within 24 h)",
            },
            "meta": {
                "type": "object",
                "description": "fp, click ids, utm, device_info, ... (≤ 8 KB, depth ≤ 4)",
            },
        },
    }
    error = {"$ref": "#/components/schemas/Error"}
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string"},
            "detail": {"type": "string"},
            "field": {"type": "string"},
        },
    }
    body = {
        "oneOf": [
            event,
            {
                "type": "object",
                "required": ["batch"],
                "properties": {
                    "batch": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": event}
                },
            },
        ]
    }
    schema.setdefault("paths", {})[PATH] = {
        "post": {
            "tags": ["ingest"],
            "summary": "Record tracker events (one event or a batch)",
            "description": "Body is JSON sent as text/plain (no CORS preflight) or application/json, "
            f"at most {MAX_BODY_BYTES} bytes. Answers after the events are committed.",
            "requestBody": {
                "required": True,
                "content": {"text/plain": {"schema": body}, "application/json": {"schema": body}},
            },
            "responses": {
                "200": {
                    "description": "Stored",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "status": {"const": "synced"},
                                    "score": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                "202": {"description": "Accepted and dropped (bot, Do-Not-Track)"},
                "400": {
                    "description": "Invalid payload",
                    "content": {"application/json": {"schema": error}},
                },
                "403": {
                    "description": "Origin not allowed for the site",
                    "content": {"application/json": {"schema": error}},
                },
                "413": {
                    "description": "Body too large",
                    "content": {"application/json": {"schema": error}},
                },
                "429": {
                    "description": "Rate limited (Retry-After)",
                    "content": {"application/json": {"schema": error}},
                },
                "503": {
                    "description": "Overloaded (Retry-After)",
                    "content": {"application/json": {"schema": error}},
                },
            },
        },
        "options": {
            "tags": ["ingest"],
            "summary": "CORS preflight",
            "responses": {"204": {"description": "Allowed"}},
        },
    }
