"""uvicorn's httptools protocol with deadlines for request headers and bodies.

uvicorn bounds idle keep-alive connections (``timeout_keep_alive``) but not a client that
connects and then sends its headers, or its body, a byte at a time: each such connection
is held open as long as the client likes, and a few thousand of them exhaust the server's
file descriptors (slowloris). Here the headers must be complete within ``header_timeout``
seconds (from the connection, or from a kept-alive request's first byte), and each part of
a body must follow the previous one within ``body_timeout``; else the client gets 408 and
the connection is closed.

No timer per request: a request only notes the time in the parser callbacks, and one sweep
per server and second (while connections are open) closes the late ones, so a deadline
fires up to ``SWEEP_SECONDS`` late. The hot path pays a clock read per request.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SWEEP_SECONDS = 1.0


def _timeout_response(code: str, what: str) -> bytes:
    body = b'{"error":"%s","detail":"the request %s did not arrive in time"}' % (
        code.encode(),
        what.encode(),
    )
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
    )


_HEADER_TIMEOUT = _timeout_response("header_timeout", "headers")
_BODY_TIMEOUT = _timeout_response("body_timeout", "body")


#: buffered bytes past which a write goes out at once (a large or streamed body)
COALESCE_MAX = 64 * 1024


class CoalescingTransport:
    """The connection's transport, with the writes of one event-loop turn joined into one.

    uvicorn writes a response's status line and headers, then its body: two ``send()``
    system calls per request, measured at ~15 % of a single-event ``/api/sync`` request's
    CPU (py-spy). Writes gathered here go out together at the end of the loop turn (or at
    once past ``COALESCE_MAX``): one system call, one TCP segment. Everything else, and
    every write of the connection, goes through this object, so order is kept; closing
    sends what is gathered first.
    """

    __slots__ = ("_loop", "_parts", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._parts:
            self._loop.call_soon(self.flush)
        self._parts.append(data)
        self._size += len(data)
        if self._size >= COALESCE_MAX:
            self.flush()

    def flush(self) -> None:
        if not self._parts:
            return
        parts, self._parts, self._size = self._parts, [], 0
        if not self._transport.is_closing():
            self._transport.write(parts[0] if len(parts) == 1 else b"".join(parts))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._parts, self._size = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class DeadlineProtocol(HttpToolsProtocol):
    #: seconds; set per server by ``with_deadlines``
    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 30.0
    _sweeping: ClassVar[bool] = False
    #: what this connection waits for from the client: "", "headers" or "body"
    _waiting: str = ""
    _since: float = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._wait("headers")
        cls = type(self)
        if not cls._sweeping:
            cls._sweeping = True
            self.loop.call_later(SWEEP_SECONDS, _sweep, cls, self.connections, self.loop)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._waiting:  # a kept-alive request's first byte
            self._wait("headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        has_body = any(
            (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding"
            for name, value in self.headers
        )
        if has_body and not (self.parser.should_upgrade() and self._should_upgrade()):
            self._wait("body")
        else:
            self._waiting = ""

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._since = self.loop.time()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._waiting = ""

    def connection_lost(self, exc: Exception | None) -> None:
        self._waiting = ""
        super().connection_lost(exc)

    def _wait(self, what: str) -> None:
        self._waiting = what
        self._since = self.loop.time()

    def check_deadline(self, now: float) -> None:
        """Close the connection if the client is late with what it owes."""
        if self._waiting == "headers":
            if now - self._since > self.header_timeout:
                self._expire(_HEADER_TIMEOUT)
        elif self._waiting == "body":
            if self.flow is not None and self.flow.read_paused:
                self._since = now  # we stopped reading (the app is slow), not the client
            elif now - self._since > self.body_timeout:
                started = self.cycle is not None and self.cycle.response_started
                self._expire(b"" if started else _BODY_TIMEOUT)

    def _expire(self, answer: bytes) -> None:
        self._waiting = ""
        if self.transport is not None and not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()


def _sweep(
    cls: type[DeadlineProtocol], connections: set[Any], loop: asyncio.AbstractEventLoop
) -> None:
    now = loop.time()
    ours = [c for c in connections if isinstance(c, DeadlineProtocol)]
    for connection in ours:
        connection.check_deadline(now)
    if ours:
        loop.call_later(SWEEP_SECONDS, _sweep, cls, connections, loop)
    else:
        cls._sweeping = False


def with_deadlines(header_timeout: float, body_timeout: float) -> type[DeadlineProtocol]:
    """The protocol class uvicorn instantiates, with this server's deadlines."""
    return type(
        "DeadlineProtocol",
        (DeadlineProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout, "_sweeping": False},
    )
