"""uvicorn's websockets (sans-I/O) protocol with its writes coalesced per event-loop turn.

A realtime fan-out sends many small frames to one socket in a row (a session's writer drains
its queue in one go). uvicorn hands every frame to ``transport.write``, which is one
``send()`` system call each. Here the frames written during one turn of the event loop
leave together, in one call, at the end of that turn (or as soon as 64 KiB are waiting).
Nothing is delayed past the current turn, flow control is unchanged (``pause_writing`` still
comes from the real transport, and uvicorn waits on it before each send), and ``close``
sends what is waiting first.

``DirectFrames`` is the fan-out's fast lane: a realtime session hands it a frame and, when
the connection is open and not paused by flow control, it goes straight to that transport as
bytes encoded once per message, not once per subscriber (the ASGI ``send`` path costs an
``await``, a message dict and a fresh encoding for every frame to every subscriber). The
protocol puts it in the scope under ``extensions["leadtrail.direct_frames"]``.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

#: flush at once beyond this many waiting bytes
FLUSH_BYTES = 64 * 1024
#: the scope extension under which the protocol offers its DirectFrames
DIRECT_FRAMES = "leadtrail.direct_frames"
#: encoded frames kept for the next subscriber of the same message (one fan-out's worth):
#: at most this many, and this many bytes
ENCODED_CACHE = 4096
ENCODED_CACHE_BYTES = 8 * 1024 * 1024


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

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = cast(dict[str, Any], self.scope.setdefault("extensions", {}))
        extensions[DIRECT_FRAMES] = DirectFrames(self)
        await super().run_asgi()


#: encoded frames by message identity: the hub hands the same ``str`` to every subscriber
#: of a change, so it is encoded once; the entry keeps the message alive, so its id cannot
#: be reused while it is here
_encoded: dict[int, tuple[str | bytes, bytes]] = {}
_encoded_bytes = 0


def encode_frame(message: str | bytes) -> bytes:
    """The unmasked server frame of ``message`` (text for ``str``, binary for ``bytes``)."""
    key = id(message)
    hit = _encoded.get(key)
    if hit is not None and hit[0] is message:
        return hit[1]
    if isinstance(message, str):
        frame = Frame(Opcode.TEXT, message.encode())
    else:
        frame = Frame(Opcode.BINARY, message)
    data = frame.serialize(mask=False)
    global _encoded_bytes
    if len(_encoded) >= ENCODED_CACHE or _encoded_bytes + len(data) > ENCODED_CACHE_BYTES:
        _encoded.clear()
        _encoded_bytes = 0
    _encoded[key] = (message, data)
    _encoded_bytes += len(data)
    return data


class DirectFrames:
    """Writes whole frames to one open connection without going through ASGI ``send``."""

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def try_write(self, message: str | bytes) -> bool:
        """Write now and return True, or False when the connection cannot take it
        without waiting (flow control paused it, or it is closing): use ``send`` then."""
        p = self._protocol
        if (
            not p.writable.is_set()
            or p.close_sent
            or p.disconnected
            or not p.handshake_complete
            or p.initial_response is not None
            or p.conn.state is not State.OPEN
            or p.transport.is_closing()
        ):
            return False
        p.transport.write(encode_frame(message))
        return True
