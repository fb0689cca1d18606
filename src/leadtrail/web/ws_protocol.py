"""uvicorn's websockets (sans-I/O) protocol with its writes coalesced per event-loop turn.

A realtime fan-out sends many small frames to one socket in a row (a session's writer drains
its queue in one go). uvicorn hands every frame to ``transport.write``, which is one
``send()`` system call each. Here the frames written during one turn of the event loop
leave together, in one call, at the end of that turn (or as soon as 64 KiB are waiting).
Nothing is delayed past the current turn, flow control is unchanged (``pause_writing`` still
comes from the real transport, and uvicorn waits on it before each send), and ``close``
sends what is waiting first.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: flush at once beyond this many waiting bytes
FLUSH_BYTES = 64 * 1024


class CoalescingTransport:
    """Wraps a transport: ``write`` gathers, the loop flushes once per turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._parts: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._parts.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        if not self._parts:
            return
        data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._parts.clear()
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingWebSocketsProtocol(WebSocketsSansIOProtocol):
    """``uvicorn.Config(ws=CoalescingWebSocketsProtocol)``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wrapped = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(cast(asyncio.Transport, wrapped))
