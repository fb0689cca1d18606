"""``/realtime/v1``: the Supabase-Realtime-compatible WebSocket and its REST broadcast.

The handshake authenticates: ``apikey`` (an API key with read scope, or a dashboard
session token), else the ``leadtrail_session`` cookie sent with the handshake (the
dashboard's JS cannot read its HttpOnly cookie, so it passes any placeholder ``apikey``).
A cookie is only accepted from a same-origin page. The session checks the credential that
succeeded again every ``LEADTRAIL_REALTIME_REVALIDATE_INTERVAL`` seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Request, WebSocket
from starlette.responses import Response

from leadtrail.auth.principal import Principal
from leadtrail.auth.service import COOKIE_NAME
from leadtrail.errors import BadRequest, Forbidden, PayloadTooLarge, Unauthorized, Unavailable
from leadtrail.realtime import protocol
from leadtrail.realtime.access import Viewer
from leadtrail.realtime.service import Realtime, viewer_for
from leadtrail.realtime.session import TOPIC_PREFIX, Session
from leadtrail.web.csrf import check_same_origin
from leadtrail.web.services import services
from leadtrail.web.ws_protocol import DIRECT_FRAMES

router = APIRouter(prefix="/realtime/v1", tags=["realtime"])
CLOSE_POLICY = 1008


def _realtime(conn: Request | WebSocket) -> Realtime:
    realtime = services(conn).realtime
    if realtime is None:  # an API-only process (docs/processes.md)
        raise Unavailable(
            "this process does not run realtime: route /realtime/ to the realtime node "
            "(docs/processes.md)",
            code="realtime_elsewhere",
            retry_after=60,
        )
    return realtime


def _same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if not origin:
        return True  # not a browser
    return urlsplit(origin).netloc.lower() == ws.headers.get("host", "").lower()


async def _handshake(
    ws: WebSocket, realtime: Realtime
) -> tuple[Viewer, frozenset[str], str] | None:
    """(viewer, the tokens the client sent, the one that authenticated)."""
    apikey = (ws.query_params.get("apikey") or "").strip()
    tokens = {apikey} if apikey else set()
    if apikey:
        viewer = await realtime.authenticate(apikey)
        if viewer is not None:
            return viewer, frozenset(tokens), apikey
        if apikey.startswith("lt_"):
            return None  # a bad API key is refused, never papered over by a cookie
    cookie = ws.cookies.get(COOKIE_NAME)
    if cookie and _same_origin(ws):
        viewer = await realtime.authenticate(cookie)
        if viewer is not None:
            return viewer, frozenset({*tokens, cookie}), cookie
    return None


class _Transport:
    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        #: uvicorn's protocol (ours) writes frames straight to the socket; another server
        #: (a test client) goes through ASGI ``send`` only
        direct = (ws.scope.get("extensions") or {}).get(DIRECT_FRAMES)
        self.try_write: Callable[[str | bytes], bool] = (
            direct.try_write if direct is not None else _never
        )

    async def send_text(self, text: str) -> None:
        await self._ws.send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self._ws.send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)


def _never(message: str | bytes) -> bool:
    return False


@router.websocket("/websocket")
async def websocket(ws: WebSocket) -> None:
    try:
        realtime = _realtime(ws)
    except Unavailable as exc:
        headers = {"retry-after": str(exc.retry_after)}
        await ws.send_denial_response(Response(orjson.dumps(exc.body()), 503, headers))
        return
    vsn = ws.query_params.get("vsn") or protocol.VSN_1
    if vsn not in protocol.VERSIONS:
        await ws.close(CLOSE_POLICY, f"unsupported vsn {vsn}")
        return
    found = await _handshake(ws, realtime)
    if found is None:
        # Before accept: the client sees HTTP 403.
        await ws.close(CLOSE_POLICY, "invalid apikey or session")
        return
    viewer, credentials, token = found
    await ws.accept()
    session = Session(
        realtime.hub,
        realtime.replay,
        _Transport(ws),
        vsn=vsn,
        viewer=viewer,
        credentials=credentials,
        authenticate=realtime.authenticate,
        limits=realtime.limits,
        token=token,
        revalidate_interval=realtime.settings.realtime_revalidate_interval,
    )

    async def receive() -> str | bytes | None:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes")

    realtime.sessions.add(session)
    try:
        await session.run(receive)
    except Exception:
        # The peer vanished mid-send; the session already cleaned up its channels.
        pass
    finally:
        realtime.sessions.discard(session)


# -- REST broadcast ------------------------------------------------------------------------


def _reader(principal: Principal) -> Viewer:
    """A valid credential without read access (an ingest key) is refused with 403."""
    viewer = viewer_for(principal)
    if viewer is None:
        raise Forbidden("broadcast needs read access", code="insufficient_role")
    return viewer


async def _rest_viewer(request: Request, realtime: Realtime) -> Viewer:
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    for token in (
        bearer.strip() if scheme.lower() == "bearer" else "",
        request.headers.get("apikey", ""),
    ):
        if token:
            principal = await realtime.principal_of(token)
            if principal is not None:
                return _reader(principal)
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        check_same_origin(request, realtime.settings.base_url)
        principal = await realtime.principal_of(cookie)
        if principal is not None:
            return _reader(principal)
    raise Unauthorized(
        "send an API key with read scope as 'apikey' or 'Authorization: Bearer'",
        code="invalid_api_key",
    )


async def _body(request: Request, limit: int) -> bytes:
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"broadcasts are limited to {limit} bytes", code="payload_too_large")
    return body


def _send(realtime: Realtime, viewer: Viewer, topic: Any, event: Any, payload: Any) -> None:
    if not isinstance(topic, str) or not topic or len(topic) > 200:
        raise BadRequest("each message needs a topic", code="invalid_broadcast", field="topic")
    if not isinstance(event, str) or not event or len(event) > 255:
        raise BadRequest("each message needs an event", code="invalid_broadcast", field="event")
    message = {"type": "broadcast", "event": event, "payload": payload}
    realtime.hub.broadcast(None, TOPIC_PREFIX + topic, viewer.site_ids, message)


@router.post(
    "/api/broadcast",
    status_code=202,
    summary="Broadcast messages to channels (the REST fallback of the JS client)",
    description=(
        'Body: `{"messages": [{"topic": "<channel name>", "event": "...", "payload": {...}}]}`. '
        "Delivered to subscribers of `realtime:<topic>` that share a site with the caller."
    ),
    response_class=Response,
)
async def broadcast(request: Request) -> Response:
    realtime = _realtime(request)
    viewer = await _rest_viewer(request, realtime)
    body = await _body(request, realtime.limits.max_payload_bytes)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be JSON", code="invalid_broadcast") from None
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not messages or len(messages) > 100:
        raise BadRequest(
            'send 1 to 100 messages as {"messages": [...]}',
            code="invalid_broadcast",
            field="messages",
        )
    for message in messages:
        if not isinstance(message, dict):
            raise BadRequest("each message must be an object", code="invalid_broadcast")
    for message in messages:
        _send(realtime, viewer, message.get("topic"), message.get("event"), message.get("payload"))
    return Response(status_code=202)


@router.post(
    "/api/broadcast/{topic}/events/{event}",
    status_code=202,
    summary="Broadcast one message; the body is the payload (JSON, or bytes as octet-stream)",
    response_class=Response,
)
async def broadcast_one(topic: str, event: str, request: Request) -> Response:
    realtime = _realtime(request)
    viewer = await _rest_viewer(request, realtime)
    body = await _body(request, realtime.limits.max_payload_bytes)
    payload: Any
    if request.headers.get("content-type", "").startswith("application/octet-stream"):
        payload = body
    else:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadRequest("the body must be JSON", code="invalid_broadcast") from None
    _send(realtime, viewer, topic, event, payload)
    return Response(status_code=202)
