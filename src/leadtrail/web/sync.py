"""``POST /api/sync``: the tracker's endpoint, served as raw ASGI.

The hot path skips FastAPI's routing and middleware stack (DESIGN 8 measured FastAPI with a
pydantic body at ~5k requests/s against ~30k for a raw ASGI handler with msgspec): the app's
``__call__`` hands ``/api/sync`` straight to ``serve``, everything else goes on to FastAPI.
The endpoint is documented in OpenAPI by hand (``document`` below).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from leadtrail.errors import Forbidden, LeadtrailError, Unavailable
from leadtrail.ingest.payload import MAX_BATCH, MAX_BODY_BYTES
from leadtrail.ingest.service import IngestService, SyncRequest
from leadtrail.web.request_guard import read_body

PATH = "/api/sync"
access_log = logging.getLogger("leadtrail.access")
logger = logging.getLogger(__name__)
_PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type"),
    (b"access-control-max-age", b"86400"),
]


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def _error(exc: LeadtrailError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    headers = (
        [(b"retry-after", str(exc.retry_after).encode())] if exc.retry_after is not None else []
    )
    return exc.status, orjson.dumps(exc.body()), headers


async def _origin_allowed(ingest: IngestService, origin: str) -> bool:
    """For preflights and error answers; a database that cannot be reached means no."""
    try:
        return await ingest.sites.any_site_allows(origin)
    except Unavailable:
        return False


async def handle(
    scope: Scope,
    receive: Receive,
    send: Send,
    ingest: IngestService,
    *,
    body_limit: int = MAX_BODY_BYTES,
) -> int:
    """Serve one /api/sync request; returns the status sent."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    origin = headers.get("origin")
    if scope["method"] == "OPTIONS":
        if origin and await _origin_allowed(ingest, origin):
            cors = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"vary", b"Origin"),
            ]
            await send(
                {"type": "http.response.start", "status": 204, "headers": _PREFLIGHT_HEADERS + cors}
            )
            await send({"type": "http.response.body", "body": b""})
            return 204
        status, body, extra = _error(
            Forbidden("this origin belongs to no site", code="origin_not_allowed")
        )
        await _respond(send, status, body, extra)
        return status
    if scope["method"] != "POST":
        status, body, extra = (
            405,
            b'{"error":"method_not_allowed","detail":"use POST"}',
            [(b"allow", b"POST, OPTIONS")],
        )
        await _respond(send, status, body, extra)
        return status

    allowed = False
    try:
        raw = await read_body(receive, headers.get("content-length"), body_limit)
        client = scope.get("client")
        result = await ingest.sync(SyncRequest(raw, headers, client[0] if client else None))
        status, body, extra = result.status, orjson.dumps(result.body), []
        allowed = result.origin_allowed
    except LeadtrailError as exc:
        status, body, extra = _error(exc)
        if origin and isinstance(exc, Unavailable):
            # The database may be down: answer from what is cached, never query it here.
            allowed = ingest.sites.cached_allows(origin)
        elif origin and not isinstance(exc, Forbidden):
            # Let the tracker read why a request failed, if the origin is some site's.
            allowed = await _origin_allowed(ingest, origin)
    request_id = headers.get("x-request-id")
    if request_id and _REQUEST_ID.fullmatch(request_id):
        # Echoed for tracing: a client (or the ingest benchmark) pairs answers with requests.
        extra.append((b"x-request-id", request_id.encode("latin-1")))
    if origin and allowed:
        extra.append((b"access-control-allow-origin", origin.encode("latin-1")))
        extra.append((b"vary", b"Origin"))
        # lets the tracker read Retry-After on 429/503 and back off as told
        extra.append((b"access-control-expose-headers", b"Retry-After"))
    await _respond(send, status, body, extra)
    return status


async def serve(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """Entry for ``/api/sync`` ahead of Starlette's middleware stack (see ``app.py``), so it
    logs its own access line and turns any bug into a JSON 500 itself."""
    started = time.perf_counter()
    status = 500
    try:
        guard = app.guard
        status = await handle(
            scope,
            receive,
            send,
            app.state.services.ingest,
            body_limit=guard.limit_for(PATH),
        )
    except Exception:
        logger.exception("unhandled error on /api/sync")
        await _respond(
            send,
            500,
            b'{"error":"internal_error","detail":"internal error; the server log has details"}',
            [],
        )
    if access_log.isEnabledFor(logging.INFO):
        client = scope.get("client")
        access_log.info(
            '%s "%s %s" %d %.1fms', client[0] if client else "-", scope["method"], PATH, status,
            (time.perf_counter() - started) * 1000,
        )  # fmt: skip


def document(schema: dict[str, Any]) -> None:
    """Add ``/api/sync`` to the generated OpenAPI schema."""
    event = {
        "type": "object",
        "required": ["s", "u", "sid", "ec", "ea"],
        "properties": {
            "s": {"type": "string", "description": "Site public id"},
            "u": {"type": "string", "maxLength": 2048, "description": "Page URL"},
            "sid": {"type": "string", "format": "uuid", "description": "Session id (UUID v4)"},
            "sm": {"type": "string", "description": "Session month hint, YYYY-MM-01 (ignored for known sessions)"},
            "ec": {"type": "string", "enum": ["acquisition", "interaction", "conversion", "system"]},
            "ea": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
            "el": {"type": "string", "maxLength": 1024},
            "ev": {"type": "number"},
            "r": {"type": "string", "maxLength": 2048, "description": "Referrer"},
            "eid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$",
                    "description": "Client event id, reused on retry: stored once"},
            "ts": {"type": "number", "description": "Client time, ms since epoch (used within 24 h)"},
            "meta": {"type": "object", "description": "fp, click ids, utm, device_info, ... (≤ 8 KB, depth ≤ 4)"},
        },
    }  # fmt: skip
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
    batch = {"type": "object", "required": ["batch"], "properties": {
        "batch": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": event}}}  # fmt: skip
    body = {"oneOf": [event, batch]}
    json_error = {"application/json": {"schema": error}}
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
                                    "k": {
                                        "type": "string",
                                        "description": "Session token for the last event's "
                                        "session, when this request created that session or "
                                        "repeated one of its events; `/api/identify` and "
                                        "`/api/leads` need it with `sid` (docs/security.md)",
                                    },
                                },
                            }
                        }
                    },
                },
                "202": {"description": "Accepted and dropped (bot, Do-Not-Track)"},
                "400": {"description": "Invalid payload", "content": json_error},
                "403": {"description": "Origin not allowed for the site", "content": json_error},
                "413": {"description": "Body too large", "content": json_error},
                "429": {"description": "Rate limited (Retry-After)", "content": json_error},
                "503": {"description": "Overloaded (Retry-After)", "content": json_error},
            },
        },
        "options": {
            "tags": ["ingest"],
            "summary": "CORS preflight",
            "responses": {"204": {"description": "Allowed"}},
        },
    }
