"""Limits every request meets before any route runs: body size per route, counted as the
body arrives, and open WebSockets per client IP. (Deadlines for slow headers and bodies are
kept by the HTTP protocol, ``web/http_protocol.py``, without a timer per request.)

It wraps the whole app (``LeadtrailApp.__call__``), so no route can forget it. ``/api/sync``
skips Starlette's stack for speed, so it reads its body through ``read_body`` below, the
same counter with its own size. Nothing past a limit is buffered: a declared
Content-Length over it is refused before reading, a chunked body as soon as the count
passes it.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadtrail.config import Settings
from leadtrail.errors import LeadtrailError, PayloadTooLarge
from leadtrail.ingest.clientip import client_ip, parse_networks
from leadtrail.ingest.payload import MAX_BODY_BYTES

#: Routes whose bodies have a size of their own; the rest get ``http_max_body_bytes``.
ROUTE_BODY_LIMITS: dict[str, int] = {
    "/api/sync": MAX_BODY_BYTES,  # the tracker's events: 64 KiB
    "/api/auth/login": 8 * 1024,  # an e-mail and a password of at most 1024 characters
    "/api/auth/logout": 1024,
    "/api/call-event": 64 * 1024,
    "/api/ad-spend": 8 * 1024 * 1024,  # up to 10,000 rows
}
REALTIME_SOCKET = "/realtime/v1/websocket"


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body is over {limit} bytes", code="body_too_large")


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The whole body, counted while it is read (a lying or absent Content-Length cannot
    get past)."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_error(send: Send, exc: LeadtrailError) -> None:
    """The refusal, closing the connection (the rest of the body is not worth reading)."""
    body = orjson.dumps(exc.body())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Body limits for HTTP, a per-IP cap for the realtime WebSocket."""

    def __init__(self, settings: Settings) -> None:
        self.default_limit = settings.http_max_body_bytes
        self.max_sockets_per_ip = settings.realtime_max_connections_per_ip
        self.sockets: Counter[str] = Counter()
        trusted = parse_networks(settings.trusted_proxies)
        self._client_ip = lru_cache(maxsize=4096)(
            lambda peer, forwarded: client_ip(peer, forwarded, trusted)
        )

    def limit_for(self, path: str) -> int:
        return ROUTE_BODY_LIMITS.get(path, self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send, app)
        elif scope["type"] == "websocket" and scope["path"] == REALTIME_SOCKET:
            await self._socket(scope, receive, send, app)
        else:
            await app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await send_error(send, too_large(limit))
                return
            # HTTP/1.1 framing: the server reads exactly Content-Length bytes (more would be
            # the next request, with its own check), so only chunked bodies need counting.
            await app(scope, receive, send)
            return
        size = 0
        refused: LeadtrailError | None = None
        started = False

        async def guarded_receive() -> Message:
            nonlocal size, refused
            if refused is not None:
                raise refused  # the app asked again after a refusal
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    refused = too_large(limit)
                    raise refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # the app's answer to the refusal is replaced by ours below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await app(scope, guarded_receive, guarded_send)
        except LeadtrailError:
            if refused is None:
                raise
        if refused is not None and not started:
            await send_error(send, refused)

    async def _socket(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        client = scope.get("client")
        ip = (
            self._client_ip(client[0] if client else None, _header(scope, b"x-forwarded-for"))
            or "unknown"
        )
        if self.sockets[ip] >= self.max_sockets_per_ip:
            await _deny_socket(scope, receive, send, self.max_sockets_per_ip)
            return
        self.sockets[ip] += 1
        try:
            await app(scope, receive, send)
        finally:
            self.sockets[ip] -= 1
            if self.sockets[ip] <= 0:
                del self.sockets[ip]


async def _deny_socket(scope: Scope, receive: Receive, send: Send, cap: int) -> None:
    """HTTP 429 instead of the upgrade (or a plain refusal where the server cannot answer
    a WebSocket handshake with a response of its own)."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": "too many connections"})
        return
    body = orjson.dumps({
        "error": "too_many_connections",
        "detail": f"at most {cap} realtime connections per client address",
    })  # fmt: skip
    await send({
        "type": "websocket.http.response.start",
        "status": 429,
        "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5"),
                    (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "websocket.http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
